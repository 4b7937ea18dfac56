import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionPlan from "effect/ExecutionPlan"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Bulkhead from "../src/Bulkhead.js"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as Fallback from "../src/Fallback.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as OpenAiError from "../src/OpenAiError.js"
import * as RetryBudget from "../src/RetryBudget.js"
import { MockApi, MockHttpClient } from "../src/testing/index.js"
import { type RecordedSpan, recordingTracer } from "./support/tracer.js"
import { chatRequest, inVirtualTime, mockDeployment, policy, served } from "./support/deployments.js"

const reasons = <E extends { readonly _tag: string }>(route: Fallback.Route<E>) =>
  route.left.map((l) => `${l.deployment}:${l._tag === "Failed" ? l.error._tag : l._tag === "Skipped" ? l.reason : "outrun"}`)

describe("Fallback: moves decided by the typed error", () => {
  it.effect("ServerError: the next deployment, after the deployment's own retries", () =>
    Effect.gen(function*() {
      const a = yield* mockDeployment("a", { mock: { scenario: ["server_error", "server_error"] } })
      const b = yield* mockDeployment("b")
      const plan = yield* Fallback.make([a.deployment, b.deployment])
      const result = yield* inVirtualTime(plan.chat.completions.create(chatRequest))
      assert.strictEqual(result.route.served, "b")
      assert.deepStrictEqual(reasons(result.route), ["a:ServerError"])
      assert.strictEqual(yield* served(a.mock), 2) // one retry there first
      assert.strictEqual(yield* served(b.mock), 1)
      assert.strictEqual(result.data.object, "chat.completion")
    }))

  it.effect("EngineOverloaded: left at once while another deployment can take over; the last one retries", () =>
    Effect.gen(function*() {
      const a = yield* mockDeployment("a", { mock: { scenario: ["engine_overloaded"] } })
      const b = yield* mockDeployment("b", { mock: { scenario: ["engine_overloaded"] } })
      const plan = yield* Fallback.make([a.deployment, b.deployment])
      const result = yield* inVirtualTime(plan.chat.completions.create(chatRequest))
      assert.strictEqual(result.route.served, "b")
      assert.deepStrictEqual(reasons(result.route), ["a:EngineOverloaded"])
      assert.strictEqual(yield* served(a.mock), 1) // no retry on a
      assert.strictEqual(yield* served(b.mock), 2) // b is the last: its policy retried
    }))

  it.effect("ConnectionError and TimeoutError: the next deployment", () =>
    Effect.gen(function*() {
      const a = yield* mockDeployment("a", { mock: { scenario: ["connection_reset", "connection_reset"] } })
      const b = yield* mockDeployment("b", {
        mock: { scenario: ["slow_headers", "slow_headers"], slowHeadersDelay: "1 minute" },
        resilience: { timeout: "1 second" }
      })
      const c = yield* mockDeployment("c")
      const plan = yield* Fallback.make([a.deployment, b.deployment, c.deployment])
      const result = yield* inVirtualTime(plan.chat.completions.create(chatRequest))
      assert.strictEqual(result.route.served, "c")
      assert.deepStrictEqual(reasons(result.route), ["a:ConnectionError", "b:TimeoutError"])
    }))

  it.effect("CircuitOpen: the next deployment, without a request to the open one", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, openDuration: "5 seconds", backoffFactor: 1 })
      const a = yield* mockDeployment("a", { mock: { scenario: ["server_error"] }, resilience: { breaker } })
      const b = yield* mockDeployment("b")
      const plan = yield* Fallback.make([a.deployment, b.deployment])
      // The first failure opens the circuit: the retry finds it open and the call moves on.
      const first = yield* inVirtualTime(plan.chat.completions.create(chatRequest), "1 second")
      assert.deepStrictEqual(reasons(first.route), ["a:CircuitOpen"])
      const second = yield* plan.chat.completions.create(chatRequest)
      assert.deepStrictEqual(reasons(second.route), ["a:CircuitOpen"])
      assert.strictEqual(second.route.served, "b")
      assert.strictEqual(yield* served(a.mock), 1)
      // Once the breaker lets a probe through, the primary serves again.
      yield* TestClock.adjust("5 seconds")
      const third = yield* plan.chat.completions.create(chatRequest)
      assert.strictEqual(third.route.served, "a")
      assert.deepStrictEqual(third.route.left, [])
    }).pipe(Effect.scoped))

  it.effect("BulkheadFull: the next deployment, while the full one keeps its calls", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1 })
      const a = yield* mockDeployment("a", {
        mock: { scenario: ["slow_headers"], slowHeadersDelay: "5 seconds" },
        resilience: { bulkhead }
      })
      const b = yield* mockDeployment("b")
      const plan = yield* Fallback.make([a.deployment, b.deployment])
      const [slow, shed] = yield* inVirtualTime(
        Effect.all([plan.chat.completions.create(chatRequest), plan.chat.completions.create(chatRequest)], {
          concurrency: 2
        }),
        "5 seconds"
      )
      assert.strictEqual(slow.route.served, "a")
      assert.strictEqual(shed.route.served, "b")
      assert.deepStrictEqual(reasons(shed.route), ["a:BulkheadFull"])
    }))

  it.effect("RateLimitReached with a wait above the bound: the next deployment now, without waiting", () =>
    Effect.gen(function*() {
      const a = yield* mockDeployment("a", { mock: { scenario: ["rate_limit_requests"], retryAfter: "30 seconds" } })
      const b = yield* mockDeployment("b")
      const plan = yield* Fallback.make([a.deployment, b.deployment], { maxRateLimitWait: "10 seconds" })
      const result = yield* plan.chat.completions.create(chatRequest) // no clock moved: nothing waited
      assert.strictEqual(result.route.served, "b")
      assert.deepStrictEqual(reasons(result.route), ["a:RateLimitReached"])
      assert.strictEqual(yield* served(a.mock), 1)
    }))

  it.effect("RateLimitReached with a short wait: the deployment waits and serves", () =>
    Effect.gen(function*() {
      const a = yield* mockDeployment("a", { mock: { scenario: ["rate_limit_requests"], retryAfter: "2 seconds" } })
      const b = yield* mockDeployment("b")
      const plan = yield* Fallback.make([a.deployment, b.deployment], { maxRateLimitWait: "10 seconds" })
      const fiber = yield* Effect.fork(plan.chat.completions.create(chatRequest))
      yield* TestClock.adjust("1999 millis")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("1 millis")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.route.served, "a")
      assert.strictEqual(yield* served(b.mock), 0)
    }))

  it.effect("QuotaExceeded: another credential; the spent one is never used again by the plan", () =>
    Effect.gen(function*() {
      const a = yield* mockDeployment("a", { key: "sk-shared-0123456789", mock: { scenario: ["insufficient_quota"] } })
      const sameKey = yield* mockDeployment("a-eu", { key: "sk-shared-0123456789" })
      const c = yield* mockDeployment("c", { key: "sk-other-0123456789" })
      const plan = yield* Fallback.make([a.deployment, sameKey.deployment, c.deployment])
      const first = yield* plan.chat.completions.create(chatRequest)
      assert.strictEqual(first.route.served, "c")
      assert.deepStrictEqual(reasons(first.route), ["a:QuotaExceeded", "a-eu:credential-spent"])
      const second = yield* plan.chat.completions.create(chatRequest)
      assert.deepStrictEqual(reasons(second.route), ["a:credential-spent", "a-eu:credential-spent"])
      assert.strictEqual(yield* served(a.mock), 1)
      assert.strictEqual(yield* served(sameKey.mock), 0)
    }))

  it.effect("QuotaExceeded on every credential: the quota error, even on a later call", () =>
    Effect.gen(function*() {
      const a = yield* mockDeployment("a", { mock: { scenario: ["insufficient_quota"] } })
      const plan = yield* Fallback.make([a.deployment])
      const first = yield* Effect.either(plan.chat.completions.create(chatRequest))
      const second = yield* Effect.either(plan.chat.completions.create(chatRequest))
      assert.isTrue(Either.isLeft(first) && first.left._tag === "QuotaExceeded")
      assert.isTrue(Either.isLeft(second) && second.left._tag === "QuotaExceeded")
      assert.strictEqual(yield* served(a.mock), 1)
    }))

  it.effect("ContextLengthExceeded: the next deployment with a larger context window", () =>
    Effect.gen(function*() {
      const small = yield* mockDeployment("small", { contextWindow: 8_192, mock: { scenario: ["context_length_exceeded"] } })
      const alsoSmall = yield* mockDeployment("also-small", { contextWindow: 8_192 })
      const large = yield* mockDeployment("large", { contextWindow: 128_000 })
      const plan = yield* Fallback.make([small.deployment, alsoSmall.deployment, large.deployment])
      const result = yield* plan.chat.completions.create(chatRequest)
      assert.strictEqual(result.route.served, "large")
      assert.deepStrictEqual(reasons(result.route), ["small:ContextLengthExceeded", "also-small:context-window"])
      assert.strictEqual(yield* served(alsoSmall.mock), 0)
    }))

  it.effect("ContextLengthExceeded with no larger window in the plan: that error", () =>
    Effect.gen(function*() {
      const small = yield* mockDeployment("small", { contextWindow: 8_192, mock: { scenario: ["context_length_exceeded"] } })
      const same = yield* mockDeployment("same", { contextWindow: 8_192 })
      const plan = yield* Fallback.make([small.deployment, same.deployment])
      const error = yield* Effect.flip(plan.chat.completions.create(chatRequest))
      assert.strictEqual(error._tag, "ContextLengthExceeded")
      assert.strictEqual(yield* served(same.mock), 0)
    }))

  it.effect("BadRequest, authentication and permission errors stop the plan", () =>
    Effect.gen(function*() {
      for (const fault of ["bad_request", "incorrect_api_key", "unsupported_region"] as const) {
        const a = yield* mockDeployment("a", { mock: { scenario: [fault] } })
        const b = yield* mockDeployment("b")
        const plan = yield* Fallback.make([a.deployment, b.deployment])
        const error = yield* Effect.flip(plan.chat.completions.create(chatRequest))
        assert.isTrue(OpenAiError.isOpenAiError(error) && !error.retryable, fault)
        assert.strictEqual(yield* served(b.mock), 0, fault)
      }
    }))

  it.effect("stopOn is configurable: [] moves on after an authentication error", () =>
    Effect.gen(function*() {
      const a = yield* mockDeployment("a", { mock: { scenario: ["incorrect_api_key"] } })
      const b = yield* mockDeployment("b")
      const plan = yield* Fallback.make([a.deployment, b.deployment], { stopOn: [] })
      const result = yield* plan.chat.completions.create(chatRequest)
      assert.deepStrictEqual(reasons(result.route), ["a:IncorrectApiKey"])
      assert.strictEqual(result.route.served, "b")
    }))

  it.effect("every deployment down: the last error, unchanged", () =>
    Effect.gen(function*() {
      const a = yield* mockDeployment("a", { mock: { faultRates: { server_error: 1 } } })
      const b = yield* mockDeployment("b", { mock: { faultRates: { html_502: 1 } } })
      const plan = yield* Fallback.make([a.deployment, b.deployment])
      const error = yield* Effect.flip(inVirtualTime(plan.chat.completions.create(chatRequest)))
      // b's 502 page, not a's 500: the error that ended the plan.
      assert.isTrue(OpenAiError.isOpenAiError(error) && Option.contains(error.status, 502))
    }))

  it.effect("unreadable durations in the options read as the defaults instead of crashing", () =>
    Effect.gen(function*() {
      const a = yield* mockDeployment("a", { mock: { scenario: ["rate_limit_requests"], retryAfter: "30 seconds" } })
      const b = yield* mockDeployment("b")
      const plan = yield* Fallback.make([a.deployment, b.deployment], {
        maxRateLimitWait: "soon" as Duration.DurationInput, // the default 10 s: 30 s moves on
        quotaCooldown: -1,
        hedge: { after: "whenever" as Duration.DurationInput, initialDelay: Number.NaN }
      })
      const result = yield* plan.chat.completions.create(chatRequest)
      assert.strictEqual(result.route.served, "b")
    }))

  it.effect("the model sent is the deployment's", () =>
    Effect.gen(function*() {
      const a = yield* mockDeployment("a", { model: "gpt-4.1", mock: { scenario: ["server_error", "server_error"] } })
      const b = yield* mockDeployment("b", { model: "llama-3.1-70b" })
      const plan = yield* Fallback.make([a.deployment, b.deployment])
      const result = yield* inVirtualTime(plan.chat.completions.create(chatRequest))
      assert.strictEqual(result.data.model, "llama-3.1-70b")
    }))

  it.effect("every move is a span event of the call", () =>
    Effect.gen(function*() {
      const spans: Array<RecordedSpan> = []
      const tracer = recordingTracer(spans)
      const a = yield* mockDeployment("a", { mock: { scenario: ["engine_overloaded"] } })
      const b = yield* mockDeployment("b")
      const plan = yield* Fallback.make([a.deployment, b.deployment])
      yield* plan.chat.completions.create(chatRequest).pipe(Effect.withTracer(tracer))
      const events = spans.flatMap((span) =>
        span.events.map(([event, attributes]) =>
          [span.name, event, attributes?.["deployment"], attributes?.["reason"]].filter((x) => x !== undefined).join(" ")
        )
      )
      assert.deepStrictEqual(events.filter((e) => e.startsWith("Fallback.run fallback.")), [
        "Fallback.run fallback.left a EngineOverloaded",
        "Fallback.run fallback.served b"
      ])
    }))
})

describe("Fallback: streams", () => {
  it.effect("fall back before the first element", () =>
    Effect.gen(function*() {
      const a = yield* mockDeployment("a", { mock: { scenario: ["server_error", "server_error"] } })
      const b = yield* mockDeployment("b")
      const plan = yield* Fallback.make([a.deployment, b.deployment])
      const chunks = yield* inVirtualTime(Stream.runCollect(plan.chat.completions.stream(chatRequest)))
      assert.isAbove(Chunk.size(chunks), 1)
      assert.strictEqual(yield* served(b.mock), 1)
      const opened = yield* inVirtualTime(Effect.scoped(Effect.flatMap(
        plan.chat.completions.open(chatRequest),
        (d) => Effect.as(Stream.runDrain(d.data), d.route)
      )))
      assert.strictEqual(opened.served, "a") // the scenario is used up: a serves again
    }))

  it.effect("never after: a stream cut after its first element fails, and no other deployment is asked", () =>
    Effect.gen(function*() {
      const a = yield* mockDeployment("a", { mock: { scenario: ["stream_cut"] } })
      const b = yield* mockDeployment("b")
      const plan = yield* Fallback.make([a.deployment, b.deployment])
      const received: Array<unknown> = []
      const error = yield* Effect.flip(inVirtualTime(
        Stream.runForEach(plan.chat.completions.stream(chatRequest), (c) => Effect.sync(() => received.push(c)))
      ))
      assert.isAbove(received.length, 0)
      assert.strictEqual(error._tag, "ConnectionError")
      assert.strictEqual(yield* served(b.mock), 0)
    }))
})

describe("Fallback: hedging", () => {
  it.effect("after a fixed delay the next deployment is asked too; the first success wins, the other is interrupted", () =>
    Effect.gen(function*() {
      const a = yield* mockDeployment("a", { mock: { scenario: ["slow_headers"], slowHeadersDelay: "30 seconds" } })
      const b = yield* mockDeployment("b")
      const plan = yield* Fallback.make([a.deployment, b.deployment], { hedge: { after: "2 seconds" } })
      const fiber = yield* Effect.fork(plan.chat.completions.create(chatRequest))
      yield* TestClock.adjust("1999 millis")
      assert.strictEqual(yield* served(b.mock), 0)
      yield* TestClock.adjust("1 millis")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.route.served, "b")
      assert.isTrue(result.route.hedged)
      assert.deepStrictEqual(reasons(result.route), ["a:outrun"])
    }))

  it.effect("a hedged stream: the first to deliver a chunk wins, the slow one is closed", () =>
    Effect.gen(function*() {
      const a = yield* mockDeployment("a", { mock: { scenario: ["slow_headers"], slowHeadersDelay: "30 seconds" } })
      const b = yield* mockDeployment("b")
      const plan = yield* Fallback.make([a.deployment, b.deployment], { hedge: { after: "1 second" } })
      const route = yield* inVirtualTime(
        Effect.scoped(Effect.flatMap(plan.chat.completions.open(chatRequest), (d) =>
          Effect.as(Stream.runDrain(d.data), d.route))),
        "2 seconds"
      )
      assert.strictEqual(route.served, "b")
      assert.deepStrictEqual(reasons(route), ["a:outrun"])
    }))

  it.effect("a fast primary sends no hedge", () =>
    Effect.gen(function*() {
      const a = yield* mockDeployment("a")
      const b = yield* mockDeployment("b")
      const plan = yield* Fallback.make([a.deployment, b.deployment], { hedge: { after: "2 seconds" } })
      const result = yield* plan.chat.completions.create(chatRequest)
      assert.isFalse(result.route.hedged)
      assert.strictEqual(yield* served(b.mock), 0)
    }))

  it.effect("the primary winning interrupts the hedge", () =>
    Effect.gen(function*() {
      const a = yield* mockDeployment("a", { mock: { scenario: ["slow_headers"], slowHeadersDelay: "3 seconds" } })
      const b = yield* mockDeployment("b", { mock: { scenario: ["slow_headers"], slowHeadersDelay: "10 seconds" } })
      const plan = yield* Fallback.make([a.deployment, b.deployment], { hedge: { after: "1 second" } })
      const result = yield* inVirtualTime(plan.chat.completions.create(chatRequest), "3 seconds")
      assert.strictEqual(result.route.served, "a")
      assert.deepStrictEqual(reasons(result.route), ["b:outrun"])
    }))

  it.effect("a primary failing during the hedge leaves the call to the hedge", () =>
    Effect.gen(function*() {
      const a = yield* mockDeployment("a", {
        mock: { scenario: ["slow_headers"], slowHeadersDelay: "10 seconds" },
        resilience: { timeout: "3 seconds", retryPolicy: undefined }
      })
      const b = yield* mockDeployment("b", { mock: { scenario: ["slow_headers"], slowHeadersDelay: "5 seconds" } })
      const plan = yield* Fallback.make([a.deployment, b.deployment], { hedge: { after: "1 second" }, leaveAtOnce: ["TimeoutError"] })
      const result = yield* inVirtualTime(plan.chat.completions.create(chatRequest), "6 seconds")
      assert.strictEqual(result.route.served, "b")
      assert.deepStrictEqual(reasons(result.route), ["a:TimeoutError"])
    }))

  it.effect("after the observed p95 once enough calls were seen", () =>
    Effect.gen(function*() {
      const a = yield* mockDeployment("a", {
        mock: { scenario: [...Array.from({ length: 20 }, () => "ok" as const), "slow_headers"], slowHeadersDelay: "30 seconds" }
      })
      const b = yield* mockDeployment("b")
      const plan = yield* Fallback.make([a.deployment, b.deployment], {
        hedge: { after: "p95", initialDelay: "5 seconds", minSamples: 20 }
      })
      for (let i = 0; i < 20; i++) yield* plan.chat.completions.create(chatRequest) // 0 ms each
      const fiber = yield* Effect.fork(plan.chat.completions.create(chatRequest))
      yield* TestClock.adjust("1 millis") // far below the initial 5 s
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.route.served, "b")
    }))

  it.effect("an empty retry budget sends no hedge", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make({ capacity: 0 })
      const a = yield* mockDeployment("a", { mock: { scenario: ["slow_headers"], slowHeadersDelay: "3 seconds" } })
      const b = yield* mockDeployment("b")
      const plan = yield* Fallback.make([a.deployment, b.deployment], { hedge: { after: "1 second", budget } })
      const result = yield* inVirtualTime(plan.chat.completions.create(chatRequest), "3 seconds")
      assert.strictEqual(result.route.served, "a")
      assert.isFalse(result.route.hedged)
      assert.strictEqual(yield* served(b.mock), 0)
    }))

  it.effect("a full hedge bulkhead sends no hedge", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1 })
      const a = yield* mockDeployment("a", { mock: { faultRates: { slow_headers: 1 }, slowHeadersDelay: "3 seconds" } })
      const b = yield* mockDeployment("b", { mock: { faultRates: { slow_headers: 1 }, slowHeadersDelay: "10 seconds" } })
      const plan = yield* Fallback.make([a.deployment, b.deployment], { hedge: { after: "1 second", bulkhead } })
      const both = yield* inVirtualTime(
        Effect.all([plan.chat.completions.create(chatRequest), plan.chat.completions.create(chatRequest)], {
          concurrency: 2
        }),
        "3 seconds"
      )
      assert.deepStrictEqual(both.map((r) => r.route.hedged).sort(), [false, true])
      assert.strictEqual(yield* served(b.mock), 1)
    }))
})

describe("Fallback: a primary outage", () => {
  it.effect("served by the secondary while the primary is down, back on the primary once it recovers", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 3, openDuration: "5 seconds", backoffFactor: 1 })
      // Down for the first 40 requests that reach it.
      const a = yield* mockDeployment("a", {
        mock: { scenario: Array.from({ length: 8 }, () => "server_error" as const) },
        resilience: { breaker }
      })
      const b = yield* mockDeployment("b")
      const plan = yield* Fallback.make([a.deployment, b.deployment])
      const servedBy: Array<string> = []
      for (let second = 0; second < 60; second++) {
        const result = yield* inVirtualTime(plan.chat.completions.create(chatRequest), "1 second")
        servedBy.push(result.route.served)
      }
      assert.isTrue(servedBy.every((s) => s === "a" || s === "b"))
      assert.strictEqual(servedBy[0], "b")
      assert.strictEqual(servedBy[servedBy.length - 1], "a")
      // The open circuit keeps requests off the primary: far fewer than one per call reach it.
      assert.isBelow(yield* served(a.mock), 60)
    }).pipe(Effect.scoped))
})

describe("Fallback.whileMoveOn: the same rule for an effect ExecutionPlan", () => {
  const layerOver = (options: MockApi.MockOptions) =>
    Effect.gen(function*() {
      const mock = yield* MockApi.make(options)
      const client = yield* MockHttpClient.make.pipe(Effect.provideService(MockApi.MockApi, mock))
      const layer = OpenAiClient.layer({
        apiKey: Redacted.make("sk-plan-0123456789"),
        baseUrl: MockHttpClient.baseUrl,
        resilience: { retryPolicy: policy }
      }).pipe(Layer.provide(Layer.succeed(HttpClient.HttpClient, client)))
      return { layer, mock }
    })
  const chat = Effect.flatMap(OpenAiClient.OpenAiClient, (openai) => openai.chat.completions.create(chatRequest))

  it.effect("the next step after a ServerError, none after a BadRequest", () =>
    Effect.gen(function*() {
      for (const [fault, expected] of [["server_error", 1], ["bad_request", 0]] as const) {
        const a = yield* layerOver({ scenario: [fault, fault] })
        const b = yield* layerOver({})
        const plan = ExecutionPlan.make({ provide: a.layer }, { provide: b.layer, while: Fallback.whileMoveOn() })
        yield* Effect.either(inVirtualTime(Effect.withExecutionPlan(chat, plan)))
        assert.strictEqual(yield* served(b.mock), expected, fault)
      }
    }))
})
