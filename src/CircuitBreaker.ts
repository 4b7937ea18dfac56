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
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/circuitBreaker.js"
import * as shared from "./internal/circuitBreakerShared.js"
import type { InvalidOptions } from "./InvalidOptions.js"
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
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-openai-resilience"
 *
 * const label = (state: CircuitBreaker.State): string =>
 *   CircuitBreaker.State.$match(state, {
 *     Closed: ({ failures }) => `closed, ${failures} failure(s) in a row`,
 *     Open: ({ retryAt }) => `open until ${new Date(retryAt).toISOString()}`,
 *     HalfOpen: ({ probes }) => `half-open, ${probes} probe(s)`
 *   })
 * ```
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
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-openai-resilience"
 * import { Exit } from "effect"
 *
 * // Count only a slow answer as a failure.
 * const verdict = (exit: Exit.Exit<{ readonly millis: number }, Error>): CircuitBreaker.Verdict =>
 *   Exit.isSuccess(exit) ? (exit.value.millis > 10_000 ? "failure" : "success") : "ignore"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Verdict = "success" | "failure" | "ignore"

/**
 * Trip on a failure ratio over a sliding time window: when at least `minimumCalls` counted calls
 * ended within `window` and at least `threshold` (0..1) of them failed.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-openai-resilience"
 *
 * // Trip when half of at least 20 calls in the last minute failed.
 * const ratio: CircuitBreaker.FailureRatio = { threshold: 0.5, window: "1 minute", minimumCalls: 20 }
 * const breaker = CircuitBreaker.make({ failureRatio: ratio })
 * ```
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
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-openai-resilience"
 *
 * const options: CircuitBreaker.Options = {
 *   name: "chat",
 *   consecutiveFailures: 3,
 *   openDuration: "10 seconds",
 *   maxOpenDuration: "5 minutes",
 *   halfOpenProbes: 2
 * }
 * const breaker = CircuitBreaker.make(options)
 * ```
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

/**
 * An open circuit as replicas share it: until when it refuses calls, and how many times it has
 * tripped in a row (which sets the next open interval).
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-openai-resilience"
 *
 * const open: CircuitBreaker.SharedOpen = { retryAt: Date.now() + 5_000, trips: 1 }
 * ```
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
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const store: CircuitBreaker.SharedStore = CircuitBreaker.makeSharedStoreMemory()
 * const trippedElsewhere = store.read("openai", Date.now()).pipe(Effect.orElseSucceed(() => undefined))
 * ```
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
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-openai-resilience"
 * import { Effect, Stream } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const breaker: CircuitBreaker.CircuitBreaker = yield* CircuitBreaker.make({ name: "chat" })
 *   // Log every change of state while the scope lasts.
 *   yield* breaker.changes.pipe(Stream.runForEach((state) => Effect.logInfo(state._tag)), Effect.forkScoped)
 *   return yield* breaker.state
 * }).pipe(Effect.scoped)
 * ```
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
  internal.make(options)

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
  const verdict = internal.responseVerdict<E>(breaker, options.isFailureStatus ?? isFailureStatus)
  return HttpClient.transform(client, (effect) => breaker.protectWith(effect, verdict))
}
