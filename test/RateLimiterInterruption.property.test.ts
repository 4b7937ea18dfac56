/**
 * Many requests on one key, interrupted at random virtual times (waiting in line, while a shared
 * store's reply is in flight, while sent, while released): once all have ended, every permit the
 * store granted has been released exactly once, and the key holds nothing.
 */
import { HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Option, TestClock } from "effect"
import * as FastCheck from "effect/FastCheck"
import * as RateLimiter from "../src/RateLimiter.js"
import * as Resilience from "../src/Resilience.js"

const chat = HttpClientRequest.post("https://api.example.test/v1/chat/completions").pipe(
  HttpClientRequest.bearerToken("sk-test-key"),
  HttpClientRequest.bodyUnsafeJson({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], max_tokens: 5 })
)
const key = RateLimiter.keyOfRequest(chat)

interface Request {
  readonly at: number
  readonly hold: number
  readonly interruptAt: number | undefined
}

const request: FastCheck.Arbitrary<Request> = FastCheck.record({
  at: FastCheck.integer({ min: 0, max: 5_000 }),
  hold: FastCheck.integer({ min: 0, max: 3_000 }),
  interruptAt: FastCheck.option(FastCheck.integer({ min: 0, max: 12_000 }), { nil: undefined })
})

interface Setting {
  /** Unset: the limits are unknown, and learned (a probe goes first). */
  readonly requestsPerMinute: number | undefined
  /** Unset: the memory store itself; else a shared store whose replies take this long. */
  readonly replyMillis: number | undefined
  readonly through: "limit" | "Resilience"
}

const setting: FastCheck.Arbitrary<Setting> = FastCheck.record({
  requestsPerMinute: FastCheck.option(FastCheck.integer({ min: 6, max: 120 }), { nil: undefined }),
  replyMillis: FastCheck.option(FastCheck.integer({ min: 0, max: 400 }), { nil: undefined }),
  through: FastCheck.constantFrom("limit" as const, "Resilience" as const)
})

/** A shared store over `inner`: replies after `millis`, and counts what it grants and releases. */
const counting = (inner: RateLimiter.Store, millis: number) => {
  const granted: Array<number> = []
  const released: Array<number> = []
  const reply = <A, E>(effect: Effect.Effect<A, E>) => millis === 0 ? effect : Effect.zipLeft(effect, Effect.sleep(Duration.millis(millis)))
  const store: RateLimiter.Store = {
    ...inner,
    reserve: (k, input) =>
      reply(Effect.tap(inner.reserve(k, input), (r) => Effect.sync(() => r._tag === "Granted" && granted.push(r.seq)))),
    release: (k, input) => reply(Effect.tap(inner.release(k, input), () => Effect.sync(() => released.push(input.seq))))
  }
  return { store, granted, released }
}

describe("RateLimiter: interrupted at random, every permit is released once", () => {
  it.effect.prop(
    "many requests, random interruptions under TestClock: nothing held, nothing released twice",
    [setting, FastCheck.array(request, { minLength: 1, maxLength: 12 })],
    ([s, requests]) =>
      Effect.gen(function*() {
        const inner = yield* RateLimiter.makeStoreMemory
        const shared = s.replyMillis === undefined ? undefined : counting(inner, s.replyMillis)
        const limiter = yield* RateLimiter.make({ requestsPerMinute: s.requestsPerMinute }).pipe(
          Effect.provideService(RateLimiter.RateLimiterStore, shared?.store ?? inner),
          Effect.orDie
        )
        let started = 0
        const hold = (millis: number) => Effect.zipRight(Effect.sync(() => started++), Effect.sleep(Duration.millis(millis)))
        const call = (r: Request): Effect.Effect<unknown, unknown> =>
          s.through === "limit"
            ? limiter.limit({ key, tokens: 10 })(hold(r.hold))
            : Resilience.middleware({ limiter })(HttpClient.make((req) =>
              Effect.as(hold(r.hold), HttpClientResponse.fromWeb(req, new Response("{}", { status: 200 })))
            )).execute(chat)
        const fibers = yield* Effect.forEach(requests, (r) => Effect.fork(Effect.zipRight(Effect.sleep(Duration.millis(r.at)), call(r))))
        yield* Effect.forEach(requests, (r, i) =>
          r.interruptAt === undefined ? Effect.void : Effect.fork(
            Effect.zipRight(Effect.sleep(Duration.millis(r.interruptAt)), Fiber.interruptFork(fibers[i]!))
          ))
        // Long enough for every request: one per 10 s at the slowest.
        yield* TestClock.adjust(Duration.minutes(10))
        yield* Effect.forEach(fibers, Fiber.await)

        const state = Option.getOrUndefined(yield* inner.snapshot(key))
        assert.strictEqual(state?.outstandingRequests ?? 0, 0, "permits still in flight")
        assert.strictEqual(state?.outstandingTokens ?? 0, 0, "tokens still in flight")
        assert.strictEqual(state?.probeUntil ?? 0, 0, "a probe's lease still held")
        // No request ran without a permit of its own.
        assert.isAtMost(started, state?.granted ?? 0)
        if (shared !== undefined) {
          assert.deepStrictEqual([...shared.released].sort((a, b) => a - b), [...shared.granted].sort((a, b) => a - b))
        }
      }),
    { fastCheck: { numRuns: 50 } }
  )
})
