/**
 * The mock server's rate limiter: requests per minute and tokens per minute per API key, like
 * OpenAI's. Each limit is a bucket that refills continuously at `limit / 60s`; a request needs
 * one request and its estimated tokens; `x-ratelimit-reset-*` is the time until the bucket is
 * full again ("resets to its initial state"), as a Go duration.
 *
 * Pure functions over an immutable {@link State}, so the mock keeps it in a `Ref` and the clock
 * is whatever `Clock` the caller reads (TestClock in tests).
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as GoDuration from "../GoDuration.js"

/**
 * Limits per API key. Defaults: 10 000 requests and 2 000 000 tokens per minute, high enough
 * never to bite unless a test sets them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Limits {
  readonly rpm: number
  readonly tpm: number
}

/**
 * The default limits.
 *
 * @example
 * ```ts
 * import { MockRateLimits } from "effect-openai-resilience/testing"
 *
 * console.log(MockRateLimits.defaultLimits.rpm) // 10000
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultLimits: Limits = { rpm: 10_000, tpm: 2_000_000 }

interface Bucket {
  /** Capacity left, fractional because it refills continuously. */
  readonly remaining: number
  readonly updatedAt: number
}

interface Buckets {
  readonly requests: Bucket
  readonly tokens: Bucket
}

/**
 * The limiter's state: one pair of buckets per key.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  readonly limits: Limits
  readonly buckets: HashMap.HashMap<string, Buckets>
}

/**
 * A fresh state where every key starts with full buckets.
 *
 * @example
 * ```ts
 * import { MockRateLimits } from "effect-openai-resilience/testing"
 *
 * const state = MockRateLimits.empty({ rpm: 3, tpm: 1000 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const empty = (limits: { readonly rpm?: number | undefined; readonly tpm?: number | undefined } = {}): State => ({
  limits: {
    rpm: positive(limits.rpm, defaultLimits.rpm),
    tpm: positive(limits.tpm, defaultLimits.tpm)
  },
  buckets: HashMap.empty()
})

const positive = (n: number | undefined, fallback: number): number =>
  n !== undefined && Number.isFinite(n) && n > 0 ? Math.floor(n) : fallback

/**
 * The `x-ratelimit-*` headers of a response, as the real API sends them.
 *
 * @since 0.1.0
 * @category models
 */
export type Headers = Readonly<Record<string, string>>

/**
 * The verdict for one request.
 *
 * - `Allowed`: consumed; the headers show what is left.
 * - `Limited`: over a limit now; `retryAfterMs` is when enough will have refilled. Nothing consumed.
 * - `TooLarge`: the request alone needs more tokens than the per-minute limit; waiting never helps.
 *
 * @since 0.1.0
 * @category models
 */
export type Decision =
  | { readonly _tag: "Allowed"; readonly headers: Headers }
  | {
    readonly _tag: "Limited"
    readonly scope: "requests" | "tokens"
    readonly limit: number
    readonly used: number
    readonly requested: number
    readonly retryAfterMs: number
    readonly headers: Headers
  }
  | { readonly _tag: "TooLarge"; readonly limit: number; readonly requested: number; readonly headers: Headers }

const refill = (bucket: Bucket | undefined, limit: number, now: number): Bucket => {
  if (bucket === undefined) return { remaining: limit, updatedAt: now }
  const elapsed = Math.max(0, now - bucket.updatedAt)
  return { remaining: Math.min(limit, bucket.remaining + (elapsed * limit) / 60_000), updatedAt: now }
}

/** Milliseconds until `needed` units are available in a bucket refilling at `limit` per minute. */
// Floor, but a bucket refilled for exactly its reset time reads full despite floating-point error
// (999.9999999 is 1000).
const whole = (remaining: number): number => Math.floor(remaining + 1e-6)

const waitFor = (remaining: number, needed: number, limit: number): number =>
  Math.max(0, ((needed - remaining) * 60_000) / limit)

const headersOf = (limits: Limits, buckets: Buckets): Headers => ({
  "x-ratelimit-limit-requests": String(limits.rpm),
  "x-ratelimit-limit-tokens": String(limits.tpm),
  "x-ratelimit-remaining-requests": String(whole(buckets.requests.remaining)),
  "x-ratelimit-remaining-tokens": String(whole(buckets.tokens.remaining)),
  "x-ratelimit-reset-requests": GoDuration.format(
    Duration.millis(Math.ceil(waitFor(buckets.requests.remaining, limits.rpm, limits.rpm)))
  ),
  "x-ratelimit-reset-tokens": GoDuration.format(
    Duration.millis(Math.ceil(waitFor(buckets.tokens.remaining, limits.tpm, limits.tpm)))
  )
})

/**
 * Decides one request for `key` at time `now` (epoch milliseconds) needing `tokens` tokens, and
 * returns the verdict with the next state. Both limits are checked before anything is consumed.
 *
 * @example
 * ```ts
 * import { MockRateLimits } from "effect-openai-resilience/testing"
 *
 * const s0 = MockRateLimits.empty({ rpm: 1, tpm: 1000 })
 * const [first, s1] = MockRateLimits.consume(s0, "key", 10, 0)
 * const [second] = MockRateLimits.consume(s1, "key", 10, 0)
 * console.log(first._tag, second._tag) // "Allowed" "Limited"
 * ```
 *
 * @since 0.1.0
 * @category limiting
 */
export const consume = (state: State, key: string, tokens: number, now: number): readonly [Decision, State] => {
  const { limits } = state
  const previous = Option.getOrUndefined(HashMap.get(state.buckets, key))
  const current: Buckets = {
    requests: refill(previous?.requests, limits.rpm, now),
    tokens: refill(previous?.tokens, limits.tpm, now)
  }
  const requested = Math.max(0, Math.ceil(tokens))
  const withCurrent: State = { limits, buckets: HashMap.set(state.buckets, key, current) }
  if (requested > limits.tpm) {
    return [{ _tag: "TooLarge", limit: limits.tpm, requested, headers: headersOf(limits, current) }, withCurrent]
  }
  if (current.requests.remaining < 1) {
    return [{
      _tag: "Limited",
      scope: "requests",
      limit: limits.rpm,
      used: limits.rpm - Math.floor(current.requests.remaining),
      requested: 1,
      // Long enough for both buckets: by the time the requests bucket has room, the tokens one
      // may still be short, and a client that waited as told must then get through.
      retryAfterMs: Math.ceil(
        Math.max(waitFor(current.requests.remaining, 1, limits.rpm), waitFor(current.tokens.remaining, requested, limits.tpm))
      ),
      headers: headersOf(limits, current)
    }, withCurrent]
  }
  if (current.tokens.remaining < requested) {
    return [{
      _tag: "Limited",
      scope: "tokens",
      limit: limits.tpm,
      used: limits.tpm - Math.floor(current.tokens.remaining),
      requested,
      retryAfterMs: Math.ceil(waitFor(current.tokens.remaining, requested, limits.tpm)),
      headers: headersOf(limits, current)
    }, withCurrent]
  }
  const next: Buckets = {
    requests: { remaining: current.requests.remaining - 1, updatedAt: now },
    tokens: { remaining: current.tokens.remaining - requested, updatedAt: now }
  }
  return [{ _tag: "Allowed", headers: headersOf(limits, next) }, { limits, buckets: HashMap.set(state.buckets, key, next) }]
}

/**
 * The headers a response to `key` would carry at `now`, without consuming anything (used on
 * responses that did not go through the limiter, such as injected faults).
 *
 * @example
 * ```ts
 * import { MockRateLimits } from "effect-openai-resilience/testing"
 *
 * const h = MockRateLimits.peek(MockRateLimits.empty({ rpm: 60, tpm: 1000 }), "key", 0)
 * console.log(h["x-ratelimit-remaining-requests"]) // "60"
 * ```
 *
 * @since 0.1.0
 * @category limiting
 */
export const peek = (state: State, key: string, now: number): Headers => {
  const previous = Option.getOrUndefined(HashMap.get(state.buckets, key))
  return headersOf(state.limits, {
    requests: refill(previous?.requests, state.limits.rpm, now),
    tokens: refill(previous?.tokens, state.limits.tpm, now)
  })
}
