/**
 * Turns whatever a server sent into one typed {@link OpenAiError.OpenAiError}: a status with headers
 * and a body (JSON in any of the shapes seen in the wild, HTML from a proxy, nothing, or garbage),
 * a transport failure before any response, or an error event inside a stream.
 *
 * Every function here is total: it returns an error value for any input and never throws.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Option from "effect/Option"
import * as internal from "./internal/classify.js"
import type { HeadersInput } from "./internal/headers.js"
import type * as OpenAiError from "./OpenAiError.js"

/**
 * The longest server message an error keeps (characters). Longer ones are cut with a note.
 *
 * @example
 * ```ts
 * import { Classify } from "effect-openai-resilience"
 *
 * const e = Classify.classifyResponse({ status: 500, body: JSON.stringify({ error: { message: "x".repeat(10_000) } }) })
 * console.log(e.message.length <= Classify.MAX_MESSAGE_LENGTH + 100) // true: cut, with a note
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_MESSAGE_LENGTH: number = internal.MAX_MESSAGE_LENGTH

/**
 * The most body text the classifier reads (characters). Bodies beyond are cut before parsing, so
 * a multi-megabyte error page costs a bounded amount of work; their last 4 KB are still searched
 * for `code`, `type` and `param`, which often follow a huge `message`.
 *
 * @example
 * ```ts
 * import { Classify } from "effect-openai-resilience"
 *
 * // A huge message, then the code: the tail is still read.
 * const body = `{"error": {"message": "${"x".repeat(Classify.MAX_BODY_LENGTH)}", "code": "insufficient_quota"}}`
 * console.log(Classify.classifyResponse({ status: 429, body })._tag) // "QuotaExceeded"
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_BODY_LENGTH: number = internal.MAX_BODY_LENGTH

/**
 * The `error` object of an OpenAI-shaped body, normalised: every field may be missing.
 *
 * @example
 * ```ts
 * import { Classify } from "effect-openai-resilience"
 * import { Option } from "effect"
 *
 * const payload: Option.Option<Classify.ErrorPayload> = Classify.errorPayload({ detail: "Not Found" })
 * console.log(Option.flatMap(payload, (p) => p.message)) // Option.some("Not Found")
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ErrorPayload {
  readonly message: Option.Option<string>
  readonly type: Option.Option<string>
  readonly param: Option.Option<string>
  readonly code: Option.Option<string>
}

/**
 * What {@link classifyResponse} takes: a status, headers (a plain record in any case, or a
 * `Headers`) and the raw body. `now` (epoch ms) reads an HTTP-date `retry-after`; pass the
 * Effect `Clock` time so that it works under TestClock. `secrets` are strings to scrub from
 * anything kept (the API key in use).
 *
 * @example
 * ```ts
 * import { Classify } from "effect-openai-resilience"
 * import { Redacted } from "effect"
 *
 * const apiKey = Redacted.make("sk-proj-example")
 * const input: Classify.ResponseInput = {
 *   status: 401,
 *   headers: { "x-request-id": "req_1" },
 *   body: `{"error": {"message": "Incorrect API key provided: sk-proj-example", "code": "invalid_api_key"}}`,
 *   now: Date.now(),
 *   secrets: [Redacted.value(apiKey)]
 * }
 * console.log(Classify.classifyResponse(input).message) // the key is scrubbed
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ResponseInput {
  readonly status: number
  readonly headers?: HeadersInput | undefined
  readonly body?: string | Uint8Array | undefined
  readonly now?: number | undefined
  readonly secrets?: ReadonlyArray<string> | undefined
}

/**
 * Finds the error inside a parsed JSON value, in every shape seen from OpenAI and compatible
 * servers: `{"error": {...}}`, `{"error": "text"}`, FastAPI's `{"detail": ...}`, a bare
 * `{"message", "type", "code"}`, a Responses API `{"type": "error", ...}` event, a
 * `response.failed` event, and any of these as the first element of a list (Gemini). A `message`
 * sent as a list of strings is joined. Returns none when the value holds no error; never throws.
 *
 * @example
 * ```ts
 * import { Classify } from "effect-openai-resilience"
 *
 * Classify.errorPayload({ error: { message: "boom", type: "server_error", code: null } })
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const errorPayload: (json: unknown) => Option.Option<ErrorPayload> = internal.errorPayload

/**
 * Classifies a non-2xx response. Total: any status, any headers, any bytes give a typed error.
 * A status outside 100-999 reads as 0 (an {@link OpenAiError.UnexpectedStatus}).
 *
 * @example
 * ```ts
 * import { Classify } from "effect-openai-resilience"
 *
 * const error = Classify.classifyResponse({
 *   status: 429,
 *   headers: { "x-request-id": "req_123" },
 *   body: JSON.stringify({ error: { message: "You exceeded your current quota", type: "insufficient_quota", code: "insufficient_quota", param: null } })
 * })
 * console.log(error._tag, error.retryable) // "QuotaExceeded" false
 * ```
 *
 * @since 0.1.0
 * @category classifying
 */
export const classifyResponse: (input: ResponseInput) => OpenAiError.OpenAiError = internal.classifyResponse

/**
 * Classifies an error that arrived inside a stream after a 200: a `data: {"error": {...}}` line, an
 * `event: error` frame's data, or a Responses API `error` / `response.failed` event. There is no
 * status, so `code` and `type` decide: a mid-stream `rate_limit_exceeded` is the same
 * `RateLimitReached` a 429 gives. Accepts the parsed JSON, the data text, or a whole SSE frame
 * (`event: error\ndata: {...}`). `secrets` are scrubbed from what is kept, as in
 * {@link classifyResponse}.
 *
 * @example
 * ```ts
 * import { Classify } from "effect-openai-resilience"
 *
 * const e = Classify.classifyStreamError({ type: "error", code: "rate_limit_exceeded", message: "Rate limit reached", param: null })
 * console.log(e._tag) // "RateLimitReached"
 * ```
 *
 * @since 0.1.0
 * @category classifying
 */
export const classifyStreamError: (
  data: unknown,
  options?: {
    readonly headers?: HeadersInput | undefined
    readonly now?: number | undefined
    readonly secrets?: ReadonlyArray<string> | undefined
  }
) => OpenAiError.OpenAiError = internal.classifyStreamError

/**
 * Classifies a failure before any response: refused, reset, DNS, TLS, a cut-off stream
 * (`ConnectionError`, keeping the whole cause and its code such as `ECONNRESET` or
 * `UND_ERR_SOCKET`; a platform `HttpClientError` is replaced by its own cause, because the request
 * it holds carries the `Authorization` header), or a timeout (`TimeoutError`: Effect's `TimeoutException`, an abort with a
 * timeout reason, undici's `UND_ERR_*_TIMEOUT`).
 *
 * @example
 * ```ts
 * import { Classify } from "effect-openai-resilience"
 *
 * const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })
 * const e = Classify.classifyTransportError(new TypeError("fetch failed", { cause: reset }))
 * console.log(e._tag) // "ConnectionError"
 * ```
 *
 * @since 0.1.0
 * @category classifying
 */
export const classifyTransportError: (
  cause: unknown,
  options?: {
    readonly received?: OpenAiError.Received | undefined
    readonly timeout?: Duration.DurationInput | undefined
  }
) => OpenAiError.ConnectionError | OpenAiError.TimeoutError = internal.classifyTransportError
