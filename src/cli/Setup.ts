/**
 * Where the command line's requests go: the real API named by the environment, or the embedded
 * mock server (when asked, or when no `OPENAI_API_KEY` is set).
 *
 * @since 0.1.0
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Layer from "effect/Layer"
import * as OpenAiClient from "../OpenAiClient.js"
import * as Faults from "../testing/Faults.js"
import * as MockServer from "../testing/MockServer.js"

/**
 * The target of a command's requests.
 *
 * @since 0.1.0
 * @category models
 */
export interface Target {
  readonly kind: "mock" | "real"
  readonly apiKey: Redacted.Redacted<string>
  readonly baseUrl: string
  readonly organization: string | undefined
  readonly project: string | undefined
  /** Headers added to every request (the mock's fault selection). */
  readonly headers: Readonly<Record<string, string>>
  readonly http: HttpClient.HttpClient
}

/**
 * A bad option (e.g. an unknown fault name).
 *
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/**
 * A command that checks a real configuration found no `OPENAI_API_KEY` (and was not asked for the
 * mock).
 *
 * @since 0.1.0
 * @category errors
 */
export class MissingApiKey extends Data.TaggedError("MissingApiKey")<{}> {}

/**
 * Resolves the target: the mock when `mock` is set (or a fault asked for), else the environment.
 * Without a key, `fallbackToMock` (the default) picks the mock; otherwise it fails with
 * {@link MissingApiKey}. The mock server lives as long as the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const target = (options: {
  readonly mock: boolean
  readonly fault?: string | undefined
  readonly fallbackToMock?: boolean | undefined
}): Effect.Effect<Target, UsageError | MissingApiKey, Scope.Scope> =>
  Effect.gen(function*() {
    // The client's own configuration (OPENAI_API_KEY, OPENAI_BASE_URL, ...): absent when no key
    // is set; a value that is there but invalid is a usage error.
    const env = yield* Config.option(OpenAiClient.config).pipe(
      Effect.mapError((e) => new UsageError({ message: `Invalid configuration: ${String(e)}` }))
    )
    // undici's request, which leaves every wait to the client's timeouts: Node's fetch would cut a
    // long non-streaming call (a batch line) at 300 s, and the retry would pay for it again. Built
    // in the command's scope, so that one connection pool serves all of its calls.
    const http = Context.get(yield* Layer.build(NodeHttpClient.layerUndici), HttpClient.HttpClient)
    const asked = options.mock || options.fault !== undefined
    if (!asked && Option.isNone(env) && options.fallbackToMock === false) return yield* Effect.fail(new MissingApiKey())
    const useMock = asked || Option.isNone(env)
    if (options.fault !== undefined && !Faults.isFaultName(options.fault)) {
      return yield* Effect.fail(
        new UsageError({
          message: `Unknown fault '${options.fault.slice(0, 100)}'. Known faults: ${Faults.names.join(", ")}`
        })
      )
    }
    if (useMock || Option.isNone(env)) {
      const context = yield* Layer.build(MockServer.layer({ retryAfter: "200 millis" })).pipe(Effect.orDie)
      const server = yield* Effect.provide(MockServer.MockServer, context)
      return {
        kind: "mock",
        apiKey: Redacted.make("sk-mock-00000000000000000000000000000000"),
        baseUrl: server.url,
        organization: undefined,
        project: undefined,
        headers: options.fault === undefined ? {} : { "x-mock-fault": options.fault, "x-mock-fault-times": "1000" },
        http
      } satisfies Target
    }
    return {
      kind: "real",
      apiKey: env.value.apiKey,
      baseUrl: env.value.baseUrl ?? OpenAiClient.DEFAULT_BASE_URL,
      organization: env.value.organization,
      project: env.value.project,
      headers: {},
      http
    } satisfies Target
  })

/**
 * The client options for a target.
 *
 * @since 0.1.0
 * @category constructors
 */
export const clientOptions = (t: Target): OpenAiClient.LayerOptions => ({
  apiKey: t.apiKey,
  baseUrl: t.baseUrl,
  organization: t.organization,
  project: t.project,
  ...(Object.keys(t.headers).length > 0
    ? { transformClient: HttpClient.mapRequest(HttpClientRequest.setHeaders(t.headers)) }
    : {})
})
