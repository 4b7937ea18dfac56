/**
 * The mock OpenAI API ({@link MockApi}) over real HTTP: an `@effect/platform` `HttpServer` on
 * Node, listening on 127.0.0.1 (port 0 by default: the system picks a free one, and
 * {@link MockServer} reports it). Transport faults are real: `connection_reset` resets the TCP
 * connection (RST), `stream_cut` closes it part-way through the body, without the final chunk.
 *
 * Start it as a scoped layer in a test, or standalone with {@link run} (what the command line's
 * `mock-server` calls).
 *
 * @since 0.1.0
 */
import * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { createServer } from "node:http"
import * as O from "../internal/options.js"
import type { InvalidOptions } from "../InvalidOptions.js"
import * as Faults from "./Faults.js"
import * as MockApi from "./MockApi.js"

/**
 * Where the running server listens.
 *
 * @since 0.1.0
 * @category models
 */
export interface MockServerInfo {
  readonly host: string
  readonly port: number
  /** The base URL to give a client, ending in `/v1`: `http://127.0.0.1:PORT/v1`. */
  readonly url: string
}

/**
 * The running server's address.
 *
 * @example
 * ```ts
 * import { MockServer } from "effect-openai-resilience/testing"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* MockServer.MockServer
 *   console.log(server.url) // http://127.0.0.1:PORT/v1
 * }).pipe(Effect.provide(MockServer.layer()))
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class MockServer extends Context.Tag("effect-openai-resilience/testing/MockServer")<MockServer, MockServerInfo>() {}

/**
 * The mock's options plus where to listen (default 127.0.0.1, port 0).
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerOptions extends MockApi.MockOptions {
  readonly port?: number | undefined
  readonly host?: string | undefined
}

const emptyBody = new Uint8Array()

/**
 * Serves one request from the {@link MockApi.MockApi} in context. Must run on Node's HTTP server,
 * since transport faults act on the request's socket.
 */
const app = Effect.gen(function*() {
  const mock = yield* MockApi.MockApi
  const request = yield* HttpServerRequest.HttpServerRequest
  // A body that cannot be read (too large, aborted) reaches the mock as empty: it answers 400.
  const body = yield* request.arrayBuffer.pipe(
    Effect.map((b) => new Uint8Array(b)),
    Effect.orElseSucceed(() => emptyBody)
  )
  const answer = yield* mock.handle({ method: request.method, url: request.url, headers: request.headers, body })
  const socket = NodeHttpServerRequest.toIncomingMessage(request).socket
  if (answer._tag === "ResetConnection") {
    // A TCP reset: the client sees ECONNRESET. The handler then ends by interruption: there is
    // nobody left to answer, and a fiber left waiting forever would keep the process alive.
    socket.resetAndDestroy()
    return yield* Effect.interrupt
  }
  const contentType = answer.headers["content-type"]
  const options = { status: answer.status, headers: answer.headers, ...(contentType ? { contentType } : {}) }
  if (answer.body._tag === "Bytes") return HttpServerResponse.uint8Array(answer.body.bytes, options)
  const chunks = Stream.fromIterable(answer.body.chunks).pipe(
    Stream.mapEffect((c) => Effect.as(Duration.isZero(c.delay) ? Effect.void : Effect.sleep(c.delay), c.bytes))
  )
  if (answer.body.ending === "complete") return HttpServerResponse.stream(chunks, options)
  // Cut: once the chunks are written, close the connection without the final empty chunk.
  const cut = Stream.fromEffect(
    Effect.zipRight(
      Effect.sync(() => {
        socket.end()
        // A client that keeps its side open would hold the socket: drop it after a second.
        setTimeout(() => socket.destroy(), 1000).unref()
      }),
      Effect.never
    )
  )
  return HttpServerResponse.stream(Stream.concat(chunks, cut), options)
}).pipe(
  Effect.catchAllCause(() =>
    Effect.succeed(HttpServerResponse.unsafeJson(
      { error: { message: "The mock server failed to answer.", type: "server_error", param: null, code: null } },
      { status: 500 }
    ))
  )
)

const ListenSchema = Schema.Struct({
  port: O.optional(O.check(
    (u): u is number => typeof u === "number" && Number.isInteger(u) && u >= 0 && u <= 65535,
    "a port from 0 to 65535 (0: any free port)"
  )),
  host: O.optional(O.string)
})

/**
 * The server as a scoped layer: listens on start, closes on release. Provides the address
 * ({@link MockServer}) and the mock ({@link MockApi.MockApi}), to read its request log.
 *
 * @example
 * ```ts
 * import { MockServer } from "effect-openai-resilience/testing"
 *
 * const ServerLive = MockServer.layer({ rpm: 60, tpm: 40_000 })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: ServerOptions = {}
): Layer.Layer<MockServer | MockApi.MockApi, HttpServerError.ServeError | InvalidOptions> => {
  const host = options.host ?? "127.0.0.1"
  const server = Layer.scoped(
    HttpServer.HttpServer,
    Effect.gen(function*() {
      // Where to listen is checked here; the mock's own options by MockApi.layer below.
      yield* O.validate("MockServer", ListenSchema, { port: options.port, host: options.host })
      const node = createServer()
      const httpServer = yield* NodeHttpServer.make(() => node, { port: options.port ?? 0, host })
      // Runs before the server's own close (finalizers run in reverse): without it, closing
      // would wait for requests still in flight, such as a slow_headers one.
      yield* Effect.addFinalizer(() => Effect.sync(() => node.closeAllConnections()))
      return httpServer
    })
  )
  const info = Layer.effect(
    MockServer,
    Effect.map(HttpServer.HttpServer, (s): MockServerInfo => {
      const port = s.address._tag === "TcpAddress" ? s.address.port : 0
      const shownHost = host.includes(":") ? `[${host}]` : host
      return { host, port, url: `http://${shownHost}:${port}/v1` }
    })
  )
  return Layer.mergeAll(HttpServer.serve(app), info).pipe(
    Layer.provide(server),
    Layer.provideMerge(MockApi.layer(options))
  )
}

/**
 * A bad option given to {@link run}.
 *
 * @example
 * ```ts
 * import { MockServer } from "effect-openai-resilience/testing"
 * import { Effect } from "effect"
 *
 * const checked = MockServer.serverOptions({ fault: "nope" }).pipe(
 *   Effect.catchTag("MockServerOptionError", (e) => Effect.logError(e.message))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class MockServerOptionError extends Data.TaggedError("MockServerOptionError")<{
  readonly option: string
  readonly message: string
}> {}

/**
 * The options of the standalone server, as the command line takes them:
 * `mock-server --port N --rpm N --tpm N --fault NAME --fault-rate P --seed S`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions extends ServerOptions {
  /** A fault to serve at random (with `faultRate`) or to every request. */
  readonly fault?: string | undefined
  /** Probability of `fault` per request, 0 to 1 (default 1: every request). */
  readonly faultRate?: number | undefined
}

/**
 * Checks {@link RunOptions} and turns them into the server's options.
 *
 * @example
 * ```ts
 * import { MockServer } from "effect-openai-resilience/testing"
 * import { Effect } from "effect"
 *
 * const options = Effect.runSync(MockServer.serverOptions({ fault: "server_error", faultRate: 0.2, seed: 7 }))
 * console.log(options.faultRates) // { server_error: 0.2 }
 * ```
 *
 * @since 0.1.0
 * @category standalone
 */
export const serverOptions = (options: RunOptions): Effect.Effect<ServerOptions, MockServerOptionError> =>
  Effect.gen(function*() {
    const { fault, faultRate, ...rest } = options
    const positiveInt = (name: string, n: number | undefined) =>
      n === undefined || (Number.isInteger(n) && n > 0)
        ? Effect.void
        : Effect.fail(new MockServerOptionError({ option: name, message: `--${name} must be a positive integer, got ${n}` }))
    yield* positiveInt("rpm", options.rpm)
    yield* positiveInt("tpm", options.tpm)
    if (options.port !== undefined && !(Number.isInteger(options.port) && options.port >= 0 && options.port <= 65535)) {
      return yield* new MockServerOptionError({ option: "port", message: `--port must be 0 to 65535, got ${options.port}` })
    }
    if (faultRate !== undefined && !(Number.isFinite(faultRate) && faultRate >= 0 && faultRate <= 1)) {
      return yield* new MockServerOptionError({
        option: "fault-rate",
        message: `--fault-rate must be between 0 and 1, got ${faultRate}`
      })
    }
    if (fault === undefined) {
      if (faultRate !== undefined) {
        return yield* new MockServerOptionError({ option: "fault-rate", message: "--fault-rate needs --fault NAME" })
      }
      return rest
    }
    if (!Faults.isFaultName(fault)) {
      return yield* new MockServerOptionError({
        option: "fault",
        message: `Unknown fault '${fault.slice(0, 100)}'. Known faults: ${Faults.names.join(", ")}`
      })
    }
    return { ...rest, faultRates: { ...rest.faultRates, [fault]: faultRate ?? 1 } }
  })

/**
 * Runs the server until interrupted (Ctrl-C under `NodeRuntime.runMain`), printing its URL.
 *
 * @example
 * ```ts
 * import { MockServer } from "effect-openai-resilience/testing"
 * import { NodeRuntime } from "@effect/platform-node"
 *
 * // mock-server --port 8080 --rpm 60 --fault rate_limit_requests --fault-rate 0.1 --seed 1
 * MockServer.run({ port: 8080, rpm: 60, fault: "rate_limit_requests", faultRate: 0.1, seed: 1 }).pipe(NodeRuntime.runMain)
 * ```
 *
 * @since 0.1.0
 * @category standalone
 */
export const run = (
  options: RunOptions = {}
): Effect.Effect<never, MockServerOptionError | InvalidOptions | HttpServerError.ServeError> =>
  Effect.gen(function*() {
    const resolved = yield* serverOptions(options)
    return yield* Effect.gen(function*() {
      const server = yield* MockServer
      yield* Console.log(`Mock OpenAI API listening on ${server.url}`)
      return yield* Effect.never
    }).pipe(Effect.provide(layer(resolved)))
  })
