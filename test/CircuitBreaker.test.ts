import { HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Duration, Effect, Exit, Fiber, Option, Stream, TestClock } from "effect"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as OpenAiError from "../src/OpenAiError.js"
import * as errors from "./support/errors.js"

const serverError = errors.serverError()
const rateLimited = errors.rateLimited()
const badRequest = new OpenAiError.BadRequest({ message: "bad", status: Option.some(400) })

const fail = (breaker: CircuitBreaker.CircuitBreaker, error: unknown = serverError) =>
  Effect.exit(breaker(Effect.fail(error)))
const succeed = (breaker: CircuitBreaker.CircuitBreaker) => Effect.exit(breaker(Effect.succeed("ok")))

const openError = (exit: Exit.Exit<unknown, unknown>): CircuitBreaker.CircuitOpen => {
  const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
  if (!(error instanceof CircuitBreaker.CircuitOpen)) throw new Error(`expected CircuitOpen, got ${String(error)}`)
  return error
}

describe("CircuitBreaker", () => {
  it.scoped("trips after consecutive failures and refuses with retryAfter", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 3, openDuration: "10 seconds" })
      yield* fail(breaker)
      yield* fail(breaker)
      assert.deepStrictEqual(yield* breaker.state, CircuitBreaker.State.Closed({ failures: 2 }))
      yield* fail(breaker)
      const state = yield* breaker.state
      assert.strictEqual(state._tag, "Open")
      yield* TestClock.adjust("4 seconds")
      const refused = openError(yield* succeed(breaker))
      assert.strictEqual(refused.state, "Open")
      assert.strictEqual(Duration.toMillis(refused.retryAfter), 6000)
    }))

  it.scoped("a success resets the consecutive count", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2 })
      yield* fail(breaker)
      yield* succeed(breaker)
      yield* fail(breaker)
      assert.strictEqual((yield* breaker.state)._tag, "Closed")
    }))

  it.scoped("never counts a 429 or a 4xx", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2 })
      for (let i = 0; i < 10; i++) {
        yield* fail(breaker, rateLimited)
        yield* fail(breaker, badRequest)
      }
      yield* fail(breaker, new OpenAiError.EngineOverloaded({ message: "overloaded", status: Option.some(429) }))
      assert.deepStrictEqual(yield* breaker.state, CircuitBreaker.State.Closed({ failures: 0 }))
      yield* fail(breaker, new OpenAiError.TimeoutError({ message: "t", phase: "headers", timeout: Duration.seconds(1) }))
      yield* fail(breaker, new OpenAiError.EngineOverloaded({ message: "overloaded", status: Option.some(503) }))
      assert.strictEqual((yield* breaker.state)._tag, "Open")
    }))

  it.scoped("takes a custom failure predicate", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, isFailure: (e) => e === "down" })
      yield* fail(breaker, "other")
      assert.strictEqual((yield* breaker.state)._tag, "Closed")
      yield* fail(breaker, "down")
      assert.strictEqual((yield* breaker.state)._tag, "Open")
    }))

  it.scoped("open -> half-open on the timer -> closed after the probes succeed", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, openDuration: "5 seconds", halfOpenProbes: 2 })
      yield* fail(breaker)
      yield* TestClock.adjust("5 seconds")
      assert.deepStrictEqual(yield* breaker.state, CircuitBreaker.State.HalfOpen({ trips: 1, probes: 2 }))
      yield* succeed(breaker)
      assert.strictEqual((yield* breaker.state)._tag, "HalfOpen")
      yield* succeed(breaker)
      assert.deepStrictEqual(yield* breaker.state, CircuitBreaker.State.Closed({ failures: 0 }))
    }))

  it.scoped("half-open admits only the probe count; the others are refused", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, openDuration: "1 second" })
      yield* fail(breaker)
      yield* TestClock.adjust("1 second")
      const gate = yield* Deferred.make<void>()
      const probe = yield* Effect.fork(breaker(Deferred.await(gate)))
      yield* Effect.yieldNow()
      const refused = openError(yield* succeed(breaker))
      assert.strictEqual(refused.state, "HalfOpen")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(probe)
      assert.strictEqual((yield* breaker.state)._tag, "Closed")
    }))

  it.scoped("a failed probe re-opens for longer, capped", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        consecutiveFailures: 1,
        openDuration: "1 second",
        backoffFactor: 3,
        maxOpenDuration: "5 seconds"
      })
      yield* fail(breaker)
      const intervals: Array<number> = []
      for (let i = 0; i < 4; i++) {
        const s = yield* breaker.state
        if (s._tag !== "Open") throw new Error(`expected Open, got ${s._tag}`)
        intervals.push(s.retryAt - s.openedAt)
        yield* TestClock.adjust(Duration.millis(s.retryAt - s.openedAt))
        yield* fail(breaker)
      }
      assert.deepStrictEqual(intervals, [1000, 3000, 5000, 5000])
      // A successful probe closes and resets the interval.
      yield* TestClock.adjust("5 seconds")
      yield* succeed(breaker)
      yield* fail(breaker)
      const s = yield* breaker.state
      assert.isTrue(s._tag === "Open" && s.retryAt - s.openedAt === 1000)
    }))

  it.scoped("failure ratio over a sliding window with a minimum of calls", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({
        consecutiveFailures: Infinity,
        failureRatio: { threshold: 0.5, window: "10 seconds", minimumCalls: 4 }
      })
      yield* fail(breaker)
      yield* succeed(breaker)
      yield* fail(breaker)
      // 2 of 3: not enough calls yet.
      assert.strictEqual((yield* breaker.state)._tag, "Closed")
      // The old outcomes leave the window.
      yield* TestClock.adjust("11 seconds")
      yield* succeed(breaker)
      yield* succeed(breaker)
      yield* fail(breaker)
      assert.strictEqual((yield* breaker.state)._tag, "Closed")
      yield* fail(breaker) // 2 of 4 within the window
      assert.strictEqual((yield* breaker.state)._tag, "Open")
    }))

  it.scoped("publishes every change", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, openDuration: "1 second" })
      const seen: Array<string> = []
      yield* breaker.changes.pipe(
        Stream.map((s) => s._tag),
        Stream.changes,
        Stream.runForEach((tag) => Effect.sync(() => seen.push(tag))),
        Effect.forkScoped
      )
      // Wait until the subscriber has the current state.
      while (seen.length === 0) yield* Effect.yieldNow()
      yield* fail(breaker)
      yield* TestClock.adjust("1 second")
      yield* succeed(breaker)
      yield* Effect.yieldNow()
      assert.deepStrictEqual(seen, ["Closed", "Open", "HalfOpen", "Closed"])
    }))

  it.scoped("as HttpClient middleware counts 5xx responses and refuses when open", () =>
    Effect.gen(function*() {
      let sent = 0
      let status = 503
      const base = HttpClient.make((request) =>
        Effect.sync(() => {
          sent++
          return HttpClientResponse.fromWeb(request, new Response("{}", { status }))
        })
      )
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2, openDuration: "2 seconds" })
      const client = base.pipe(CircuitBreaker.middleware(breaker))
      const get = client.execute(HttpClientRequest.get("http://127.0.0.1/v1/models"))
      status = 429
      yield* get
      yield* get
      assert.strictEqual((yield* breaker.state)._tag, "Closed")
      status = 503
      yield* get
      yield* get
      assert.strictEqual((yield* breaker.state)._tag, "Open")
      const exit = yield* Effect.exit(get)
      assert.strictEqual(openError(exit).state, "Open")
      assert.strictEqual(sent, 4)
      yield* TestClock.adjust("2 seconds")
      status = 200
      yield* get
      assert.strictEqual((yield* breaker.state)._tag, "Closed")
    }))

  it.scoped("bad numbers are an InvalidOptions, never the defaults", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(CircuitBreaker.make({ consecutiveFailures: Number.NaN, openDuration: "1 second" }))
      assert.deepStrictEqual([error._tag, error.module, error.field, error.value], [
        "InvalidOptions",
        "CircuitBreaker",
        "consecutiveFailures",
        "NaN"
      ])
      const duration = yield* Effect.flip(CircuitBreaker.make({ openDuration: Number.NaN }))
      assert.strictEqual(duration.field, "openDuration")
    }))
})
