/**
 * An in-memory `HttpClient` that serves the mock OpenAI API ({@link MockApi}) without sockets, for
 * fast tests in virtual time: under `TestClock`, `slow_headers` waits until the clock is moved,
 * rate limits refill as the clock moves, and SSE events arrive with their delays.
 *
 * Transport faults fail the way `@effect/platform-node`'s client does: `connection_reset` with an
 * `HttpClientError.RequestError` (reason `"Transport"`) whose cause is a Node `ECONNRESET` error;
 * `stream_cut` fails the body part-way with an `HttpClientError.ResponseError` whose cause is
 * Node's `aborted` (`ECONNRESET`) error.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as MockApi from "./MockApi.js"

/**
 * A base URL for requests to the in-memory client. Any absolute URL works: only its path is read.
 *
 * @example
 * ```ts
 * import { ScriptedHttpClient } from "effect-openai-resilience/testing"
 * import { HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const models = Effect.flatMap(HttpClient.HttpClient, (client) => client.get(`${ScriptedHttpClient.baseUrl}/models`))
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const baseUrl = "http://mock.openai.local/v1"

/**
 * The error a reset connection carries, shaped as Node's (`read ECONNRESET`, code `ECONNRESET`).
 *
 * @example
 * ```ts
 * import { ScriptedHttpClient } from "effect-openai-resilience/testing"
 *
 * console.log(ScriptedHttpClient.connectionResetCause().code) // "ECONNRESET"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export const connectionResetCause = (): Error & { readonly code: string; readonly errno: number; readonly syscall: string } =>
  Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", errno: -104, syscall: "read" })

/**
 * The error a body cut off part-way carries, shaped as Node's (`aborted`, code `ECONNRESET`).
 *
 * @example
 * ```ts
 * import { ScriptedHttpClient } from "effect-openai-resilience/testing"
 *
 * console.log(ScriptedHttpClient.streamCutCause().message) // "aborted"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export const streamCutCause = (): Error & { readonly code: string } =>
  Object.assign(new Error("aborted"), { code: "ECONNRESET" })

const requestBody = (request: HttpClientRequest.HttpClientRequest): Effect.Effect<Uint8Array> => {
  const body = request.body
  switch (body._tag) {
    case "Uint8Array":
      return Effect.succeed(body.body)
    case "Raw":
      return Effect.succeed(
        body.body instanceof Uint8Array
          ? body.body
          : typeof body.body === "string"
          ? new TextEncoder().encode(body.body)
          : new Uint8Array()
      )
    case "Stream":
      return body.stream.pipe(
        Stream.runCollect,
        Effect.map((chunks) => {
          const parts = Chunk.toReadonlyArray(chunks)
          const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
          let offset = 0
          for (const p of parts) {
            out.set(p, offset)
            offset += p.length
          }
          return out
        }),
        // A request body that fails to stream is sent as empty: the mock then answers 400.
        Effect.orElseSucceed(() => new Uint8Array())
      )
    default:
      return Effect.succeed(new Uint8Array())
  }
}

const bodyStream = (body: MockApi.MockBody): Stream.Stream<Uint8Array, Error> => {
  if (body._tag === "Bytes") return Stream.make(body.bytes)
  const chunks = Stream.fromIterable(body.chunks).pipe(
    Stream.mapEffect((c) => Effect.as(Effect.sleep(c.delay), c.bytes))
  )
  return body.ending === "cut" ? Stream.concat(chunks, Stream.fail(streamCutCause())) : chunks
}

/**
 * An `HttpClient` that serves every request from the {@link MockApi.MockApi} in context.
 *
 * @example
 * ```ts
 * import { MockApi, ScriptedHttpClient } from "effect-openai-resilience/testing"
 * import { Effect } from "effect"
 *
 * const client = ScriptedHttpClient.make.pipe(Effect.provide(MockApi.layer()))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<HttpClient.HttpClient, never, MockApi.MockApi> = Effect.map(
  MockApi.MockApi,
  (mock) =>
    HttpClient.make((request, url) =>
      Effect.gen(function*() {
        const bytes = yield* requestBody(request)
        const headers: Record<string, string> = { ...request.headers }
        const contentType = request.body.contentType
        if (contentType !== undefined && headers["content-type"] === undefined) headers["content-type"] = contentType
        const answer = yield* mock.handle({
          method: request.method,
          url: `${url.pathname}${url.search}`,
          headers,
          body: bytes
        })
        if (answer._tag === "ResetConnection") {
          return yield* new HttpClientError.RequestError({
            request,
            reason: "Transport",
            cause: connectionResetCause(),
            description: "read ECONNRESET"
          })
        }
        // The body is read through a runtime taken from this fiber, so its delays use this
        // fiber's Clock (TestClock in tests).
        const runtime = yield* Effect.runtime<never>()
        // The casts only widen `ArrayBufferLike` to what the DOM typings of `BodyInit` name.
        const body: BodyInit = answer.body._tag === "Bytes"
          ? (answer.body.bytes as Uint8Array<ArrayBuffer>)
          : (Stream.toReadableStreamRuntime(bodyStream(answer.body), runtime) as ReadableStream<Uint8Array<ArrayBuffer>>)
        const nullBody = answer.status === 204 || answer.status === 304
        return HttpClientResponse.fromWeb(
          request,
          new Response(nullBody ? null : body, { status: answer.status, headers: answer.headers })
        )
      })
    )
)

/**
 * `HttpClient` served by the {@link MockApi.MockApi} the layer is given.
 *
 * @example
 * ```ts
 * import { MockApi, ScriptedHttpClient } from "effect-openai-resilience/testing"
 * import { Layer } from "effect"
 *
 * const TestLayer = ScriptedHttpClient.layerFromMock.pipe(Layer.provideMerge(MockApi.layer({ rpm: 3 })))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromMock: Layer.Layer<HttpClient.HttpClient, never, MockApi.MockApi> = Layer.effect(
  HttpClient.HttpClient,
  make
)

/**
 * A fresh mock and an `HttpClient` served by it: the one-line setup for a test. The mock is in
 * context too, to read its request log.
 *
 * @example
 * ```ts
 * import { ScriptedHttpClient } from "effect-openai-resilience/testing"
 *
 * const TestLayer = ScriptedHttpClient.layer({ scenario: ["server_error", "server_error"] })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: MockApi.MockOptions = {}
): Layer.Layer<HttpClient.HttpClient | MockApi.MockApi> =>
  layerFromMock.pipe(Layer.provideMerge(MockApi.layer(options)))
