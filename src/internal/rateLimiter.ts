/**
 * The rate limiter's arithmetic: pure functions over one key's {@link KeyState}, one per store
 * operation. The memory store applies them in place; the Redis store runs the same arithmetic as
 * Lua scripts (`src/internal/rateLimiterRedis.ts`), and a property test checks that both agree.
 *
 * Each dimension (requests, tokens) is a bucket of capacity `limit` that refills continuously at
 * `limit` per minute, as OpenAI's (and the mock's) limiter does. It is kept as GCRA's
 * "theoretical arrival time": `full`, the clock time at which the bucket would be full again. The
 * level at `now` is `limit - max(0, full - now) * rate`; taking `n` moves `full` to
 * `max(full, now) + n / rate`. One number per dimension, so a shared store holds little.
 *
 * The sequence numbers that tell a fresh response's headers from a stale one live in the state
 * too (not in a process), so that processes sharing a store agree on what the server had seen.
 *
 * @internal
 */

/** One key's state. Plain data, so that a shared store can serialise it. @internal */
export interface KeyState {
  /** Requests per minute, from the options or learned from `x-ratelimit-limit-requests`. */
  readonly limitRequests: number | undefined
  /** Tokens per minute, from the options or learned from `x-ratelimit-limit-tokens`. */
  readonly limitTokens: number | undefined
  /** Clock millis at which the requests bucket is full again. */
  readonly fullRequests: number
  /** Clock millis at which the tokens bucket is full again. */
  readonly fullTokens: number
  /** No request may start before this (after a 429). */
  readonly pausedUntil: number
  /** Whether any response for this key has been seen (until then limits may be unknown). */
  readonly observed: boolean
  /**
   * What the server counts per estimated token, learned from the `Requested N` of token 429s
   * (1 until one arrives). Estimates are multiplied by it.
   */
  readonly tokenScale: number
  /** Permits granted so far (the sequence number of the newest), and the tokens they took. */
  readonly granted: number
  readonly tokensThrough: number
  /** The sequence number of the newest permit whose headers have been applied. */
  readonly synced: number
  /** While the limits are unknown, one request (the probe) goes alone until this instant. */
  readonly probeUntil: number
  /** Permits granted and not released yet, and their tokens: those a response may not include. */
  readonly outstandingRequests: number
  readonly outstandingTokens: number
  /**
   * Priority lanes: the permits the background lane is owed (its minimum share of what the
   * other lanes took while it waited), and until when a background request is known to wait.
   */
  readonly owed: number
  readonly backgroundUntil: number
}

/** The state of a key never seen. @internal */
export const initial: KeyState = {
  limitRequests: undefined,
  limitTokens: undefined,
  fullRequests: 0,
  fullTokens: 0,
  pausedUntil: 0,
  observed: false,
  tokenScale: 1,
  granted: 0,
  tokensThrough: 0,
  synced: 0,
  probeUntil: 0,
  outstandingRequests: 0,
  outstandingTokens: 0,
  owed: 0,
  backgroundUntil: 0
}

type Mutable<A> = { -readonly [K in keyof A]: A[K] }

/**
 * A copy of a state with some fields changed. Why not `{ ...state, field }`: on Node 20 an object
 * spread with overrides costs about a microsecond, and the hot path makes several per request;
 * a literal of the known fields costs a few tens of nanoseconds.
 */
const patched = (s: KeyState, patch: (next: Mutable<KeyState>) => void): KeyState => {
  const next = copy(s)
  patch(next)
  return next
}

const copy = (s: KeyState): Mutable<KeyState> => ({
  limitRequests: s.limitRequests,
  limitTokens: s.limitTokens,
  fullRequests: s.fullRequests,
  fullTokens: s.fullTokens,
  pausedUntil: s.pausedUntil,
  observed: s.observed,
  tokenScale: s.tokenScale,
  granted: s.granted,
  tokensThrough: s.tokensThrough,
  synced: s.synced,
  probeUntil: s.probeUntil,
  outstandingRequests: s.outstandingRequests,
  outstandingTokens: s.outstandingTokens,
  owed: s.owed,
  backgroundUntil: s.backgroundUntil
})

/** @internal */
export const MINUTE = 60_000

/**
 * A change that moves a key's earliest grant earlier by less than this wakes nobody: the waiters
 * already sleep until about the right instant, and each wake costs every waiting process a round
 * trip. @internal
 */
export const WAKE_MILLIS = 250

/** Limits fixed by a limiter's options; they override what the headers say. @internal */
export interface Fixed {
  readonly requests: number | undefined
  readonly tokens: number | undefined
}

/** What {@link reserve} needs besides the state. @internal */
export interface ReserveInput {
  readonly now: number
  /** The request's estimated tokens, a finite integer >= 0, before the learned scale. */
  readonly tokens: number
  readonly fixed: Fixed
  /** Fraction of each limit usable as a burst (0..1]. */
  readonly burst: number
  /** Fraction of each limit kept in reserve against estimate errors [0..1). */
  readonly headroom: number
  /** How long a probe holds a key whose limits are unknown, should its answer never come. */
  readonly probeLease: number
  /**
   * How far the clocks of the processes sharing the state may disagree (millis): a request at
   * the edge of a bucket or a pause waits this much longer, so that a process whose clock runs
   * ahead does not take room the others (and the server) have not seen refill yet.
   */
  readonly skew: number
  /** The request's priority lane, when the limiter has lanes. */
  readonly lane?: LaneInput | undefined
}

/**
 * A request's lane as the arithmetic takes it. Each lane must leave `floor` (a fraction of each
 * limit) unused for the lanes above it, so that across processes a higher lane finds room first.
 * The background lane is owed `share` of the permits the other lanes take while it waits; while
 * it is owed one, it may use the whole bucket and the other lanes leave it `yieldFloor`. @internal
 */
export interface LaneInput {
  readonly floor: number
  readonly background: boolean
  /** The background lane's minimum share, [0, 1). */
  readonly share: number
  /** The background lane's own floor, which the others keep while it is owed a permit. */
  readonly yieldFloor: number
}

/** How long past its wait a background request counts as waiting (it may be slow to ask again). @internal */
export const BACKGROUND_LEASE = 1_000

/** The most permits the background lane can be owed: a share is taken as it accrues, not banked. @internal */
export const OWED_CAP = 2

/** The verdict of {@link reserve}. @internal */
export type Reservation =
  /**
   * `charged`: the tokens taken (the estimate times the learned scale, at most the limit); `seq`
   * and `tokensThrough`: the key's counters including this permit.
   */
  | {
    readonly _tag: "Granted"
    readonly charged: number
    readonly seq: number
    readonly tokensThrough: number
    readonly probe: boolean
  }
  | { readonly _tag: "Wait"; readonly millis: number }
  /** The estimate alone exceeds the tokens limit: it can never fit, and nothing was taken. */
  | { readonly _tag: "TooLarge"; readonly limit: number; readonly requested: number }

const withFixed = (state: KeyState, fixed: Fixed): KeyState =>
  (fixed.requests === undefined || fixed.requests === state.limitRequests) &&
    (fixed.tokens === undefined || fixed.tokens === state.limitTokens)
    ? state
    : patched(state, (next) => {
      next.limitRequests = fixed.requests ?? state.limitRequests
      next.limitTokens = fixed.tokens ?? state.limitTokens
    })

/**
 * How long until `n` units fit in a bucket, 0 when they fit now. `n` above the usable capacity is
 * clamped to it: such a request waits for a full usable bucket, and the server then judges it.
 */
const waitFor = (full: number, limit: number, n: number, now: number, burst: number, headroom: number): number => {
  const rate = limit / MINUTE
  const capacity = limit * burst * (1 - headroom)
  const need = Math.min(n, capacity)
  const earliest = full + (need - capacity) / rate
  return Math.max(0, earliest - now)
}

const take = (full: number, limit: number, n: number, now: number): number => Math.max(full, now) + n / (limit / MINUTE)

/** An estimate corrected by what the server has been seen to count. @internal */
export const scaled = (state: KeyState, estimate: number): number =>
  estimate <= 0 ? 0 : Math.ceil(estimate * state.tokenScale)

/**
 * Takes one request and the request's tokens at `now` if both fit (and the key is not paused);
 * otherwise says how long to wait and takes nothing. @internal
 */
export const reserve = (state0: KeyState, input: ReserveInput): readonly [Reservation, KeyState] => {
  const state = withFixed(state0, input.fixed)
  const now = input.now
  if (state.limitTokens !== undefined && input.tokens > state.limitTokens) {
    return [{ _tag: "TooLarge", limit: state.limitTokens, requested: input.tokens }, state]
  }
  // The server admits no request above its limit, so it never charges more than the limit.
  const charged = Math.min(scaled(state, input.tokens), state.limitTokens ?? Number.MAX_SAFE_INTEGER)
  const granted = (probe: boolean, take: (next: Mutable<KeyState>) => void): readonly [Reservation, KeyState] => {
    const seq = state.granted + 1
    const tokensThrough = state.tokensThrough + charged
    return [
      { _tag: "Granted", charged, seq, tokensThrough, probe },
      patched(state, (next) => {
        take(next)
        next.granted = seq
        next.tokensThrough = tokensThrough
        next.outstandingRequests = state.outstandingRequests + 1
        next.outstandingTokens = state.outstandingTokens + charged
      })
    ]
  }
  if (state.limitRequests === undefined && state.limitTokens === undefined && !state.observed) {
    if (now < state.probeUntil) return [{ _tag: "Wait", millis: Math.ceil(state.probeUntil - now) }, state]
    return granted(true, (next) => {
      next.probeUntil = now + input.probeLease
    })
  }
  const at = now - input.skew
  const lane = input.lane
  const headroom = lane === undefined ? input.headroom : Math.min(0.99, input.headroom + laneFloor(state, lane, now))
  // (A pause at 0 is no pause: a skewed clock must not read it as one just ended.)
  let wait = state.pausedUntil > 0 ? state.pausedUntil - at : 0
  if (state.limitRequests !== undefined) {
    wait = Math.max(wait, waitFor(state.fullRequests, state.limitRequests, 1, at, input.burst, headroom))
  }
  if (state.limitTokens !== undefined && charged > 0) {
    wait = Math.max(wait, waitFor(state.fullTokens, state.limitTokens, charged, at, input.burst, headroom))
  }
  // Whole milliseconds: a fractional wait would wake the head of the queue a hair too early.
  if (wait > 0) {
    const millis = Math.ceil(wait)
    return [
      { _tag: "Wait", millis },
      lane !== undefined && lane.background && lane.share > 0
        ? patched(state, (next) => {
          next.backgroundUntil = Math.max(state.backgroundUntil, now + millis + BACKGROUND_LEASE)
        })
        : state
    ]
  }
  return granted(false, (next) => {
    if (lane !== undefined) next.owed = owedAfterGrant(state, lane, now)
    if (state.limitRequests !== undefined) next.fullRequests = take(state.fullRequests, state.limitRequests, 1, now)
    if (state.limitTokens !== undefined && charged > 0) {
      next.fullTokens = take(state.fullTokens, state.limitTokens, charged, now)
    }
  })
}

/**
 * The floor a lane keeps at `now`: a background request owed a permit keeps none, and the other
 * lanes then keep the background's, so that it goes next.
 */
const laneFloor = (state: KeyState, lane: LaneInput, now: number): number => {
  if (lane.share <= 0 || state.owed < 1) return lane.floor
  if (lane.background) return 0
  return state.backgroundUntil > now ? Math.max(lane.floor, lane.yieldFloor) : lane.floor
}

/** The background lane's debt after a grant: repaid by its own, grown by the others' while it waits. */
const owedAfterGrant = (state: KeyState, lane: LaneInput, now: number): number => {
  if (lane.share <= 0) return state.owed
  if (lane.background) return Math.max(0, state.owed - 1)
  if (state.backgroundUntil <= now) return state.owed
  return Math.min(OWED_CAP, state.owed + lane.share / (1 - lane.share))
}

/**
 * Whether a reservation made the background lane owed a permit: its waiters should then ask
 * again, since they may now use the whole bucket. @internal
 */
export const owedNow = (before: KeyState, after: KeyState): boolean => before.owed < 1 && after.owed >= 1

/** The rate-limit headers of a response, reduced to numbers. @internal */
export interface Headers {
  readonly limitRequests: number | undefined
  readonly limitTokens: number | undefined
  readonly remainingRequests: number | undefined
  readonly remainingTokens: number | undefined
}

/** What came back for one permit, reduced to what the arithmetic needs. @internal */
export interface ReleaseInput {
  readonly now: number
  readonly fixed: Fixed
  /** When the permit was granted: the server counted its remaining values about then. */
  readonly sentAt: number
  /** The permit's sequence number and the key's tokens through it (from its reservation). */
  readonly seq: number
  readonly tokensThrough: number
  /** The permit's estimate (before scaling), for calibration. */
  readonly tokens: number
  /** What the permit was charged (its reservation's `charged`). */
  readonly charged: number
  readonly probe: boolean
  readonly headers: Headers | undefined
  /** Whether a response came back at all (a status), even without headers. */
  readonly answered: boolean
  /** After a 429: the key pauses until then. */
  readonly pauseUntil: number | undefined
  /** After a tokens 429: what the server says the request needed. */
  readonly requestedTokens: number | undefined
}

/**
 * How long after sending a request the server may have counted its `remaining` values, at most.
 * The headers do not say when the server counted (at admission: after the request's transit and
 * any queueing); assuming it counted as late as this, or when the answer came if sooner, errs on
 * the side of less room, so that a re-base never hands out tokens the server has not refilled
 * yet. The cost is a bucket smaller by this much refill, not a lower rate. @internal
 */
export const TRANSIT_MILLIS = 1_000

/**
 * The server's view of one dimension as a `full` time: it had `remaining` left shortly after
 * `sentAt`, has refilled since, and has not yet seen `unseen` more.
 */
const fullFromServer = (limit: number, remaining: number, unseen: number, sentAt: number, now: number): number => {
  const rate = limit / MINUTE
  const debtAtCount = Math.max(0, limit - remaining)
  const countedAt = Math.min(now, sentAt + TRANSIT_MILLIS)
  const debtNow = Math.max(0, debtAtCount - (now - countedAt) * rate) + unseen
  return now + debtNow / rate
}

/**
 * Learns from a token 429 what the server counted for a request we estimated at `estimate`.
 * The ratio (within [0.25, 8]) is taken at once when it is higher, since an underestimate costs a
 * 429 per request; a lower one only nudges the scale down, since an overestimate costs only some
 * waiting (and the headers correct the buckets anyway). @internal
 */
export const calibrate = (state: KeyState, estimate: number, requested: number): KeyState =>
  !(estimate > 0) || !(requested > 0) ? state : patched(state, (next) => calibrateInto(next, estimate, requested))

const calibrateInto = (next: Mutable<KeyState>, estimate: number, requested: number): void => {
  if (!(estimate > 0) || !(requested > 0)) return
  const ratio = Math.min(8, Math.max(0.25, requested / estimate))
  const previous = next.tokenScale
  next.tokenScale = ratio > previous ? ratio : previous + 0.1 * (ratio - previous)
}

/**
 * Re-bases one bucket. Requests granted after this one are certainly unseen by the server; those
 * granted before it and still unanswered may be unseen too (another process's request can reach
 * the server after a later one), or not. So the server's view is a range, from "all seen" to "none
 * seen", and our own accounting is kept when it lies inside it: the headers then correct only
 * what they prove wrong (other clients of the key, estimates off by more than what is in flight).
 * A bucket whose limit was unknown until now has no accounting of its own.
 */
const rebase = (
  own: number | undefined,
  limit: number,
  remaining: number,
  unseen: number,
  outstanding: number,
  input: ReleaseInput
): number => {
  const low = fullFromServer(limit, remaining, unseen, input.sentAt, input.now)
  if (own === undefined) return low
  const high = fullFromServer(limit, remaining, unseen + Math.max(0, outstanding), input.sentAt, input.now)
  return Math.min(Math.max(own, input.now, low), high)
}

/** Whether a change moved a bucket's full time earlier by a margin worth waking waiters for. */
const freed = (before: number, after: number, now: number): boolean =>
  Math.max(before, now) - Math.max(after, now) > WAKE_MILLIS

/**
 * Applies what came back for a permit: learns the limits and re-bases both buckets on the
 * server's remaining values (when the response is the newest applied so far, so that estimate
 * errors and other clients sharing the key are corrected by every response), ends a probe,
 * pauses after a 429 and calibrates the token estimates. Says whether waiters should wake.
 * @internal
 */
export const release = (state0: KeyState, input: ReleaseInput): readonly [boolean, KeyState] => {
  // `state` is read as it was, `next` written: one copy per release.
  const state = withFixed(state0, input.fixed)
  const next = copy(state)
  let wake = false
  if (input.probe && state.probeUntil > 0) {
    next.probeUntil = 0
    wake = true
  }
  const headers = input.headers
  if (headers !== undefined) {
    const limitRequests = input.fixed.requests ?? headers.limitRequests ?? state.limitRequests
    const limitTokens = input.fixed.tokens ?? headers.limitTokens ?? state.limitTokens
    let { fullRequests, fullTokens, synced } = state
    if (input.seq > state.synced) {
      synced = input.seq
      if (limitRequests !== undefined && headers.remainingRequests !== undefined) {
        fullRequests = rebase(
          state.limitRequests === undefined ? undefined : state.fullRequests,
          limitRequests,
          headers.remainingRequests,
          state.granted - input.seq,
          state.outstandingRequests - 1,
          input
        )
      }
      if (limitTokens !== undefined && headers.remainingTokens !== undefined) {
        fullTokens = rebase(
          state.limitTokens === undefined ? undefined : state.fullTokens,
          limitTokens,
          headers.remainingTokens,
          state.tokensThrough - input.tokensThrough,
          state.outstandingTokens - input.charged,
          input
        )
      }
    }
    wake = wake || !state.observed || freed(state.fullRequests, fullRequests, input.now) ||
      freed(state.fullTokens, fullTokens, input.now)
    next.limitRequests = limitRequests
    next.limitTokens = limitTokens
    next.fullRequests = fullRequests
    next.fullTokens = fullTokens
    next.synced = synced
    next.observed = true
  } else if (input.answered && !state.observed) {
    next.observed = true
    wake = true
  }
  if (input.pauseUntil !== undefined) pauseInto(next, input.pauseUntil)
  if (input.requestedTokens !== undefined) calibrateInto(next, input.tokens, input.requestedTokens)
  next.outstandingRequests = Math.max(0, state.outstandingRequests - 1)
  next.outstandingTokens = Math.max(0, state.outstandingTokens - input.charged)
  return [wake, next]
}

/** Pauses the key until `until` (never shortens a pause). @internal */
export const pause = (state: KeyState, until: number): KeyState => patched(state, (next) => pauseInto(next, until))

const pauseInto = (next: Mutable<KeyState>, until: number): void => {
  next.pausedUntil = Math.max(next.pausedUntil, until)
  next.observed = true
}

/**
 * Adds `tokens` (negative gives back) to the tokens bucket, e.g. from `usage`. Says whether
 * waiters should wake (tokens were given back). @internal
 */
export const adjust = (state: KeyState, tokens: number, now: number): readonly [boolean, KeyState] => {
  if (state.limitTokens === undefined || tokens === 0) return [false, state]
  const rate = state.limitTokens / MINUTE
  // Giving back never fills the bucket beyond full (a full time in the past is "full").
  const fullTokens = tokens > 0 ?
    Math.max(now, state.fullTokens) + tokens / rate :
    Math.max(now, state.fullTokens + tokens / rate)
  return [tokens < 0, patched(state, (next) => {
    next.fullTokens = fullTokens
  })]
}

/** The levels at `now`, for observability. @internal */
export const levels = (state: KeyState, now: number): {
  readonly requests: number | undefined
  readonly tokens: number | undefined
} => ({
  requests: state.limitRequests === undefined ?
    undefined :
    state.limitRequests - Math.max(0, state.fullRequests - now) * (state.limitRequests / MINUTE),
  tokens: state.limitTokens === undefined ?
    undefined :
    state.limitTokens - Math.max(0, state.fullTokens - now) * (state.limitTokens / MINUTE)
})
