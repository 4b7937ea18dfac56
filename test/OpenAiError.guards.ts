/**
 * Type-level test, checked by `npm run typecheck` (tsc includes test/): each guard of
 * OpenAiError narrows only to what it always accepts. A refinement narrows both ways (where it
 * answers `false`, its type leaves the union), so a guard whose answer depends on the instance
 * must leave the error type alone. Each `@ts-expect-error` marks a tag that must remain; if it
 * ever compiles, tsc reports the directive as unused.
 */
import { Effect } from "effect"
import * as OpenAiError from "../src/OpenAiError.js"

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
const assertType = <T extends true>(_proof: T): void => undefined

declare const call: Effect.Effect<string, OpenAiError.OpenAiError>
type ErrorOf<T> = T extends Effect.Effect<infer _A, infer E, infer _R> ? E : never

// isRetryable decides on the instance (x-should-retry, a 408): it removes no tag. A QuotaExceeded
// is not retryable, yet must stay in the error channel after catching what is.
const afterRetryable = call.pipe(Effect.catchIf(OpenAiError.isRetryable, () => Effect.succeed("retried")))
assertType<Equals<ErrorOf<typeof afterRetryable>, OpenAiError.OpenAiError>>(true)
// @ts-expect-error QuotaExceeded (never retryable) must remain in the error channel
export const retryableLies: Effect.Effect<string> = afterRetryable

// isRateLimitError: an EngineOverloaded is a RateLimitError only as a 429. A 503 overload still
// fails the effect after catchIf, so EngineOverloaded must remain; so must the 429 tags, because
// the predicate cannot remove a subset of tags without also claiming the 503.
const afterRateLimit = call.pipe(Effect.catchIf(OpenAiError.isRateLimitError, () => Effect.succeed("slowed down")))
assertType<Equals<ErrorOf<typeof afterRateLimit>, OpenAiError.OpenAiError>>(true)
// @ts-expect-error EngineOverloaded (a 503 overload is not a RateLimitError) must remain
export const rateLimitLies: Effect.Effect<string, Exclude<OpenAiError.OpenAiError, OpenAiError.EngineOverloaded>> =
  afterRateLimit

// isInternalServerError: a 429 EngineOverloaded is not one, so EngineOverloaded must remain.
const afterServer = call.pipe(Effect.catchIf(OpenAiError.isInternalServerError, () => Effect.succeed("later")))
assertType<Equals<ErrorOf<typeof afterServer>, OpenAiError.OpenAiError>>(true)
// @ts-expect-error EngineOverloaded (a 429 overload is not an InternalServerError) must remain
export const serverLies: Effect.Effect<string, Exclude<OpenAiError.OpenAiError, OpenAiError.InternalServerError>> =
  afterServer

// The getting-started trap: catching by category and then "exhaustively" by tag must still ask
// for EngineOverloaded.
export const gettingStarted = (self: typeof afterServer): Effect.Effect<string> =>
  // @ts-expect-error the handlers below omit EngineOverloaded, which may still arrive (as a 429)
  self.pipe(Effect.catchTags({
      InvalidAuthentication: () => Effect.succeed(""),
      IncorrectApiKey: () => Effect.succeed(""),
      NoOrganization: () => Effect.succeed(""),
      UnsupportedRegion: () => Effect.succeed(""),
      PermissionDenied: () => Effect.succeed(""),
      RateLimitReached: () => Effect.succeed(""),
      QuotaExceeded: () => Effect.succeed(""),
      RequestTooLarge: () => Effect.succeed(""),
      ServerError: () => Effect.succeed(""),
      BadRequest: () => Effect.succeed(""),
      ContextLengthExceeded: () => Effect.succeed(""),
      NotFound: () => Effect.succeed(""),
      Conflict: () => Effect.succeed(""),
      UnprocessableEntity: () => Effect.succeed(""),
      UnexpectedStatus: () => Effect.succeed(""),
      ConnectionError: () => Effect.succeed(""),
      TimeoutError: () => Effect.succeed(""),
      ResponseDecodeError: () => Effect.succeed("")
  }))

// The categories whose tags never change category stay refinements, and narrow exactly.
const narrowsTo = <E extends OpenAiError.OpenAiError>(is: (u: unknown) => u is E) =>
  call.pipe(Effect.catchIf(is, () => Effect.succeed("handled")))
assertType<
  Equals<
    ErrorOf<ReturnType<typeof narrowsTo<OpenAiError.AuthenticationError>>>,
    Exclude<OpenAiError.OpenAiError, OpenAiError.AuthenticationError>
  >
>(true)
export const refinements = [
  narrowsTo(OpenAiError.isAuthenticationError),
  narrowsTo(OpenAiError.isPermissionDeniedError),
  narrowsTo(OpenAiError.isBadRequestError),
  narrowsTo(OpenAiError.isNotFoundError),
  narrowsTo(OpenAiError.isConflictError),
  narrowsTo(OpenAiError.isUnprocessableEntityError),
  narrowsTo(OpenAiError.isConnectionError),
  narrowsTo(OpenAiError.isTimeoutError)
]
const afterAuth = call.pipe(Effect.catchIf(OpenAiError.isAuthenticationError, () => Effect.succeed("")))
// @ts-expect-error the refinement removes only the 401 tags: PermissionDenied remains
export const authLies: Effect.Effect<string, Exclude<OpenAiError.OpenAiError, OpenAiError.PermissionDenied>> = afterAuth
