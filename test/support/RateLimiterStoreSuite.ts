/**
 * The test suite every `RateLimiter.Store` must pass, run against the memory store
 * (test/RateLimiterStore.test.ts) and the Redis store (test/RateLimiterRedis.test.ts), as
 * `@effect/experimental` does for its stores. Times are passed in, so the suite needs no clock;
 * each test uses keys of its own, so a shared server needs no cleaning.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Either, type Layer, Option } from "effect"
import * as RateLimiter from "../../src/RateLimiter.js"

let counter = 0
const freshKey = () => `suite-${process.pid}-${Date.now()}-${counter++}:gpt-4o-mini`

const input = (
  now: number,
  tokens: number,
  fixed: { readonly requests?: number; readonly tokens?: number } = {}
): RateLimiter.ReserveInput => ({
  now,
  tokens,
  fixed: { requests: fixed.requests, tokens: fixed.tokens },
  burst: 1,
  headroom: 0,
  probeLease: 30_000,
  skew: 0
})

const releaseInput = (
  permit: RateLimiter.Reservation,
  options: {
    readonly now: number
    readonly sentAt: number
    readonly tokens: number
    readonly fixed?: { readonly requests?: number; readonly tokens?: number }
    readonly headers?: Partial<{
      limitRequests: number
      limitTokens: number
      remainingRequests: number
      remainingTokens: number
    }>
    readonly pauseUntil?: number
    readonly requestedTokens?: number
  }
): RateLimiter.ReleaseInput => {
  if (permit._tag !== "Granted") throw new Error(`not granted: ${permit._tag}`)
  return {
    now: options.now,
    fixed: { requests: options.fixed?.requests, tokens: options.fixed?.tokens },
    sentAt: options.sentAt,
    seq: permit.seq,
    tokensThrough: permit.tokensThrough,
    tokens: options.tokens,
    charged: permit.charged,
    probe: permit.probe,
    headers: options.headers === undefined ? undefined : {
      limitRequests: options.headers.limitRequests,
      limitTokens: options.headers.limitTokens,
      remainingRequests: options.headers.remainingRequests,
      remainingTokens: options.headers.remainingTokens
    },
    answered: true,
    pauseUntil: options.pauseUntil,
    requestedTokens: options.requestedTokens
  }
}

/** The limiter's lanes with a reserve of 5% and a background share of `share` (as `RateLimiter.make` builds them). */
const laneOf = (background: boolean, share: number): NonNullable<RateLimiter.ReserveInput["lane"]> => ({
  floor: background ? 0.05 : 0,
  background,
  share,
  yieldFloor: 0.05
})

/**
 * A saturating background batch (always one request waiting) against an interactive lane, on
 * one key of 600 requests a minute (a permit every 100 ms), for `until` ms of times passed in.
 * Interactive requests arrive every `every` ms (0: always one waiting). Each waiter asks again
 * when its wait ends, and the batch also after each interactive grant (what a wake-up does).
 * Ties go to the batch, the worst case for the interactive lane.
 */
const contend = (store: RateLimiter.Store, options: { readonly every: number; readonly until: number; readonly share: number }) =>
  Effect.gen(function*() {
    const key = freshKey()
    const fixed = { requests: 600 }
    const lane = (background: boolean, now: number): RateLimiter.ReserveInput => ({
      ...input(now, 0, fixed),
      lane: laneOf(background, options.share)
    })
    // The batch has drained the bucket to its floor before the interactive lane starts.
    const start = 60_000
    let batch = 0
    let batchAt = start
    while (granted(yield* store.reserve(key, lane(true, start)))) batch++
    let arrival = start
    let interactiveAt = start
    const waits: Array<number> = []
    const batchAtStart = batch
    while (Math.min(batchAt, interactiveAt) < start + options.until) {
      if (batchAt <= interactiveAt) {
        const r = yield* store.reserve(key, lane(true, batchAt))
        if (r._tag === "Granted") batch++
        else if (r._tag === "Wait") batchAt += r.millis
      } else {
        const r = yield* store.reserve(key, lane(false, interactiveAt))
        if (r._tag === "Granted") {
          waits.push(interactiveAt - arrival)
          arrival = options.every === 0 ? interactiveAt : arrival + options.every
          batchAt = Math.min(batchAt, interactiveAt)
          interactiveAt = Math.max(arrival, interactiveAt)
        } else if (r._tag === "Wait") interactiveAt += r.millis
      }
    }
    return { waits, interactive: waits.length, batch: batch - batchAtStart }
  })

const granted = (r: RateLimiter.Reservation) => r._tag === "Granted"
const waits = (r: RateLimiter.Reservation) => r._tag === "Wait" ? r.millis : -1

/** Registers the suite for the store `storeLayer` provides (built once for the whole suite). */
export const storeSuite = <E>(name: string, storeLayer: Layer.Layer<RateLimiter.RateLimiterStore, E>) =>
  layer(storeLayer, { excludeTestServices: true })(`RateLimiterStore suite: ${name}`, (it) => {
    it.effect("reserves on both dimensions at once and says how long to wait", () =>
      Effect.gen(function*() {
        const store = yield* RateLimiter.RateLimiterStore
        const key = freshKey()
        const fixed = { requests: 600, tokens: 600 }
        assert.isTrue(granted(yield* store.reserve(key, input(0, 300, fixed))))
        assert.isTrue(granted(yield* store.reserve(key, input(0, 300, fixed))))
        // Tokens exhausted (10 per second): 300 more need 30 s; requests have room.
        assert.strictEqual(waits(yield* store.reserve(key, input(0, 300, fixed))), 30_000)
        assert.strictEqual(waits(yield* store.reserve(key, input(29_000, 300, fixed))), 1_000)
        const third = yield* store.reserve(key, input(30_000, 300, fixed))
        assert.isTrue(granted(third))
        if (third._tag === "Granted") {
          assert.strictEqual(third.seq, 3)
          assert.strictEqual(third.tokensThrough, 900)
          assert.strictEqual(third.charged, 300)
        }
        // Requests: 2 per minute with a bucket of 2.
        const other = freshKey()
        const rpm = { requests: 2 }
        yield* store.reserve(other, input(0, 0, rpm))
        yield* store.reserve(other, input(0, 0, rpm))
        assert.strictEqual(waits(yield* store.reserve(other, input(0, 0, rpm))), 30_000)
      }))

    it.effect("a request above the tokens limit is refused and charges nothing", () =>
      Effect.gen(function*() {
        const store = yield* RateLimiter.RateLimiterStore
        const key = freshKey()
        const tooLarge = yield* store.reserve(key, input(0, 1001, { tokens: 1000 }))
        assert.deepStrictEqual(tooLarge, { _tag: "TooLarge", limit: 1000, requested: 1001 })
        const whole = yield* store.reserve(key, input(0, 1000, { tokens: 1000 }))
        assert.isTrue(granted(whole))
        if (whole._tag === "Granted") assert.strictEqual(whole.seq, 1)
      }))

    it.effect("limits unknown: one probe goes alone, its headers teach the limits", () =>
      Effect.gen(function*() {
        const store = yield* RateLimiter.RateLimiterStore
        const key = freshKey()
        const probe = yield* store.reserve(key, input(0, 100))
        assert.isTrue(probe._tag === "Granted" && probe.probe)
        assert.strictEqual(waits(yield* store.reserve(key, input(10_000, 100))), 20_000)
        yield* store.release(
          key,
          releaseInput(probe, {
            now: 10_000,
            sentAt: 0,
            tokens: 100,
            headers: { limitRequests: 60, limitTokens: 1000, remainingRequests: 59, remainingTokens: 200 }
          })
        )
        const state = Option.getOrThrow(yield* store.snapshot(key))
        assert.strictEqual(state.limitRequests, 60)
        assert.strictEqual(state.limitTokens, 1000)
        assert.isTrue(state.observed)
        assert.strictEqual(state.probeUntil, 0)
        // 200 left when counted (up to 1 s after sending), 150 refilled since: 100 fit now, and
        // another 400 need 150 more, 9 s.
        assert.isTrue(granted(yield* store.reserve(key, input(10_000, 100))))
        assert.strictEqual(waits(yield* store.reserve(key, input(10_000, 400))), 9_000)
      }))

    it.effect("a re-base assumes the server counted its remaining values up to a second after sending", () =>
      Effect.gen(function*() {
        const store = yield* RateLimiter.RateLimiterStore
        const key = freshKey()
        const fixed = { tokens: 6000 }
        const permit = yield* store.reserve(key, input(0, 100, fixed))
        // Nothing left when counted; the answer came 5 s after sending. Counting right at sending
        // would credit 5 s of refill (500 tokens) and hand out tokens the server may not have had
        // back yet; the store credits 4 s.
        yield* store.release(key, releaseInput(permit, { now: 5_000, sentAt: 0, tokens: 100, fixed, headers: { remainingTokens: 0 } }))
        assert.strictEqual(Option.getOrThrow(yield* store.snapshot(key)).fullTokens, 61_000)
        // An answer within the second: counted when it came.
        const quick = freshKey()
        const fast = yield* store.reserve(quick, input(0, 100, fixed))
        yield* store.release(quick, releaseInput(fast, { now: 400, sentAt: 0, tokens: 100, fixed, headers: { remainingTokens: 0 } }))
        assert.strictEqual(Option.getOrThrow(yield* store.snapshot(quick)).fullTokens, 60_400)
      }))

    it.effect("stale headers are ignored; requests granted since stay counted", () =>
      Effect.gen(function*() {
        const store = yield* RateLimiter.RateLimiterStore
        const key = freshKey()
        const fixed = { tokens: 6000 }
        const first = yield* store.reserve(key, input(0, 1000, fixed))
        const second = yield* store.reserve(key, input(0, 1000, fixed))
        yield* store.release(key, releaseInput(first, { now: 0, sentAt: 0, tokens: 1000, fixed, headers: { remainingTokens: 5000 } }))
        // The server had not seen the second: 4000 left.
        assert.strictEqual(Option.getOrThrow(yield* store.snapshot(key)).fullTokens, 20_000)
        yield* store.release(key, releaseInput(second, { now: 0, sentAt: 0, tokens: 1000, fixed, headers: { remainingTokens: 3000 } }))
        assert.strictEqual(Option.getOrThrow(yield* store.snapshot(key)).fullTokens, 30_000)
        // The first's headers again (stale): nothing changes.
        yield* store.release(key, releaseInput(first, { now: 0, sentAt: 0, tokens: 1000, fixed, headers: { remainingTokens: 6000 } }))
        assert.strictEqual(Option.getOrThrow(yield* store.snapshot(key)).fullTokens, 30_000)
      }))

    it.effect("an answer that overtook an older request does not hand out that request's tokens again", () =>
      Effect.gen(function*() {
        const store = yield* RateLimiter.RateLimiterStore
        const key = freshKey()
        const fixed = { tokens: 6000 }
        const older = yield* store.reserve(key, input(0, 1000, fixed))
        const newer = yield* store.reserve(key, input(0, 1000, fixed))
        // The newer request (another process's, say) reached the server first: its headers do not
        // count the older one, still on its way. Taking them at their word would free 1000
        // tokens the older request is about to use.
        yield* store.release(key, releaseInput(newer, { now: 0, sentAt: 0, tokens: 1000, fixed, headers: { remainingTokens: 5000 } }))
        assert.strictEqual(Option.getOrThrow(yield* store.snapshot(key)).fullTokens, 20_000)
        // Once nothing older is in flight, the headers correct an overestimate again.
        yield* store.release(key, releaseInput(older, { now: 0, sentAt: 0, tokens: 1000, fixed, headers: { remainingTokens: 5500 } }))
        assert.strictEqual(Option.getOrThrow(yield* store.snapshot(key)).fullTokens, 20_000)
        const third = yield* store.reserve(key, input(0, 500, fixed))
        yield* store.release(key, releaseInput(third, { now: 0, sentAt: 0, tokens: 500, fixed, headers: { remainingTokens: 4000 } }))
        assert.strictEqual(Option.getOrThrow(yield* store.snapshot(key)).fullTokens, 20_000)
      }))

    it.effect("a pause holds every request until its end and is never shortened", () =>
      Effect.gen(function*() {
        const store = yield* RateLimiter.RateLimiterStore
        const key = freshKey()
        yield* store.pause(key, 5_000)
        yield* store.pause(key, 1_000)
        assert.strictEqual(waits(yield* store.reserve(key, input(0, 0, { requests: 6000 }))), 5_000)
        assert.isTrue(granted(yield* store.reserve(key, input(5_000, 0, { requests: 6000 }))))
        // A 429's release pauses too.
        const permit = yield* store.reserve(key, input(5_000, 0, { requests: 6000 }))
        yield* store.release(key, releaseInput(permit, { now: 5_000, sentAt: 5_000, tokens: 0, pauseUntil: 8_000 }))
        assert.strictEqual(waits(yield* store.reserve(key, input(6_000, 0, { requests: 6000 }))), 2_000)
      }))

    it.effect("a tokens 429 calibrates later estimates; charges stay within the limit", () =>
      Effect.gen(function*() {
        const store = yield* RateLimiter.RateLimiterStore
        const key = freshKey()
        const fixed = { tokens: 6000 }
        const permit = yield* store.reserve(key, input(0, 300, fixed))
        yield* store.release(key, releaseInput(permit, { now: 0, sentAt: 0, tokens: 300, fixed, requestedTokens: 400 }))
        assert.closeTo(Option.getOrThrow(yield* store.snapshot(key)).tokenScale, 4 / 3, 1e-12)
        const next = yield* store.reserve(key, input(0, 300, fixed))
        assert.isTrue(next._tag === "Granted" && next.charged === 400)
        // A lower count only nudges the scale down.
        yield* store.release(key, releaseInput(next, { now: 0, sentAt: 0, tokens: 300, fixed, requestedTokens: 150 }))
        assert.closeTo(Option.getOrThrow(yield* store.snapshot(key)).tokenScale, 4 / 3 + 0.1 * (0.5 - 4 / 3), 1e-12)
      }))

    it.effect("adjust charges and gives back tokens, never beyond a full bucket", () =>
      Effect.gen(function*() {
        const store = yield* RateLimiter.RateLimiterStore
        const key = freshKey()
        const fixed = { tokens: 6000 }
        yield* store.reserve(key, input(0, 3000, fixed))
        yield* store.adjust(key, -1000, 0)
        assert.strictEqual(Option.getOrThrow(yield* store.snapshot(key)).fullTokens, 20_000)
        yield* store.adjust(key, -9000, 0)
        assert.strictEqual(Option.getOrThrow(yield* store.snapshot(key)).fullTokens, 0)
        yield* store.adjust(key, 600, 0)
        assert.strictEqual(Option.getOrThrow(yield* store.snapshot(key)).fullTokens, 6_000)
      }))

    it.effect("a clock skew allowance makes a request at the edge wait that much longer", () =>
      Effect.gen(function*() {
        const store = yield* RateLimiter.RateLimiterStore
        const key = freshKey()
        const fixed = { requests: 60 }
        const edge = (now: number, skew: number) => ({ ...input(now, 0, fixed), skew })
        for (let i = 0; i < 60; i++) yield* store.reserve(key, edge(0, 0))
        assert.strictEqual(waits(yield* store.reserve(key, edge(0, 50))), 1_050)
        assert.strictEqual(waits(yield* store.reserve(key, edge(1_000, 50))), 50)
        assert.isTrue(granted(yield* store.reserve(key, edge(1_050, 50))))
        // Far from the edge it costs nothing.
        assert.isTrue(granted(yield* store.reserve(freshKey(), edge(0, 50))))
      }))

    it.effect("a key never seen has no snapshot", () =>
      Effect.gen(function*() {
        const store = yield* RateLimiter.RateLimiterStore
        assert.isTrue(Option.isNone(yield* store.snapshot(freshKey())))
      }))

    it.effect("a waiter is woken when the probe's answer frees the key, not by polling", () =>
      Effect.gen(function*() {
        const store = yield* RateLimiter.RateLimiterStore
        const key = freshKey()
        const probe = yield* store.reserve(key, input(0, 10))
        const changed = yield* store.watch(key)
        assert.isTrue(waits(yield* store.reserve(key, input(0, 10))) > 0)
        yield* store.release(key, releaseInput(probe, { now: 1, sentAt: 0, tokens: 10, headers: {} }))
        const woke = yield* Effect.either(Effect.timeout(changed, "2 seconds"))
        assert.isTrue(Either.isRight(woke))
        assert.isTrue(granted(yield* store.reserve(key, input(1, 10))))
      }))

    it.effect("lanes: under a saturating batch an interactive request waits less than one permit interval", () =>
      Effect.gen(function*() {
        const store = yield* RateLimiter.RateLimiterStore
        const run = yield* contend(store, { every: 1_000, until: 60_000, share: 0.1 })
        assert.strictEqual(run.interactive, 60)
        assert.isAtMost(Math.max(...run.waits), 100)
        // The batch takes everything else: 600 a minute minus the trickle's 60.
        assert.isAtLeast(run.batch, 530)
        assert.isAtMost(run.batch + run.interactive, 601)
      }))

    it.effect("lanes: the batch keeps its minimum share against a saturating interactive lane", () =>
      Effect.gen(function*() {
        const store = yield* RateLimiter.RateLimiterStore
        const run = yield* contend(store, { every: 0, until: 60_000, share: 0.2 })
        const total = run.batch + run.interactive
        assert.isAtLeast(total, 595)
        assert.isAtLeast(run.batch / total, 0.19)
        assert.isAtMost(run.batch / total, 0.22)
        // Without a share, interactive work takes the whole limit.
        const starved = yield* contend(store, { every: 0, until: 60_000, share: 0 })
        assert.strictEqual(starved.batch, 0)
      }))

    it.effect("lanes: a background waiter is woken when it becomes owed a permit", () =>
      Effect.gen(function*() {
        const store = yield* RateLimiter.RateLimiterStore
        const key = freshKey()
        const fixed = { requests: 60 }
        const at = (background: boolean, now: number): RateLimiter.ReserveInput => ({
          ...input(now, 0, fixed),
          lane: laneOf(background, 0.5)
        })
        // Drain to the background floor (3 requests), then the batch waits.
        while (granted(yield* store.reserve(key, at(true, 0))));
        assert.isAbove(waits(yield* store.reserve(key, at(true, 0))), 0)
        const changed = yield* store.watch(key)
        // One interactive grant while the batch waits owes it a permit (share 0.5: one for one).
        assert.isTrue(granted(yield* store.reserve(key, at(false, 0))))
        const woke = yield* Effect.either(Effect.timeout(changed, "300 millis"))
        assert.isTrue(Either.isRight(woke))
        // Owed, the batch may go below its floor; the interactive lane now leaves it that room.
        assert.isAbove(waits(yield* store.reserve(key, at(false, 0))), 0)
        assert.isTrue(granted(yield* store.reserve(key, at(true, 0))))
      }))

    it.effect("a release that frees nothing wakes nobody", () =>
      Effect.gen(function*() {
        const store = yield* RateLimiter.RateLimiterStore
        const key = freshKey()
        const fixed = { requests: 60 }
        const permit = yield* store.reserve(key, input(0, 0, fixed))
        yield* store.release(key, releaseInput(permit, { now: 0, sentAt: 0, tokens: 0, fixed, headers: { remainingRequests: 59 } }))
        // The first answer of a key does wake (it is observed now); let that wake-up arrive.
        yield* Effect.sleep("100 millis")
        const changed = yield* store.watch(key)
        const second = yield* store.reserve(key, input(0, 0, fixed))
        yield* store.release(key, releaseInput(second, { now: 0, sentAt: 0, tokens: 0, fixed, headers: { remainingRequests: 58 } }))
        const woke = yield* Effect.either(Effect.timeout(changed, "300 millis"))
        assert.isTrue(Either.isLeft(woke))
      }))
  })
