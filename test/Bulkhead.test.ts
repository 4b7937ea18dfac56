import { HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Option, TestClock } from "effect"
import * as Bulkhead from "../src/Bulkhead.js"

const isFull = (exit: Exit.Exit<unknown, unknown>): boolean =>
  Exit.isFailure(exit) && Option.exists(Cause.failureOption(exit.cause), (e) => e instanceof Bulkhead.BulkheadFull)

describe("Bulkhead", () => {
  it.effect("runs at most maxConcurrent at once and queues the rest", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2, maxQueue: 2 })
      let running = 0
      let peak = 0
      const task = Effect.gen(function*() {
        running++
        peak = Math.max(peak, running)
        yield* Effect.sleep("1 second")
        running--
      })
      const fiber = yield* Effect.fork(Effect.all(Array.from({ length: 4 }, () => bulkhead(task)), { concurrency: "unbounded" }))
      for (let i = 0; i < 50 && (yield* bulkhead.queued) < 2; i++) yield* Effect.yieldNow()
      assert.strictEqual(yield* bulkhead.active, 2)
      assert.strictEqual(yield* bulkhead.queued, 2)
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      assert.strictEqual(peak, 2)
      assert.strictEqual(yield* bulkhead.active, 0)
      assert.strictEqual(yield* bulkhead.queued, 0)
    }))

  it.effect("fails with BulkheadFull when the queue is full, and admits again once there is room", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1 })
      const gate = yield* Deferred.make<void>()
      const first = yield* Effect.fork(bulkhead(Deferred.await(gate)))
      const second = yield* Effect.fork(bulkhead(Deferred.await(gate)))
      yield* Effect.yieldNow()
      const third = yield* Effect.exit(bulkhead(Effect.void))
      assert.isTrue(isFull(third))
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      assert.isTrue(Exit.isSuccess(yield* Effect.exit(bulkhead(Effect.void))))
    }))

  it.effect("an interrupted waiter gives its queue place back", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1 })
      const gate = yield* Deferred.make<void>()
      const running = yield* Effect.fork(bulkhead(Deferred.await(gate)))
      const waiting = yield* Effect.fork(bulkhead(Effect.void))
      yield* Effect.yieldNow()
      assert.strictEqual(yield* bulkhead.queued, 1)
      yield* Fiber.interrupt(waiting)
      assert.strictEqual(yield* bulkhead.queued, 0)
      const again = yield* Effect.fork(bulkhead(Effect.void))
      yield* Effect.yieldNow()
      assert.strictEqual(yield* bulkhead.queued, 1)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(running)
      yield* Fiber.join(again)
    }))

  it.effect("a waiter interrupted as a slot is handed to it passes the slot on", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 2 })
      const gate = yield* Deferred.make<void>()
      const running = yield* Effect.fork(bulkhead(Deferred.await(gate)))
      const first = yield* Effect.fork(bulkhead(Effect.void))
      const second = yield* Effect.fork(bulkhead(Effect.succeed("second ran")))
      yield* Effect.yieldNow()
      assert.strictEqual(yield* bulkhead.queued, 2)
      // The running call leaves (handing its slot to `first`) while `first` is being interrupted.
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.interrupt(first)
      yield* Fiber.join(running)
      assert.strictEqual(yield* Fiber.join(second), "second ran")
      assert.strictEqual(yield* bulkhead.active, 0)
      assert.strictEqual(yield* bulkhead.queued, 0)
    }))

  it.effect("queued calls start in the order they came", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 3 })
      const order: Array<number> = []
      const gate = yield* Deferred.make<void>()
      const running = yield* Effect.fork(bulkhead(Deferred.await(gate)))
      yield* Effect.yieldNow()
      const queued = yield* Effect.forEach([1, 2, 3], (i) => Effect.fork(bulkhead(Effect.sync(() => order.push(i)))))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(running)
      yield* Effect.forEach(queued, Fiber.join)
      assert.deepStrictEqual(order, [1, 2, 3])
    }))

  it.effect("maxQueue 0 refuses anything that cannot start at once", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1 })
      const gate = yield* Deferred.make<void>()
      const first = yield* Effect.fork(bulkhead(Deferred.await(gate)))
      yield* Effect.yieldNow()
      assert.isTrue(isFull(yield* Effect.exit(bulkhead(Effect.void))))
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(first)
    }))

  it.effect("as HttpClient middleware", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const base = HttpClient.make((request) =>
        Effect.as(Deferred.await(gate), HttpClientResponse.fromWeb(request, new Response("{}", { status: 200 })))
      )
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 0 })
      const client = base.pipe(Bulkhead.middleware(bulkhead))
      const get = client.execute(HttpClientRequest.get("http://127.0.0.1/v1/models"))
      const first = yield* Effect.fork(get)
      yield* Effect.yieldNow()
      assert.isTrue(isFull(yield* Effect.exit(get)))
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual((yield* Fiber.join(first)).status, 200)
    }))

  it.effect("bad numbers are an InvalidOptions, never a guessed bulkhead", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Bulkhead.make({ maxConcurrent: Number.NaN, maxQueue: -3 }))
      assert.deepStrictEqual([error._tag, error.module, error.field], ["InvalidOptions", "Bulkhead", "maxConcurrent"])
      const queue = yield* Effect.flip(Bulkhead.make({ maxConcurrent: 2, maxQueue: -3 }))
      assert.strictEqual(queue.field, "maxQueue")
    }))
})
