import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as Interval from "effect/ScheduleInterval"
import * as Intervals from "effect/ScheduleIntervals"
import * as Tracer from "effect/Tracer"
import * as OpenAiError from "../OpenAiError.js"
import { defaultRetryable } from "./guide.js"
import type * as RetryAfter from "../RetryAfter.js"
import * as RetryBudget from "../RetryBudget.js"
import type * as RetryPolicy from "../RetryPolicy.js"
import * as telemetry from "./telemetry.js"

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

/** A per-tag or per-category rule, sanitized: a retry count, or a Schedule over that error. */
type Entry =
  | { readonly _tag: "Times"; readonly times: number }
  | { readonly _tag: "Schedule"; readonly schedule: Schedule.Schedule<unknown, OpenAiError.OpenAiError> }

/** @internal */
export interface Settings {
  readonly maxRetries: number
  readonly baseMillis: number
  readonly factor: number
  readonly maxDelayMillis: number
  readonly jitter: "full" | "none"
  readonly deadlineMillis: number
  readonly maxServerDelayMillis: number
  readonly onLongServerDelay: "fail" | "cap"
  readonly honorShouldRetry: boolean
  readonly hintJitterRatio: number
  readonly hintJitterMaxMillis: number
  readonly perTag: Readonly<Partial<Record<OpenAiError.Tag, Entry>>>
  readonly perCategory: Readonly<Partial<Record<OpenAiError.Category, Entry>>>
}

/** @internal */
export const defaults: Settings = {
  maxRetries: 5,
  baseMillis: 500,
  factor: 2,
  maxDelayMillis: 10_000,
  jitter: "full",
  deadlineMillis: 120_000,
  maxServerDelayMillis: 60_000,
  onLongServerDelay: "fail",
  honorShouldRetry: true,
  // A crowd that got the same hint should not return in the same millisecond, but a precise
  // hint must stay precise: at most a tenth of it, and never more than a quarter second.
  hintJitterRatio: 0.1,
  hintJitterMaxMillis: 250,
  perTag: {},
  perCategory: {}
}

// Bad values fall back to the default: a typo in a config file must not produce a policy that
// retries forever with no delay (or throws out of `Duration.decode`).
/** @internal */
export const millisOr = (input: Duration.DurationInput | undefined, fallback: number): number => {
  if (input === undefined) return fallback
  // `Duration.decode` reads a negative or NaN number as zero: a zero delay is not what was meant.
  if (typeof input === "number" && !(input >= 0)) return fallback
  return Option.match(Duration.decodeUnknown(input), {
    onNone: () => fallback,
    onSome: (d) => {
      const ms = Duration.toMillis(d)
      return Number.isNaN(ms) || ms < 0 ? fallback : ms
    }
  })
}

const countOr = (input: number | undefined, fallback: number): number =>
  input === undefined || Number.isNaN(input) || input < 0 ? fallback : Math.floor(input)

// A negative or NaN `times` would silently mean "never" or "unlimited": it reads as no override.
const entryOf = (rule: RetryPolicy.TagOptions | Schedule.Schedule<unknown, never> | undefined): Entry | undefined => {
  if (rule === undefined || rule === null) return undefined
  if (Schedule.isSchedule(rule)) {
    // The public types pin the input to the tag's (or category's) errors; the engine only ever
    // hands a rule the errors it was chosen for.
    return { _tag: "Schedule", schedule: rule as unknown as Schedule.Schedule<unknown, OpenAiError.OpenAiError> }
  }
  const times = (rule as RetryPolicy.TagOptions).times
  return typeof times === "number" && !Number.isNaN(times) && times >= 0
    ? { _tag: "Times", times: Math.floor(times) }
    : undefined
}

const sanitize = <K extends string>(
  keys: ReadonlyArray<K>,
  input: { readonly [key in K]?: RetryPolicy.TagOptions | Schedule.Schedule<unknown, never> | undefined } | undefined
): Partial<Record<K, Entry>> => {
  const out: Partial<Record<K, Entry>> = {}
  for (const key of keys) {
    const entry = entryOf(input?.[key])
    if (entry !== undefined) out[key] = entry
  }
  return out
}

// Every category is some tag's in the guide (an EngineOverloaded sent as a 429 borrows one).
const categories: ReadonlyArray<OpenAiError.Category> = [
  ...new Set(OpenAiError.tags.map((tag) => OpenAiError.describe(tag).category))
]

const ratioOr = (input: number | undefined, fallback: number): number =>
  input !== undefined && Number.isFinite(input) && input >= 0 ? input : fallback

/** @internal */
export const resolve = (options: RetryPolicy.Options): Settings => ({
  maxRetries: countOr(options.maxRetries, defaults.maxRetries),
  baseMillis: millisOr(options.base, defaults.baseMillis),
  factor: options.factor !== undefined && Number.isFinite(options.factor) && options.factor >= 1
    ? options.factor
    : defaults.factor,
  maxDelayMillis: millisOr(options.maxDelay, defaults.maxDelayMillis),
  jitter: options.jitter === "none" ? "none" : "full",
  deadlineMillis: millisOr(options.deadline, defaults.deadlineMillis),
  maxServerDelayMillis: millisOr(options.maxServerDelay, defaults.maxServerDelayMillis),
  onLongServerDelay: options.onLongServerDelay === "cap" ? "cap" : "fail",
  honorShouldRetry: options.honorShouldRetry ?? defaults.honorShouldRetry,
  hintJitterRatio: ratioOr(options.hintJitter?.ratio, defaults.hintJitterRatio),
  hintJitterMaxMillis: millisOr(options.hintJitter?.max, defaults.hintJitterMaxMillis),
  perTag: sanitize(OpenAiError.tags, options.perTag),
  perCategory: sanitize(categories, options.perCategory)
})

// ---------------------------------------------------------------------------------------------
// The engine: a stateful Schedule whose input is the typed error
// ---------------------------------------------------------------------------------------------

interface State {
  /** When retrying started (Clock millis; see `startedAt`); the deadline counts from here. */
  readonly start: number | undefined
  /** Retries decided so far. */
  readonly retries: number
  /** Retries decided so far, by the key a rule counts under (the tag, or `category:<name>`). */
  readonly counts: Readonly<Record<string, number>>
  /** The state of each per-tag or per-category Schedule that has run, by rule name. */
  readonly schedules: Readonly<Record<string, unknown>>
}

const initial: State = { start: undefined, retries: 0, counts: {}, schedules: {} }

interface Context {
  readonly error: OpenAiError.OpenAiError
  readonly state: State
  readonly now: number
  readonly elapsedMillis: number
}

type Verdict =
  | {
    readonly _tag: "Retry"
    readonly rule: RetryPolicy.RuleName
    readonly delayMillis: number
    readonly backoffMillis: number
    readonly source: RetryPolicy.DelaySource
    readonly capped: boolean
    /** The key this retry counts under. */
    readonly countKey: string
    /** The rule's Schedule state after this step, when the rule is a Schedule. */
    readonly schedule?: { readonly key: string; readonly state: unknown } | undefined
  }
  | { readonly _tag: "Stop"; readonly rule: RetryPolicy.RuleName; readonly reason: RetryPolicy.StopReason }

/**
 * A policy's decision. `random` is one draw in [0, 1] from Effect's `Random`, made for every
 * decision (so a `Random.fixed` sequence maps onto decisions one to one). An Effect because a
 * per-tag Schedule's step is one.
 */
type Rules = (context: Context, random: number) => Effect.Effect<Verdict>

const stop = (reason: RetryPolicy.StopReason, rule: RetryPolicy.RuleName = "default"): Verdict => ({
  _tag: "Stop",
  rule,
  reason
})

/** @internal */
export const retriesTotal = Metric.counter("openai_retries_total", {
  description: "Retries decided by a RetryPolicy, tagged by error_tag and delay source",
  incremental: true
})

/** @internal */
export const stopsTotal = Metric.counter("openai_retry_stops_total", {
  description: "Times a RetryPolicy stopped retrying, tagged by error_tag and reason",
  incremental: true
})

// Tagged counters are cached: building one (and hashing its key) on every retry shows up in
// profiles of many concurrent callers.
const taggedCache = new Map<string, Metric.Metric.Counter<number>>()
const tagged = (
  counter: Metric.Metric.Counter<number>,
  name: string,
  tag: string,
  key: string,
  value: string
): Metric.Metric.Counter<number> => {
  const id = `${name}\u0000${tag}\u0000${key}\u0000${value}`
  let metric = taggedCache.get(id)
  if (metric === undefined) {
    metric = Metric.tagged(Metric.tagged(counter, "error_tag", tag), key, value)
    taggedCache.set(id, metric)
  }
  return metric
}

/** When the enclosing `RetryPolicy.retry` started its first attempt (Clock millis). */
const startedAt: FiberRef.FiberRef<Option.Option<number>> = FiberRef.unsafeMake(Option.none())

/** @internal */
export const lastAttempts: FiberRef.FiberRef<number> = FiberRef.unsafeMake(0)

const attributesOf = (decision: RetryPolicy.Decision): Record<string, unknown> =>
  decision._tag === "Retry"
    ? {
      "openai.retry.error_tag": decision.tag,
      "openai.retry.attempt": decision.attempt,
      "openai.retry.rule": decision.rule,
      "openai.retry.delay_ms": Duration.toMillis(decision.delay),
      "openai.retry.source": decision.source,
      "openai.retry.capped": decision.capped
    }
    : {
      "openai.retry.error_tag": decision.tag,
      "openai.retry.attempt": decision.attempt,
      "openai.retry.rule": decision.rule,
      "openai.retry.stop_reason": decision.reason
    }

const sourceText = (source: RetryPolicy.DelaySource): string =>
  source === "backoff" || source === "schedule" ? source : `server hint from ${source}`

const messageOf = (decision: RetryPolicy.Decision): string => {
  const rule = decision.rule === "default" ? "" : `, ${decision.rule}`
  return decision._tag === "Retry"
    ? `${decision.tag} on attempt ${decision.attempt}; retrying in ${
      // Whole milliseconds: a jittered delay would print as "257ms 151050ns".
      Duration.format(Duration.millis(Math.round(Duration.toMillis(decision.delay))))} (${
      sourceText(decision.source)
    }${decision.capped ? ", capped" : ""}${rule})`
    : `${decision.tag} on attempt ${decision.attempt}; not retrying (${decision.reason}${rule})`
}

/** A span event, a counter, a debug line: each only when someone can see it. */
const observe = (decision: RetryPolicy.Decision): Effect.Effect<void> => {
  const counted = telemetry.ifEnabled(
    decision._tag === "Retry"
      ? Effect.zipRight(
        Metric.increment(tagged(retriesTotal, "retries", decision.tag, "source", decision.source)),
        telemetry.retryDelay(decision.tag, decision.source, Duration.toMillis(decision.delay))
      )
      : Metric.increment(tagged(stopsTotal, "stops", decision.tag, "reason", decision.reason))
  )
  // Read the span from the context rather than through `Effect.currentSpan`, which builds an
  // exception (stack trace and all) on every call made outside a span.
  const event = Effect.flatMap(Effect.serviceOption(Tracer.ParentSpan), (parent) => {
    if (Option.isNone(parent) || parent.value._tag !== "Span") return Effect.void
    const span = parent.value
    const name = decision._tag === "Retry" ? "openai.retry" : "openai.retry.stop"
    return Effect.map(Clock.currentTimeNanos, (nanos) => span.event(name, nanos, attributesOf(decision)))
  })
  // Skip building the line when debug logs are off: a crowd of callers retries a lot.
  const logged = Effect.flatMap(FiberRef.get(FiberRef.currentMinimumLogLevel), (minimum) =>
    LogLevel.greaterThan(minimum, LogLevel.Debug)
      ? Effect.void
      : Effect.logDebug(messageOf(decision)).pipe(Effect.annotateLogs(attributesOf(decision))))
  return Effect.zipRight(counted, Effect.zipRight(event, logged))
}

/** @internal */
export const engine = <R>(
  rules: Rules,
  gate: (error: OpenAiError.OpenAiError) => Effect.Effect<boolean, never, R>
): Schedule.Schedule<RetryPolicy.Decision, OpenAiError.OpenAiError, R> =>
  Schedule.makeWithState<State, OpenAiError.OpenAiError, RetryPolicy.Decision, R>(
    initial,
    (now, error, state) => {
      // `RetryPolicy.retry` marks when the first attempt started; under a plain `Effect.retry`
      // the first failure is the earliest moment the schedule can see. (Plain flatMaps rather
      // than Effect.gen: this runs once per failure for every caller.)
      const startEffect = state.start === undefined
        ? Effect.map(FiberRef.get(startedAt), Option.getOrElse(() => now))
        : Effect.succeed(state.start)
      return Effect.flatMap(Effect.zip(startEffect, Random.next), ([start, random]) => {
        const elapsedMillis = Math.max(0, now - start)
        // The budget is asked last, so that tokens are spent only on retries that will happen.
        const gated: Effect.Effect<Verdict, never, R> = Effect.flatMap(
          rules({ error, state, now, elapsedMillis }, random),
          (verdict) =>
            verdict._tag === "Retry"
              ? Effect.map(gate(error), (ok): Verdict => ok ? verdict : stop("budget", verdict.rule))
              : Effect.succeed(verdict)
        )
        type Step = readonly [State, RetryPolicy.Decision, ScheduleDecision.ScheduleDecision]
        return Effect.flatMap(gated, (final): Effect.Effect<Step> => {
          const common = {
            tag: error._tag,
            attempt: state.retries + 1,
            rule: final.rule,
            hint: error.retryAfter,
            hintSource: error.retryAfterSource,
            elapsed: Duration.millis(elapsedMillis)
          }
          if (final._tag === "Stop") {
            const decision: RetryPolicy.Decision = { _tag: "Stop", ...common, reason: final.reason }
            return Effect.as(observe(decision), [state, decision, ScheduleDecision.done] as const)
          }
          const decision: RetryPolicy.Decision = {
            _tag: "Retry",
            ...common,
            delay: Duration.millis(final.delayMillis),
            backoff: Duration.millis(final.backoffMillis),
            source: final.source,
            capped: final.capped
          }
          const next: State = {
            start,
            retries: state.retries + 1,
            counts: { ...state.counts, [final.countKey]: (state.counts[final.countKey] ?? 0) + 1 },
            schedules: final.schedule === undefined
              ? state.schedules
              : { ...state.schedules, [final.schedule.key]: final.schedule.state }
          }
          return Effect.as(
            observe(decision),
            [next, decision, ScheduleDecision.continueWith(Interval.after(now + final.delayMillis))] as const
          )
        })
      })
    }
  )

const noGate = (_: OpenAiError.OpenAiError): Effect.Effect<boolean> => Effect.succeed(true)

const budgetGate = (error: OpenAiError.OpenAiError): Effect.Effect<boolean, never, RetryBudget.RetryBudget> =>
  Effect.flatMap(RetryBudget.RetryBudget, (budget) => budget.tryAcquire(error))

// ---------------------------------------------------------------------------------------------
// The library's rules
// ---------------------------------------------------------------------------------------------

/** Per-tag retry limits of the default rule that differ from "as many as maxRetries allows". */
const defaultTimes: Readonly<Partial<Record<OpenAiError.Tag, number>>> = {
  // The guide says to try a 422 again; once is enough to tell a glitch from a bad request.
  UnprocessableEntity: 1
}

interface Chosen {
  readonly rule: RetryPolicy.RuleName
  readonly entry: Entry | undefined
  /** What its retries count under: a per-category rule counts its whole category. */
  readonly countKey: string
}

/** The most specific rule for an error: its tag's, else its category's, else the default. */
const choose = (settings: Settings, error: OpenAiError.OpenAiError): Chosen => {
  const byTag = settings.perTag[error._tag]
  if (byTag !== undefined) return { rule: `perTag.${error._tag}`, entry: byTag, countKey: error._tag }
  const category = error.category
  const byCategory = settings.perCategory[category]
  if (byCategory !== undefined) {
    return { rule: `perCategory.${category}`, entry: byCategory, countKey: `category:${category}` }
  }
  return { rule: "default", entry: undefined, countKey: error._tag }
}

/** The policy's own wait for this retry: the jittered backoff, or the rule's Schedule. */
type Own =
  | { readonly _tag: "Backoff"; readonly millis: number }
  | { readonly _tag: "Schedule"; readonly millis: number; readonly key: string; readonly state: unknown }

const backoff = (settings: Settings, retries: number, random: number): Own => {
  const ceiling = Math.min(settings.baseMillis * Math.pow(settings.factor, retries), settings.maxDelayMillis)
  // Full jitter (uniform in [0, ceiling]) spreads a crowd of clients that failed together.
  return { _tag: "Backoff", millis: settings.jitter === "full" ? ceiling * random : ceiling }
}

/**
 * Composes the policy's own wait with the server's hint, the cap and the deadline. A hint is
 * waited as given plus bounded jitter, and replaces the backoff (which is for when the server
 * says nothing); a per-tag Schedule's delay is what the user asked for, so it still wins when it
 * is the longer of the two.
 */
const compose = (
  settings: Settings,
  { elapsedMillis, error }: Context,
  chosen: Chosen,
  own: Own,
  random: number
): Verdict => {
  const floor = own._tag === "Schedule" ? own.millis : 0
  let delayMillis = own.millis
  let source: RetryPolicy.DelaySource = own._tag === "Schedule" ? "schedule" : "backoff"
  let capped = false
  if (Option.isSome(error.retryAfter)) {
    const hintMillis = Duration.toMillis(error.retryAfter.value)
    const hintSource: RetryAfter.HintSource = Option.getOrElse(error.retryAfterSource, () => "retry-after" as const)
    let hinted: number
    if (hintMillis > settings.maxServerDelayMillis) {
      if (settings.onLongServerDelay === "fail") return stop("hint-above-cap", chosen.rule)
      capped = true
      hinted = settings.maxServerDelayMillis
    } else {
      // Never below what the server asked for, only a little above it, and never past the cap.
      const jitter = random * Math.min(hintMillis * settings.hintJitterRatio, settings.hintJitterMaxMillis)
      hinted = Math.min(hintMillis + jitter, settings.maxServerDelayMillis)
    }
    if (hinted >= floor) {
      delayMillis = hinted
      source = hintSource
    }
  }
  if (elapsedMillis + delayMillis > settings.deadlineMillis) return stop("deadline", chosen.rule)
  return {
    _tag: "Retry",
    rule: chosen.rule,
    delayMillis,
    backoffMillis: own.millis,
    source,
    capped,
    countKey: chosen.countKey,
    schedule: own._tag === "Schedule" ? { key: own.key, state: own.state } : undefined
  }
}

/** Steps the rule's Schedule: `undefined` when it is done, else its delay (bounded by `maxDelay`). */
const stepSchedule = (
  settings: Settings,
  { error, now, state }: Context,
  rule: RetryPolicy.RuleName,
  schedule: Schedule.Schedule<unknown, OpenAiError.OpenAiError>
): Effect.Effect<Own | undefined> => {
  const previous = rule in state.schedules ? state.schedules[rule] : schedule.initial
  return Effect.map(schedule.step(now, error, previous), ([next, , decision]): Own | undefined => {
    if (ScheduleDecision.isDone(decision)) return undefined
    const millis = Math.min(Math.max(0, Intervals.start(decision.intervals) - now), settings.maxDelayMillis)
    return { _tag: "Schedule", millis, key: rule, state: next }
  })
}

/** @internal */
export const libraryRules = (settings: Settings): Rules => (context, random) => {
  const { error, state } = context
  const chosen = choose(settings, error)
  const { entry, rule } = chosen
  const verdict = settings.honorShouldRetry ? error.shouldRetry : Option.none<boolean>()
  // An explicit `times: 0` is the user's final word; otherwise the server's `x-should-retry`
  // decides when present; otherwise a per-tag or per-category rule turns retrying on, and the
  // library default applies to the rest.
  if (entry?._tag === "Times" && entry.times === 0) return Effect.succeed(stop("not-retryable", rule))
  if (Option.contains(verdict, false)) return Effect.succeed(stop("server-refused", rule))
  const eligible = Option.contains(verdict, true) || entry !== undefined ||
    defaultRetryable(error._tag, Option.getOrUndefined(error.status))
  if (!eligible) return Effect.succeed(stop("not-retryable", rule))
  if (entry?._tag !== "Schedule") {
    const times = entry?.times ?? defaultTimes[error._tag] ?? Number.POSITIVE_INFINITY
    if ((state.counts[chosen.countKey] ?? 0) >= times) return Effect.succeed(stop("tag-limit", rule))
  }
  if (state.retries >= settings.maxRetries) return Effect.succeed(stop("max-retries", rule))
  if (entry?._tag !== "Schedule") {
    return Effect.succeed(compose(settings, context, chosen, backoff(settings, state.retries, random), random))
  }
  return Effect.map(
    stepSchedule(settings, context, rule, entry.schedule),
    (own) => own === undefined ? stop("schedule-done", rule) : compose(settings, context, chosen, own, random)
  )
}

/** @internal */
export const make = (settings: Settings, budget: boolean) =>
  budget ? engine(libraryRules(settings), budgetGate) : engine(libraryRules(settings), noGate)

// ---------------------------------------------------------------------------------------------
// openai-node's documented rules, as a baseline
// ---------------------------------------------------------------------------------------------

const officialVerdict = ({ error, state }: Context, random: number): Verdict => {
  if (Option.contains(error.shouldRetry, false)) return stop("server-refused")
  const status = Option.getOrElse(error.status, () => 0)
  const eligible = Option.contains(error.shouldRetry, true) ||
    status === 408 || status === 409 || status === 429 || status >= 500 ||
    error._tag === "ConnectionError" || error._tag === "TimeoutError"
  if (!eligible) return stop("not-retryable")
  if (state.retries >= 2) return stop("max-retries")
  // openai-node reads only retry-after-ms and retry-after, and only when 0 < hint < 60 s.
  if (Option.isSome(error.retryAfter) && Option.isSome(error.retryAfterSource)) {
    const source = error.retryAfterSource.value
    const hintMillis = Duration.toMillis(error.retryAfter.value)
    if ((source === "retry-after-ms" || source === "retry-after") && hintMillis > 0 && hintMillis < 60_000) {
      return { ...official, delayMillis: hintMillis, backoffMillis: hintMillis, source, countKey: error._tag }
    }
  }
  const ceiling = Math.min(500 * Math.pow(2, state.retries), 8_000)
  const backoffMillis = ceiling * (1 - random * 0.25)
  return { ...official, delayMillis: backoffMillis, backoffMillis, source: "backoff", countKey: error._tag }
}

const official = { _tag: "Retry", rule: "default", capped: false } as const

const officialRules: Rules = (context, random) => Effect.succeed(officialVerdict(context, random))

/** @internal */
export const officialSdk = engine(officialRules, noGate)

// ---------------------------------------------------------------------------------------------
// Running an effect with a policy
// ---------------------------------------------------------------------------------------------

const noneStarted: Option.Option<number> = Option.none()

/**
 * The run of one attempt: the `startedAt` mark is for the enclosing policy only, not for retries
 * nested inside the attempt, and an attempt sees a fresh `Schedule.CurrentIterationMetadata` as
 * under `Effect.retry`. Both are set only when they differ: on the common path (no enclosing
 * retry) the attempt runs as it is, with no `Effect.locally` (an acquire/release per call).
 * @internal
 */
export const isolateOn = <A, E, R>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => {
  let effect = self
  if (Option.isSome(fiber.getFiberRef(startedAt))) effect = Effect.locally(effect, startedAt, noneStarted)
  const meta = Context.get(fiber.currentContext, Schedule.CurrentIterationMetadata)
  if (meta !== freshMetadata) effect = Effect.provideService(effect, Schedule.CurrentIterationMetadata, freshMetadata)
  return effect
}

const isolate = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((fiber) => isolateOn(fiber, self))

// The default value of the reference: what `Effect.retry`'s driver hands its first attempt.
const freshMetadata = Context.get(Context.empty(), Schedule.CurrentIterationMetadata)

/**
 * What `retry` does after a first failure `error`: the policy's driver, then `attempt` for as
 * long as it continues, each with the iteration metadata `Effect.retry` gives it. The error that
 * stops it comes out. `startMillis` is when the first attempt started (the policy's deadline
 * counts from it).
 * @internal
 */
export const retryAfter = <A, E, R, Out, R2>(
  error: E,
  attempt: Effect.Effect<A, E, R>,
  policy: Schedule.Schedule<Out, E, R2>,
  startMillis: number
): Effect.Effect<A, E, R | R2> =>
  Effect.flatMap(Schedule.driver(policy), (driver) => {
    const next: Effect.Effect<A, E, R> = Effect.locally(
      Effect.provideServiceEffect(attempt, Schedule.CurrentIterationMetadata, Ref.get(driver.iterationMeta)),
      startedAt,
      noneStarted
    )
    const loop = (e: E): Effect.Effect<A, E, R | R2> =>
      Effect.matchEffect(driver.next(e), {
        // As `Effect.retry` does: the last output is read (a defect if there is none).
        onFailure: () => Effect.zipRight(Effect.orDie(driver.last), Effect.fail(e)),
        onSuccess: () => Effect.catchAll(next, loop)
      })
    return loop(error)
  }).pipe(Effect.locally(startedAt, Option.some(startMillis)))

/**
 * What `retry` records when it ends: the attempts it took, on `span`, the current span by default
 * (`openai.retry.attempts`), and in {@link lastAttempts}, written only when it changes (a write
 * copies the fiber's FiberRefs).
 * @internal
 */
export const recordAttempts = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  attempts: number,
  span?: Tracer.AnySpan | undefined
): Effect.Effect<void> => {
  // Not `Effect.annotateCurrentSpan`: outside a span it builds an exception per call.
  const target = span ?? Option.getOrUndefined(Context.getOption(fiber.currentContext, Tracer.ParentSpan))
  if (target !== undefined && target._tag === "Span") target.attribute("openai.retry.attempts", attempts)
  return fiber.getFiberRef(lastAttempts) === attempts ? Effect.void : FiberRef.set(lastAttempts, attempts)
}

/**
 * `Effect.retry` with the bookkeeping of `RetryPolicy.retry`. The schedule's driver is built only
 * after a first failure: a call that succeeds at once (almost all of them) pays for one attempt
 * and the final bookkeeping, nothing more. The schedule sees exactly the inputs it sees under
 * `Effect.retry`, in the same order.
 * @internal
 */
export const retry = <A, E, R, Out, R2>(
  self: Effect.Effect<A, E, R>,
  policy: Schedule.Schedule<Out, E, R2>
): Effect.Effect<A, E, R | R2> =>
  Effect.clockWith((clock) =>
    Effect.suspend(() => {
      const now = clock.unsafeCurrentTimeMillis()
      let attempts = 0
      const attempt: Effect.Effect<A, E, R> = Effect.suspend(() => {
        attempts++
        return RetryBudget.track(self)
      })
      return Effect.ensuring(
        Effect.catchAll(isolate(attempt), (error) => retryAfter(error, attempt, policy, now)),
        Effect.withFiberRuntime<void>((fiber) => recordAttempts(fiber, attempts))
      )
    })
  )
