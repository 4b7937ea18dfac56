import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Ref, TestClock } from "effect"
import * as RetryBudget from "../src/RetryBudget.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import * as errors from "./support/errors.js"

const serverError = errors.serverError()
const connectionError = errors.connectionReset()

describe("RetryBudget", () => {
  it.effect("starts full and spends the cost of each retry until it cannot", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make({ capacity: 12, retryCost: 5 })
      expect(yield* budget.tokens).toBe(12)
      expect(yield* budget.tryAcquire(serverError)).toBe(true)
      expect(yield* budget.tryAcquire(serverError)).toBe(true)
      expect(yield* budget.tryAcquire(serverError)).toBe(false)
      expect(yield* budget.tokens).toBe(2)
    }))

  it.effect("transport failures cost transportRetryCost", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make({ capacity: 15, retryCost: 5, transportRetryCost: 10 })
      expect(budget.costOf(connectionError)).toBe(10)
      expect(budget.costOf(serverError)).toBe(5)
      expect(yield* budget.tryAcquire(connectionError)).toBe(true)
      expect(yield* budget.tryAcquire(connectionError)).toBe(false)
      expect(yield* budget.tryAcquire(serverError)).toBe(true)
      expect(yield* budget.tokens).toBe(0)
    }))

  it.effect("concurrent withdrawals never overspend", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make({ capacity: 50, retryCost: 5 })
      const granted = yield* Effect.all(Array.from({ length: 100 }, () => budget.tryAcquire(serverError)), {
        concurrency: "unbounded"
      })
      expect(granted.filter((g) => g)).toHaveLength(10)
      expect(yield* budget.tokens).toBe(0)
    }))

  it.effect("track refunds on success only, and does nothing without a budget", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make({ capacity: 10, retryCost: 10, successRefund: 3 })
      yield* budget.tryAcquire(serverError)
      yield* RetryBudget.track(Effect.succeed(1)).pipe(Effect.provideService(RetryBudget.RetryBudget, budget))
      expect(yield* budget.tokens).toBe(3)
      yield* RetryBudget.track(Effect.fail("no")).pipe(
        Effect.provideService(RetryBudget.RetryBudget, budget),
        Effect.ignore
      )
      expect(yield* budget.tokens).toBe(3)
      // No service: still runs, still succeeds.
      expect(yield* RetryBudget.track(Effect.succeed(2))).toBe(2)
    }))

  it.effect("settings: invalid numbers read as the defaults", () =>
    Effect.sync(() => {
      expect(RetryBudget.settings({ capacity: -1, retryCost: Number.NaN, successRefund: Number.POSITIVE_INFINITY }))
        .toEqual(RetryBudget.defaults)
      expect(RetryBudget.settings({ capacity: 0 }).capacity).toBe(0)
    }))

  it.effect("a steady 20% failure rate is sustainable: successes refill what retries spend", () =>
    Effect.gen(function*() {
      // Defaults: a retry costs 5, a success earns 1. One failure per five calls, each retried
      // once and then succeeding, spends 5 and earns 5 (four first-try successes plus the retry).
      const budget = yield* RetryBudget.make()
      for (let i = 0; i < 1_000; i++) {
        if (i % 5 === 0) expect(yield* budget.tryAcquire(serverError)).toBe(true)
        yield* budget.recordSuccess
      }
      expect(yield* budget.tokens).toBe(500)
    }))

  it.effect("the layer gives every call under it the same bucket", () =>
    Effect.gen(function*() {
      const policy = RetryPolicy.make({ budget: true, maxRetries: 10 })
      const program = Effect.gen(function*() {
        const sent = yield* Ref.make(0)
        const failing = Effect.zipRight(Ref.update(sent, (n) => n + 1), Effect.fail(serverError))
        const fibers = yield* Effect.forEach(
          [1, 2, 3],
          () => Effect.fork(Effect.flip(RetryPolicy.retry(failing, policy)))
        )
        yield* TestClock.adjust(Duration.minutes(5))
        yield* Fiber.joinAll(fibers)
        return { sent: yield* Ref.get(sent), tokens: yield* Effect.flatMap(RetryBudget.RetryBudget, (b) => b.tokens) }
      })
      // 20 tokens, 5 per retry: four retries in all, whichever calls make them.
      expect(yield* Effect.provide(program, RetryBudget.layer({ capacity: 20 }))).toEqual({ sent: 3 + 4, tokens: 0 })
    }))
})
