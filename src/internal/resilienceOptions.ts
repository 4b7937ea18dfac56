/**
 * The shapes of `Resilience` and `OpenAiClient` options, checked once when a client is built: a
 * JavaScript caller's garbage (`timeout: "banana"`, `maxRetries` spelt as a string) is one typed
 * `InvalidOptions` naming the field, never a defect at the first call.
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type { InvalidOptions } from "../InvalidOptions.js"
import * as RetryPolicy from "../RetryPolicy.js"
import * as O from "./options.js"

const positiveDuration = O.check(
  (u): u is Duration.DurationInput =>
    !(typeof u === "number" && !(u > 0)) && Option.exists(Duration.decodeUnknown(u), (d) => Duration.greaterThan(d, Duration.zero)),
  "a positive duration (\"30 seconds\", milliseconds as a number, a Duration, or Duration.infinity for none)"
)

const isObject = (u: unknown): u is object => typeof u === "object" && u !== null

/** The `Resilience.Options` fields. */
export const ResilienceFields = {
  retryPolicy: O.optional(O.check(Schedule.isSchedule, "a Schedule (RetryPolicy.make(...), Schedule.stop, ...)")),
  timeout: O.optional(positiveDuration),
  deadline: O.optional(positiveDuration),
  idempotencyKey: O.optional(O.boolean),
  attemptHeader: O.optional(
    O.check((u): u is string | false => u === false || (typeof u === "string" && u.trim().length > 0), "a header name, or false for none")
  ),
  limiter: O.optional(
    O.check((u): u is object => isObject(u) && Predicate.hasProperty(u, "acquire"), "a RateLimiter service (RateLimiter.make())")
  ),
  breaker: O.optional(
    O.check((u): u is object => typeof u === "function" && Predicate.hasProperty(u, "protect"), "a CircuitBreaker (CircuitBreaker.make())")
  ),
  bulkhead: O.optional(
    O.check((u): u is object => typeof u === "function" && Predicate.hasProperty(u, "maxConcurrent"), "a Bulkhead (Bulkhead.make(...))")
  ),
  secrets: O.optional(
    O.check(
      (u): u is ReadonlyArray<unknown> => Array.isArray(u) && u.every((s) => typeof s === "string" || Redacted.isRedacted(s)),
      "an array of strings or Redacted values"
    )
  ),
  maxErrorBodyBytes: O.optional(O.int(1)),
  preflight: O.optional(O.check((u): u is object | boolean => typeof u === "boolean" || isObject(u), "true, false or Preflight options"))
}

/** The `OpenAiClient.Options` fields, `resilience` among them. */
export const ClientOptions = Schema.Struct({
  apiKey: O.check(Redacted.isRedacted, "a Redacted API key (Redacted.make(\"sk-...\"), or Config.redacted)"),
  baseUrl: O.optional(
    O.check((u): u is string => typeof u === "string" && URL.canParse(u), "an absolute URL (\"https://api.openai.com/v1\")")
  ),
  organization: O.optional(O.string),
  project: O.optional(O.string),
  idleTimeout: O.optional(positiveDuration),
  tracing: O.optional(O.boolean),
  transformClient: O.optional(O.fn()),
  resilience: O.optional(Schema.Struct(ResilienceFields))
})

/** A policy that `RetryPolicy.make` refused is its error, said at construction. */
const policyOf = (module: string, field: string, policy: unknown): Effect.Effect<void, InvalidOptions> =>
  Option.match(RetryPolicy.invalidOptions(policy), {
    onNone: () => Effect.void,
    onSome: (error) => Effect.fail(O.invalid(module, field, policy, `a valid policy: ${error.message}`))
  })

/** Checks `Resilience.Options`. */
export const validateResilience = (options: unknown): Effect.Effect<void, InvalidOptions> =>
  Effect.zipRight(
    O.validate("Resilience", Schema.Struct(ResilienceFields), options),
    Effect.suspend(() => policyOf("Resilience", "retryPolicy", isObject(options) ? Reflect.get(options, "retryPolicy") : undefined))
  )

/** Checks `OpenAiClient.Options`. */
export const validateClient = (options: unknown): Effect.Effect<void, InvalidOptions> =>
  Effect.zipRight(
    O.validate("OpenAiClient", ClientOptions, options),
    Effect.suspend(() => {
      const resilience = isObject(options) ? Reflect.get(options, "resilience") : undefined
      return policyOf("OpenAiClient", "resilience.retryPolicy", isObject(resilience) ? Reflect.get(resilience, "retryPolicy") : undefined)
    })
  )
