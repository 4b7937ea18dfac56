/**
 * Type-level test, checked by `npm run typecheck` (tsc includes test/): matching over the whole
 * `OpenAiError` union compiles only when every tag is handled. Each `@ts-expect-error` below marks
 * a match that must NOT compile; if it ever compiles, tsc reports the directive as unused.
 *
 * The matchers are exported so that test/OpenAiError.test.ts runs them too.
 */
import { Effect, Match } from "effect"
import type * as OpenAiError from "../src/OpenAiError.js"

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
const assertType = <T extends true>(_proof: T): void => undefined

// The runtime tag list and the union name the same 19 tags.
assertType<Equals<OpenAiError.Tag, OpenAiError.OpenAiError["_tag"]>>(true)

// Every tag with a handler that reads its own fields: the union narrows per tag.
const handlers = {
  InvalidAuthentication: (e: OpenAiError.InvalidAuthentication) => `auth: ${e.message}`,
  IncorrectApiKey: (e: OpenAiError.IncorrectApiKey) => `key: ${e.message}`,
  NoOrganization: (e: OpenAiError.NoOrganization) => `org: ${e.message}`,
  UnsupportedRegion: (e: OpenAiError.UnsupportedRegion) => `region: ${e.message}`,
  PermissionDenied: (e: OpenAiError.PermissionDenied) => `permission: ${e.message}`,
  RateLimitReached: (e: OpenAiError.RateLimitReached) => `rate limit (${e.scope})`,
  QuotaExceeded: (e: OpenAiError.QuotaExceeded) => `quota: ${e.message}`,
  RequestTooLarge: (e: OpenAiError.RequestTooLarge) => `too large: ${e.limit._tag}`,
  ServerError: (e: OpenAiError.ServerError) => `server: ${e.message}`,
  EngineOverloaded: (e: OpenAiError.EngineOverloaded) => `overloaded: ${e.message}`,
  BadRequest: (e: OpenAiError.BadRequest) => `bad request: ${e.message}`,
  ContextLengthExceeded: (e: OpenAiError.ContextLengthExceeded) => `context: ${e.message}`,
  NotFound: (e: OpenAiError.NotFound) => `not found: ${e.message}`,
  Conflict: (e: OpenAiError.Conflict) => `conflict: ${e.message}`,
  UnprocessableEntity: (e: OpenAiError.UnprocessableEntity) => `unprocessable: ${e.message}`,
  UnexpectedStatus: (e: OpenAiError.UnexpectedStatus) => `status: ${e.message}`,
  ConnectionError: (e: OpenAiError.ConnectionError) => `connection: ${e.errorCode._tag}`,
  TimeoutError: (e: OpenAiError.TimeoutError) => `timeout (${e.phase})`,
  ResponseDecodeError: (e: OpenAiError.ResponseDecodeError) => `decode at ${e.path}`
}

const { ResponseDecodeError: _dropped, ...allButOne } = handlers

/** `Match.type` + `Match.tagsExhaustive` over all 19 tags compiles. */
export const describeError: (e: OpenAiError.OpenAiError) => string = Match.type<OpenAiError.OpenAiError>().pipe(
  Match.tagsExhaustive(handlers)
)

// @ts-expect-error ResponseDecodeError is not handled, so tagsExhaustive must not compile
export const missingOne = Match.type<OpenAiError.OpenAiError>().pipe(Match.tagsExhaustive(allButOne))

// @ts-expect-error a tag that is not in the union is refused too
export const extraTag = Match.type<OpenAiError.OpenAiError>().pipe(Match.tagsExhaustive({ ...handlers, Teapot: () => "" }))

/** `Match.valueTags` on a value, exhaustive over all 19 tags. */
export const describeValue = (e: OpenAiError.OpenAiError): string => Match.valueTags(e, handlers)

export const describeValueMissing = (e: OpenAiError.OpenAiError): string =>
  // @ts-expect-error ResponseDecodeError is not handled, so valueTags must not compile
  Match.valueTags(e, allButOne)

/** `Match.exhaustive` after per-tag cases, grouped by what a caller does. */
export const decide: (e: OpenAiError.OpenAiError) => "wait" | "fix" | "retry" = Match.type<OpenAiError.OpenAiError>()
  .pipe(
    Match.tag("RateLimitReached", "EngineOverloaded", () => "wait" as const),
    Match.tag(
      "InvalidAuthentication",
      "IncorrectApiKey",
      "NoOrganization",
      "UnsupportedRegion",
      "PermissionDenied",
      "QuotaExceeded",
      "RequestTooLarge",
      "BadRequest",
      "ContextLengthExceeded",
      "NotFound",
      "UnprocessableEntity",
      "UnexpectedStatus",
      "ResponseDecodeError",
      () => "fix" as const
    ),
    Match.tag("ServerError", "Conflict", "ConnectionError", "TimeoutError", () => "retry" as const),
    Match.exhaustive
  )

export const decideMissing = Match.type<OpenAiError.OpenAiError>().pipe(
  Match.tag("RateLimitReached", () => "wait" as const),
  // @ts-expect-error 18 tags are left unhandled, so Match.exhaustive must not compile
  Match.exhaustive
)

/** `Effect.catchTags` with every tag leaves `never` in the error channel. */
export const catchAll = (call: Effect.Effect<string, OpenAiError.OpenAiError>): Effect.Effect<string> =>
  call.pipe(Effect.catchTags({
    InvalidAuthentication: (e) => Effect.succeed(handlers.InvalidAuthentication(e)),
    IncorrectApiKey: (e) => Effect.succeed(handlers.IncorrectApiKey(e)),
    NoOrganization: (e) => Effect.succeed(handlers.NoOrganization(e)),
    UnsupportedRegion: (e) => Effect.succeed(handlers.UnsupportedRegion(e)),
    PermissionDenied: (e) => Effect.succeed(handlers.PermissionDenied(e)),
    RateLimitReached: (e) => Effect.succeed(handlers.RateLimitReached(e)),
    QuotaExceeded: (e) => Effect.succeed(handlers.QuotaExceeded(e)),
    RequestTooLarge: (e) => Effect.succeed(handlers.RequestTooLarge(e)),
    ServerError: (e) => Effect.succeed(handlers.ServerError(e)),
    EngineOverloaded: (e) => Effect.succeed(handlers.EngineOverloaded(e)),
    BadRequest: (e) => Effect.succeed(handlers.BadRequest(e)),
    ContextLengthExceeded: (e) => Effect.succeed(handlers.ContextLengthExceeded(e)),
    NotFound: (e) => Effect.succeed(handlers.NotFound(e)),
    Conflict: (e) => Effect.succeed(handlers.Conflict(e)),
    UnprocessableEntity: (e) => Effect.succeed(handlers.UnprocessableEntity(e)),
    UnexpectedStatus: (e) => Effect.succeed(handlers.UnexpectedStatus(e)),
    ConnectionError: (e) => Effect.succeed(handlers.ConnectionError(e)),
    TimeoutError: (e) => Effect.succeed(handlers.TimeoutError(e)),
    ResponseDecodeError: (e) => Effect.succeed(handlers.ResponseDecodeError(e))
  }))

export const catchSome = (call: Effect.Effect<string, OpenAiError.OpenAiError>) =>
  call.pipe(Effect.catchTags({ RateLimitReached: (e) => Effect.succeed(e.scope) }))

// catchTags is not exhaustive by itself: the other 18 tags stay in the error channel.
assertType<
  Equals<
    Effect.Effect.Error<ReturnType<typeof catchSome>>,
    Exclude<OpenAiError.OpenAiError, OpenAiError.RateLimitReached>
  >
>(true)
