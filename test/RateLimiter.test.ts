import { HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Either, Fiber, Metric, Option, Redacted, TestClock } from "effect"
import * as OpenAiError from "../src/OpenAiError.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as RateLimitHeaders from "../src/RateLimitHeaders.js"
import { MockApi, MockHttpClient } from "../src/testing/index.js"
import * as TokenEstimate from "../src/TokenEstimate.js"
import * as errors from "./support/errors.js"

const make = (options: RateLimiter.Options = {}) =>
  RateLimiter.make(options).pipe(Effect.provide(RateLimiter.layerStoreMemory))

/** Whether an acquire forked now is still waiting after `millis` of virtual time. */
const grantedAfter = (limiter: RateLimiter.Service, demand: RateLimiter.Demand) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(limiter.acquire(demand))
    yield* Effect.yieldNow()
    return fiber
  })

/** Whether a fiber is done once everything runnable has run (no time passes meanwhile). */
const isDone = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
  Effect.map(Effect.zipRight(Effect.repeatN(Effect.yieldNow(), 9), Fiber.poll(fiber)), Option.isSome)

const headers = (h: Record<string, string>) => RateLimitHeaders.fromHeaders(h)

/** A chat request to the scripted mock of `chars` prompt characters. */
const chatOf = (chars: number, maxTokens: number) =>
  HttpClientRequest.post(`${MockHttpClient.baseUrl}/chat/completions`).pipe(
    HttpClientRequest.bearerToken("sk-test-key"),
    HttpClientRequest.bodyUnsafeJson({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "x".repeat(chars) }],
      max_tokens: maxTokens
    })
  )

/** A store whose every operation fails. */
const down = () => Effect.fail(new RateLimiter.RateLimiterStoreError({ message: "down" }))
const brokenStore: RateLimiter.Store = {
  reserve: down,
  release: down,
  pause: down,
  adjust: down,
  snapshot: down,
  watch: () => Effect.succeed(Effect.never)
}

const outcome = (h: Record<string, string>, status = 200): RateLimiter.Outcome => ({
  status: Option.some(status),
  rateLimit: headers(h),
  rateLimited: false,
  retryAfter: Option.none()
})

describe("TokenEstimate", () => {
  it("counts chat messages as chars/4 + 4 each, 3 for priming, plus max_tokens times n", () => {
    const e = TokenEstimate.fromBody({
      model: "m",
      messages: [{ role: "system", content: "12345678" }, { role: "user", content: [{ type: "text", text: "1234" }] }],
      max_tokens: 100,
      n: 2
    })
    assert.deepStrictEqual(e, { prompt: 3 + (4 + 2) + (4 + 1), completion: 200, total: 214 })
  })

  it("prefers max_completion_tokens, falls back to the default allowance", () => {
    assert.strictEqual(TokenEstimate.fromBody({ messages: [], max_completion_tokens: 7, max_tokens: 100 }).completion, 7)
    assert.strictEqual(TokenEstimate.fromBody({ messages: [] }).completion, TokenEstimate.DEFAULT_COMPLETION_TOKENS)
    assert.strictEqual(TokenEstimate.fromBody({ messages: [] }, { defaultCompletionTokens: 5 }).completion, 5)
  })

  it("counts embeddings inputs without a completion, and garbage as zero", () => {
    assert.deepStrictEqual(TokenEstimate.fromBody({ input: ["12345", "1"] }, { path: "/v1/embeddings" }), {
      prompt: 3,
      completion: 0,
      total: 3
    })
    assert.strictEqual(TokenEstimate.fromBody("nope").total, 0)
    assert.strictEqual(TokenEstimate.fromBody(null).total, 0)
    assert.strictEqual(TokenEstimate.fromBody({ messages: "x", max_tokens: -1 }).total, 0)
  })

  it("agrees with the mock server's estimate", () => {
    const body = {
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "x".repeat(1234) }, { role: "assistant", content: "y".repeat(77) }],
      max_tokens: 321
    }
    assert.strictEqual(TokenEstimate.fromBody(body).total, MockApi.estimateTokens("/v1/chat/completions", body))
    const responses = { model: "gpt-4o-mini", input: "z".repeat(99), instructions: "be brief", max_output_tokens: 10 }
    assert.strictEqual(
      TokenEstimate.fromBody(responses, { path: "/v1/responses" }).total,
      MockApi.estimateTokens("/v1/responses", responses)
    )
  })

  it("reads an HttpClientRequest's JSON body", () => {
    const request = HttpClientRequest.post("https://api.openai.com/v1/chat/completions").pipe(
      HttpClientRequest.bodyUnsafeJson({ model: "m", messages: [{ role: "user", content: "Hi" }], max_tokens: 16 })
    )
    assert.strictEqual(TokenEstimate.fromRequest(request).total, 3 + 5 + 16)
    assert.strictEqual(TokenEstimate.fromRequest(HttpClientRequest.get("https://x/v1/models")).total, 0)
  })
})

describe("RateLimiter keys", () => {
  it("hashes the API key and never keeps it", () => {
    const key = RateLimiter.keyFor({ apiKey: Redacted.make("sk-secret-123"), model: "gpt-4o" })
    assert.isFalse(key.includes("sk-secret"))
    assert.match(key, /^[0-9a-f]{16}:gpt-4o$/)
    assert.notStrictEqual(key, RateLimiter.keyFor({ apiKey: "sk-other", model: "gpt-4o" }))
    assert.notStrictEqual(key, RateLimiter.keyFor({ apiKey: "sk-secret-123", model: "gpt-4o-mini" }))
    assert.strictEqual(RateLimiter.keyFor({}), "anonymous:*")
  })

  it("reads the bearer token, organization and model of a request", () => {
    const request = HttpClientRequest.post("https://api.openai.com/v1/chat/completions").pipe(
      HttpClientRequest.bearerToken("sk-secret-123"),
      HttpClientRequest.bodyUnsafeJson({ model: "gpt-4o", messages: [] })
    )
    assert.strictEqual(
      RateLimiter.keyOfRequest(request),
      RateLimiter.keyFor({ apiKey: "sk-secret-123", model: "gpt-4o" })
    )
    assert.notStrictEqual(
      RateLimiter.keyOfRequest(request.pipe(HttpClientRequest.setHeader("OpenAI-Organization", "org-2"))),
      RateLimiter.keyOfRequest(request)
    )
  })
})

describe("RateLimiter", () => {
  it.effect("paces requests per minute", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ requestsPerMinute: 2 })
      const demand = { key: "k", tokens: 0 }
      yield* limiter.acquire(demand)
      yield* limiter.acquire(demand)
      const third = yield* grantedAfter(limiter, demand)
      assert.isFalse(yield* isDone(third))
      yield* TestClock.adjust("29 seconds")
      assert.isFalse(yield* isDone(third))
      yield* TestClock.adjust("1 second")
      assert.isTrue(yield* isDone(third))
      assert.strictEqual(Duration.toMillis((yield* Fiber.join(third)).waited), 30_000)
    }))

  it.effect("paces tokens per minute, and both dimensions at once", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ requestsPerMinute: 600, tokensPerMinute: 600 })
      yield* limiter.acquire({ key: "k", tokens: 300 })
      yield* limiter.acquire({ key: "k", tokens: 300 })
      // The requests bucket has room; the tokens bucket needs 300 tokens at 10/s.
      const third = yield* grantedAfter(limiter, { key: "k", tokens: 300 })
      yield* TestClock.adjust("29 seconds")
      assert.isFalse(yield* isDone(third))
      yield* TestClock.adjust("1 second")
      assert.isTrue(yield* isDone(third))
      // Another key has its own buckets.
      const other = yield* grantedAfter(limiter, { key: "other", tokens: 600 })
      assert.isTrue(yield* isDone(other))
    }))

  it.effect("queues first-in first-out per key", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ requestsPerMinute: 60 })
      const order: Array<number> = []
      // Empty the bucket (it holds a minute's worth).
      for (let i = 0; i < 60; i++) yield* limiter.acquire({ key: "k", tokens: 0 })
      const fibers = []
      for (let i = 1; i <= 3; i++) {
        fibers.push(yield* Effect.fork(Effect.tap(limiter.acquire({ key: "k", tokens: 0 }), () => Effect.sync(() => order.push(i)))))
        yield* Effect.yieldNow()
      }
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(order, [1])
      yield* TestClock.adjust("2 seconds")
      for (const f of fibers) yield* Fiber.join(f)
      assert.deepStrictEqual(order, [1, 2, 3])
    }))

  it.effect("a limit that is not a positive number is an InvalidOptions, not a limit to learn", () =>
    Effect.gen(function*() {
      for (const [options, field] of [
        [{ requestsPerMinute: Number.NaN }, "requestsPerMinute"],
        [{ tokensPerMinute: -5 }, "tokensPerMinute"],
        [{ burst: Number.NaN }, "burst"],
        [{ headroom: 1 }, "headroom"]
      ] as const) {
        const error = yield* Effect.flip(make(options))
        assert.deepStrictEqual([error._tag, error.module, error.field], ["InvalidOptions", "RateLimiter", field])
      }
    }))

  it.effect("a request above the usable burst but within the limit waits for a full bucket, not forever", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ tokensPerMinute: 1000, burst: 0.5 })
      yield* limiter.acquire({ key: "k", tokens: 250 })
      const big = yield* grantedAfter(limiter, { key: "k", tokens: 900 })
      yield* TestClock.adjust("14 seconds")
      assert.isFalse(yield* isDone(big))
      yield* TestClock.adjust("1 seconds")
      assert.isTrue(yield* isDone(big))
    }))

  it.effect("pauses the key after a 429 until the server's hint, for every waiter", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ requestsPerMinute: 6000 })
      const permit = yield* limiter.acquire({ key: "k", tokens: 0 })
      yield* limiter.release(permit, {
        status: Option.some(429),
        rateLimit: Option.none(),
        rateLimited: true,
        retryAfter: Option.some(Duration.seconds(5))
      })
      const waiters = []
      for (let i = 0; i < 5; i++) waiters.push(yield* grantedAfter(limiter, { key: "k", tokens: 0 }))
      yield* TestClock.adjust("4999 millis")
      for (const w of waiters) assert.isFalse(yield* isDone(w))
      yield* TestClock.adjust("1 millis")
      for (const w of waiters) assert.isTrue(yield* isDone(w))
      assert.isTrue(Duration.isZero(Option.getOrThrow(yield* limiter.snapshot("k")).pausedFor))
    }))

  it.effect("a typed RateLimitReached pauses the key; a 429 without a hint pauses the default", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ defaultPause: "2 seconds", maxPause: "10 seconds" })
      const error = (retryAfter: Option.Option<Duration.Duration>) => errors.rateLimited({ retryAfter })
      yield* Effect.exit(limiter.limit({ key: "k", tokens: 0 })(Effect.fail(error(Option.some(Duration.minutes(5))))))
      // Capped at maxPause.
      assert.strictEqual(Duration.toMillis(Option.getOrThrow(yield* limiter.snapshot("k")).pausedFor), 10_000)
      yield* TestClock.adjust("10 seconds")
      yield* Effect.exit(limiter.limit({ key: "k", tokens: 0 })(Effect.fail(error(Option.none()))))
      assert.strictEqual(Duration.toMillis(Option.getOrThrow(yield* limiter.snapshot("k")).pausedFor), 2_000)
      // Other errors pause nothing.
      yield* TestClock.adjust("2 seconds")
      yield* Effect.exit(limiter.limit({ key: "k", tokens: 0 })(Effect.fail(new OpenAiError.ServerError({ message: "x" }))))
      assert.isTrue(Duration.isZero(Option.getOrThrow(yield* limiter.snapshot("k")).pausedFor))
    }))

  it.effect("learns the limits from the headers, one probe request first", () =>
    Effect.gen(function*() {
      const limiter = yield* make()
      const probe = yield* limiter.acquire({ key: "k", tokens: 100 })
      // Until the probe's response, the limits are unknown: the next request waits for it.
      const second = yield* grantedAfter(limiter, { key: "k", tokens: 100 })
      yield* TestClock.adjust("10 seconds")
      assert.isFalse(yield* isDone(second))
      yield* limiter.release(probe, outcome({
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-requests": "59",
        "x-ratelimit-remaining-tokens": "200"
      }))
      const snapshot = Option.getOrThrow(yield* limiter.snapshot("k"))
      assert.deepStrictEqual(snapshot.limitRequests, Option.some(60))
      assert.deepStrictEqual(snapshot.limitTokens, Option.some(1000))
      // The server had 200 tokens left when it counted (up to a second after sending) and has
      // refilled 150 since: the second fits at once.
      assert.isTrue(yield* isDone(second))
      // A third of 400 tokens needs 400 - 250 = 150 more: 9 s.
      const third = yield* grantedAfter(limiter, { key: "k", tokens: 400 })
      yield* TestClock.adjust("7 seconds")
      assert.isFalse(yield* isDone(third))
      yield* TestClock.adjust("2 seconds")
      assert.isTrue(yield* isDone(third))
    }))

  it.effect("without headers from the server it stops probing and lets requests through", () =>
    Effect.gen(function*() {
      const limiter = yield* make()
      const probe = yield* limiter.acquire({ key: "k", tokens: 100 })
      const second = yield* grantedAfter(limiter, { key: "k", tokens: 100 })
      assert.isFalse(yield* isDone(second))
      yield* limiter.release(probe, outcome({}))
      assert.isTrue(yield* isDone(second))
      yield* limiter.acquire({ key: "k", tokens: 100 })
    }))

  it.effect("limit around an effect: without limits it paces nothing after the first answer", () =>
    Effect.gen(function*() {
      const limiter = yield* make()
      let running = 0
      let peak = 0
      const call = Effect.gen(function*() {
        running++
        peak = Math.max(peak, running)
        yield* Effect.sleep("1 second")
        running--
      }).pipe(limiter.limit({ key: "k", tokens: 10 }))
      const first = yield* Effect.fork(call)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(first)
      const fiber = yield* Effect.fork(Effect.all([call, call, call], { concurrency: "unbounded" }))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      assert.strictEqual(peak, 3)
    }))

  it.effect("fixed limits are not overridden by the headers, but the remaining values correct the buckets", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ tokensPerMinute: 6000 })
      const permit = yield* limiter.acquire({ key: "k", tokens: 100 })
      // Another client used the key: the server has only 100 tokens left.
      yield* limiter.release(permit, outcome({
        "x-ratelimit-limit-requests": "600",
        "x-ratelimit-limit-tokens": "999999",
        "x-ratelimit-remaining-tokens": "100"
      }))
      const snapshot = Option.getOrThrow(yield* limiter.snapshot("k"))
      assert.deepStrictEqual(snapshot.limitTokens, Option.some(6000))
      // The limit not fixed by the options is learned.
      assert.deepStrictEqual(snapshot.limitRequests, Option.some(600))
      assert.deepStrictEqual(snapshot.remainingTokens, Option.some(100))
      const next = yield* grantedAfter(limiter, { key: "k", tokens: 200 })
      yield* TestClock.adjust("999 millis")
      assert.isFalse(yield* isDone(next))
      yield* TestClock.adjust("1 millis")
      assert.isTrue(yield* isDone(next))
    }))

  it.effect("headers of an older response do not undo a newer one; unseen requests stay counted", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ tokensPerMinute: 6000 })
      const first = yield* limiter.acquire({ key: "k", tokens: 1000 })
      const second = yield* limiter.acquire({ key: "k", tokens: 1000 })
      // The first response was counted before the second arrived: 5000 left then, 4000 now.
      yield* limiter.release(first, outcome({ "x-ratelimit-remaining-tokens": "5000" }))
      assert.deepStrictEqual(Option.getOrThrow(yield* limiter.snapshot("k")).remainingTokens, Option.some(4000))
      yield* limiter.release(second, outcome({ "x-ratelimit-remaining-tokens": "3000" }))
      assert.deepStrictEqual(Option.getOrThrow(yield* limiter.snapshot("k")).remainingTokens, Option.some(3000))
      const third = yield* limiter.acquire({ key: "k", tokens: 500 })
      const fourth = yield* limiter.acquire({ key: "k", tokens: 500 })
      yield* limiter.release(fourth, outcome({ "x-ratelimit-remaining-tokens": "2000" }))
      // Stale: the third's headers are older than the fourth's.
      yield* limiter.release(third, outcome({ "x-ratelimit-remaining-tokens": "5900" }))
      assert.deepStrictEqual(Option.getOrThrow(yield* limiter.snapshot("k")).remainingTokens, Option.some(2000))
    }))

  it.effect("learns from a tokens 429 how the server counts against its estimates", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ tokensPerMinute: 6000 })
      const permit = yield* limiter.acquire({ key: "k", tokens: 300 })
      // The server says the request needed 400, not 300: later estimates are scaled by 4/3.
      yield* limiter.release(permit, {
        status: Option.some(429),
        rateLimit: headers({ "x-ratelimit-remaining-tokens": "0" }),
        rateLimited: true,
        retryAfter: Option.some(Duration.millis(1)),
        requestedTokens: Option.some(400)
      })
      const snapshot = Option.getOrThrow(yield* limiter.snapshot("k"))
      assert.closeTo(snapshot.tokenScale, 4 / 3, 1e-9)
      // The bucket is empty: an estimate of 300 now needs 400 tokens, 4 s at 100/s.
      const next = yield* grantedAfter(limiter, { key: "k", tokens: 300 })
      yield* TestClock.adjust("3999 millis")
      assert.isFalse(yield* isDone(next))
      yield* TestClock.adjust("1 millis")
      assert.isTrue(yield* isDone(next))
      // A typed error carries it too.
      const outcome = RateLimiter.outcomeOfError(new OpenAiError.RateLimitReached({
        message: "Rate limit reached ... Requested 42288.",
        scope: "tokens",
        limit: Option.some(200000),
        used: Option.some(162960),
        requested: Option.some(42288)
      }))
      assert.deepStrictEqual(outcome.requestedTokens, Option.some(42288))
    }))

  it.effect("adjust charges or gives back tokens", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ tokensPerMinute: 6000 })
      yield* limiter.acquire({ key: "k", tokens: 3000 })
      yield* limiter.adjust("k", -1000)
      assert.deepStrictEqual(Option.getOrThrow(yield* limiter.snapshot("k")).remainingTokens, Option.some(4000))
      yield* limiter.adjust("k", -9000)
      assert.deepStrictEqual(Option.getOrThrow(yield* limiter.snapshot("k")).remainingTokens, Option.some(6000))
      yield* limiter.adjust("k", 500)
      assert.deepStrictEqual(Option.getOrThrow(yield* limiter.snapshot("k")).remainingTokens, Option.some(5500))
    }))

  it.effect("a request that can never fit the tokens limit fails at once, unsent and uncharged", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ tokensPerMinute: 30_000 })
      for (const tokens of [1_000_000, 10_000_000, Infinity]) {
        const result = yield* Effect.either(limiter.acquire({ key: "k:gpt-4o-mini", tokens }))
        assert.isTrue(Either.isLeft(result))
        if (Either.isLeft(result)) {
          assert.strictEqual(result.left._tag, "RequestTooLarge")
          assert.deepStrictEqual(result.left.limit, Option.some(30_000))
          assert.isFalse(result.left.retryable)
          assert.include(result.left.message, "gpt-4o-mini")
        }
      }
      // Nothing was charged: a request of the whole limit goes at once.
      const permit = yield* limiter.acquire({ key: "k:gpt-4o-mini", tokens: 30_000 })
      assert.strictEqual(Duration.toMillis(permit.waited), 0)
      // Around an effect, the effect never runs.
      let ran = false
      const limited = yield* Effect.either(
        limiter.limit({ key: "k2", tokens: 40_000 })(Effect.sync(() => { ran = true }))
      )
      assert.isTrue(Either.isLeft(limited) && limited.left._tag === "RequestTooLarge")
      assert.isFalse(ran)
    }))

  it.effect("a request too large for a learned limit fails too, and the middleware never sends it", () =>
    Effect.gen(function*() {
      const limiter = yield* make()
      const mock = yield* MockApi.MockApi
      const client = (yield* HttpClient.HttpClient).pipe(RateLimiter.middleware(limiter))
      const send = (chars: number) => client.execute(chatOf(chars, 10))
      assert.strictEqual((yield* send(40)).status, 200)
      const huge = yield* Effect.either(send(4 * 2_000))
      assert.isTrue(Either.isLeft(huge) && huge.left._tag === "RequestTooLarge")
      assert.strictEqual((yield* mock.log).length, 1)
    }).pipe(Effect.provide(MockHttpClient.layer({ rpm: 100, tpm: 1_000 }))))

  it.effect("a failing store: the limiter paces locally, warns once and counts the failures", () =>
    Effect.gen(function*() {
      const before = (yield* Metric.value(RateLimiter.storeFailures)).count
      const limiter = yield* RateLimiter.make({ requestsPerMinute: 1 }).pipe(
        Effect.provideService(RateLimiter.RateLimiterStore, brokenStore)
      )
      yield* limiter.acquire({ key: "k", tokens: 0 })
      // The local fallback holds the limit: the second request waits its minute.
      const second = yield* grantedAfter(limiter, { key: "k", tokens: 0 })
      yield* TestClock.adjust("59 seconds")
      assert.isFalse(yield* isDone(second))
      yield* TestClock.adjust("1 second")
      assert.isTrue(yield* isDone(second))
      assert.isTrue(Option.isSome(yield* limiter.snapshot("k")))
      assert.isAtLeast((yield* Metric.value(RateLimiter.storeFailures)).count - before, 1)
    }))

  it.effect("a failing store under onStoreFailure \"fail\": a typed RateLimiterStoreError", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ requestsPerMinute: 1, onStoreFailure: "fail" }).pipe(
        Effect.provideService(RateLimiter.RateLimiterStore, brokenStore)
      )
      const result = yield* Effect.either(limiter.acquire({ key: "k", tokens: 0 }))
      assert.isTrue(Either.isLeft(result) && result.left._tag === "RateLimiterStoreError")
    }))

  it.effect("a slow store counts as failed after storeTimeout", () =>
    Effect.gen(function*() {
      const memory = yield* RateLimiter.makeStoreMemory
      const slow: RateLimiter.Store = { ...memory, reserve: () => Effect.never }
      const limiter = yield* RateLimiter.make({ requestsPerMinute: 60, storeTimeout: "200 millis" }).pipe(
        Effect.provideService(RateLimiter.RateLimiterStore, slow)
      )
      const first = yield* grantedAfter(limiter, { key: "k", tokens: 0 })
      yield* TestClock.adjust("199 millis")
      assert.isFalse(yield* isDone(first))
      yield* TestClock.adjust("1 millis")
      assert.isTrue(yield* isDone(first))
      assert.isTrue((yield* Fiber.join(first)).local)
    }))

  it.effect("as HttpClient middleware against the mock's limits: no 429 at all", () =>
    Effect.gen(function*() {
      const limiter = yield* make()
      const mock = yield* MockApi.MockApi
      const client = (yield* HttpClient.HttpClient).pipe(RateLimiter.middleware(limiter))
      const send = (i: number) => client.execute(chatOf(400 + 40 * i, 100))
      const all = yield* Effect.fork(Effect.all(Array.from({ length: 30 }, (_, i) => send(i)), { concurrency: 10 }))
      yield* TestClock.adjust("5 minutes")
      const responses = yield* Fiber.join(all)
      assert.isTrue(responses.every((r) => r.status === 200))
      const log = yield* mock.log
      assert.strictEqual(log.length, 30)
      assert.isTrue(log.every((e) => Option.isNone(e.rateLimited)))
      // 30 requests at 10 per minute: the last can start no earlier than 2 minutes in (the
      // bucket holds 10), and pacing should not be much slower than that.
      const last = log.reduce((m, e) => Math.max(m, e.at), 0)
      assert.isAtLeast(last, 120_000)
      assert.isAtMost(last, 125_000)
    }).pipe(Effect.provide(MockHttpClient.layer({ rpm: 10, tpm: 100_000 }))))

  it.effect("as HttpClient middleware: a 429 from the server pauses the key", () =>
    Effect.gen(function*() {
      const limiter = yield* make()
      const mock = yield* MockApi.MockApi
      const client = (yield* HttpClient.HttpClient).pipe(RateLimiter.middleware(limiter))
      const request = HttpClientRequest.post(`${MockHttpClient.baseUrl}/chat/completions`).pipe(
        HttpClientRequest.bearerToken("sk-test-key"),
        HttpClientRequest.bodyUnsafeJson({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })
      )
      const first = yield* client.execute(request)
      assert.strictEqual(first.status, 429)
      const key = RateLimiter.keyOfRequest(request)
      assert.strictEqual(Duration.toMillis(Option.getOrThrow(yield* limiter.snapshot(key)).pausedFor), 3000)
      const second = yield* Effect.fork(client.execute(request))
      yield* TestClock.adjust("2999 millis")
      assert.strictEqual((yield* mock.log).length, 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* Fiber.join(second)).status, 200)
    }).pipe(Effect.provide(MockHttpClient.layer({ scenario: ["rate_limit_requests"], retryAfter: "3 seconds" }))))
})

describe("RateLimiter priority lanes", () => {
  /**
   * Four background workers saturate 600 requests a minute (a permit every 100 ms) while an
   * interactive request arrives every second, for 30 virtual seconds: the interactive waits and
   * the batch's permits.
   */
  const saturated = (options: RateLimiter.Options) =>
    Effect.gen(function*() {
      const limiter = yield* make({ requestsPerMinute: 600, ...options })
      const key = "team:gpt-4o-mini"
      let batch = 0
      const worker = Effect.forever(
        Effect.zipRight(limiter.limit({ key, tokens: 0 })(Effect.void), Effect.sync(() => batch++))
      ).pipe(RateLimiter.withPriority("background"))
      yield* Effect.forEach([1, 2, 3, 4], () => Effect.fork(worker))
      // The batch drains the bucket first.
      yield* TestClock.adjust("10 seconds")
      const waits: Array<number> = []
      const before = batch
      const trickle = Effect.forever(
        Effect.zipRight(
          Effect.fork(
            Effect.flatMap(limiter.acquire({ key, tokens: 0, priority: "interactive" }), (permit) =>
              Effect.sync(() => waits.push(Duration.toMillis(permit.waited))))
          ),
          Effect.sleep("1 second")
        )
      )
      yield* Effect.fork(trickle)
      for (let i = 0; i < 30; i++) yield* TestClock.adjust("1 second")
      return { waits, batch: batch - before }
    })

  it.effect("with lanes, an interactive call under a saturating batch waits less than one permit interval", () =>
    Effect.gen(function*() {
      const run = yield* saturated({ lanes: {} })
      assert.isAtLeast(run.waits.length, 29)
      assert.isAtMost(Math.max(...run.waits), 100)
      // The batch still gets the rest of the limit: 10 a second minus the trickle's one.
      assert.isAtLeast(run.batch, 9 * 30 - 10)
    }))

  it.effect("without lanes the same interactive call queues behind the batch (first in, first out)", () =>
    Effect.gen(function*() {
      const run = yield* saturated({})
      // Of the 30 interactive calls, few (here: none) get through within a permit interval.
      assert.isBelow(run.waits.filter((w) => w <= 100).length, 15)
    }))

  it.effect("a priority set for a region applies to the limiter's requests in it; a demand's own wins", () =>
    Effect.gen(function*() {
      const limiter = yield* make({ requestsPerMinute: 60, lanes: { reserve: 0.5 } })
      const key = "team:gpt-4o-mini"
      // Background may use only half of the bucket: 30 of 60.
      const background = yield* Effect.forEach(
        Array.from({ length: 40 }, () => 0),
        () => Effect.either(Effect.timeout(limiter.acquire({ key, tokens: 0 }), "1 millis")),
        { concurrency: 1 }
      ).pipe(RateLimiter.withPriority("background"), Effect.fork)
      yield* TestClock.adjust("40 millis")
      const results = yield* Fiber.join(background)
      assert.strictEqual(results.filter(Either.isRight).length, 30)
      // An interactive demand inside a background region still finds the rest of the bucket.
      const interactive = yield* limiter.acquire({ key, tokens: 0, priority: "interactive" }).pipe(
        RateLimiter.withPriority("background")
      )
      assert.strictEqual(Duration.toMillis(interactive.waited), 0)
    }))
})

describe("RateLimiter lane options", () => {
  it.effect("out-of-range lanes are refused with InvalidOptions, never clamped silently", () =>
    Effect.gen(function*() {
      const bad = yield* Effect.either(make({ lanes: { reserve: 2 } }))
      assert.isTrue(Either.isLeft(bad) && bad.left._tag === "InvalidOptions")
      const share = yield* Effect.either(make({ lanes: { backgroundShare: -1 } }))
      assert.isTrue(Either.isLeft(share) && share.left._tag === "InvalidOptions")
    }))
})
