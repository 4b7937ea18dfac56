/**
 * An in-memory `HttpClient` that answers from a script of steps, one step per request, in order:
 * a response (status, headers and a body that may pause or be cut), a transport failure, or a
 * request that never gets an answer. No sockets; every delay is on the Effect clock, so `TestClock`
 * drives it; every request is recorded, and so is how much of each body the caller read. A request
 * beyond the script is a defect, so a test whose code retries once too often fails.
 *
 * Use it to pin down exact wire behaviour (a 429 with these headers, then a 200). To test against
 * a whole fault-injecting OpenAI API, see `MockHttpClient`.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as Duration from "effect/Duration"
import { connectionReset, streamCut } from "./internal/nodeErrors.js"
import * as internal from "./internal/scriptedHttpClient.js"

/**
 * A pause in a body: the next part comes after `duration` on the Effect clock.
 *
 * @since 0.1.0
 * @category models
 */
export interface Pause {
  readonly _tag: "Pause"
  readonly duration: Duration.DurationInput
}

/**
 * The connection drops here: reading the body further fails with an
 * `HttpClientError.ResponseError` (reason `"Decode"`) whose cause is `cause`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Cut {
  readonly _tag: "Cut"
  readonly cause: unknown
}

/**
 * A piece of a scripted body: text (sent as UTF-8) or bytes, a {@link Pause} or a {@link Cut}.
 *
 * @since 0.1.0
 * @category models
 */
export type Part = string | Uint8Array | Pause | Cut

/**
 * A step that answers: `status`, `headers` and a body made of `parts`, after `delay` when given.
 *
 * @since 0.1.0
 * @category models
 */
export interface Respond {
  readonly _tag: "Respond"
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly parts: ReadonlyArray<Part>
  readonly delay?: Duration.DurationInput | undefined
}

/**
 * A step that fails before any response, with an `HttpClientError.RequestError` (reason
 * `"Transport"`) whose cause is `cause`, after `delay` when given.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fail {
  readonly _tag: "Fail"
  readonly cause: unknown
  readonly delay?: Duration.DurationInput | undefined
}

/**
 * A step that never answers (until the caller gives up).
 *
 * @since 0.1.0
 * @category models
 */
export interface Hang {
  readonly _tag: "Hang"
}

/**
 * One scripted answer.
 *
 * @since 0.1.0
 * @category models
 */
export type Step = Respond | Fail | Hang

/**
 * A scripted client and what it saw.
 *
 * @since 0.1.0
 * @category models
 */
export interface Scripted {
  readonly client: HttpClient.HttpClient
  /** The requests as sent, in order. */
  readonly requests: ReadonlyArray<HttpClientRequest.HttpClientRequest>
  /** The body bytes the caller actually read, per request. */
  readonly pulled: ReadonlyArray<number>
  /** How many steps are left. */
  readonly remaining: () => number
}

/**
 * The error a reset connection carries, shaped as Node's (`read ECONNRESET`, code `ECONNRESET`):
 * the default cause of {@link fail}.
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
export const connectionResetCause: () => Error & {
  readonly code: string
  readonly errno: number
  readonly syscall: string
} = connectionReset

/**
 * The error a body cut off part-way carries, shaped as Node's (`aborted`, code `ECONNRESET`): the
 * default cause of {@link cut}.
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
export const streamCutCause: () => Error & { readonly code: string } = streamCut

/**
 * A {@link Pause} in a body.
 *
 * @example
 * ```ts
 * import { ScriptedHttpClient } from "effect-openai-resilience/testing"
 *
 * const slow = ScriptedHttpClient.parts(200, ["{\"ok\":", ScriptedHttpClient.pause("10 seconds"), "true}"])
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const pause = (duration: Duration.DurationInput): Part => ({ _tag: "Pause", duration })

/**
 * A {@link Cut} in a body, by default with Node's `aborted` error ({@link streamCutCause}).
 *
 * @example
 * ```ts
 * import { ScriptedHttpClient } from "effect-openai-resilience/testing"
 *
 * const cutOff = ScriptedHttpClient.parts(200, ["{\"id\": \"chatcmpl-1\", ", ScriptedHttpClient.cut()])
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const cut = (cause: unknown = streamCutCause()): Part => ({ _tag: "Cut", cause })

/**
 * A JSON response (`content-type: application/json` unless `headers` say otherwise), after
 * `delay` when given.
 *
 * @example
 * ```ts
 * import { ScriptedHttpClient } from "effect-openai-resilience/testing"
 *
 * const limited = ScriptedHttpClient.json(
 *   429,
 *   ScriptedHttpClient.errorBody("Rate limit reached", "requests", "rate_limit_exceeded"),
 *   { "retry-after-ms": "1500" }
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const json = (
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
  delay?: Duration.DurationInput
): Step => ({
  _tag: "Respond",
  status,
  headers: { "content-type": "application/json", ...headers },
  parts: [JSON.stringify(body)],
  delay
})

/**
 * A response whose body is `body` as it is.
 *
 * @example
 * ```ts
 * import { ScriptedHttpClient } from "effect-openai-resilience/testing"
 *
 * const badGateway = ScriptedHttpClient.text(502, "<html>502 Bad Gateway</html>", { "content-type": "text/html" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const text = (status: number, body: string, headers: Readonly<Record<string, string>> = {}): Step => ({
  _tag: "Respond",
  status,
  headers,
  parts: [body]
})

/**
 * A response whose body is made of `body`'s parts, in order.
 *
 * @example
 * ```ts
 * import { ScriptedHttpClient } from "effect-openai-resilience/testing"
 *
 * const cutOff = ScriptedHttpClient.parts(200, ["{\"id\":", ScriptedHttpClient.cut()], { "content-type": "application/json" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const parts = (status: number, body: ReadonlyArray<Part>, headers: Readonly<Record<string, string>> = {}): Step => ({
  _tag: "Respond",
  status,
  headers,
  parts: body
})

/**
 * A `200` server-sent-event stream. Each frame is written as it is: end it with a blank line
 * yourself, or build it with {@link data}.
 *
 * @example
 * ```ts
 * import { ScriptedHttpClient } from "effect-openai-resilience/testing"
 *
 * const stream = ScriptedHttpClient.sse([
 *   ScriptedHttpClient.data({ id: "chatcmpl-1", choices: [{ index: 0, delta: { content: "Hi" } }] }),
 *   ScriptedHttpClient.pause("1 second"),
 *   ScriptedHttpClient.data("[DONE]")
 * ])
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const sse = (frames: ReadonlyArray<Part>, headers: Readonly<Record<string, string>> = {}): Step => ({
  _tag: "Respond",
  status: 200,
  headers: { "content-type": "text/event-stream", ...headers },
  parts: frames
})

/**
 * One SSE frame, `data: <value>` and a blank line: a string as it is, anything else as JSON.
 *
 * @example
 * ```ts
 * import { ScriptedHttpClient } from "effect-openai-resilience/testing"
 *
 * console.log(JSON.stringify(ScriptedHttpClient.data("[DONE]"))) // "data: [DONE]\n\n"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const data = (value: unknown): string => `data: ${typeof value === "string" ? value : JSON.stringify(value)}\n\n`

/**
 * A transport failure before any response, by default a reset connection
 * ({@link connectionResetCause}).
 *
 * @example
 * ```ts
 * import { ScriptedHttpClient } from "effect-openai-resilience/testing"
 *
 * const script = [ScriptedHttpClient.fail(), ScriptedHttpClient.json(200, { object: "list", data: [] })]
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fail = (cause: unknown = connectionResetCause()): Step => ({ _tag: "Fail", cause })

/**
 * A request that never gets an answer: a test of timeouts.
 *
 * @example
 * ```ts
 * import { ScriptedHttpClient } from "effect-openai-resilience/testing"
 *
 * const script = [ScriptedHttpClient.hang, ScriptedHttpClient.json(200, { ok: true })]
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const hang: Step = { _tag: "Hang" }

/**
 * The body of an API error as OpenAI sends it: `{"error": {message, type, param, code}}`.
 *
 * @example
 * ```ts
 * import { ScriptedHttpClient } from "effect-openai-resilience/testing"
 *
 * const overloaded = ScriptedHttpClient.json(503, ScriptedHttpClient.errorBody("The engine is currently overloaded", "server_error", null))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const errorBody = (
  message: string,
  type: string | null,
  code: string | null,
  param: string | null = null
): { readonly error: { readonly message: string; readonly type: string | null; readonly param: string | null; readonly code: string | null } } => ({
  error: { message, type, param, code }
})

/**
 * A client that answers from `script`, one step per request, and records what it saw. Provide
 * `client` as the `HttpClient` of the code under test.
 *
 * @example
 * ```ts
 * import { HttpClient } from "@effect/platform"
 * import { ScriptedHttpClient } from "effect-openai-resilience/testing"
 * import { Effect } from "effect"
 *
 * const scripted = ScriptedHttpClient.make([
 *   ScriptedHttpClient.json(500, ScriptedHttpClient.errorBody("The server had an error", "server_error", null)),
 *   ScriptedHttpClient.json(200, { object: "list", data: [] })
 * ])
 * const program = Effect.flatMap(HttpClient.HttpClient, (client) => client.get("https://api.openai.com/v1/models")).pipe(
 *   Effect.provideService(HttpClient.HttpClient, scripted.client)
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (script: ReadonlyArray<Step>) => Scripted = internal.make

/**
 * The value of a header on the `n`-th recorded request (from 0), by any case of its name.
 *
 * @example
 * ```ts
 * import { HttpClient } from "@effect/platform"
 * import { ScriptedHttpClient } from "effect-openai-resilience/testing"
 * import { Effect } from "effect"
 *
 * const scripted = ScriptedHttpClient.make([ScriptedHttpClient.json(200, {})])
 * const program = Effect.gen(function*() {
 *   const client = yield* HttpClient.HttpClient
 *   yield* client.get("https://api.openai.com/v1/models", { headers: { "x-trace": "1" } })
 *   console.log(ScriptedHttpClient.header(scripted, 0, "X-Trace")) // "1"
 * }).pipe(Effect.provideService(HttpClient.HttpClient, scripted.client))
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const header = (scripted: Scripted, n: number, name: string): string | undefined =>
  scripted.requests[n]?.headers[name.toLowerCase()]
