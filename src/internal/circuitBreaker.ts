/**
 * The circuit breaker behind `CircuitBreaker.make`: its settings, its state machine (every change
 * through one `transition`, under a lock), and a lock-free fast path for the calls that change
 * nothing (a closed circuit admitting a call whose outcome leaves it closed, an open one refusing).
 *
 * @internal
 */
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as CircuitBreaker from "../CircuitBreaker.js"
import type { InvalidOptions } from "../InvalidOptions.js"
import * as shared from "./circuitBreakerShared.js"
import * as O from "./options.js"
import * as telemetry from "./telemetry.js"

type State = CircuitBreaker.State
type Verdict = CircuitBreaker.Verdict
type Open = State & { readonly _tag: "Open" }

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
    store: O.methods<CircuitBreaker.SharedStore>(
      "a CircuitBreaker.SharedStore (read, open, close)",
      "read",
      "open",
      "close"
    ),
    key: O.optional(O.string)
  }))
})

/** The options with their defaults applied, durations in millis. */
interface Settings {
  readonly name: string
  readonly consecutive: number
  readonly ratio: CircuitBreaker.FailureRatio | undefined
  readonly ratioWindow: number
  readonly baseOpen: number
  readonly maxOpen: number
  readonly factor: number
  readonly probes: number
  readonly isFailure: (error: unknown) => boolean
}

const settingsOf = (valid: CircuitBreaker.Options): Settings => {
  const ratio = valid.failureRatio
  return {
    name: valid.name ?? "openai",
    consecutive: valid.consecutiveFailures ?? 5,
    ratio,
    ratioWindow: ratio === undefined ? 0 : Duration.toMillis(Duration.decode(ratio.window)),
    baseOpen: Duration.toMillis(Duration.decode(valid.openDuration ?? Duration.seconds(5))),
    maxOpen: Duration.toMillis(Duration.decode(valid.maxOpenDuration ?? Duration.minutes(2))),
    factor: valid.backoffFactor ?? 2,
    probes: valid.halfOpenProbes ?? 1,
    isFailure: valid.isFailure ?? CircuitBreaker.isUpstreamFailure
  }
}

/** One breaker's mutable state and the services its changes use. */
interface Machine {
  readonly settings: Settings
  readonly scope: Scope.Scope
  /** The published state (`changes`). */
  readonly ref: SubscriptionRef.SubscriptionRef<State>
  /** Serialises the changes that run effects (publishing, logging, the shared store). */
  readonly lock: Effect.Semaphore
  readonly remote: ReturnType<typeof shared.guarded> | undefined
  state: State
  /** Outcomes (epoch millis, failed) within the ratio window, oldest first. */
  outcomes: Array<readonly [number, boolean]>
  /** Probe calls admitted in the current half-open period. */
  admitted: number
  /** Probe calls of the current half-open period that succeeded. */
  succeeded: number
}

const describe = (state: State, now: number): string =>
  CircuitBreaker.State.$match(state, {
    Closed: () => "closed",
    Open: (s) => `open (retry in ${Duration.format(Duration.millis(Math.max(0, s.retryAt - now)))}, trip ${s.trips})`,
    HalfOpen: (s) => `half-open (${s.probes} probe${s.probes === 1 ? "" : "s"})`
  })

const openInterval = (settings: Settings, trips: number): number =>
  Math.min(settings.maxOpen, settings.baseOpen * Math.pow(settings.factor, trips - 1))

// ---------------------------------------------------------------------------------------------
// Changes of state (under the lock)
// ---------------------------------------------------------------------------------------------

/**
 * Every change goes through here, under the lock: the internal state, the published state and
 * the log line stay in the same order.
 */
const transition = (m: Machine, next: State, now: number): Effect.Effect<void> => {
  const previous = m.state
  m.state = next
  if (next._tag !== "HalfOpen") {
    m.admitted = 0
    m.succeeded = 0
  }
  if (next._tag !== "Closed") m.outcomes = []
  const publish = SubscriptionRef.set(m.ref, next)
  if (previous._tag === next._tag) return publish
  const name = m.settings.name
  const line = Effect.logInfo(`circuit breaker ${name}: ${describe(previous, now)} -> ${describe(next, now)}`)
    .pipe(Effect.annotateLogs({ circuitBreaker: name, state: next._tag }))
  const counted = telemetry.breakerTransition(name, previous._tag, next._tag)
  const timer = next._tag === "Open" ? halfOpenTimer(m, next, now) : Effect.void
  return Effect.all([publish, line, counted, timer], { discard: true })
}

/** Moves an open circuit to half-open when its interval ends, so `changes` shows it then. */
const halfOpenTimer = (m: Machine, open: Open, now: number): Effect.Effect<void> =>
  Effect.asVoid(Effect.forkIn(
    Effect.sleep(Duration.millis(open.retryAt - now)).pipe(
      Effect.zipRight(m.lock.withPermits(1)(Effect.suspend(() => halfOpenIfDue(m, open)))),
      Effect.interruptible
    ),
    m.scope
  ))

const halfOpenIfDue = (m: Machine, open: Open): Effect.Effect<void> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    m.state === open && now >= open.retryAt
      ? transition(m, CircuitBreaker.State.HalfOpen({ trips: open.trips, probes: m.settings.probes }), now)
      : Effect.void)

const trip = (m: Machine, now: number, trips: number): Effect.Effect<void> => {
  const retryAt = now + openInterval(m.settings, trips)
  const local = transition(m, CircuitBreaker.State.Open({ openedAt: now, retryAt, trips }), now)
  return m.remote === undefined ? local : Effect.zipRight(local, m.remote.open({ retryAt, trips }))
}

/**
 * Opens this breaker when another has tripped since: any open while closed; one with more
 * trips, or (after our own open ended) a later end, otherwise.
 */
const adoptShared = (m: Machine, now: number): Effect.Effect<void> => {
  const s = m.state
  if (m.remote === undefined || (s._tag === "Open" && now < s.retryAt)) return Effect.void
  return Effect.flatMap(m.remote.read(now), (open) =>
    Option.isSome(open) &&
      (s._tag === "Closed" || open.value.trips > s.trips || (s._tag === "Open" && open.value.retryAt > s.retryAt))
      ? transition(m, CircuitBreaker.State.Open({ openedAt: now, retryAt: open.value.retryAt, trips: open.value.trips }), now)
      : Effect.void)
}

// ---------------------------------------------------------------------------------------------
// Admission and outcomes
// ---------------------------------------------------------------------------------------------

type Admission =
  | { readonly _tag: "Pass"; readonly probe: boolean }
  | { readonly _tag: "Refuse"; readonly error: CircuitBreaker.CircuitOpen }

const passClosed: Admission = { _tag: "Pass", probe: false }
const passProbe: Admission = { _tag: "Pass", probe: true }

const refuseOpen = (m: Machine, open: Open, now: number): Admission => ({
  _tag: "Refuse",
  error: new CircuitBreaker.CircuitOpen({
    message: `Circuit breaker ${m.settings.name} is open; retry in ${Duration.format(Duration.millis(open.retryAt - now))}`,
    breaker: m.settings.name,
    retryAfter: Duration.millis(open.retryAt - now),
    state: "Open"
  })
})

/** Every probe slot is taken: come back after about one open interval. */
const refuseHalfOpen = (m: Machine): Admission => ({
  _tag: "Refuse",
  error: new CircuitBreaker.CircuitOpen({
    message: `Circuit breaker ${m.settings.name} is half-open and its ${m.settings.probes} probe call(s) are in flight`,
    breaker: m.settings.name,
    retryAfter: Duration.millis(m.settings.baseOpen),
    state: "HalfOpen"
  })
})

const admit = (m: Machine): Effect.Effect<Admission> =>
  m.lock.withPermits(1)(Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    yield* adoptShared(m, now)
    const s = m.state
    if (s._tag === "Open") {
      if (now < s.retryAt) return refuseOpen(m, s, now)
      yield* transition(m, CircuitBreaker.State.HalfOpen({ trips: s.trips, probes: m.settings.probes }), now)
    }
    if (m.state._tag === "HalfOpen") {
      if (m.admitted >= m.settings.probes) return refuseHalfOpen(m)
      m.admitted++
      return passProbe
    }
    return passClosed
  }))

/** Only calls admitted as probes decide a half-open circuit. */
const recordHalfOpen = (
  m: Machine,
  s: State & { readonly _tag: "HalfOpen" },
  verdict: Verdict,
  now: number
): Effect.Effect<void> => {
  if (verdict === "failure") return trip(m, now, s.trips + 1)
  if (verdict === "ignore") {
    // The probe told us nothing: free its slot for another.
    m.admitted = Math.max(0, m.admitted - 1)
    return Effect.void
  }
  m.succeeded++
  if (m.succeeded < m.settings.probes) return Effect.void
  const closed = transition(m, CircuitBreaker.State.Closed({ failures: 0 }), now)
  const remote = m.remote
  return remote === undefined ? closed : Effect.zipRight(closed, remote.close(s.trips))
}

/** Keeps the ratio window: this outcome in, those older than the window out. */
const remember = (m: Machine, now: number, failed: boolean): void => {
  const outcomes = m.outcomes
  outcomes.push([now, failed])
  const oldest = now - m.settings.ratioWindow
  let drop = 0
  while (drop < outcomes.length && (outcomes[drop]?.[0] ?? now) <= oldest) drop++
  if (drop > 0) outcomes.splice(0, drop)
}

const recordClosed = (
  m: Machine,
  s: State & { readonly _tag: "Closed" },
  failed: boolean,
  now: number
): Effect.Effect<void> => {
  const { consecutive, ratio } = m.settings
  const failures = failed ? s.failures + 1 : 0
  if (ratio !== undefined) remember(m, now, failed)
  if (failed && failures >= consecutive) return trip(m, now, 1)
  if (failed && ratio !== undefined && m.outcomes.length >= ratio.minimumCalls) {
    const bad = m.outcomes.reduce((n, [, f]) => f ? n + 1 : n, 0)
    if (bad / m.outcomes.length >= ratio.threshold) return trip(m, now, 1)
  }
  if (failures === s.failures) return Effect.void
  m.state = CircuitBreaker.State.Closed({ failures })
  return SubscriptionRef.set(m.ref, m.state)
}

const record = (m: Machine, verdict: Verdict, probe: boolean): Effect.Effect<void> =>
  m.lock.withPermits(1)(Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const s = m.state
    if (s._tag === "HalfOpen") {
      // A late call admitted while closed says nothing about recovery: it started before the trip.
      return probe ? recordHalfOpen(m, s, verdict, now) : Effect.void
    }
    if (s._tag === "Open" || verdict === "ignore") return Effect.void
    return recordClosed(m, s, verdict === "failure", now)
  }))

// ---------------------------------------------------------------------------------------------
// The fast path: what changes nothing needs no lock (each step below is synchronous, and every
// change under the lock is made synchronously too, so they cannot interleave). Not with a shared
// store: its reads run under the lock, so an outcome recorded there may still be waiting for it,
// and a later outcome that skipped the lock would be applied before it.
// ---------------------------------------------------------------------------------------------

const nowOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): number =>
  Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()

/** The admission decided without the lock, or undefined when it needs it. */
const admitFast = (m: Machine, fiber: Fiber.RuntimeFiber<unknown, unknown>): Admission | undefined => {
  // A shared store is read on every admission: that is the slow path's.
  if (m.remote !== undefined) return undefined
  const s = m.state
  if (s._tag === "Closed") return passClosed
  if (s._tag === "Open") {
    const now = nowOf(fiber)
    if (now < s.retryAt) return refuseOpen(m, s, now)
  }
  return undefined
}

/** Records an outcome that changes nothing published; false when it needs the lock. */
const recordFast = (m: Machine, verdict: Verdict, probe: boolean, fiber: Fiber.RuntimeFiber<unknown, unknown>): boolean => {
  if (m.remote !== undefined) return false
  const s = m.state
  if (s._tag === "HalfOpen") return !probe
  if (s._tag === "Open" || verdict === "ignore") return true
  if (verdict === "failure" || s.failures !== 0) return false
  if (m.settings.ratio !== undefined) remember(m, nowOf(fiber), false)
  return true
}

const protectWith = (m: Machine) =>
<A, E, R>(
  effect: Effect.Effect<A, E, R>,
  verdict: (exit: Exit.Exit<A, E>) => Verdict
): Effect.Effect<A, E | CircuitBreaker.CircuitOpen, R> =>
  Effect.uninterruptibleMask((restore) => {
    const run = (admission: Admission): Effect.Effect<A, E | CircuitBreaker.CircuitOpen, R> => {
      if (admission._tag === "Refuse") return Effect.fail(admission.error)
      // Already masked: a match (not `onExit`, which takes a second mask) records every outcome.
      const settle = (exit: Exit.Exit<A, E>): Effect.Effect<A, E> =>
        Effect.withFiberRuntime((fiber) => {
          const v = verdict(exit)
          return recordFast(m, v, admission.probe, fiber) ? exit : Effect.zipRight(record(m, v, admission.probe), exit)
        })
      return Effect.matchCauseEffect(restore(effect), {
        onFailure: (cause) => settle(Exit.failCause(cause)),
        onSuccess: (a) => settle(Exit.succeed(a))
      })
    }
    return Effect.withFiberRuntime((fiber) => {
      const fast = admitFast(m, fiber)
      return fast === undefined ? Effect.flatMap(admit(m), run) : run(fast)
    })
  })

/** The default judgement of an exit: a failure when `isFailure` says so. */
const verdictOf = (isFailure: (error: unknown) => boolean) => <A, E>(exit: Exit.Exit<A, E>): Verdict => {
  if (Exit.isSuccess(exit)) return "success"
  // Interruption and defects say nothing about the upstream.
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) return "ignore"
  return isFailure(failure.value) ? "failure" : "ignore"
}

/** @internal */
export const make = (
  options: CircuitBreaker.Options
): Effect.Effect<CircuitBreaker.CircuitBreaker, InvalidOptions, Scope.Scope> =>
  Effect.gen(function*() {
    const valid = yield* O.validate("CircuitBreaker", OptionsSchema, options)
    const settings = settingsOf(valid)
    const m: Machine = {
      settings,
      scope: yield* Effect.scope,
      ref: yield* SubscriptionRef.make<State>(CircuitBreaker.State.Closed({ failures: 0 })),
      lock: yield* Effect.makeSemaphore(1),
      remote: valid.shared === undefined
        ? undefined
        : shared.guarded(valid.shared.store, valid.shared.key ?? settings.name, settings.name),
      state: CircuitBreaker.State.Closed({ failures: 0 }),
      outcomes: [],
      admitted: 0,
      succeeded: 0
    }
    const judge = verdictOf(settings.isFailure)
    const withVerdict = protectWith(m)
    const protect = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | CircuitBreaker.CircuitOpen, R> =>
      withVerdict(effect, judge)
    const breaker = Object.assign(protect, {
      protect,
      protectWith: withVerdict,
      state: Effect.sync(() => m.state),
      changes: m.ref.changes,
      isFailure: settings.isFailure
    })
    // A function's own `name` is read-only for assignment but configurable.
    Object.defineProperty(breaker, "name", { value: settings.name })
    return breaker as typeof breaker & { readonly name: string }
  })

/** The middleware's judgement of a response: a failure when its status says so. @internal */
export const responseVerdict = <E>(
  breaker: CircuitBreaker.CircuitBreaker,
  failedStatus: (status: number) => boolean
) =>
(exit: Exit.Exit<HttpClientResponse.HttpClientResponse, E>): Verdict => {
  if (Exit.isSuccess(exit)) return failedStatus(exit.value.status) ? "failure" : "success"
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) return "ignore"
  return breaker.isFailure(failure.value) ? "failure" : "ignore"
}
