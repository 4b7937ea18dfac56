/**
 * The limiter service over a {@link RateLimiter.Store}: per-key FIFO queues in this process,
 * waiting on the store's answer (the instant to retry) or its wake-up, and the fallback to a
 * local memory store when a shared store fails.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as OpenAiError from "../OpenAiError.js"
import * as RateLimiter from "../RateLimiter.js"
import * as O from "./options.js"
import * as Line from "./line.js"
import * as internal from "./rateLimiter.js"

// Checked once, before the service is built: a value given is never read as the default.
const OptionsSchema = Schema.Struct({
  requestsPerMinute: O.optional(O.above(0)),
  tokensPerMinute: O.optional(O.above(0)),
  burst: O.optional(O.fraction),
  headroom: O.optional(O.check((u): u is number => typeof u === "number" && u >= 0 && u < 1, "a number from 0 up to (not including) 1")),
  defaultPause: O.optional(O.duration),
  maxPause: O.optional(O.duration),
  estimate: O.optional(Schema.Struct({ defaultCompletionTokens: O.optional(O.int(0)) })),
  onStoreFailure: O.optional(O.literal("local", "fail")),
  storeTimeout: O.optional(O.duration),
  storeRetryAfter: O.optional(O.duration),
  clockSkew: O.optional(O.duration),
  lanes: O.optional(Schema.Struct({
    reserve: O.optional(O.check((u): u is number => typeof u === "number" && u > 0 && u <= 0.5, "a number above 0, at most 0.5")),
    backgroundShare: O.optional(O.check((u): u is number => typeof u === "number" && u >= 0 && u <= 0.9, "a number from 0 to 0.9"))
  }))
})

/** @internal */
export const validate = (options: RateLimiter.Options | RateLimiter.FailClosedOptions) =>
  O.validate("RateLimiter", OptionsSchema, options)

/** Per-key wake-ups: a Deferred each, completed and replaced by {@link Wakeups.wake}. @internal */
export interface Wakeups {
  readonly watch: (key: string) => Effect.Effect<Effect.Effect<void>>
  readonly wake: (key: string) => void
}

/** @internal */
export const makeWakeups = (): Wakeups => {
  const waiting = new Map<string, Deferred.Deferred<void>>()
  return {
    watch: (key) =>
      Effect.sync(() => {
        let deferred = waiting.get(key)
        if (deferred === undefined) {
          deferred = Deferred.unsafeMake<void>(FiberId.none)
          waiting.set(key, deferred)
        }
        return Deferred.await(deferred)
      }),
    wake: (key) => {
      const deferred = waiting.get(key)
      if (deferred === undefined) return
      waiting.delete(key)
      Deferred.unsafeDone(deferred, Effect.void)
    }
  }
}

/**
 * A memory store's operations as plain functions: the limiter over a memory store calls them
 * directly, in the same step as its decision, instead of through an Effect per operation.
 */
interface MemoryOps {
  /** Reserves, unless the answer is to wait: then nothing is stored (the caller asks again). */
  readonly tryReserve: (key: string, input: internal.ReserveInput) => internal.Reservation
  readonly release: (key: string, input: internal.ReleaseInput) => void
}

const memoryStores = new WeakMap<RateLimiter.Store, MemoryOps>()

/** @internal */
export const makeStoreMemory = (): RateLimiter.Store => {
  const states = new Map<string, internal.KeyState>()
  const wakeups = makeWakeups()
  const stateOf = (key: string) => states.get(key) ?? internal.initial
  const update = <A>(key: string, f: (state: internal.KeyState) => readonly [A, internal.KeyState]): A => {
    const [a, next] = f(stateOf(key))
    states.set(key, next)
    return a
  }
  const waking = (key: string, f: (state: internal.KeyState) => readonly [boolean, internal.KeyState]): void => {
    if (update(key, f)) wakeups.wake(key)
  }
  const reserve = (key: string, input: internal.ReserveInput, keepWait: boolean): internal.Reservation => {
    const state = stateOf(key)
    const [reservation, next] = internal.reserve(state, input)
    if (reservation._tag === "Wait" && !keepWait) return reservation
    states.set(key, next)
    if (internal.owedNow(state, next)) wakeups.wake(key)
    return reservation
  }
  const ops: MemoryOps = {
    tryReserve: (key, input) => reserve(key, input, false),
    release: (key, input) => waking(key, (state) => internal.release(state, input))
  }
  const store: RateLimiter.Store = {
    reserve: (key, input) => Effect.sync(() => reserve(key, input, true)),
    release: (key, input) => Effect.sync(() => ops.release(key, input)),
    pause: (key, until) => Effect.sync(() => update(key, (state) => [undefined, internal.pause(state, until)] as const)),
    adjust: (key, tokens, now) => Effect.sync(() => waking(key, (state) => internal.adjust(state, tokens, now))),
    snapshot: (key) => Effect.sync(() => Option.fromNullable(states.get(key))),
    watch: wakeups.watch
  }
  memoryStores.set(store, ops)
  return store
}

/** How long a probe holds a key whose limits are unknown, should its answer never come. */
const PROBE_LEASE = 30_000

const positiveOr = (n: number | undefined): number | undefined =>
  typeof n === "number" && Number.isFinite(n) && n > 0 ? n : undefined

const numberOr = (n: number | undefined, fallback: number): number =>
  typeof n === "number" && !Number.isNaN(n) ? n : fallback

/** An estimate as the store takes it: a finite integer >= 0 (`Infinity` can never fit anyway). */
const tokensOf = (n: number): number =>
  typeof n === "number" && n > 0 ? Math.min(Math.ceil(n), Number.MAX_SAFE_INTEGER) : 0

const modelOf = (key: string): string => {
  const colon = key.indexOf(":")
  return colon < 0 ? key : key.slice(colon + 1)
}

interface Result<A> {
  readonly value: A
  /** Answered by the local fallback. */
  readonly local: boolean
}

/**
 * The store with its failure policy: a shared store's operations are bounded by `storeTimeout`;
 * a failure is counted, warned about once, and answered by the local memory store (for
 * `storeRetryAfter`, before the store is asked again), or under `"fail"` returned to the caller.
 */
const guarded = (store: RateLimiter.Store, options: RateLimiter.Options | RateLimiter.FailClosedOptions) => {
  const fallback = makeStoreMemory()
  const local = memoryStores.get(store)
  const isLocal = local !== undefined
  const failClosed = options.onStoreFailure === "fail"
  const timeout = Duration.decode(options.storeTimeout ?? Duration.seconds(1))
  const retryAfter = Duration.toMillis(Duration.decode(options.storeRetryAfter ?? Duration.seconds(2)))
  let failingUntil = 0
  let failing = false

  const failed = (error: RateLimiter.RateLimiterStoreError, now: number) =>
    Effect.suspend(() => {
      failingUntil = now + retryAfter
      const first = !failing
      failing = true
      return Effect.zipRight(
        Metric.increment(RateLimiter.storeFailures),
        first
          ? Effect.logWarning(
            failClosed
              ? `rate limiter store failed, refusing requests until it answers: ${error.message}`
              : `rate limiter store failed, pacing in this process only until it answers: ${error.message}`
          )
          : Effect.void
      )
    })

  const recovered = Effect.suspend(() => {
    if (!failing) return Effect.void
    failing = false
    return Effect.logInfo("rate limiter store answers again")
  })

  /** Runs `op` on the store; `critical` failures reach the caller under `"fail"`. */
  const run = <A>(
    op: (store: RateLimiter.Store) => Effect.Effect<A, RateLimiter.RateLimiterStoreError>,
    now: number,
    critical: boolean
  ): Effect.Effect<Result<A>, RateLimiter.RateLimiterStoreError> => {
    const onFallback = Effect.map(op(fallback), (value) => ({ value, local: true }))
    if (isLocal) return Effect.map(op(store), (value) => ({ value, local: false }))
    if (!failClosed && now < failingUntil) return onFallback
    // In a fiber of its own, stopped by its timeout only: an interruption of the caller reaches
    // the caller's child fibers at once, mask or no mask, and would cut a reservation the store
    // has made before its reply arrives. A masked caller (a reservation, a release) awaits the
    // answer; the operation is interruptible inside, so that the timeout can end it.
    const answered = Effect.forkDaemon(Effect.interruptible(Effect.timeoutFail(op(store), {
      duration: timeout,
      onTimeout: () => new RateLimiter.RateLimiterStoreError({ message: `no answer within ${Duration.format(timeout)}` })
    })))
    return Effect.flatMap(answered, Fiber.join).pipe(
      Effect.tap(() => recovered),
      Effect.map((value): Result<A> => ({ value, local: false })),
      Effect.catchAll((error) =>
        Effect.zipRight(failed(error, now), failClosed && critical ? Effect.fail(error) : onFallback)
      )
    )
  }

  // A memory store has one clock; processes sharing a store each have their own.
  const skew = Duration.toMillis(Duration.decode(options.clockSkew ?? (isLocal ? Duration.zero : Duration.millis(50))))
  /** Whether a shared store is in its failing window (its operations go to the fallback). */
  const skipping = (now: number) => !isLocal && !failClosed && now < failingUntil
  /** The next wake-up of a key, from the store or (for a shared store) the fallback. */
  const watch = (key: string): Effect.Effect<Effect.Effect<void>> =>
    isLocal
      ? store.watch(key)
      : Effect.zipWith(store.watch(key), fallback.watch(key), (a, b) => Effect.race(a, b))
  return { run, fallback, skipping, watch, skew, local }
}

const finiteOr = (n: number | undefined): number | undefined =>
  typeof n === "number" && Number.isFinite(n) && n >= 0 ? n : undefined

/** A response's headers as the arithmetic takes them: limits > 0, remaining values >= 0. */
const headersOf = (outcome: RateLimiter.Outcome): internal.Headers | undefined =>
  Option.match(outcome.rateLimit, {
    onNone: () => undefined,
    onSome: (h) => ({
      limitRequests: positiveOr(Option.getOrUndefined(h.limitRequests)),
      limitTokens: positiveOr(Option.getOrUndefined(h.limitTokens)),
      remainingRequests: finiteOr(Option.getOrUndefined(h.remainingRequests)),
      remainingTokens: finiteOr(Option.getOrUndefined(h.remainingTokens))
    })
  })

/** The three lanes as the arithmetic takes them, or none when the options have no lanes. */
const lanesOf = (
  options: RateLimiter.LaneOptions | undefined
): Record<RateLimiter.Priority, internal.LaneInput> | undefined => {
  if (options === undefined) return undefined
  const reserve = Math.min(0.5, Math.max(0.001, numberOr(options.reserve, 0.05)))
  const share = Math.min(0.9, Math.max(0, numberOr(options.backgroundShare, 0.1)))
  const lane = (floor: number, background: boolean): internal.LaneInput => ({
    floor,
    background,
    share,
    yieldFloor: reserve
  })
  return { interactive: lane(0, false), default: lane(reserve / 2, false), background: lane(reserve, true) }
}

/** A limiter's settings, its store under the failure policy, and its per-key queues. */
interface Limiter {
  readonly fixed: internal.Fixed
  readonly burst: number
  readonly headroom: number
  readonly defaultPause: Duration.Duration
  readonly maxPause: Duration.Duration
  readonly store: ReturnType<typeof guarded>
  readonly lanes: Record<RateLimiter.Priority, internal.LaneInput> | undefined
  readonly gates: Gates
}

/**
 * One queue per key, or per key and lane: a lane's head then asks the store while another lane's
 * head waits, and the store's lane floors decide who goes first. `queued` counts the callers in
 * or waiting for a gate, so that a caller that finds a gate empty may skip it.
 */
interface Gates {
  // A fair line, not a Semaphore: a release of Effect's wakes every waiter (see internal/line.ts).
  readonly gate: Map<string, Line.Line>
  readonly queued: Map<string, number>
}

const gateId = (l: Limiter, key: string, lane: RateLimiter.Priority): string =>
  l.lanes === undefined ? key : `${lane}\u0000${key}`

const limiterOf = (store: RateLimiter.Store, options: RateLimiter.Options | RateLimiter.FailClosedOptions): Limiter => ({
  // A limit that is not a positive number reads as "not given": learned from the headers.
  fixed: { requests: positiveOr(options.requestsPerMinute), tokens: positiveOr(options.tokensPerMinute) },
  burst: Math.min(1, Math.max(0.001, numberOr(options.burst, 1))),
  headroom: Math.min(0.99, Math.max(0, numberOr(options.headroom, 0))),
  defaultPause: Duration.decode(options.defaultPause ?? Duration.seconds(1)),
  maxPause: Duration.decode(options.maxPause ?? Duration.seconds(60)),
  store: guarded(store, options),
  lanes: lanesOf(options.lanes),
  gates: { gate: new Map(), queued: new Map() }
})

const nowOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): number =>
  Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()

// ---------------------------------------------------------------------------------------------
// acquire
// ---------------------------------------------------------------------------------------------

type AcquireError = OpenAiError.RequestTooLarge | RateLimiter.RateLimiterStoreError

const reserveInput = (l: Limiter, now: number, tokens: number, lane: internal.LaneInput | undefined): internal.ReserveInput => ({
  now,
  tokens,
  fixed: l.fixed,
  burst: l.burst,
  headroom: l.headroom,
  probeLease: PROBE_LEASE,
  skew: l.store.skew,
  lane
})

const tooLarge = (key: string, value: { readonly limit: number; readonly requested: number }) =>
  new OpenAiError.RequestTooLarge({
    message: `Request too large for ${modelOf(key)} on tokens per min (TPM): Limit ${value.limit}, ` +
      `Requested ${value.requested}. Not sent: it can never fit the limit; shorten the prompt or lower max_tokens.`,
    type: Option.some("tokens"),
    limit: Option.some(value.limit),
    requested: Option.some(value.requested)
  })

const permitOf = (
  key: string,
  tokens: number,
  start: number,
  now: number,
  value: internal.Reservation & { readonly _tag: "Granted" },
  local: boolean
): RateLimiter.Permit => ({
  key,
  tokens,
  grantedAt: now,
  waited: Duration.millis(now - start),
  charged: value.charged,
  seq: value.seq,
  tokensThrough: value.tokensThrough,
  probe: value.probe,
  local
})

/**
 * The queue: the head asks the store, and waits for the instant it names or a wake-up. Runs
 * masked: only the waits are in `restore`, and the store's answer is awaited whatever interrupts,
 * so that a permit the store took reaches the caller, who releases it.
 */
const acquireQueued = (
  l: Limiter,
  key: string,
  tokens: number,
  start: number,
  priority: RateLimiter.Priority,
  restore: Line.Restore
): Effect.Effect<RateLimiter.Permit, AcquireError> => {
  const { fallback, run, watch } = l.store
  const lane = l.lanes?.[priority]
  const id = gateId(l, key, priority)
  let gate = l.gates.gate.get(id)
  if (gate === undefined) {
    gate = Line.make()
    l.gates.gate.set(id, gate)
  }
  const queued = (n: number) => Effect.sync(() => l.gates.queued.set(id, (l.gates.queued.get(id) ?? 0) + n))
  const head = Effect.gen(function*() {
    while (true) {
      const changed = yield* watch(key)
      const now = yield* Clock.currentTimeMillis
      const input = reserveInput(l, now, tokens, lane)
      // The fallback is this process's alone: one clock, no skew to allow for.
      const { local, value } = yield* run((s) => s.reserve(key, s === fallback ? { ...input, skew: 0 } : input), now, true)
      switch (value._tag) {
        case "Granted":
          return permitOf(key, tokens, start, now, value, local)
        case "TooLarge":
          return yield* tooLarge(key, value)
        case "Wait":
          yield* restore(Effect.raceFirst(Effect.sleep(Duration.millis(value.millis)), changed))
      }
    }
  })
  return Effect.zipRight(queued(1), Effect.ensuring(gate(head, restore), queued(-1)))
}

/**
 * Over a memory store with nobody queued for the key, the reservation is made at once, in this
 * step; a request that must wait (or a shared store) goes through the queue. With `restore`, the
 * caller masks (see {@link RateLimiter.Service.acquire}); without, the queue masks itself.
 */
const acquire = (l: Limiter) =>
(demand: RateLimiter.Demand, restore?: Line.Restore): Effect.Effect<RateLimiter.Permit, AcquireError> =>
  Effect.withFiberRuntime((fiber) => {
    const key = demand.key
    const tokens = tokensOf(demand.tokens)
    const now = nowOf(fiber)
    const priority = demand.priority ?? fiber.getFiberRef(RateLimiter.currentPriority)
    const memory = l.store.local
    if (memory !== undefined && (l.gates.queued.get(gateId(l, key, priority)) ?? 0) === 0) {
      const value = memory.tryReserve(key, reserveInput(l, now, tokens, l.lanes?.[priority]))
      if (value._tag === "Granted") return Effect.succeed(permitOf(key, tokens, now, now, value, false))
      if (value._tag === "TooLarge") return Effect.fail(tooLarge(key, value))
    }
    return restore === undefined
      ? Effect.uninterruptibleMask((restore) => acquireQueued(l, key, tokens, now, priority, restore))
      : acquireQueued(l, key, tokens, now, priority, restore)
  })

// ---------------------------------------------------------------------------------------------
// release
// ---------------------------------------------------------------------------------------------

/** What the store needs to know of a permit's outcome, and the pause it asks for. */
const releaseInputOf = (l: Limiter, permit: RateLimiter.Permit, outcome: RateLimiter.Outcome, now: number) => {
  const pauseFor = outcome.rateLimited
    ? Duration.min(Option.getOrElse(outcome.retryAfter, () => l.defaultPause), l.maxPause)
    : undefined
  const pauseUntil = pauseFor === undefined ? undefined : now + Duration.toMillis(pauseFor)
  const input: internal.ReleaseInput = {
    now,
    fixed: l.fixed,
    sentAt: permit.grantedAt,
    seq: permit.seq,
    tokensThrough: permit.tokensThrough,
    tokens: permit.tokens,
    charged: permit.charged,
    probe: permit.probe,
    headers: headersOf(outcome),
    answered: Option.isSome(outcome.status),
    pauseUntil,
    requestedTokens: outcome.requestedTokens === undefined ? undefined : finiteOr(Option.getOrUndefined(outcome.requestedTokens))
  }
  return { input, pauseFor, pauseUntil }
}

/**
 * A permit's counters belong to the store that granted it: the fallback's permits go back to the
 * fallback, and a shared permit released while the store fails keeps only its pause.
 */
const releaseShared = (
  l: Limiter,
  permit: RateLimiter.Permit,
  input: internal.ReleaseInput,
  pauseUntil: number | undefined
): Effect.Effect<void> => {
  const { fallback, run, skipping } = l.store
  const now = input.now
  if (permit.local) return Effect.ignore(fallback.release(permit.key, input))
  if (skipping(now)) return pauseUntil === undefined ? Effect.void : Effect.ignore(fallback.pause(permit.key, pauseUntil))
  return Effect.flatMap(Effect.either(run((s) => s.release(permit.key, input), now, false)), (result) =>
    result._tag === "Right" && result.right.local && pauseUntil !== undefined
      ? Effect.ignore(fallback.pause(permit.key, pauseUntil))
      : Effect.void)
}

const release = (l: Limiter) => (permit: RateLimiter.Permit, outcome: RateLimiter.Outcome): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => {
    const { input, pauseFor, pauseUntil } = releaseInputOf(l, permit, outcome, nowOf(fiber))
    const memory = l.store.local
    let released: Effect.Effect<void> = Effect.void
    if (memory !== undefined && !permit.local) memory.release(permit.key, input)
    else released = releaseShared(l, permit, input, pauseUntil)
    if (pauseFor === undefined) return released
    return Effect.zipRight(released, Effect.logDebug(`rate limited: pausing ${permit.key} for ${Duration.format(pauseFor)}`))
  })

// ---------------------------------------------------------------------------------------------
// the other operations
// ---------------------------------------------------------------------------------------------

const snapshot = (l: Limiter) => (key: string): Effect.Effect<Option.Option<RateLimiter.Snapshot>> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const result = yield* Effect.option(l.store.run((s) => s.snapshot(key), now, false))
    return Option.map(Option.flatMap(result, (r) => r.value), (s): RateLimiter.Snapshot => {
      const levels = internal.levels(s, now)
      return {
        limitRequests: Option.fromNullable(s.limitRequests),
        limitTokens: Option.fromNullable(s.limitTokens),
        remainingRequests: Option.map(Option.fromNullable(levels.requests), Math.floor),
        tokenScale: s.tokenScale,
        remainingTokens: Option.map(Option.fromNullable(levels.tokens), Math.floor),
        pausedFor: Duration.millis(Math.max(0, s.pausedUntil - now))
      }
    })
  })

/** @internal */
export const make = (
  store: RateLimiter.Store,
  options: RateLimiter.Options | RateLimiter.FailClosedOptions,
  outcomeOfExit: <A, E>(exit: Exit.Exit<A, E>) => RateLimiter.Outcome
): Effect.Effect<RateLimiter.Service<RateLimiter.RateLimiterStoreError>> =>
  Effect.sync(() => {
    const l = limiterOf(store, options)
    const run = l.store.run
    const acquire_ = acquire(l)
    const release_ = release(l)
    const limit = (demand: RateLimiter.Demand) =>
    <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | AcquireError, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(acquire_(demand, restore), (permit) =>
          restore(effect).pipe(
            Effect.onExit((exit) => release_(permit, outcomeOfExit(exit)))
          ))
      )
    const pause = (key: string, duration: Duration.DurationInput): Effect.Effect<void> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const until = now + Duration.toMillis(duration)
        return Effect.ignore(run((s) => s.pause(key, until), now, false))
      })
    const adjust = (key: string, tokens: number): Effect.Effect<void> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Number.isFinite(tokens) ? Effect.ignore(run((s) => s.adjust(key, tokens, now), now, false)) : Effect.void)
    ownAcquire.add(acquire_)
    return {
      acquire: acquire_,
      release: release_,
      limit,
      pause,
      adjust,
      snapshot: snapshot(l),
      estimate: options.estimate ?? {}
    }
  })

// The `acquire` functions of this library's limiters: they take the caller's `restore` and run
// only their waits in it.
const ownAcquire = new WeakSet<object>()

/**
 * `limiter.acquire(demand)` for a caller that holds a mask: a limiter of this library's runs only
 * its waits in `restore` (an interruption cannot land between the store taking the permit and the
 * caller's release); any other `Service` (a wrapper of the user's, which may drop the second
 * argument) runs in `restore` whole, so that its wait stays interruptible.
 * @internal
 */
export const acquireUnder = <E>(
  limiter: RateLimiter.Service<E>,
  demand: RateLimiter.Demand,
  restore: Line.Restore
): Effect.Effect<RateLimiter.Permit, OpenAiError.RequestTooLarge | E> =>
  ownAcquire.has(limiter.acquire) ? limiter.acquire(demand, restore) : restore(limiter.acquire(demand))
