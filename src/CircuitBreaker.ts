/**
 * A circuit breaker: stop calling an upstream that is broken, give it time to recover, then let a
 * few probe calls find out whether it has.
 *
 * Closed (calls pass, outcomes are counted) -> Open (calls fail at once with {@link CircuitOpen},
 * which says when to try again) -> HalfOpen (a limited number of probe calls pass) -> Closed when
 * every probe succeeded, or Open again, for longer, when one failed.
 *
 * Only failures that say the upstream is unwell count: 5xx, overloads, timeouts and connection
 * errors. A 429 or any other 4xx says nothing about the upstream's health (the request or the
 * account is at fault), so by default it neither trips the breaker nor counts as a success.
 *
 * All time is read through `Clock`, so the breaker runs under `TestClock`.
 *
 * @since 0.1.0
 */
import type * as HttpClientType from "@effect/platform/HttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as shared from "./internal/circuitBreakerShared.js"
import * as O from "./internal/options.js"
import type { InvalidOptions } from "./InvalidOptions.js"
import * as telemetry from "./internal/telemetry.js"
import * as OpenAiError from "./OpenAiError.js"
import type * as RateLimiter from "./RateLimiter.js"

/**
 * The error of a call refused because the circuit is open (or half-open with every probe slot
 * taken). `retryAfter` is how long until the breaker lets a probe through, so a retry schedule can
 * wait exactly that long instead of guessing.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-openai-resilience"
 * import { Duration, Effect } from "effect"
 *
 * declare const call: Effect.Effect<string, CircuitBreaker.CircuitOpen>
 * const handled = call.pipe(
 *   Effect.catchTag("CircuitOpen", (e) => Effect.succeed(`upstream down, retry in ${Duration.format(e.retryAfter)}`))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class CircuitOpen extends Data.TaggedError("CircuitOpen")<{
  readonly message: string
  /** The breaker's name (from its options). */
  readonly breaker: string
  /** How long until the breaker lets a probe call through. */
  readonly retryAfter: Duration.Duration
  /** The state that refused the call. */
  readonly state: "Open" | "HalfOpen"
}> {}

/**
 * The breaker's state.
 *
 * - `Closed`: calls pass; `failures` is the current run of consecutive failures.
 * - `Open`: calls are refused until `retryAt` (epoch millis of the `Clock`); `trips` counts the
 *   consecutive openings (the open interval grows with it).
 * - `HalfOpen`: up to `probes` calls may pass; their outcome closes or re-opens the circuit.
 *
 * @since 0.1.0
 * @category models
 */
export type State = Data.TaggedEnum<{
  Closed: { readonly failures: number }
  Open: { readonly openedAt: number; readonly retryAt: number; readonly trips: number }
  HalfOpen: { readonly trips: number; readonly probes: number }
}>

/**
 * Constructors and matchers for {@link State}.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-openai-resilience"
 *
 * const s = CircuitBreaker.State.Closed({ failures: 0 })
 * CircuitBreaker.State.$is("Closed")(s) // true
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export const State = Data.taggedEnum<State>()

/**
 * What a call's outcome means to the breaker.
 *
 * @since 0.1.0
 * @category models
 */
export type Verdict = "success" | "failure" | "ignore"

/**
 * Trip on a failure ratio over a sliding time window: when at least `minimumCalls` counted calls
 * ended within `window` and at least `threshold` (0..1) of them failed.
 *
 * @since 0.1.0
 * @category models
 */
export interface FailureRatio {
  readonly threshold: number
  readonly window: Duration.DurationInput
  readonly minimumCalls: number
}

/**
 * Options of {@link make}. Every field has a default.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Used in log lines and in {@link CircuitOpen}. Default `"openai"`. */
  readonly name?: string | undefined
  /** Trip after this many consecutive failures. Default 5; `Infinity` disables this mode. */
  readonly consecutiveFailures?: number | undefined
  /** Also trip on a failure ratio over a sliding window. Off by default. */
  readonly failureRatio?: FailureRatio | undefined
  /** The first open interval. Default 5 seconds. */
  readonly openDuration?: Duration.DurationInput | undefined
  /** Each consecutive trip multiplies the open interval by this. Default 2. */
  readonly backoffFactor?: number | undefined
  /** The longest open interval. Default 2 minutes. */
  readonly maxOpenDuration?: Duration.DurationInput | undefined
  /** Probe calls allowed in half-open; all must succeed to close. Default 1. */
  readonly halfOpenProbes?: number | undefined
  /** Which errors count as failures. Default {@link isUpstreamFailure}. */
  readonly isFailure?: ((error: unknown) => boolean) | undefined
  /**
   * Share the open state with other breakers (other replicas) through a {@link SharedStore}
   * under `key` (default: the name). A trip opens it for all until the same instant; each breaker
   * still probes and closes by itself. A failing store is warned about and ignored.
   */
  readonly shared?: { readonly store: SharedStore; readonly key?: string | undefined } | undefined
}

const OptionsSchema = Schema.Struct({
  name: O.optional(O.string),
  consecutiveFailures: O.optional(O.intOrInfinity(1)),
  failureRatio: O.optional(Schema.Struct({
    threshold: O.fraction,
    window: O.duration,
    minimumCalls: O.int(1)
  })),
  openDuration: O.optional(O.duration),
  backoffFactor: O.optional(O.number(1)),
  maxOpenDuration: O.optional(O.duration),
  halfOpenProbes: O.optional(O.int(1)),
  isFailure: O.optional(O.fn<(error: unknown) => boolean>()),
  shared: O.optional(Schema.Struct({
    store: O.methods<SharedStore>("a CircuitBreaker.SharedStore (read, open, close)", "read", "open", "close"),
    key: O.optional(O.string)
  }))
})

/**
 * An open circuit as replicas share it: until when it refuses calls, and how many times it has
 * tripped in a row (which sets the next open interval).
 *
 * @since 0.1.0
 * @category shared
 */
export interface SharedOpen {
  readonly retryAt: number
  readonly trips: number
}

/**
 * Where breakers of several processes share their open state ({@link Options}'s `shared`): one
 * replica that trips opens the circuit for all, until the same instant. Each operation is one
 * round trip; a failure is a `RateLimiterStoreError`, which the breaker never surfaces (it
 * decides locally, with a warning). Made by {@link makeSharedStoreMemory} or
 * `RateLimiterRedis.makeBreakerStore`.
 *
 * @since 0.1.0
 * @category shared
 */
export interface SharedStore {
  /** The key's open state, if it refuses calls at `now`. */
  readonly read: (key: string, now: number) => Effect.Effect<Option.Option<SharedOpen>, RateLimiter.RateLimiterStoreError>
  /** Records a trip, unless the store already holds one with more trips or a later end. */
  readonly open: (key: string, open: SharedOpen) => Effect.Effect<void, RateLimiter.RateLimiterStoreError>
  /** Closes the key after a recovery seen at `trips` (a later trip elsewhere stays). */
  readonly close: (key: string, trips: number) => Effect.Effect<void, RateLimiter.RateLimiterStoreError>
}

/**
 * A {@link SharedStore} in this process's memory: breakers made in one process share it.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = CircuitBreaker.makeSharedStoreMemory()
 *   const a = yield* CircuitBreaker.make({ shared: { store } })
 *   const b = yield* CircuitBreaker.make({ shared: { store } })
 *   return [a, b]
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category shared
 */
export const makeSharedStoreMemory = (): SharedStore => shared.makeMemory()

/**
 * A circuit breaker. Call it as a function to protect an effect, or use {@link protect}.
 *
 * @since 0.1.0
 * @category models
 */
export interface CircuitBreaker {
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitOpen, R>
  /** Runs `effect` through the breaker; an error counts as a failure when `isFailure` says so. */
  readonly protect: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitOpen, R>
  /** Runs `effect` through the breaker, judging its outcome with `verdict`. */
  readonly protectWith: <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    verdict: (exit: Exit.Exit<A, E>) => Verdict
  ) => Effect.Effect<A, E | CircuitOpen, R>
  /** The current state. */
  readonly state: Effect.Effect<State>
  /** The current state, then every change. */
  readonly changes: Stream.Stream<State>
  /** The name from the options. */
  readonly name: string
  /** The failure predicate from the options. */
  readonly isFailure: (error: unknown) => boolean
}

/**
 * The default failure predicate: `ServerError`, `EngineOverloaded` (unless sent as a 429),
 * `UnexpectedStatus` with a 5xx status, `TimeoutError`, `ConnectionError`; and, for raw
 * HttpClient use, a transport `RequestError` and Effect's `TimeoutException`. Nothing else:
 * never a 429, never a 4xx.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, OpenAiError } from "effect-openai-resilience"
 * import { Option } from "effect"
 *
 * CircuitBreaker.isUpstreamFailure(new OpenAiError.ServerError({ message: "boom" })) // true
 * CircuitBreaker.isUpstreamFailure(new OpenAiError.RateLimitReached({
 *   message: "slow down", scope: "requests", limit: Option.none(), used: Option.none(), requested: Option.none()
 * })) // false
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isUpstreamFailure = (error: unknown): boolean => {
  if (OpenAiError.isOpenAiError(error)) {
    switch (error._tag) {
      case "ServerError":
      case "TimeoutError":
      case "ConnectionError":
        return true
      case "EngineOverloaded":
        return !Option.contains(error.status, 429)
      case "UnexpectedStatus":
        return Option.exists(error.status, (s) => s >= 500)
      default:
        return false
    }
  }
  if (Cause.isTimeoutException(error)) return true
  return Predicate.isTagged(error, "RequestError") && Predicate.hasProperty(error, "reason") &&
    error.reason === "Transport"
}

interface Internal {
  state: State
  /** Outcomes (epoch millis, failed) within the ratio window, oldest first. */
  outcomes: Array<readonly [number, boolean]>
  /** Probe calls admitted in the current half-open period. */
  admitted: number
  /** Probe calls of the current half-open period that succeeded. */
  succeeded: number
}

const describe = (state: State, now: number): string =>
  State.$match(state, {
    Closed: () => "closed",
    Open: (s) => `open (retry in ${Duration.format(Duration.millis(Math.max(0, s.retryAt - now)))}, trip ${s.trips})`,
    HalfOpen: (s) => `half-open (${s.probes} probe${s.probes === 1 ? "" : "s"})`
  })

/**
 * Makes a circuit breaker. Scoped: the timer that moves an open circuit to half-open lives in the
 * scope, so `changes` shows `HalfOpen` when the open interval ends, not only at the next call.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * declare const call: Effect.Effect<string, Error>
 *
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 3, openDuration: "5 seconds" })
 *   return yield* breaker(call)
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<CircuitBreaker, InvalidOptions, Scope.Scope> =>
  Effect.gen(function*() {
    const valid = yield* O.validate("CircuitBreaker", OptionsSchema, options)
    const name = valid.name ?? "openai"
    const consecutive = valid.consecutiveFailures ?? 5
    const ratio = valid.failureRatio
    const ratioWindow = ratio === undefined ? 0 : Duration.toMillis(Duration.decode(ratio.window))
    const baseOpen = Duration.toMillis(Duration.decode(valid.openDuration ?? Duration.seconds(5)))
    const maxOpen = Duration.toMillis(Duration.decode(valid.maxOpenDuration ?? Duration.minutes(2)))
    const factor = valid.backoffFactor ?? 2
    const probes = valid.halfOpenProbes ?? 1
    const isFailure = valid.isFailure ?? isUpstreamFailure

    const scope = yield* Effect.scope
    const ref = yield* SubscriptionRef.make<State>(State.Closed({ failures: 0 }))
    const lock = yield* Effect.makeSemaphore(1)
    const internal: Internal = { state: State.Closed({ failures: 0 }), outcomes: [], admitted: 0, succeeded: 0 }

    const remote = valid.shared === undefined
      ? undefined
      : shared.guarded(valid.shared.store, valid.shared.key ?? name, name)

    const openInterval = (trips: number): number => Math.min(maxOpen, baseOpen * Math.pow(factor, trips - 1))

    // Every change goes through here, under the lock: the internal state, the published state and
    // the log line stay in the same order.
    const transition = (next: State, now: number): Effect.Effect<void> => {
      const previous = internal.state
      internal.state = next
      if (next._tag !== "HalfOpen") {
        internal.admitted = 0
        internal.succeeded = 0
      }
      if (next._tag !== "Closed") internal.outcomes = []
      const publish = SubscriptionRef.set(ref, next)
      if (previous._tag === next._tag) return publish
      const line = Effect.logInfo(`circuit breaker ${name}: ${describe(previous, now)} -> ${describe(next, now)}`)
        .pipe(Effect.annotateLogs({ circuitBreaker: name, state: next._tag }))
      const counted = telemetry.breakerTransition(name, previous._tag, next._tag)
      const timer = next._tag === "Open"
        ? Effect.asVoid(Effect.forkIn(
          Effect.sleep(Duration.millis(next.retryAt - now)).pipe(
            Effect.zipRight(lock.withPermits(1)(Effect.suspend(() => halfOpenIfDue(next)))),
            Effect.interruptible
          ),
          scope
        ))
        : Effect.void
      return Effect.all([publish, line, counted, timer], { discard: true })
    }

    const halfOpenIfDue = (open: State & { readonly _tag: "Open" }): Effect.Effect<void> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        internal.state === open && now >= open.retryAt
          ? transition(State.HalfOpen({ trips: open.trips, probes }), now)
          : Effect.void)

    const trip = (now: number, trips: number): Effect.Effect<void> => {
      const retryAt = now + openInterval(trips)
      const local = transition(State.Open({ openedAt: now, retryAt, trips }), now)
      return remote === undefined ? local : Effect.zipRight(local, remote.open({ retryAt, trips }))
    }

    /**
     * Opens this breaker when another has tripped since: any open while closed; one with more
     * trips, or (after our own open ended) a later end, otherwise.
     */
    const adoptShared = (now: number): Effect.Effect<void> => {
      const s = internal.state
      if (remote === undefined || (s._tag === "Open" && now < s.retryAt)) return Effect.void
      return Effect.flatMap(remote.read(now), (open) =>
        Option.isSome(open) &&
          (s._tag === "Closed" || open.value.trips > s.trips || (s._tag === "Open" && open.value.retryAt > s.retryAt))
          ? transition(State.Open({ openedAt: now, retryAt: open.value.retryAt, trips: open.value.trips }), now)
          : Effect.void)
    }

    type Admission =
      | { readonly _tag: "Pass"; readonly probe: boolean }
      | { readonly _tag: "Refuse"; readonly error: CircuitOpen }

    const admit: Effect.Effect<Admission> = lock.withPermits(1)(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* adoptShared(now)
      const s = internal.state
      if (s._tag === "Open") {
        if (now < s.retryAt) {
          return {
            _tag: "Refuse",
            error: new CircuitOpen({
              message: `Circuit breaker ${name} is open; retry in ${Duration.format(Duration.millis(s.retryAt - now))}`,
              breaker: name,
              retryAfter: Duration.millis(s.retryAt - now),
              state: "Open"
            })
          } as const
        }
        yield* transition(State.HalfOpen({ trips: s.trips, probes }), now)
      }
      const current = internal.state
      if (current._tag === "HalfOpen") {
        if (internal.admitted >= probes) {
          // Every probe slot is taken: come back after about one open interval.
          const retryAfter = Duration.millis(baseOpen)
          return {
            _tag: "Refuse",
            error: new CircuitOpen({
              message: `Circuit breaker ${name} is half-open and its ${probes} probe call(s) are in flight`,
              breaker: name,
              retryAfter,
              state: "HalfOpen"
            })
          } as const
        }
        internal.admitted++
        return { _tag: "Pass", probe: true } as const
      }
      return { _tag: "Pass", probe: false } as const
    }))

    const record = (verdict: Verdict, probe: boolean): Effect.Effect<void> =>
      lock.withPermits(1)(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const s = internal.state
        if (s._tag === "HalfOpen") {
          // Only calls admitted as probes decide a half-open circuit; a late call admitted while
          // closed says nothing about recovery since it started before the trip.
          if (!probe) return
          if (verdict === "failure") return yield* trip(now, s.trips + 1)
          if (verdict === "ignore") {
            // The probe told us nothing: free its slot for another.
            internal.admitted = Math.max(0, internal.admitted - 1)
            return
          }
          internal.succeeded++
          if (internal.succeeded >= probes) {
            yield* transition(State.Closed({ failures: 0 }), now)
            if (remote !== undefined) yield* remote.close(s.trips)
          }
          return
        }
        if (s._tag === "Open" || verdict === "ignore") return
        const failed = verdict === "failure"
        const failures = failed ? s.failures + 1 : 0
        if (ratio !== undefined) {
          internal.outcomes.push([now, failed])
          while (internal.outcomes.length > 0 && (internal.outcomes[0]?.[0] ?? now) <= now - ratioWindow) {
            internal.outcomes.shift()
          }
        }
        if (failed && failures >= consecutive) return yield* trip(now, 1)
        if (failed && ratio !== undefined && internal.outcomes.length >= ratio.minimumCalls) {
          const bad = internal.outcomes.reduce((n, [, f]) => f ? n + 1 : n, 0)
          if (bad / internal.outcomes.length >= ratio.threshold) return yield* trip(now, 1)
        }
        if (failures !== s.failures) {
          internal.state = State.Closed({ failures })
          yield* SubscriptionRef.set(ref, internal.state)
        }
      }))

    const protectWith = <A, E, R>(
      effect: Effect.Effect<A, E, R>,
      verdict: (exit: Exit.Exit<A, E>) => Verdict
    ): Effect.Effect<A, E | CircuitOpen, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(admit, (admission): Effect.Effect<A, E | CircuitOpen, R> => {
          if (admission._tag === "Refuse") return Effect.fail(admission.error)
          return restore(effect).pipe(
            Effect.onExit((exit) => record(verdict(exit), admission.probe))
          )
        })
      )

    const verdictOf = <A, E>(exit: Exit.Exit<A, E>): Verdict => {
      if (Exit.isSuccess(exit)) return "success"
      // Interruption and defects say nothing about the upstream.
      const failure = Cause.failureOption(exit.cause)
      if (Option.isNone(failure)) return "ignore"
      return isFailure(failure.value) ? "failure" : "ignore"
    }

    const protect = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitOpen, R> =>
      protectWith(effect, verdictOf)

    const breaker = Object.assign(protect, {
      protect,
      protectWith,
      state: Effect.sync(() => internal.state),
      changes: ref.changes,
      isFailure
    })
    // A function's own `name` is read-only for assignment but configurable.
    Object.defineProperty(breaker, "name", { value: name })
    return breaker as typeof breaker & { readonly name: string }
  })

/**
 * Runs an effect through a breaker.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * declare const breaker: CircuitBreaker.CircuitBreaker
 * declare const call: Effect.Effect<string, Error>
 *
 * const protectedCall = call.pipe(CircuitBreaker.protect(breaker))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const protect: {
  (breaker: CircuitBreaker): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | CircuitOpen, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, breaker: CircuitBreaker): Effect.Effect<A, E | CircuitOpen, R>
} = dual(2, <A, E, R>(self: Effect.Effect<A, E, R>, breaker: CircuitBreaker) => breaker.protect(self))

/**
 * Whether a raw response says the upstream is unwell: a 5xx status. A 429 is not.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-openai-resilience"
 *
 * CircuitBreaker.isFailureStatus(503) // true
 * CircuitBreaker.isFailureStatus(429) // false
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isFailureStatus = (status: number): boolean => status >= 500

/**
 * `HttpClient -> HttpClient` middleware: every request goes through the breaker. A response with a
 * 5xx status counts as a failure (and is still returned: classify it further in), as does any
 * error the breaker's `isFailure` accepts (a transport failure by default). An open circuit fails
 * the request with {@link CircuitOpen} without sending it.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-openai-resilience"
 * import { HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const client = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make()
 *   return (yield* HttpClient.HttpClient).pipe(CircuitBreaker.middleware(breaker))
 * })
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const middleware = (
  breaker: CircuitBreaker,
  options: { readonly isFailureStatus?: ((status: number) => boolean) | undefined } = {}
) =>
<E, R>(client: HttpClientType.HttpClient.With<E, R>): HttpClientType.HttpClient.With<E | CircuitOpen, R> => {
  const failedStatus = options.isFailureStatus ?? isFailureStatus
  return HttpClient.transform(client, (effect) =>
    breaker.protectWith(effect, (exit: Exit.Exit<HttpClientResponse.HttpClientResponse, E>) => {
      if (Exit.isSuccess(exit)) return failedStatus(exit.value.status) ? "failure" : "success"
      const failure = Cause.failureOption(exit.cause)
      if (Option.isNone(failure)) return "ignore"
      return breaker.isFailure(failure.value) ? "failure" : "ignore"
    }))
}
