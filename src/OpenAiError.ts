/**
 * The typed errors: one class per row of OpenAI's error-codes guide, plus the guide's library
 * types (connection, timeout, each status) and a decode error for a 2xx that is not what the API
 * documents. Every error carries what the server said (status, code, type, param, message,
 * request id, rate-limit headers, delay hint, `x-should-retry`) and what a person needs (the
 * guide's category, a probable cause, a solution, a docs page).
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import { defaultRetryable, guide } from "./internal/guide.js"
import { jsonSafe, renderableCause } from "./internal/printable.js"
import type { RateLimitHeaders } from "./RateLimitHeaders.js"
import type { HintSource } from "./RetryAfter.js"

/**
 * The `_tag` of every error in this module.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * const tag: OpenAiError.Tag = "RateLimitReached"
 * console.log(OpenAiError.describe(tag).retryable) // true
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Tag = keyof typeof guide

/**
 * Every `_tag`, in guide order.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * for (const tag of OpenAiError.tags) console.log(tag, OpenAiError.describe(tag).category)
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const tags: ReadonlyArray<Tag> = Object.keys(guide) as Array<Tag>

/**
 * The library types of the guide, named as openai-node names its classes. `APIError` is any other
 * status, and a 2xx whose body could not be decoded.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * const category: OpenAiError.Category = new OpenAiError.QuotaExceeded({ message: "quota" }).category
 * console.log(category) // "RateLimitError"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Category =
  | "AuthenticationError"
  | "PermissionDeniedError"
  | "RateLimitError"
  | "InternalServerError"
  | "BadRequestError"
  | "NotFoundError"
  | "ConflictError"
  | "UnprocessableEntityError"
  | "APIConnectionError"
  | "APITimeoutError"
  | "APIError"

/**
 * What the server said, common to every error. Fields the server did not send are `None`.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 * import { Option } from "effect"
 *
 * const requestIdOf = (fields: OpenAiError.Fields): string => Option.getOrElse(fields.requestId, () => "?")
 * console.log(requestIdOf(new OpenAiError.ServerError({ message: "boom", requestId: Option.some("req_1") }))) // "req_1"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Fields {
  /** The server's message (bounded in length, secrets scrubbed), or ours when it sent none. */
  readonly message: string
  /** The HTTP status; `None` for transport failures and errors that arrived inside a stream. */
  readonly status: Option.Option<number>
  /** `error.code`, normalised to a string (vLLM and OpenRouter send integers). */
  readonly code: Option.Option<string>
  /** `error.type`, e.g. `invalid_request_error`, `requests`, `tokens`, `server_error`. */
  readonly type: Option.Option<string>
  /** `error.param`: the request field at fault. An empty string reads as `None`. */
  readonly param: Option.Option<string>
  /** `x-request-id` (or Azure's `apim-request-id` / `x-ms-request-id`): quote it to support. */
  readonly requestId: Option.Option<string>
  /** The `x-ratelimit-*` headers of the response, when present. */
  readonly rateLimit: Option.Option<RateLimitHeaders>
  /** The server's own delay hint (`retry-after-ms`, `retry-after`, "try again in", reset headers). */
  readonly retryAfter: Option.Option<Duration.Duration>
  /** Where {@link Fields.retryAfter} came from. */
  readonly retryAfterSource: Option.Option<HintSource>
  /** `x-should-retry`: the server's explicit verdict, which overrides the default decision. */
  readonly shouldRetry: Option.Option<boolean>
}

/**
 * The constructor argument: `message` is required, every other common field defaults to `None`.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 * import { Option } from "effect"
 *
 * const input: OpenAiError.Input = { message: "The server had an error", status: Option.some(500) }
 * const e = new OpenAiError.ServerError(input)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Input = { readonly message: string } & { readonly [K in Exclude<keyof Fields, "message">]?: Fields[K] }

const DOCS_ROOT = "https://github.com/effect-openai-resilience/effect-openai-resilience/blob/main/docs/errors"

const fill = (input: Input): Fields => ({
  message: input.message,
  status: input.status ?? Option.none(),
  code: input.code ?? Option.none(),
  type: input.type ?? Option.none(),
  param: input.param ?? Option.none(),
  requestId: input.requestId ?? Option.none(),
  rateLimit: input.rateLimit ?? Option.none(),
  retryAfter: input.retryAfter ?? Option.none(),
  retryAfterSource: input.retryAfterSource ?? Option.none(),
  shouldRetry: input.shouldRetry ?? Option.none()
})

/**
 * The members every error shares beyond its {@link Fields}.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * const advice = (g: OpenAiError.Guidance): string => `${g.category}: ${g.solution} (${g.docs})`
 * console.log(advice(new OpenAiError.QuotaExceeded({ message: "quota" })))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Guidance {
  /** The guide's library type (openai-node's class name for the same failure). */
  readonly category: Category
  /** What the default policy decides: the per-tag default, overridden by `x-should-retry`. */
  readonly retryable: boolean
  /** Why this happens, in plain words. */
  readonly probableCause: string
  /** What to do about it. */
  readonly solution: string
  /** The page under `docs/errors/` that explains this error. */
  readonly docs: string
}

/**
 * An instance of one of this module's errors, before its own extra fields.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * const quota: OpenAiError.ErrorInstance<"QuotaExceeded"> = new OpenAiError.QuotaExceeded({ message: "quota" })
 * console.log(quota._tag, quota.retryable) // "QuotaExceeded" false
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ErrorInstance<T extends Tag> extends Cause.YieldableError, Omit<Fields, "message">, Guidance {
  readonly _tag: T
}

// One base for every error: the common fields default to None, the guidance is read from the
// guide table, so each class below is a single line plus its own fields.
const Base = <Extra extends object = {}>() =>
<T extends Tag>(tag: T): new(input: Input & Extra) => ErrorInstance<T> & Readonly<Extra> => {
  class ErrorBase extends Data.TaggedError(tag)<Fields> {
    constructor(input: Input) {
      const cause: unknown = (input as { readonly cause?: unknown }).cause
      super({ ...input, ...fill(input), ...(cause === undefined ? {} : { cause: renderableCause(cause) }) })
    }
    get category(): Category {
      return categoryOf(tag, this.status)
    }
    get retryable(): boolean {
      return Option.getOrElse(this.shouldRetry, () => defaultRetryable(tag, Option.getOrUndefined(this.status)))
    }
    get probableCause(): string {
      return guide[tag].probableCause
    }
    get solution(): string {
      return guide[tag].solution
    }
    get docs(): string {
      return `${DOCS_ROOT}/${tag}.md`
    }
    // `JSON.stringify` of an error must never throw: a `cause` is whatever the transport (or a
    // caller) gave, and may be cyclic or hold a BigInt.
    override toJSON(): unknown {
      const cause: unknown = (this as { readonly cause?: unknown }).cause
      return jsonSafe({ ...this, message: this.message, ...(cause === undefined ? {} : { cause }) })
    }
  }
  return ErrorBase as unknown as new(input: Input & Extra) => ErrorInstance<T> & Readonly<Extra>
}

const categoryOf = (tag: Tag, status: Option.Option<number>): Category => {
  if (tag === "EngineOverloaded" && Option.contains(status, 429)) return "RateLimitError"
  return guide[tag].category
}

// ---------------------------------------------------------------------------------------------
// 401
// ---------------------------------------------------------------------------------------------

/**
 * 401 "Invalid Authentication": any 401 without a more specific meaning (missing or malformed
 * bearer, revoked key; `code: null`).
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.fail(new OpenAiError.InvalidAuthentication({ message: "Missing bearer" })).pipe(
 *   Effect.catchTag("InvalidAuthentication", (e) => Effect.logError(e.solution))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidAuthentication extends Base()("InvalidAuthentication") {}

/**
 * 401 "Incorrect API key provided" (`code: invalid_api_key`).
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * const e = new OpenAiError.IncorrectApiKey({ message: "Incorrect API key provided: sk-...abcd." })
 * console.log(e.category) // "AuthenticationError"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class IncorrectApiKey extends Base()("IncorrectApiKey") {}

/**
 * 401 "You must be a member of an organization to use the API" (`code: no_organization`).
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * const e = new OpenAiError.NoOrganization({ message: "You must be a member of an organization to use the API." })
 * console.log(e.retryable) // false
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class NoOrganization extends Base()("NoOrganization") {}

// ---------------------------------------------------------------------------------------------
// 403
// ---------------------------------------------------------------------------------------------

/**
 * 403 "Country, region, or territory not supported" (`code: unsupported_country_region_territory`).
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * const e = new OpenAiError.UnsupportedRegion({ message: "Country, region, or territory not supported" })
 * console.log(e.category) // "PermissionDeniedError"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class UnsupportedRegion extends Base()("UnsupportedRegion") {}

/**
 * Any other 403: the key lacks permission for the resource.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * const e = new OpenAiError.PermissionDenied({ message: "You are not allowed to sample from this model" })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class PermissionDenied extends Base()("PermissionDenied") {}

// ---------------------------------------------------------------------------------------------
// 429
// ---------------------------------------------------------------------------------------------

/**
 * Which per-minute limit a 429 hit.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 * import { Option } from "effect"
 *
 * const e = new OpenAiError.RateLimitReached({
 *   message: "Rate limit reached",
 *   scope: "tokens",
 *   limit: Option.some(30000),
 *   used: Option.none(),
 *   requested: Option.none()
 * })
 * const scope: OpenAiError.RateLimitScope = e.scope // "tokens"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type RateLimitScope = "requests" | "tokens" | "unknown"

/**
 * 429 "Rate limit reached for requests / tokens" (`code: rate_limit_exceeded`, `type: requests`
 * or `tokens`; older bodies send `code: null`). Keeps the scope and, when the message has them,
 * the Limit / Used / Requested figures.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 * import { Duration, Option } from "effect"
 *
 * const e = new OpenAiError.RateLimitReached({
 *   message: "Rate limit reached ... Please try again in 1.574s.",
 *   scope: "tokens",
 *   limit: Option.some(200000),
 *   used: Option.some(162960),
 *   requested: Option.some(42288),
 *   retryAfter: Option.some(Duration.millis(1574))
 * })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class RateLimitReached extends Base<{
  readonly scope: RateLimitScope
  readonly limit: Option.Option<number>
  readonly used: Option.Option<number>
  readonly requested: Option.Option<number>
}>()("RateLimitReached") {}

/**
 * 429 "You exceeded your current quota" (`insufficient_quota`): the account is out of credit.
 * Never retried by default: waiting does not add credit.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * const e = new OpenAiError.QuotaExceeded({ message: "You exceeded your current quota" })
 * console.log(e.retryable) // false
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class QuotaExceeded extends Base()("QuotaExceeded") {}

/**
 * 429 "Request too large for MODEL ... on tokens per min (TPM): Limit 30000, Requested 31538":
 * the request alone exceeds the limit, so it can never succeed as sent.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 * import { Option } from "effect"
 *
 * const e = new OpenAiError.RequestTooLarge({
 *   message: "Request too large",
 *   limit: Option.some(30000),
 *   requested: Option.some(31538)
 * })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestTooLarge extends Base<{
  readonly limit: Option.Option<number>
  readonly requested: Option.Option<number>
}>()("RequestTooLarge") {}

// ---------------------------------------------------------------------------------------------
// 5xx
// ---------------------------------------------------------------------------------------------

/**
 * 500 "The server had an error while processing your request", and any other 5xx without a more
 * specific meaning (a proxy's 502 or 504 HTML page included).
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 * import { Option } from "effect"
 *
 * const e = new OpenAiError.ServerError({ message: "The server had an error", status: Option.some(500) })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ServerError extends Base()("ServerError") {}

/**
 * 503 "The engine is currently overloaded", and overload messages under other statuses (OpenAI's
 * "That model is currently overloaded", a compatible provider's 429 `engine_overloaded_error`).
 * Its category follows the status: `RateLimitError` for a 429, else `InternalServerError`.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 * import { Option } from "effect"
 *
 * const e = new OpenAiError.EngineOverloaded({ message: "The engine is currently overloaded", status: Option.some(503) })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class EngineOverloaded extends Base()("EngineOverloaded") {}

// ---------------------------------------------------------------------------------------------
// Other 4xx
// ---------------------------------------------------------------------------------------------

/**
 * 400: the request is invalid (see `param`).
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 * import { Option } from "effect"
 *
 * const e = new OpenAiError.BadRequest({ message: "Invalid value for 'temperature'", param: Option.some("temperature") })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class BadRequest extends Base()("BadRequest") {}

/**
 * 400 `context_length_exceeded`: prompt plus `max_tokens` exceed the model's context window.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * const e = new OpenAiError.ContextLengthExceeded({ message: "This model's maximum context length is 8192 tokens." })
 * console.log(e.category) // "BadRequestError"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ContextLengthExceeded extends Base()("ContextLengthExceeded") {}

/**
 * 404: the model (`model_not_found`), deployment or resource does not exist for this key.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * const e = new OpenAiError.NotFound({ message: "The model `gpt-5-turbo` does not exist" })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class NotFound extends Base()("NotFound") {}

/**
 * 409: the resource was updated by another request.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * const e = new OpenAiError.Conflict({ message: "Conflict" })
 * console.log(e.retryable) // true
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class Conflict extends Base()("Conflict") {}

/**
 * 422: understood but not processable; also the bodies of compatible servers that send no `error`
 * wrapper (FastAPI's `{"detail": [...]}`).
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * const e = new OpenAiError.UnprocessableEntity({ message: "body -> messages: field required" })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class UnprocessableEntity extends Base()("UnprocessableEntity") {}

/**
 * Any other status (e.g. 408, 418, a 3xx that was not followed). A 408 is retried by default.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 * import { Option } from "effect"
 *
 * const e = new OpenAiError.UnexpectedStatus({ message: "Request Timeout", status: Option.some(408) })
 * console.log(e.retryable) // true
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class UnexpectedStatus extends Base()("UnexpectedStatus") {}

// ---------------------------------------------------------------------------------------------
// Transport and decoding
// ---------------------------------------------------------------------------------------------

/**
 * What had arrived before a stream was cut.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 * import { Option } from "effect"
 *
 * const e = new OpenAiError.ConnectionError({
 *   message: "cut",
 *   cause: undefined,
 *   errorCode: Option.none(),
 *   received: Option.some({ events: 12, bytes: 3400 })
 * })
 * const received: Option.Option<OpenAiError.Received> = e.received
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Received {
  readonly events: number
  readonly bytes: number
}

/**
 * No usable response: connection refused or reset, DNS or TLS failure, or a stream cut midway.
 * `cause` keeps the original transport error; `errorCode` its code (`ECONNRESET`,
 * `UND_ERR_SOCKET`, ...); `received` says how much of a stream had arrived.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 * import { Option } from "effect"
 *
 * const e = new OpenAiError.ConnectionError({
 *   message: "socket hang up",
 *   cause: new Error("socket hang up"),
 *   errorCode: Option.some("ECONNRESET"),
 *   received: Option.none()
 * })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionError extends Base<{
  readonly cause: unknown
  readonly errorCode: Option.Option<string>
  readonly received: Option.Option<Received>
}>()("ConnectionError") {}

/**
 * Which wait ran out.
 *
 * - `headers`: one attempt waited too long for the response headers;
 * - `idle`: a stream went quiet for too long between chunks;
 * - `deadline`: the overall deadline over all attempts passed.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 * import { Duration } from "effect"
 *
 * const phase: OpenAiError.TimeoutPhase = "idle"
 * const e = new OpenAiError.TimeoutError({ message: "No data arrived for 30s", phase, timeout: Duration.seconds(30) })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type TimeoutPhase = "headers" | "idle" | "deadline"

/**
 * The guide's APITimeoutError: the server did not answer (or send the next chunk) in time.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 * import { Duration } from "effect"
 *
 * const e = new OpenAiError.TimeoutError({ message: "No response headers within 30s", phase: "headers", timeout: Duration.seconds(30) })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class TimeoutError extends Base<{
  readonly phase: TimeoutPhase
  readonly timeout: Duration.Duration
}>()("TimeoutError") {}

/**
 * A 2xx whose body is not what the API documents: broken or cut-off JSON, an HTML page, a missing
 * required field. `path` points at what was wrong (`choices.0.message`), `issue` says what, and
 * `body` keeps a bounded excerpt of what arrived.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * const e = new OpenAiError.ResponseDecodeError({ message: "Expected JSON", path: "", issue: "Unexpected token <", body: "<html>" })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class ResponseDecodeError extends Base<{
  readonly path: string
  readonly issue: string
  readonly body: string
}>()("ResponseDecodeError") {}

// ---------------------------------------------------------------------------------------------
// Unions and refinements
// ---------------------------------------------------------------------------------------------

/**
 * Every error this library puts in the error channel for a call to the API.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 * import { Match } from "effect"
 *
 * const describe = Match.type<OpenAiError.OpenAiError>().pipe(
 *   Match.tags({
 *     RateLimitReached: (e) => `slow down (${e.scope})`,
 *     QuotaExceeded: () => "add credit"
 *   }),
 *   Match.orElse((e) => e.message)
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type OpenAiError =
  | InvalidAuthentication
  | IncorrectApiKey
  | NoOrganization
  | UnsupportedRegion
  | PermissionDenied
  | RateLimitReached
  | QuotaExceeded
  | RequestTooLarge
  | ServerError
  | EngineOverloaded
  | BadRequest
  | ContextLengthExceeded
  | NotFound
  | Conflict
  | UnprocessableEntity
  | UnexpectedStatus
  | ConnectionError
  | TimeoutError
  | ResponseDecodeError

/**
 * The guide's AuthenticationError (401).
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * const e: OpenAiError.AuthenticationError = new OpenAiError.IncorrectApiKey({ message: "Incorrect API key provided" })
 * console.log(OpenAiError.isAuthenticationError(e)) // true
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type AuthenticationError = InvalidAuthentication | IncorrectApiKey | NoOrganization
/**
 * The guide's PermissionDeniedError (403).
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * const e: OpenAiError.PermissionDeniedError = new OpenAiError.UnsupportedRegion({ message: "Country, region, or territory not supported" })
 * console.log(OpenAiError.isPermissionDeniedError(e)) // true
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type PermissionDeniedError = UnsupportedRegion | PermissionDenied
/**
 * The tags that always have the guide's RateLimitError category (429). An {@link EngineOverloaded}
 * sent as a 429 also has this category, which is why {@link isRateLimitError} is a predicate.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * const e: OpenAiError.RateLimitError = new OpenAiError.QuotaExceeded({ message: "quota" })
 * console.log(OpenAiError.isRateLimitError(e)) // true
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type RateLimitError = RateLimitReached | QuotaExceeded | RequestTooLarge
/**
 * The tags of the guide's InternalServerError category (5xx); an {@link EngineOverloaded} sent as a
 * 429 is a RateLimitError instead, which is why {@link isInternalServerError} is a predicate.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * const e: OpenAiError.InternalServerError = new OpenAiError.ServerError({ message: "The server had an error" })
 * console.log(OpenAiError.isInternalServerError(e)) // true
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type InternalServerError = ServerError | EngineOverloaded
/**
 * The guide's BadRequestError (400).
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * const e: OpenAiError.BadRequestError = new OpenAiError.ContextLengthExceeded({ message: "maximum context length" })
 * console.log(OpenAiError.isBadRequestError(e)) // true
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type BadRequestError = BadRequest | ContextLengthExceeded

const tagSet: ReadonlySet<string> = new Set(tags)

/**
 * Whether a value is one of this module's errors.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * OpenAiError.isOpenAiError(new OpenAiError.Conflict({ message: "x" })) // true
 * OpenAiError.isOpenAiError(new Error("x")) // false
 * ```
 *
 * @since 0.1.0
 * @category refinements
 */
export const isOpenAiError = (u: unknown): u is OpenAiError =>
  Predicate.hasProperty(u, "_tag") && typeof u._tag === "string" && tagSet.has(u._tag) &&
  Predicate.hasProperty(u, "category")

// A refinement narrows both ways: where it answers `false`, TypeScript removes its type from the
// union. So a guard may claim a set of tags only when it accepts every instance of those tags and
// nothing else. That holds for the categories whose tags never change category; membership that
// depends on the instance (an overload's status, a server's `x-should-retry`) gets a plain
// `boolean` predicate, which leaves the error type as it was.
const categoryIs = <E extends OpenAiError>(category: Category) => (u: unknown): u is E =>
  isOpenAiError(u) && u.category === category

const hasCategory = (category: Category) => (u: unknown): boolean => isOpenAiError(u) && u.category === category

/**
 * Refinements by category, matching openai-node's `instanceof` checks. Each narrows to the tags
 * that always have its category, so `Effect.catchIf` removes exactly those from the error type.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * declare const call: Effect.Effect<string, OpenAiError.OpenAiError>
 * // Effect<string, Exclude<OpenAiError.OpenAiError, OpenAiError.AuthenticationError>>
 * const handled = call.pipe(
 *   Effect.catchIf(OpenAiError.isAuthenticationError, () => Effect.succeed("check your key"))
 * )
 * ```
 *
 * @since 0.1.0
 * @category refinements
 */
export const isAuthenticationError: (u: unknown) => u is AuthenticationError = categoryIs("AuthenticationError")
/**
 * Whether an error has the guide's `PermissionDeniedError` category (403): {@link UnsupportedRegion} or {@link PermissionDenied}.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * OpenAiError.isPermissionDeniedError(new OpenAiError.PermissionDenied({ message: "forbidden" })) // true
 * ```
 *
 * @since 0.1.0
 * @category refinements
 */
export const isPermissionDeniedError: (u: unknown) => u is PermissionDeniedError = categoryIs("PermissionDeniedError")
/**
 * Whether an error has the guide's `RateLimitError` category: any 429, an {@link EngineOverloaded}
 * sent as a 429 included. A predicate, not a refinement: an `EngineOverloaded` is in this category
 * only when its status is 429 (a 503 overload is an `InternalServerError`), so no set of tags is
 * removed from the error type. Handle the tags you mean with `Effect.catchTags` when the type
 * must change.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 * import { Effect, Option } from "effect"
 *
 * declare const call: Effect.Effect<string, OpenAiError.OpenAiError>
 * // The error type stays OpenAiError.OpenAiError: a 503 EngineOverloaded still gets through.
 * const handled = call.pipe(
 *   Effect.catchIf(OpenAiError.isRateLimitError, (e) => Effect.succeed(`slow down: ${e.message}`))
 * )
 *
 * OpenAiError.isRateLimitError(new OpenAiError.EngineOverloaded({ message: "m", status: Option.some(429) })) // true
 * OpenAiError.isRateLimitError(new OpenAiError.EngineOverloaded({ message: "m", status: Option.some(503) })) // false
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isRateLimitError: (u: unknown) => boolean = hasCategory("RateLimitError")
/**
 * Whether an error has the guide's `InternalServerError` category (5xx). A predicate, not a
 * refinement, for the reason given at {@link isRateLimitError}: an {@link EngineOverloaded} sent
 * as a 429 is not in this category.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 * import { Option } from "effect"
 *
 * OpenAiError.isInternalServerError(new OpenAiError.ServerError({ message: "boom", status: Option.some(500) })) // true
 * OpenAiError.isInternalServerError(new OpenAiError.EngineOverloaded({ message: "m", status: Option.some(429) })) // false
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isInternalServerError: (u: unknown) => boolean = hasCategory("InternalServerError")
/**
 * Whether an error has the guide's `BadRequestError` category (400): {@link BadRequest} or {@link ContextLengthExceeded}.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * OpenAiError.isBadRequestError(new OpenAiError.ContextLengthExceeded({ message: "too long" })) // true
 * ```
 *
 * @since 0.1.0
 * @category refinements
 */
export const isBadRequestError: (u: unknown) => u is BadRequestError = categoryIs("BadRequestError")
/**
 * Whether an error has the guide's `NotFoundError` category (404): a {@link NotFound}.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * OpenAiError.isNotFoundError(new OpenAiError.NotFound({ message: "The model does not exist" })) // true
 * ```
 *
 * @since 0.1.0
 * @category refinements
 */
export const isNotFoundError: (u: unknown) => u is NotFound = categoryIs("NotFoundError")
/**
 * Whether an error has the guide's `ConflictError` category (409): a {@link Conflict}.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * OpenAiError.isConflictError(new OpenAiError.Conflict({ message: "conflict" })) // true
 * ```
 *
 * @since 0.1.0
 * @category refinements
 */
export const isConflictError: (u: unknown) => u is Conflict = categoryIs("ConflictError")
/**
 * Whether an error has the guide's `UnprocessableEntityError` category (422): an {@link UnprocessableEntity}.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * OpenAiError.isUnprocessableEntityError(new OpenAiError.UnprocessableEntity({ message: "unprocessable" })) // true
 * ```
 *
 * @since 0.1.0
 * @category refinements
 */
export const isUnprocessableEntityError: (u: unknown) => u is UnprocessableEntity = categoryIs(
  "UnprocessableEntityError"
)
/**
 * Whether an error has the guide's `APIConnectionError` category: a {@link ConnectionError}.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * const e = OpenAiError.isConnectionError(new OpenAiError.QuotaExceeded({ message: "quota" })) // false
 * ```
 *
 * @since 0.1.0
 * @category refinements
 */
export const isConnectionError: (u: unknown) => u is ConnectionError = categoryIs("APIConnectionError")
/**
 * Whether an error has the guide's `APITimeoutError` category: a {@link TimeoutError}.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 * import { Duration } from "effect"
 *
 * OpenAiError.isTimeoutError(new OpenAiError.TimeoutError({ message: "late", phase: "headers", timeout: Duration.seconds(30) })) // true
 * ```
 *
 * @since 0.1.0
 * @category refinements
 */
export const isTimeoutError: (u: unknown) => u is TimeoutError = categoryIs("APITimeoutError")

/**
 * Whether the default policy would retry this error (honouring `x-should-retry`). A predicate,
 * not a refinement: the answer depends on the instance (its status, the server's verdict), so
 * `Effect.catchIf(OpenAiError.isRetryable, ...)` leaves every tag in the error type.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * OpenAiError.isRetryable(new OpenAiError.QuotaExceeded({ message: "quota" })) // false
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isRetryable = (u: unknown): boolean => isOpenAiError(u) && u.retryable

/**
 * The guide's text for a tag, without an instance: category, default decision, cause, solution.
 *
 * @example
 * ```ts
 * import { OpenAiError } from "effect-openai-resilience"
 *
 * console.log(OpenAiError.describe("QuotaExceeded").solution)
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const describe = (tag: Tag): {
  readonly category: Category
  readonly retryable: boolean
  readonly probableCause: string
  readonly solution: string
  readonly docs: string
} => ({
  category: guide[tag].category,
  retryable: guide[tag].retryable,
  probableCause: guide[tag].probableCause,
  solution: guide[tag].solution,
  docs: `${DOCS_ROOT}/${tag}.md`
})
