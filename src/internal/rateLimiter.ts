/**
 * The rate limiter's arithmetic: pure functions over one key's {@link KeyState}.
 *
 * Each dimension (requests, tokens) is a bucket of capacity `limit` that refills continuously at
 * `limit` per minute, as OpenAI's (and the mock's) limiter does. It is kept as GCRA's
 * "theoretical arrival time": `full`, the clock time at which the bucket would be full again. The
 * level at `now` is `limit - max(0, full - now) * rate`; taking `n` moves `full` to
 * `max(full, now) + n / rate`. One number per dimension, so a shared store holds little.
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
}

/** @internal */
export const initial = (limits: { readonly requests?: number | undefined; readonly tokens?: number | undefined }): KeyState => ({
  limitRequests: limits.requests,
  limitTokens: limits.tokens,
  fullRequests: 0,
  fullTokens: 0,
  pausedUntil: 0,
  observed: false,
  tokenScale: 1
})

const MINUTE = 60_000

/** Settings of the arithmetic. @internal */
export interface Settings {
  /** Fraction of each limit usable as a burst (0..1]. */
  readonly burst: number
  /** Fraction of each limit kept in reserve against estimate errors [0..1). */
  readonly headroom: number
}

/**
 * How long until `n` units fit in a bucket, 0 when they fit now. `n` above the usable capacity is
 * clamped to it: such a request waits for a full bucket, and the server then judges it.
 */
const waitFor = (full: number, limit: number, n: number, now: number, settings: Settings): number => {
  const rate = limit / MINUTE
  const capacity = limit * settings.burst * (1 - settings.headroom)
  const need = Math.min(n, capacity)
  const earliest = full + (need - capacity) / rate
  return Math.max(0, earliest - now)
}

const take = (full: number, limit: number, n: number, now: number): number =>
  Math.max(full, now) + n / (limit / MINUTE)

/** The verdict of {@link reserve}. @internal */
export type Reservation =
  /** `tokens`: what was taken, the estimate times the learned scale. */
  | { readonly _tag: "Granted"; readonly tokens: number }
  | { readonly _tag: "Wait"; readonly millis: number }
  /** Limits unknown and no response seen yet: one request goes first to learn them. */
  | { readonly _tag: "Probe" }

/**
 * Takes one request and `tokens` tokens at `now` if both fit (and the key is not paused);
 * otherwise says how long to wait and takes nothing. @internal
 */
export const reserve = (
  state: KeyState,
  estimate: number,
  now: number,
  settings: Settings
): readonly [Reservation, KeyState] => {
  const tokens = scaled(state, estimate)
  if (state.limitRequests === undefined && state.limitTokens === undefined && !state.observed) {
    return [{ _tag: "Probe" }, state]
  }
  const waits = [state.pausedUntil - now]
  if (state.limitRequests !== undefined) {
    waits.push(waitFor(state.fullRequests, state.limitRequests, 1, now, settings))
  }
  if (state.limitTokens !== undefined && tokens > 0) {
    waits.push(waitFor(state.fullTokens, state.limitTokens, tokens, now, settings))
  }
  // Whole milliseconds: a fractional wait would wake the head of the queue a hair too early.
  const wait = Math.ceil(Math.max(0, ...waits))
  if (wait > 0) return [{ _tag: "Wait", millis: wait }, state]
  return [{ _tag: "Granted", tokens }, {
    ...state,
    fullRequests: state.limitRequests === undefined ? state.fullRequests : take(state.fullRequests, state.limitRequests, 1, now),
    fullTokens: state.limitTokens === undefined || tokens <= 0 ? state.fullTokens : take(state.fullTokens, state.limitTokens, tokens, now)
  }]
}

/** An estimate corrected by what the server has been seen to count. @internal */
export const scaled = (state: KeyState, estimate: number): number =>
  estimate <= 0 ? 0 : Math.ceil(estimate * (state.tokenScale ?? 1))

/**
 * Learns from a token 429 what the server counted for a request we estimated at `estimate`.
 * The ratio (within [0.25, 8]) is taken at once when it is higher, since an underestimate costs a
 * 429 per request; a lower one only nudges the scale down, since an overestimate costs only some
 * waiting (and the headers correct the buckets anyway). @internal
 */
export const calibrate = (state: KeyState, estimate: number, requested: number): KeyState => {
  if (!(estimate > 0) || !(requested > 0)) return state
  const ratio = Math.min(8, Math.max(0.25, requested / estimate))
  const previous = state.tokenScale ?? 1
  return { ...state, tokenScale: ratio > previous ? ratio : previous + 0.1 * (ratio - previous) }
}

/** What a response said, reduced to what the arithmetic needs. @internal */
export interface Observation {
  readonly now: number
  /** When the request was sent (granted): the server counted its remaining values about then. */
  readonly sentAt: number
  readonly limitRequests: number | undefined
  readonly limitTokens: number | undefined
  readonly remainingRequests: number | undefined
  readonly remainingTokens: number | undefined
  /** Requests and tokens granted after this one and not answered yet: the server had not seen them. */
  readonly unseenRequests: number
  readonly unseenTokens: number
  /** Whether this response is the newest sent of those synchronised so far (older ones are stale). */
  readonly newest: boolean
  /** Whether the options fixed each limit (then the headers do not override it). */
  readonly fixedRequests: boolean
  readonly fixedTokens: boolean
}

/**
 * The server's view of one dimension as a `full` time: it had `remaining` left at `sentAt`, has
 * refilled since, and has not yet seen `unseen` more.
 */
const fullFromServer = (limit: number, remaining: number, unseen: number, sentAt: number, now: number): number => {
  const rate = limit / MINUTE
  const debtAtSend = Math.max(0, limit - remaining)
  const debtNow = Math.max(0, debtAtSend - (now - sentAt) * rate) + unseen
  return now + debtNow / rate
}

/**
 * Learns the limits and re-bases both buckets on the server's remaining values, so that estimate
 * errors (and other clients sharing the key) are corrected by every response. @internal
 */
export const observe = (state: KeyState, o: Observation): KeyState => {
  const limitRequests = o.fixedRequests ? state.limitRequests : (o.limitRequests ?? state.limitRequests)
  const limitTokens = o.fixedTokens ? state.limitTokens : (o.limitTokens ?? state.limitTokens)
  let fullRequests = state.fullRequests
  let fullTokens = state.fullTokens
  if (o.newest) {
    if (limitRequests !== undefined && o.remainingRequests !== undefined) {
      fullRequests = fullFromServer(limitRequests, o.remainingRequests, o.unseenRequests, o.sentAt, o.now)
    }
    if (limitTokens !== undefined && o.remainingTokens !== undefined) {
      fullTokens = fullFromServer(limitTokens, o.remainingTokens, o.unseenTokens, o.sentAt, o.now)
    }
  }
  return { ...state, limitRequests, limitTokens, fullRequests, fullTokens, observed: true }
}

/** Pauses the key until `until` (never shortens a pause). @internal */
export const pause = (state: KeyState, until: number): KeyState => ({
  ...state,
  pausedUntil: Math.max(state.pausedUntil, until),
  observed: true
})

/** Adds `tokens` (negative gives back) to the tokens bucket, e.g. from `usage`. @internal */
export const adjustTokens = (state: KeyState, tokens: number, now: number): KeyState => {
  if (state.limitTokens === undefined || tokens === 0) return state
  const rate = state.limitTokens / MINUTE
  // Giving back never fills the bucket beyond full (a full time in the past is "full").
  const fullTokens = tokens > 0 ?
    Math.max(now, state.fullTokens) + tokens / rate :
    Math.max(now, state.fullTokens + tokens / rate)
  return { ...state, fullTokens }
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
