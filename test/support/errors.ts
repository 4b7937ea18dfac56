/**
 * Typed errors as the policies under test receive them, one builder each. Every field but the
 * message is optional, as in `OpenAiError.Input`; give what the test is about.
 */
import * as Option from "effect/Option"
import * as OpenAiError from "../../src/OpenAiError.js"

/** A 500 `server_error`. */
export const serverError = (input: Partial<OpenAiError.Input> = {}): OpenAiError.ServerError =>
  new OpenAiError.ServerError({ message: "The server had an error", status: Option.some(500), ...input })

/** A 429 on requests per minute, without limits or a hint unless given. */
export const rateLimited = (
  input: Partial<OpenAiError.Input> & { readonly scope?: OpenAiError.RateLimitScope } = {}
): OpenAiError.RateLimitReached =>
  new OpenAiError.RateLimitReached({
    message: "Rate limit reached",
    status: Option.some(429),
    scope: "requests",
    limit: Option.none(),
    used: Option.none(),
    requested: Option.none(),
    ...input
  })

/** A connection reset before any response. */
export const connectionReset = (): OpenAiError.ConnectionError =>
  new OpenAiError.ConnectionError({
    message: "read ECONNRESET",
    cause: Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }),
    errorCode: Option.some("ECONNRESET"),
    received: Option.none()
  })
