/**
 * Retry policies as `Schedule`s whose input is the typed error. A policy reads what the server
 * said (its `retry-after` hint, its `x-should-retry` verdict), decides per error tag, waits an
 * exponential backoff with full jitter, and stops, letting the last typed error out unchanged, as
 * soon as retrying cannot help or a limit (retries, deadline, budget) is reached.
 *
 * ```ts
 * import { type OpenAiError, RetryPolicy } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * declare const call: Effect.Effect<string, OpenAiError.OpenAiError>
 * const resilient = Effect.retry(call, RetryPolicy.default)
 * ```
 *
 * Each decision is the schedule's output ({@link Decision}), logged at debug level, added to the
 * current span as an event and counted in {@link retriesTotal} / {@link stopsTotal}.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import type * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as O from "./internal/options.js"
import * as internal from "./internal/retryPolicy.js"
import type * as InvalidOptions from "./InvalidOptions.js"
import * as OpenAiError from "./OpenAiError.js"
import type * as RetryAfter from "./RetryAfter.js"
import type * as RetryBudget from "./RetryBudget.js"

// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

/**
 * A retry count for a tag or category. `times` is how many retries errors of it may cause in one
 * call: `0` never retries them (whatever the server says), a positive number retries them (even
 * errors the library would not retry) up to that many times, still within
 * {@link Options.maxRetries}.
 *
 * @since 0.1.0
 * @category models
 */
export interface TagOptions {
  readonly times?: number | undefined
}

/**
 * The error class of a tag: `ErrorOf<"RateLimitReached">` is `OpenAiError.RateLimitReached`.
 *
 * @since 0.2.0
 * @category models
 */
export type ErrorOf<K extends OpenAiError.Tag> = Extract<OpenAiError.OpenAiError, { readonly _tag: K }>

/**
 * The errors of each category (`error.category`), as the input type of a per-category rule.
 * `RateLimitError` includes `EngineOverloaded`, which is in that category when sent as a 429.
 *
 * @since 0.2.0
 * @category models
 */
export interface CategoryErrors {
  readonly AuthenticationError: OpenAiError.AuthenticationError
  readonly PermissionDeniedError: OpenAiError.PermissionDeniedError
  readonly RateLimitError: OpenAiError.RateLimitError | OpenAiError.EngineOverloaded
  readonly InternalServerError: OpenAiError.InternalServerError
  readonly BadRequestError: OpenAiError.BadRequestError
  readonly NotFoundError: OpenAiError.NotFound
  readonly ConflictError: OpenAiError.Conflict
  readonly UnprocessableEntityError: OpenAiError.UnprocessableEntity
  readonly APIConnectionError: OpenAiError.ConnectionError
  readonly APITimeoutError: OpenAiError.TimeoutError
  readonly APIError: OpenAiError.UnexpectedStatus | OpenAiError.ResponseDecodeError
}

/**
 * A rule for the errors `E`: a retry count ({@link TagOptions}), or any `Schedule` whose input is
 * those errors. A Schedule decides whether to retry (it stops when the Schedule is done) and its
 * own delay; the policy still applies `maxRetries`, the server's hint (which wins when longer),
 * `maxServerDelay`, `maxDelay` (which bounds the Schedule's delay), the deadline and the budget.
 *
 * @since 0.2.0
 * @category models
 */
export type Rule<E> = TagOptions | Schedule.Schedule<unknown, E>

/**
 * Rules by error tag: `{ RateLimitReached: { times: 5 }, ServerError: Schedule.exponential("200
 * millis").pipe(Schedule.intersect(Schedule.recurs(3))) }`. A Schedule's input must accept that
 * tag's class.
 *
 * @since 0.1.0
 * @category models
 */
export type PerTag = { readonly [K in OpenAiError.Tag]?: Rule<ErrorOf<K>> | undefined }

/**
 * Rules by category (`error.category`, openai-node's class names), for the tags without a
 * {@link PerTag} rule. A per-category `times` counts every retry of that category together, and
 * a per-category Schedule sees all of them in turn.
 *
 * @since 0.2.0
 * @category models
 */
export type PerCategory = { readonly [C in OpenAiError.Category]?: Rule<CategoryErrors[C]> | undefined }

/**
 * Which rule decided: `"default"` (the library's table, and every decision of
 * {@link officialSdk}), `"perTag.<Tag>"` or `"perCategory.<Category>"`.
 *
 * @since 0.2.0
 * @category models
 */
export type RuleName = "default" | `perTag.${OpenAiError.Tag}` | `perCategory.${OpenAiError.Category}`

/**
 * The jitter added to a server's hint: uniform in `[0, min(ratio * hint, max)]`.
 *
 * @since 0.2.0
 * @category models
 */
export interface HintJitter {
  /** Largest jitter as a share of the hint. Default `0.1`. */
  readonly ratio?: number | undefined
  /** Largest jitter in absolute terms. Default 250 millis. */
  readonly max?: Duration.DurationInput | undefined
}

/**
 * How to build a policy. Every field is optional; a value given that is not accepted (negative,
 * `NaN`, an unparsable duration, an unknown tag) is an {@link InvalidOptions.InvalidOptions}, never
 * the default (see {@link make}).
 *
 * | option | default | meaning |
 * | --- | --- | --- |
 * | `maxRetries` | 5 | retries over all tags (attempts = retries + 1) |
 * | `base` | 500 millis | first backoff ceiling |
 * | `factor` | 2 | growth of the ceiling per retry |
 * | `maxDelay` | 10 seconds | largest backoff ceiling |
 * | `jitter` | `"full"` | `"full"`: uniform in [0, ceiling]; `"none"`: the ceiling |
 * | `deadline` | 2 minutes | no retry whose wait would end later than this after the start (*) |
 * | `maxServerDelay` | 60 seconds | largest server hint the policy will wait |
 * | `onLongServerDelay` | `"fail"` | above `maxServerDelay`: `"fail"` stops, `"cap"` waits `maxServerDelay` |
 * | `honorShouldRetry` | `true` | obey the server's `x-should-retry` |
 * | `hintJitter` | `{ ratio: 0.1, max: "250 millis" }` | jitter added to a server hint ({@link HintJitter}) |
 * | `perTag` | `{}` | {@link PerTag} rules |
 * | `perCategory` | `{}` | {@link PerCategory} rules, for tags without a per-tag rule |
 * | `budget` | `false` | spend from the {@link RetryBudget.RetryBudget} service on each retry |
 *
 * (*) The start is the first attempt under {@link retry}, the first failure under a plain
 * `Effect.retry` (a schedule sees nothing earlier).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly maxRetries?: number | undefined
  readonly base?: Duration.DurationInput | undefined
  readonly factor?: number | undefined
  readonly maxDelay?: Duration.DurationInput | undefined
  readonly jitter?: "full" | "none" | undefined
  readonly deadline?: Duration.DurationInput | undefined
  readonly maxServerDelay?: Duration.DurationInput | undefined
  readonly onLongServerDelay?: "fail" | "cap" | undefined
  readonly honorShouldRetry?: boolean | undefined
  readonly hintJitter?: HintJitter | undefined
  readonly perTag?: PerTag | undefined
  readonly perCategory?: PerCategory | undefined
  readonly budget?: boolean | undefined
}

/**
 * Why a wait was chosen: the jittered backoff, a per-tag or per-category Schedule, or the
 * server's hint (named by its header).
 *
 * @since 0.1.0
 * @category models
 */
export type DelaySource = "backoff" | "schedule" | RetryAfter.HintSource

/**
 * Why a policy stopped retrying.
 *
 * - `not-retryable`: the tag is not retried (by default or by a `times: 0` override);
 * - `server-refused`: the server sent `x-should-retry: false`;
 * - `tag-limit`: this tag's `times` is used up;
 * - `max-retries`: `maxRetries` is used up;
 * - `deadline`: the next wait would end past the deadline;
 * - `hint-above-cap`: the server asked for more than `maxServerDelay` (mode `"fail"`);
 * - `budget`: the shared retry budget is empty;
 * - `schedule-done`: the rule's Schedule is done.
 *
 * @since 0.1.0
 * @category models
 */
export type StopReason =
  | "not-retryable"
  | "server-refused"
  | "tag-limit"
  | "max-retries"
  | "deadline"
  | "hint-above-cap"
  | "budget"
  | "schedule-done"

interface DecisionBase {
  /** The tag of the error that was just seen. */
  readonly tag: OpenAiError.Tag
  /** Attempts made so far, counting the one that just failed (1 for the first). */
  readonly attempt: number
  /** The rule that applied to the error. */
  readonly rule: RuleName
  /** The server's delay hint on that error, if any. */
  readonly hint: Option.Option<Duration.Duration>
  /** Where the hint came from. */
  readonly hintSource: Option.Option<RetryAfter.HintSource>
  /** Time since the start: the first attempt under {@link retry}, else the first failure. */
  readonly elapsed: Duration.Duration
}

/**
 * The policy decided to retry after `delay`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Retry extends DecisionBase {
  readonly _tag: "Retry"
  /** The wait before the next attempt. */
  readonly delay: Duration.Duration
  /**
   * The policy's own wait: the jittered backoff, or the rule's Schedule delay. With a server hint
   * the wait is the hint (plus bounded jitter) instead; a Schedule's delay still wins when longer.
   */
  readonly backoff: Duration.Duration
  /** Whether the wait is the backoff, the rule's Schedule, or the server's hint. */
  readonly source: DelaySource
  /** The hint was above `maxServerDelay` and the policy waited `maxServerDelay` instead. */
  readonly capped: boolean
}

/**
 * The policy stopped; the error it saw comes out of `Effect.retry` unchanged.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stop extends DecisionBase {
  readonly _tag: "Stop"
  readonly reason: StopReason
}

/**
 * A policy's output for each error it sees. `Effect.retryOrElse(effect, policy, (error, decision)
 * => ...)` receives the final one: which limit stopped retrying, after how many attempts.
 *
 * @example
 * ```ts
 * import { type OpenAiError, RetryPolicy } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * declare const call: Effect.Effect<string, OpenAiError.OpenAiError>
 * const program = Effect.retryOrElse(call, RetryPolicy.default, (error, decision) =>
 *   Effect.log(`gave up after ${decision.attempt} attempts`).pipe(
 *     Effect.zipRight(Effect.fail(error))
 *   ))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Decision = Retry | Stop

/**
 * A policy built by {@link make}: a `Schedule` over the typed errors that remembers its options,
 * so that {@link withBudget} can rebuild it. `R` is `never`, or the budget service.
 *
 * @since 0.1.0
 * @category models
 */
export interface RetryPolicy<R = never> extends Schedule.Schedule<Decision, OpenAiError.OpenAiError, R> {
  readonly options: Options
}

// ---------------------------------------------------------------------------------------------
// Constructors
// ---------------------------------------------------------------------------------------------

/**
 * Builds a policy. With `budget: true` it needs the {@link RetryBudget.RetryBudget} service.
 *
 * The rule for an error is its tag's ({@link PerTag}), else its category's ({@link PerCategory}),
 * else the library default; the decision, in order: a `times: 0` rule stops; `x-should-retry:
 * false` stops, `true` retries; a rule retries; otherwise the library default (`error.retryable`
 * without the server's verdict). Then the rule's count (or its Schedule, which may be done),
 * `maxRetries`, the delay (a server hint as given plus bounded jitter, else the jittered backoff or
 * the rule's Schedule; a Schedule's longer delay wins over a hint; a hint above `maxServerDelay`
 * stops or is capped), the deadline, and last the budget. The {@link Decision} names the rule.
 *
 * @example
 * ```ts
 * import { type OpenAiError, RetryPolicy } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const policy = RetryPolicy.make({
 *   maxRetries: 8,
 *   maxDelay: "20 seconds",
 *   deadline: "5 minutes",
 *   perTag: { RateLimitReached: { times: 8 }, ServerError: { times: 2 }, QuotaExceeded: { times: 0 } }
 * })
 * declare const call: Effect.Effect<string, OpenAiError.OpenAiError>
 * const program = Effect.retry(call, policy)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: {
  (options: Options & { readonly budget: true }): RetryPolicy<RetryBudget.RetryBudget>
  (options?: Options & { readonly budget?: false | undefined }): RetryPolicy
  (options: Options): RetryPolicy<RetryBudget.RetryBudget>
} = (options: Options = {}): RetryPolicy<never> => {
  const checked = O.validateEither("RetryPolicy", OptionsSchema, options)
  // A Schedule cannot fail, so bad options give a policy that retries nothing and carries the
  // error: every constructor that takes a policy fails with it (see `invalidOptions`).
  const valid = Either.getOrElse(checked, (): Options => ({ maxRetries: 0 }))
  const schedule = internal.make(internal.resolve(valid), valid.budget === true)
  // The schedule is a fresh object: attaching the options keeps it a Schedule (same prototype).
  return Object.assign(schedule, {
    options: Either.isRight(checked) ? { ...options } : valid,
    [InvalidId]: Either.getLeft(checked)
  }) as unknown as RetryPolicy<never>
}

const InvalidId = Symbol.for("effect-openai-resilience/RetryPolicy/InvalidOptions")

// A rule: `{ times }` (a whole number ≥ 0, or Infinity) or a Schedule.
const isRule = (value: unknown): boolean => {
  if (value === undefined || Schedule.isSchedule(value)) return true
  if (typeof value !== "object" || value === null) return false
  const times: unknown = (value as { readonly times?: unknown }).times
  return times === undefined ||
    (typeof times === "number" && times >= 0 && (Number.isInteger(times) || times === Number.POSITIVE_INFINITY))
}

const isRules = (keys: ReadonlyArray<string>) => <A>(u: unknown): u is A =>
  typeof u === "object" && u !== null && !Array.isArray(u) &&
  Object.entries(u).every(([key, value]: [string, unknown]) => keys.includes(key) && isRule(value))

const categories: ReadonlyArray<string> = [...new Set(OpenAiError.tags.map((tag) => OpenAiError.describe(tag).category))]
const RULE = "{ times: a whole number ≥ 0, or Infinity } or a Schedule"

const OptionsSchema = Schema.Struct({
  maxRetries: O.optional(O.intOrInfinity(0)),
  base: O.optional(O.duration),
  factor: O.optional(O.number(1)),
  maxDelay: O.optional(O.duration),
  jitter: O.optional(O.literal("full", "none")),
  deadline: O.optional(O.duration),
  maxServerDelay: O.optional(O.duration),
  onLongServerDelay: O.optional(O.literal("fail", "cap")),
  honorShouldRetry: O.optional(O.boolean),
  hintJitter: O.optional(Schema.Struct({ ratio: O.optional(O.number(0)), max: O.optional(O.duration) })),
  perTag: O.optional(O.check(
    isRules(OpenAiError.tags)<PerTag>,
    `an object from error tags (RateLimitReached, ServerError, ...) to ${RULE}`
  )),
  perCategory: O.optional(O.check(
    isRules(categories)<PerCategory>,
    `an object from error categories (${categories.join(", ")}) to ${RULE}`
  )),
  budget: O.optional(O.boolean)
})

/**
 * Checks policy options as {@link make} does, as an Effect: the options, or the
 * {@link InvalidOptions.InvalidOptions} naming the first one refused.
 *
 * @example
 * ```ts
 * import { RetryPolicy } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const policy = RetryPolicy.validate({ maxRetries: 3 }).pipe(Effect.map(RetryPolicy.make))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const validate = (options: Options): Effect.Effect<Options, InvalidOptions.InvalidOptions> =>
  O.validate("RetryPolicy", OptionsSchema, options)

/**
 * The error of a policy built by {@link make} from options it refused; none for a valid policy
 * (or any other Schedule). Such a policy retries nothing: a client or middleware given it fails
 * with this error when it is built.
 *
 * @example
 * ```ts
 * import { RetryPolicy } from "effect-openai-resilience"
 *
 * RetryPolicy.invalidOptions(RetryPolicy.make({ maxRetries: Number.NaN })) // Some(InvalidOptions)
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const invalidOptions = (policy: unknown): Option.Option<InvalidOptions.InvalidOptions> => {
  if (typeof policy !== "object" || policy === null || !(InvalidId in policy)) return Option.none()
  const found: unknown = (policy as { readonly [InvalidId]: unknown })[InvalidId]
  return Option.isOption(found) ? found as Option.Option<InvalidOptions.InvalidOptions> : Option.none()
}

/**
 * The library's default policy: no service needed, up to 5 retries within 2 minutes, backoff
 * from 500 ms doubling to 10 s with full jitter, server hints honoured up to 60 s (longer hints
 * stop retrying). Retries `RateLimitReached`, `EngineOverloaded`, `ServerError`, a 408
 * `UnexpectedStatus`, `Conflict`, `ConnectionError`, `TimeoutError`, and `UnprocessableEntity`
 * once; never `QuotaExceeded`, `RequestTooLarge`, authentication, permission or region errors,
 * `BadRequest`, `ContextLengthExceeded`, `NotFound`, `ResponseDecodeError`. The server's
 * `x-should-retry` overrides either way.
 *
 * @example
 * ```ts
 * import { type OpenAiError, RetryPolicy } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * declare const call: Effect.Effect<string, OpenAiError.OpenAiError>
 * const program = Effect.retry(call, RetryPolicy.default)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
const defaultPolicy: RetryPolicy = make()
export {
  /**
   * @since 0.1.0
   * @category constructors
   */
  defaultPolicy as default
}

/**
 * The same policy, spending from the shared {@link RetryBudget.RetryBudget} on each retry.
 *
 * @example
 * ```ts
 * import { type OpenAiError, RetryBudget, RetryPolicy } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * declare const call: Effect.Effect<string, OpenAiError.OpenAiError>
 * const program = RetryPolicy.retry(call, RetryPolicy.withBudget(RetryPolicy.default)).pipe(
 *   Effect.provide(RetryBudget.layer())
 * )
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withBudget = <R>(self: RetryPolicy<R>): RetryPolicy<RetryBudget.RetryBudget> =>
  make({ ...self.options, budget: true })

/**
 * A baseline that follows openai-node's documented rules: 2 retries on 408, 409, 429, 5xx,
 * connection errors and timeouts (whatever the error's code, quota included), `x-should-retry`
 * obeyed, backoff `min(0.5 * 2^n, 8)` seconds minus up to 25% jitter, `retry-after-ms` /
 * `retry-after` honoured when below 60 s (otherwise the backoff), no other hint, no budget, no
 * deadline. For comparisons and benchmarks.
 *
 * @example
 * ```ts
 * import { type OpenAiError, RetryPolicy } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * declare const call: Effect.Effect<string, OpenAiError.OpenAiError>
 * const likeTheSdk = Effect.retry(call, RetryPolicy.officialSdk)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const officialSdk: Schedule.Schedule<Decision, OpenAiError.OpenAiError> = internal.officialSdk

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

/**
 * `Effect.retry` plus bookkeeping: each successful attempt earns tokens back in the
 * {@link RetryBudget.RetryBudget} (when one is provided); the policy's deadline counts from the
 * start of the first attempt; and when the call ends, successfully or not, the number of attempts
 * it took is written to {@link lastAttempts} and to the current span's `openai.retry.attempts`
 * attribute. The error, if any, comes out unchanged. Prefer it to `Effect.retry` for the
 * policies of this module.
 *
 * @example
 * ```ts
 * import { type OpenAiError, RetryPolicy } from "effect-openai-resilience"
 * import { Effect, FiberRef } from "effect"
 *
 * declare const call: Effect.Effect<string, OpenAiError.OpenAiError>
 * const program = Effect.gen(function*() {
 *   const text = yield* RetryPolicy.retry(call, RetryPolicy.default)
 *   const attempts = yield* FiberRef.get(RetryPolicy.lastAttempts)
 *   return { text, attempts }
 * })
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const retry: {
  <Out, E, R2>(
    policy: Schedule.Schedule<Out, NoInfer<E>, R2>
  ): <A, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R | R2>
  <A, E, R, Out, R2>(
    self: Effect.Effect<A, E, R>,
    policy: Schedule.Schedule<Out, NoInfer<E>, R2>
  ): Effect.Effect<A, E, R | R2>
} = dual(2, internal.retry)

/**
 * How many attempts the last {@link retry} in this fiber took (0 before any). Set when the call
 * ends, on success, failure or interruption.
 *
 * @example
 * ```ts
 * import { RetryPolicy } from "effect-openai-resilience"
 * import { FiberRef } from "effect"
 *
 * const attempts = FiberRef.get(RetryPolicy.lastAttempts)
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const lastAttempts: FiberRef.FiberRef<number> = internal.lastAttempts

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

/**
 * Counter `openai_retries_total`: retries decided, tagged `error_tag` and `source` (`backoff` or
 * the hint's header).
 *
 * @example
 * ```ts
 * import { RetryPolicy } from "effect-openai-resilience"
 * import { Metric } from "effect"
 *
 * const rateLimitRetries = Metric.value(RetryPolicy.retriesTotal.pipe(
 *   Metric.tagged("error_tag", "RateLimitReached"),
 *   Metric.tagged("source", "backoff")
 * ))
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const retriesTotal: Metric.Metric.Counter<number> = internal.retriesTotal

/**
 * Counter `openai_retry_stops_total`: times a policy stopped, tagged `error_tag` and `reason`
 * (a {@link StopReason}).
 *
 * @example
 * ```ts
 * import { RetryPolicy } from "effect-openai-resilience"
 * import { Metric } from "effect"
 *
 * const budgetStops = Metric.value(RetryPolicy.stopsTotal.pipe(
 *   Metric.tagged("error_tag", "ServerError"),
 *   Metric.tagged("reason", "budget")
 * ))
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const stopsTotal: Metric.Metric.Counter<number> = internal.stopsTotal
