import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Duration, Effect, Either, Exit, Fiber, Logger, Option, TestClock } from "effect"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as RateLimiterRedis from "../src/RateLimiterRedis.js"
import * as RetryBudget from "../src/RetryBudget.js"
import * as errors from "./support/errors.js"
import * as RedisServer from "./utils/redisServer.js"

const serverError = errors.serverError()
const fail = (breaker: CircuitBreaker.CircuitBreaker) => Effect.exit(breaker(Effect.fail(serverError)))
const succeed = (breaker: CircuitBreaker.CircuitBreaker) => Effect.exit(breaker(Effect.succeed("ok")))

const refusal = (exit: Exit.Exit<unknown, unknown>): Option.Option<CircuitBreaker.CircuitOpen> =>
  Exit.isFailure(exit)
    ? Option.filter(Cause.failureOption(exit.cause), (e): e is CircuitBreaker.CircuitOpen => e instanceof CircuitBreaker.CircuitOpen)
    : Option.none()

const options = (store: CircuitBreaker.SharedStore): CircuitBreaker.Options => ({
  consecutiveFailures: 2,
  openDuration: "10 seconds",
  shared: { store, key: "openai-prod" }
})

describe("CircuitBreaker shared state (memory store, TestClock)", () => {
  it.scoped("one breaker trips: all refuse until the same instant, then each probes by itself", () =>
    Effect.gen(function*() {
      const store = CircuitBreaker.makeSharedStoreMemory()
      const [a, b, c] = yield* Effect.all([1, 2, 3].map(() => CircuitBreaker.make(options(store))))
      if (a === undefined || b === undefined || c === undefined) throw new Error("three breakers")
      yield* fail(a)
      yield* fail(a)
      yield* TestClock.adjust("3 seconds")
      // b and c saw no failure themselves, and refuse: the upstream is down for everyone.
      const refused = refusal(yield* succeed(b))
      assert.isTrue(Option.isSome(refused))
      assert.strictEqual(Duration.toMillis(Option.getOrThrow(refused).retryAfter), 7_000)
      assert.isTrue(Option.isSome(refusal(yield* succeed(c))))
      // At the shared instant, b's probe succeeds and closes the shared state; c then calls freely.
      yield* TestClock.adjust("7 seconds")
      assert.isTrue(Exit.isSuccess(yield* succeed(b)))
      assert.deepStrictEqual(yield* b.state, CircuitBreaker.State.Closed({ failures: 0 }))
      assert.isTrue(Exit.isSuccess(yield* succeed(c)))
    }))

  it.scoped("trips are counted across breakers: a failed probe elsewhere lengthens everyone's open interval", () =>
    Effect.gen(function*() {
      const store = CircuitBreaker.makeSharedStoreMemory()
      const a = yield* CircuitBreaker.make(options(store))
      const b = yield* CircuitBreaker.make(options(store))
      yield* fail(a)
      yield* fail(a)
      // b adopted nothing yet (it made no call while the circuit was open): at 10 s it is closed.
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* b.state)._tag, "Closed")
      // a is half-open at 10 s; its probe fails: trip 2 for everyone.
      yield* fail(a)
      assert.isFalse(Exit.isSuccess(yield* succeed(b)))
      const after = Option.getOrThrow(yield* store.read("openai-prod", 10_000))
      assert.strictEqual(after.trips, 2)
      assert.strictEqual(after.retryAt, 30_000)
      // b refuses until a's second, twice as long, open interval ends (30 s), and so does a
      // breaker made later, whose own state says nothing.
      const refused = Option.getOrThrow(refusal(yield* succeed(b)))
      assert.strictEqual(Duration.toMillis(refused.retryAfter), 20_000)
      yield* TestClock.adjust("10 seconds")
      const late = yield* CircuitBreaker.make(options(store))
      assert.strictEqual(Duration.toMillis(Option.getOrThrow(refusal(yield* succeed(late))).retryAfter), 10_000)
    }))

  it.scoped("a success that ends while an earlier failure waits behind a slow store read still resets the count", () =>
    Effect.gen(function*() {
      const memory = CircuitBreaker.makeSharedStoreMemory()
      // A store whose read takes 50 ms (a Redis round trip under load), done under the breaker's lock.
      const store: CircuitBreaker.SharedStore = { ...memory, read: (k, n) => Effect.zipRight(Effect.sleep("50 millis"), memory.read(k, n)) }
      const breaker = yield* CircuitBreaker.make(options(store))
      const [first, second] = [yield* Deferred.make<void>(), yield* Deferred.make<void>()]
      const f1 = yield* Effect.fork(breaker(Effect.zipRight(Deferred.await(first), Effect.fail(serverError))))
      const s = yield* Effect.fork(breaker(Effect.zipRight(Deferred.await(second), Effect.succeed("ok"))))
      yield* TestClock.adjust("100 millis")
      // A third call's admission now holds the lock for its read: F1's failure, then S's success,
      // end behind it.
      const settle = Effect.repeatN(Effect.yieldNow(), 20)
      const x = yield* Effect.fork(succeed(breaker))
      yield* settle
      yield* Deferred.succeed(first, undefined)
      yield* settle
      yield* Deferred.succeed(second, undefined)
      yield* settle
      yield* TestClock.adjust("50 millis")
      yield* Fiber.await(f1)
      yield* Fiber.await(s)
      yield* Fiber.join(x)
      // Failure, success: the count is back to zero, so one more failure does not trip.
      assert.deepStrictEqual(yield* breaker.state, CircuitBreaker.State.Closed({ failures: 0 }))
      const f2 = yield* Effect.fork(fail(breaker))
      yield* TestClock.adjust("50 millis")
      yield* Fiber.join(f2)
      assert.deepStrictEqual(yield* breaker.state, CircuitBreaker.State.Closed({ failures: 1 }))
    }))

  it.scoped("a failing store: the breaker decides locally and warns once", () =>
    Effect.gen(function*() {
      const broken: CircuitBreaker.SharedStore = {
        read: () => Effect.fail(new RateLimiter.RateLimiterStoreError({ message: "down" })),
        open: () => Effect.fail(new RateLimiter.RateLimiterStoreError({ message: "down" })),
        close: () => Effect.fail(new RateLimiter.RateLimiterStoreError({ message: "down" }))
      }
      const lines: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => {
        if (logLevel._tag === "Warning") lines.push(String(message))
      })
      yield* Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make(options(broken))
        assert.isTrue(Exit.isSuccess(yield* succeed(breaker)))
        yield* fail(breaker)
        yield* fail(breaker)
        assert.strictEqual((yield* breaker.state)._tag, "Open")
        assert.isTrue(Option.isSome(refusal(yield* succeed(breaker))))
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      assert.strictEqual(lines.length, 1)
      assert.include(lines[0] ?? "", "deciding locally")
    }))
})

describe("CircuitBreaker shared state (real Redis)", () => {
  it.scopedLive("several breakers on one key: one trips, all refuse; with Redis down they decide locally", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.start
      const prefix = `t${Date.now()}:`
      const breakers = yield* Effect.forEach([1, 2, 3, 4], () =>
        Effect.flatMap(
          RateLimiterRedis.makeBreakerStore({ url: server.url, prefix }),
          (store) => CircuitBreaker.make({ ...options(store), openDuration: "1 minute" })
        ))
      const [a, b, c, d] = breakers
      if (a === undefined || b === undefined || c === undefined || d === undefined) throw new Error("four breakers")
      assert.isTrue(Exit.isSuccess(yield* succeed(b)))
      yield* fail(a)
      yield* fail(a)
      for (const other of [b, c]) {
        const refused = Option.getOrThrow(refusal(yield* succeed(other)))
        assert.isAbove(Duration.toMillis(refused.retryAfter), 50_000)
        assert.strictEqual(refused.state, "Open")
      }
      // Redis down: b keeps the open state it adopted; d, which never asked, decides locally
      // (its call goes through) instead of failing or hanging.
      yield* server.stop
      assert.isTrue(Option.isSome(refusal(yield* succeed(b))))
      assert.isTrue(Exit.isSuccess(yield* succeed(d)))
    }), 20_000)
})

describe("RetryBudget shared through a store", () => {
  const cost = errors.serverError()

  it.effect("memory: a budget drained by one is drained for all; a success anywhere refunds all", () =>
    Effect.gen(function*() {
      const store = RetryBudget.makeSharedStoreMemory()
      const a = yield* RetryBudget.make({ capacity: 10, retryCost: 5, shared: { store } })
      const b = yield* RetryBudget.make({ capacity: 10, retryCost: 5, shared: { store } })
      assert.isTrue(yield* a.tryAcquire(cost))
      assert.isTrue(yield* a.tryAcquire(cost))
      assert.isFalse(yield* b.tryAcquire(cost))
      assert.strictEqual(yield* b.tokens, 0)
      for (let i = 0; i < 5; i++) yield* b.recordSuccess
      assert.isTrue(yield* a.tryAcquire(cost))
      // Unshared budgets, for contrast, each hold their own capacity.
      const alone = yield* RetryBudget.make({ capacity: 10, retryCost: 5 })
      assert.strictEqual(yield* alone.tokens, 10)
    }))

  it.effect("a failing store: the budget answers from its own bucket and warns once", () =>
    Effect.gen(function*() {
      const down = Effect.fail(new RateLimiter.RateLimiterStoreError({ message: "down" }))
      const broken: RetryBudget.SharedStore = { take: () => down, refund: () => down, tokens: () => down }
      const lines: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => {
        if (logLevel._tag === "Warning") lines.push(String(message))
      })
      const taken = yield* Effect.gen(function*() {
        const budget = yield* RetryBudget.make({ capacity: 10, retryCost: 5, shared: { store: broken } })
        return [yield* budget.tryAcquire(cost), yield* budget.tryAcquire(cost), yield* budget.tryAcquire(cost)]
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      assert.deepStrictEqual(taken, [true, true, false])
      assert.strictEqual(lines.length, 1)
    }))

  it.scopedLive("real Redis: three budgets on one key drain one bucket", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.start
      const prefix = `b${Date.now()}:`
      const budgets = yield* Effect.forEach([1, 2, 3], () =>
        Effect.flatMap(
          RateLimiterRedis.makeBudgetStore({ url: server.url, prefix }),
          (store) => RetryBudget.make({ capacity: 20, retryCost: 5, shared: { store, key: "team" } })
        ))
      const taken = yield* Effect.forEach(budgets, (b) => Effect.all([b.tryAcquire(cost), b.tryAcquire(cost)]), {
        concurrency: "unbounded"
      })
      // 20 tokens at 5 a retry: four retries in all, not twelve.
      assert.strictEqual(taken.flat().filter((t) => t).length, 4)
      for (const b of budgets) assert.strictEqual(yield* b.tokens, 0)
      yield* Effect.forEach(budgets, (b) => b.recordSuccess)
      assert.strictEqual(yield* Option.getOrThrow(Option.fromNullable(budgets[0])).tokens, 3)
    }), 20_000)
})

describe("shared store options", () => {
  it.scoped("a store that is not one is refused with InvalidOptions", () =>
    Effect.gen(function*() {
      const notAStore = { read: "nope" } as unknown as CircuitBreaker.SharedStore
      const breaker = yield* Effect.either(CircuitBreaker.make({ shared: { store: notAStore } }))
      assert.isTrue(Either.isLeft(breaker) && breaker.left._tag === "InvalidOptions")
      const budget = yield* Effect.either(
        RetryBudget.make({ shared: { store: notAStore as unknown as RetryBudget.SharedStore } })
      )
      assert.isTrue(Either.isLeft(budget) && budget.left._tag === "InvalidOptions")
    }))
})
