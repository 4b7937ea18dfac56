/**
 * Properties of the limiter's arithmetic (src/internal/rateLimiter.ts), which both stores run:
 * what it grants never exceeds a token bucket's allowance, its waits are exact, a request too
 * large is refused without a charge, and headers only ever correct it within what they prove.
 */
import { assert, describe, it } from "@effect/vitest"
import { FastCheck } from "effect"
import * as internal from "../src/internal/rateLimiter.js"

const MINUTE = 60_000

const reserveInput = (
  now: number,
  tokens: number,
  fixed: internal.Fixed,
  burst = 1,
  headroom = 0
): internal.ReserveInput => ({ now, tokens, fixed, burst, headroom, probeLease: 30_000, skew: 0 })

const limitsArb = FastCheck.record({
  requests: FastCheck.integer({ min: 1, max: 1_000 }),
  tokens: FastCheck.integer({ min: 100, max: 100_000 })
})

const demandsArb = FastCheck.array(
  FastCheck.record({ dt: FastCheck.integer({ min: 0, max: 5_000 }), tokens: FastCheck.integer({ min: 0, max: 5_000 }) }),
  { minLength: 1, maxLength: 200 }
)

describe("RateLimiter arithmetic", () => {
  it.prop(
    "what it grants by time t never exceeds the bucket's allowance (a minute's credit plus refill)",
    [limitsArb, demandsArb, FastCheck.double({ min: 0.1, max: 1, noNaN: true })],
    ([limits, demands, burst]) => {
      let state = internal.initial
      let now = 0
      let requests = 0
      let tokens = 0
      const fixed = { requests: limits.requests, tokens: limits.tokens }
      for (const demand of demands) {
        now += demand.dt
        const [r, next] = internal.reserve(state, reserveInput(now, demand.tokens, fixed, burst))
        state = next
        if (r._tag === "Granted") {
          requests += 1
          tokens += r.charged
        }
        // The server's allowance: a full bucket at the start plus the refill since. (A burst
        // below 1 only delays grants: a request above the usable part waits for a full bucket.)
        assert.isAtMost(requests, limits.requests + (now * limits.requests) / MINUTE + 1e-6)
        assert.isAtMost(tokens, limits.tokens + (now * limits.tokens) / MINUTE + 1e-6)
      }
    }
  )

  it.prop(
    "a Wait is exact: at its end the same request is granted, if nothing else changed",
    [limitsArb, demandsArb],
    ([limits, demands]) => {
      let state = internal.initial
      let now = 0
      const fixed = { requests: limits.requests, tokens: limits.tokens }
      for (const demand of demands) {
        now += demand.dt
        const tokens = Math.min(demand.tokens, limits.tokens)
        const [r, next] = internal.reserve(state, reserveInput(now, tokens, fixed))
        if (r._tag === "Wait") {
          assert.isAbove(r.millis, 0)
          const [again] = internal.reserve(next, reserveInput(now + r.millis, tokens, fixed))
          assert.strictEqual(again._tag, "Granted")
        }
        state = next
      }
    }
  )

  it.prop(
    "a request above the tokens limit is refused at once and charges nothing",
    [limitsArb, FastCheck.integer({ min: 1, max: 10_000_000 }), FastCheck.integer({ min: 0, max: 1e9 })],
    ([limits, excess, now]) => {
      const fixed = { requests: limits.requests, tokens: limits.tokens }
      const [r, state] = internal.reserve(internal.initial, reserveInput(now, limits.tokens + excess, fixed))
      assert.deepStrictEqual(r, { _tag: "TooLarge", limit: limits.tokens, requested: limits.tokens + excess })
      assert.strictEqual(state.granted, 0)
      assert.strictEqual(state.fullTokens, 0)
      assert.strictEqual(state.fullRequests, 0)
    }
  )

  it.prop(
    "a re-base never leaves more room than the server's most optimistic view, nor less than its most pessimistic",
    [
      limitsArb,
      FastCheck.array(FastCheck.integer({ min: 1, max: 3_000 }), { minLength: 1, maxLength: 30 }),
      FastCheck.nat(),
      FastCheck.integer({ min: 0, max: 100_000 }),
      FastCheck.integer({ min: 0, max: 10_000 })
    ],
    ([limits, sizes, pick, remaining, latency]) => {
      const fixed = { requests: undefined, tokens: limits.tokens }
      let state = internal.initial
      const permits: Array<{ r: internal.Reservation; tokens: number }> = []
      for (const size of sizes) {
        const [r, next] = internal.reserve(state, reserveInput(0, Math.min(size, limits.tokens), fixed))
        state = next
        if (r._tag === "Granted") permits.push({ r, tokens: size })
      }
      const permit = permits[pick % Math.max(1, permits.length)]
      if (permit === undefined || permit.r._tag !== "Granted") return
      const rate = limits.tokens / MINUTE
      const left = Math.min(remaining, limits.tokens)
      const [, after] = internal.release(state, {
        now: latency,
        fixed,
        sentAt: 0,
        seq: permit.r.seq,
        tokensThrough: permit.r.tokensThrough,
        tokens: permit.tokens,
        charged: permit.r.charged,
        probe: false,
        headers: { limitRequests: undefined, limitTokens: undefined, remainingRequests: undefined, remainingTokens: left },
        answered: true,
        pauseUntil: undefined,
        requestedTokens: undefined
      })
      const countedAt = Math.min(latency, internal.TRANSIT_MILLIS)
      const debt = Math.max(0, limits.tokens - left - (latency - countedAt) * rate)
      const unseen = state.tokensThrough - permit.r.tokensThrough
      const low = latency + (debt + unseen) / rate
      const high = latency + (debt + unseen + state.outstandingTokens - permit.r.charged) / rate
      assert.isAtLeast(after.fullTokens, low - 1e-6)
      assert.isAtMost(after.fullTokens, high + 1e-6)
      assert.strictEqual(after.outstandingTokens, state.outstandingTokens - permit.r.charged)
    }
  )

  it.prop(
    "pauses never shorten, giving back never fills beyond full, the scale stays within [0.25, 8]",
    [
      FastCheck.array(FastCheck.integer({ min: 0, max: 1e6 }), { maxLength: 20 }),
      FastCheck.array(FastCheck.integer({ min: -1e6, max: 1e6 }), { maxLength: 20 }),
      FastCheck.array(FastCheck.tuple(FastCheck.integer({ min: 1, max: 1e6 }), FastCheck.integer({ min: 1, max: 1e6 })), {
        maxLength: 20
      })
    ],
    ([pauses, adjustments, counts]) => {
      let state: internal.KeyState = { ...internal.initial, limitTokens: 30_000 }
      let longest = 0
      for (const until of pauses) {
        state = internal.pause(state, until)
        longest = Math.max(longest, until)
        assert.strictEqual(state.pausedUntil, longest)
      }
      for (const tokens of adjustments) {
        state = internal.adjust(state, tokens, 1_000)[1]
        assert.isAtMost(internal.levels(state, 1_000).tokens ?? 0, 30_000)
      }
      for (const [estimate, requested] of counts) {
        state = internal.calibrate(state, estimate, requested)
        assert.isAtLeast(state.tokenScale, 0.25)
        assert.isAtMost(state.tokenScale, 8)
      }
    }
  )
})
