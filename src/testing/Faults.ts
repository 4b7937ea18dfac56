/**
 * The failures the mock server can serve: one name per row of OpenAI's error guide and per
 * recorded variant (a legacy or header-less rate limit, a provider's overload sent as 429), plus
 * what proxies and networks do to a response (an HTML 502, an empty or cut-off body, slow
 * headers, a reset connection, an error event, `response.failed` or a cut inside a stream).
 *
 * Choose one per request with the `x-mock-fault: NAME` header, for every request with a start-up
 * scenario, or at random with a seeded probability (see {@link MockApi.MockOptions}).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as internal from "./internal/faults.js"

/**
 * Every fault name, in the order of the error guide.
 *
 * @example
 * ```ts
 * import { Faults } from "effect-openai-resilience/testing"
 *
 * console.log(Faults.names.includes("rate_limit_tokens")) // true
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const names = [
  "invalid_authentication",
  "incorrect_api_key",
  "no_organization",
  "unsupported_region",
  "rate_limit_requests",
  "rate_limit_tokens",
  "rate_limit_legacy",
  "rate_limit_headerless",
  "insufficient_quota",
  "request_too_large",
  "server_error",
  "engine_overloaded",
  "provider_overloaded",
  "bad_request",
  "context_length_exceeded",
  "conversation_locked",
  "not_found",
  "conflict",
  "unprocessable",
  "malformed_json",
  "html_502",
  "empty_body",
  "empty_body_content_length",
  "body_cut",
  "slow_headers",
  "connection_reset",
  "stream_error",
  "response_failed",
  "stream_cut"
] as const

/**
 * The name of a fault.
 *
 * @since 0.1.0
 * @category models
 */
export type FaultName = typeof names[number]

/**
 * A schema for {@link FaultName}, e.g. to decode a command-line option.
 *
 * @example
 * ```ts
 * import { Faults } from "effect-openai-resilience/testing"
 * import { Schema } from "effect"
 *
 * console.log(Schema.is(Faults.FaultName)("server_error")) // true
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const FaultName: Schema.Literal<typeof names> = Schema.Literal(...names)

/**
 * Whether a string names a fault.
 *
 * @example
 * ```ts
 * import { Faults } from "effect-openai-resilience/testing"
 *
 * console.log(Faults.isFaultName("nope")) // false
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isFaultName = (u: unknown): u is FaultName =>
  typeof u === "string" && (names as ReadonlyArray<string>).includes(u)

/**
 * How a fault shows itself to a client:
 *
 * - `"status"`: an error status with the API's JSON error body;
 * - `"body"`: a response whose body is not what the API sends (broken JSON, HTML, nothing, cut);
 * - `"delay"`: a normal response whose headers come late (`slow_headers`);
 * - `"transport"`: no response at all (`connection_reset`);
 * - `"stream"`: a `200` whose body fails part-way (an error event or a cut connection).
 *
 * @since 0.1.0
 * @category models
 */
export type Kind = "status" | "body" | "delay" | "transport" | "stream"

/**
 * A delay hint a response may carry: `retry-after` (whole seconds), `retry-after-ms`, or
 * `x-ratelimit` (the six `x-ratelimit-limit|remaining|reset-requests|tokens` headers).
 *
 * @since 0.1.0
 * @category models
 */
export type Hint = "retry-after" | "retry-after-ms" | "x-ratelimit"

/**
 * Every {@link Hint}, e.g. to parse the `x-mock-hints` header.
 *
 * @example
 * ```ts
 * import { Faults } from "effect-openai-resilience/testing"
 *
 * console.log(Faults.hints) // ["retry-after", "retry-after-ms", "x-ratelimit"]
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const hints: ReadonlyArray<Hint> = ["retry-after", "retry-after-ms", "x-ratelimit"]

/**
 * A major version of the official `openai` package the mock is tested against.
 *
 * @since 0.1.0
 * @category models
 */
export type SdkMajor = "4" | "5" | "6"

/**
 * What a fault looks like on the wire, what real server sends it, and what the official `openai`
 * package raises for it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Description {
  readonly name: FaultName
  readonly kind: Kind
  /** The HTTP status served, when the fault has one (a reset has none). */
  readonly status: number | undefined
  /** `error.type` of the body, when it has one. */
  readonly type: string | null | undefined
  /** `error.code` of the body, when it has one (`undefined` also when the key is absent). */
  readonly code: string | null | undefined
  /** The hint headers sent by default, as the real server sends them (override per server or request). */
  readonly hints: ReadonlyArray<Hint>
  /** Whether `retry-after` is among the default {@link Description.hints}. */
  readonly retryAfter: boolean
  /** Who sends it in the wild, and the recording it follows when there is one. */
  readonly realSource: string
  /**
   * What openai-node 7 raises for it (`maxRetries: 0`): an error class name, `"SyntaxError"` or
   * `"TypeError"` for what it lets through, `"hangs"` when it never settles, `undefined` when it
   * raises nothing.
   */
  readonly sdkError: string | undefined
  /** The same, for each major version of the `openai` package (`sdkError` is `sdk["6"]`). */
  readonly sdk: { readonly [M in SdkMajor]: string | undefined }
}

/**
 * What every fault serves, by name. The bodies follow real recorded OpenAI errors (see
 * `docs/testing.md` for the full text of each and `realSource` for who sends it).
 *
 * @example
 * ```ts
 * import { Faults } from "effect-openai-resilience/testing"
 *
 * console.log(Faults.descriptions.insufficient_quota.status) // 429
 * console.log(Faults.descriptions.rate_limit_headerless.hints) // []
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const descriptions: { readonly [K in FaultName]: Description } = internal.descriptions

/**
 * What the mock needs to know to write a fault's body.
 *
 * @since 0.1.0
 * @category models
 */
export interface Context {
  readonly requestId: string
  readonly model: string
  readonly organization: string
  /** The caller's key, already masked (never the key itself). */
  readonly maskedKey: string
  /** The delay a rate-limit fault asks for, in milliseconds. */
  readonly retryAfterMs: number
  readonly rpm: number
  readonly tpm: number
  /** The tokens the request would use (its estimate). */
  readonly requestedTokens: number
}

/**
 * The JSON error body the API sends for a `"status"` fault (`{"error": {...}}`, or FastAPI's
 * `{"detail": [...]}` for `unprocessable`, as OpenAI-compatible servers send it).
 *
 * @example
 * ```ts
 * import { Faults } from "effect-openai-resilience/testing"
 *
 * const body = Faults.errorBody("server_error", {
 *   requestId: "req_1", model: "gpt-4o-mini", organization: "org-mock", maskedKey: "sk-***",
 *   retryAfterMs: 1000, rpm: 60, tpm: 1000, requestedTokens: 10
 * })
 * console.log(JSON.stringify(body).includes("req_1")) // true
 * ```
 *
 * @since 0.1.0
 * @category bodies
 */
export const errorBody: (name: FaultName, ctx: Context) => unknown = internal.errorBody

/**
 * "Please try again in ..." as OpenAI writes it: `644ms`, `1.5s`, `20s`, `6m0s`.
 *
 * @example
 * ```ts
 * import { Faults } from "effect-openai-resilience/testing"
 *
 * console.log(Faults.formatTryAgain(1500)) // "1.5s"
 * ```
 *
 * @since 0.1.0
 * @category bodies
 */
export const formatTryAgain: (ms: number) => string = internal.formatTryAgain

/**
 * The message of a `rate_limit_exceeded` error, as the real API words it.
 *
 * @example
 * ```ts
 * import { Faults } from "effect-openai-resilience/testing"
 *
 * console.log(Faults.rateLimitMessage("gpt-4o", "org-mock", "tokens", 30000, 29000, 1500, 1500))
 * ```
 *
 * @since 0.1.0
 * @category bodies
 */
export const rateLimitMessage: (
  model: string,
  organization: string,
  scope: "requests" | "tokens",
  limit: number,
  used: number,
  requested: number,
  retryAfterMs: number
) => string = internal.rateLimitMessage

/**
 * The message of a "Request too large" 429: the request alone exceeds the tokens-per-minute limit,
 * so waiting never helps.
 *
 * @example
 * ```ts
 * import { Faults } from "effect-openai-resilience/testing"
 *
 * console.log(Faults.requestTooLargeMessage("gpt-4o", "org-mock", 30000, 31538))
 * ```
 *
 * @since 0.1.0
 * @category bodies
 */
export const requestTooLargeMessage: (model: string, organization: string, limit: number, requested: number) => string =
  internal.requestTooLargeMessage

/**
 * The page a load balancer sends for `html_502`.
 *
 * @example
 * ```ts
 * import { Faults } from "effect-openai-resilience/testing"
 *
 * console.log(Faults.html502.includes("502 Bad Gateway")) // true
 * ```
 *
 * @since 0.1.0
 * @category bodies
 */
export const html502: string =
  "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
