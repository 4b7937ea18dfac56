import { HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Duration, Effect, Either, Exit, Fiber, Option, Redacted, Stream, TestClock } from "effect"
import * as Bulkhead from "../src/Bulkhead.js"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as HttpMiddleware from "../src/HttpMiddleware.js"
import type * as InvalidOptions from "../src/InvalidOptions.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import type * as OpenAiError from "../src/OpenAiError.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as Resilience from "../src/Resilience.js"
import * as RetryBudget from "../src/RetryBudget.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import { MockApi, MockHttpClient } from "../src/testing/index.js"
import { chatRequest, completion, setupWith, typedClientWith } from "./support/client.js"
import * as S from "../src/testing/ScriptedHttpClient.js"

const API_KEY = "sk-proj-RESILIENCEKEY0123456789abcdefghijkl"
const BASE = "https://api.example.test/v1"
const policy = RetryPolicy.make({ maxRetries: 2, base: "1 second", factor: 1, jitter: "none" })
const setup = setupWith({ apiKey: Redacted.make(API_KEY), baseUrl: BASE, resilience: { retryPolicy: policy } })

// `OpenAiClient.make` with the layers given: its error and requirement types are exactly theirs.
const clientWith = typedClientWith(Redacted.make(API_KEY), BASE)

const chunk = (content: string) => ({
  id: "chatcmpl-s",
  object: "chat.completion.chunk",
  created: 1,
  model: "gpt-4o-mini",
  choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }]
})
const serverErrorIn200 = S.json(200, S.errorBody("The server had an error processing your request.", "server_error", null))

const chat = HttpClientRequest.post(`${MockHttpClient.baseUrl}/chat/completions`).pipe(
  HttpClientRequest.bearerToken("sk-test-key"),
  HttpClientRequest.bodyUnsafeJson({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], max_tokens: 5 })
)
const limiterOf = (options: RateLimiter.Options = {}) =>
  RateLimiter.make(options).pipe(Effect.provide(RateLimiter.layerStoreMemory))

describe("Resilience: one logical call", () => {
  it.effect("a 200 whose body is an API error is classified inside the attempt: create and stream both retry it", () =>
    Effect.gen(function*() {
      const { openai, scripted } = yield* setup([serverErrorIn200, S.json(200, completion)])
      const fiber = yield* Effect.fork(openai.chat.completions.create(chatRequest))
      yield* TestClock.adjust("1 second")
      const { data } = yield* Fiber.join(fiber)
      assert.strictEqual(data.choices[0]?.message.content, "Hi!")
      assert.strictEqual(scripted.requests.length, 2)

      const streamed = yield* setup([serverErrorIn200, S.sse([S.data(chunk("Hi")), S.data("[DONE]")])])
      const chunks = yield* Effect.fork(Stream.runCollect(streamed.openai.chat.completions.stream(chatRequest)))
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(chunks)).length, 1)
      assert.strictEqual(streamed.scripted.requests.length, 2)
    }))

  it.effect("a body cut after the headers is retried as one attempt, with the same idempotency key", () =>
    Effect.gen(function*() {
      const { openai, scripted } = yield* setup([
        S.parts(200, ['{"id":"chatcmpl-1","object":', S.cut()], { "content-type": "application/json" }),
        S.json(200, completion)
      ])
      const fiber = yield* Effect.fork(openai.chat.completions.create(chatRequest))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      const keys = [0, 1].map((n) => S.header(scripted, n, "idempotency-key"))
      assert.isDefined(keys[0])
      assert.strictEqual(keys[0], keys[1])
      assert.deepStrictEqual([0, 1].map((n) => S.header(scripted, n, "x-retry-attempt")), ["0", "1"])
    }))

  it.effect("the success path reads the request id as the error path does (Azure's apim-request-id)", () =>
    Effect.gen(function*() {
      const { openai } = yield* setup([S.json(200, completion, { "apim-request-id": "apim-123" })])
      const { requestId } = yield* openai.chat.completions.create(chatRequest)
      assert.deepStrictEqual(requestId, Option.some("apim-123"))
      const failed = yield* setup([S.json(400, S.errorBody("bad", "invalid_request_error", null), { "apim-request-id": "apim-456" })])
      const error = yield* Effect.flip(failed.openai.chat.completions.create(chatRequest))
      assert.deepStrictEqual(error.requestId, Option.some("apim-456"))
    }))
})

describe("Resilience: the pre-flight check comes first", () => {
  const tooLong = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "word ".repeat(200_000) }], max_tokens: 16 }

  it.effect("a prompt that cannot fit its model's window fails unsent with ContextLengthExceeded", () =>
    Effect.gen(function*() {
      const { openai, scripted } = yield* setup([S.json(200, completion)])
      const error = yield* Effect.flip(openai.chat.completions.create(tooLong))
      assert.strictEqual(error._tag, "ContextLengthExceeded")
      assert.strictEqual(scripted.requests.length, 0)
    }))

  it.effect("preflight: false sends it as it is", () =>
    Effect.gen(function*() {
      const { openai, scripted } = yield* setup([S.json(200, completion)], { resilience: { preflight: false } })
      yield* openai.chat.completions.create(tooLong)
      assert.strictEqual(scripted.requests.length, 1)
    }))
})

describe("Resilience: the limiter's wait is not the attempt's time", () => {
  it.effect("the limiter keys each call by the client's API key and model: two keys on one limiter do not share a limit", () =>
    Effect.gen(function*() {
      const limiter = yield* limiterOf({ requestsPerMinute: 1 })
      const clientFor = (apiKey: string) =>
        Effect.map(
          setupWith({ apiKey: Redacted.make(apiKey), baseUrl: BASE, resilience: { limiter } })([S.json(200, completion)]),
          ({ openai }) => openai
        )
      const a = yield* clientFor("sk-proj-FIRSTKEY0123456789abcdefghijklmnop")
      const b = yield* clientFor("sk-proj-SECONDKEY0123456789abcdefghijklmno")
      // Both answer at once: each key has its own minute.
      yield* a.chat.completions.create(chatRequest)
      yield* b.chat.completions.create(chatRequest)
      const key = RateLimiter.keyFor({ apiKey: Redacted.make("sk-proj-FIRSTKEY0123456789abcdefghijklmnop"), model: "gpt-4o-mini" })
      assert.isTrue(Option.isSome(yield* limiter.snapshot(key)))
    }))

  it.effect("with 1 request per minute and a 5 s timeout, the second call waits for its permit and succeeds", () =>
    Effect.gen(function*() {
      const limiter = yield* limiterOf({ requestsPerMinute: 1 })
      const { openai, scripted } = yield* setup([S.json(200, completion), S.json(200, completion)], {
        resilience: { limiter, timeout: "5 seconds" }
      })
      yield* openai.chat.completions.create(chatRequest)
      const second = yield* Effect.fork(openai.chat.completions.create(chatRequest))
      yield* TestClock.adjust("30 seconds")
      assert.strictEqual(scripted.requests.length, 1)
      yield* TestClock.adjust("31 seconds")
      const exit = yield* Fiber.await(second)
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(scripted.requests.length, 2)
    }))
})

describe("Resilience: breaker and bulkhead in the client", () => {
  it.scoped("a breaker configured on the client: CircuitOpen ends the retries and is in the error type", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, openDuration: "1 minute" })
      const { openai, scripted } = yield* clientWith([S.json(500, S.errorBody("boom", "server_error", null))], {
        breaker,
        retryPolicy: policy
      })
      const fiber = yield* Effect.fork(Effect.flip(openai.chat.completions.create(chatRequest)))
      yield* TestClock.adjust("10 seconds")
      const error = yield* Fiber.join(fiber)
      // Exhaustive over what the client was configured with: OpenAiError | CircuitOpen.
      const tag: string = error._tag === "CircuitOpen" ? "open" : error.category
      assert.strictEqual(tag, "open")
      assert.strictEqual(scripted.requests.length, 1)
    }))

  it.scoped("a bulkhead configured on the client refuses beyond its queue with BulkheadFull", () =>
    Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 0 })
      const { openai } = yield* clientWith([S.json(200, completion, {}, "1 second")], { bulkhead })
      const first = yield* Effect.fork(openai.chat.completions.create(chatRequest))
      yield* Effect.yieldNow()
      const refused = yield* Effect.flip(openai.chat.completions.create(chatRequest))
      assert.strictEqual(refused._tag, "BulkheadFull")
      yield* TestClock.adjust("1 second")
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(first)))
    }))

  it.effect("a budgeted policy compiles on the client; its RetryBudget comes from where the client was built", () =>
    Effect.gen(function*() {
      const budgeted = RetryPolicy.make({ maxRetries: 3, base: "1 second", jitter: "none", budget: true })
      // A budget with less than one retry's cost in it.
      const { openai, scripted } = yield* clientWith([S.json(500, S.errorBody("boom", "server_error", null))], {
        retryPolicy: budgeted
      }).pipe(Effect.provide(RetryBudget.layer({ capacity: 1, retryCost: 5 })))
      const error = yield* Effect.flip(openai.chat.completions.create(chatRequest))
      // An empty budget: no retry at all.
      assert.strictEqual(error._tag, "ServerError")
      assert.strictEqual(scripted.requests.length, 1)
    }))
})

describe("Resilience: the middleware form", () => {
  it.effect("through toHttpClientError (the @effect/ai-openai recipe) every retry carries its own attempt number", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.json(500, S.errorBody("boom", "server_error", null)), S.json(200, completion)])
      const client = scripted.client.pipe(HttpMiddleware.resilient({ retryPolicy: policy }), HttpMiddleware.toHttpClientError)
      const fiber = yield* Effect.fork(client.execute(HttpClientRequest.post(`${BASE}/chat/completions`)))
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(fiber)).status, 200)
      assert.deepStrictEqual([0, 1].map((n) => S.header(scripted, n, "x-retry-attempt")), ["0", "1"])
    }))

  it.scoped("a CircuitOpen ends the retries at once", () =>
    Effect.gen(function*() {
      const limiter = yield* limiterOf()
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 1, openDuration: "1 minute" })
      const mock = yield* MockApi.MockApi
      const client = (yield* HttpClient.HttpClient).pipe(Resilience.middleware({ limiter, breaker }))
      const call = yield* Effect.fork(Effect.either(client.execute(chat)))
      yield* TestClock.adjust("30 seconds")
      const result = yield* Fiber.join(call)
      assert.isTrue(Either.isLeft(result) && result.left._tag === "CircuitOpen")
      assert.strictEqual((yield* mock.log).length, 1)
    }).pipe(Effect.provide(MockHttpClient.layer({ scenario: ["server_error", "server_error", "server_error"] }))))

  it.scoped("a 429 is retried after the pause, and the bulkhead refuses beyond its queue", () =>
    Effect.gen(function*() {
      const limiter = yield* limiterOf()
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 0 })
      const mock = yield* MockApi.MockApi
      const client = (yield* HttpClient.HttpClient).pipe(Resilience.middleware({ limiter, bulkhead }))
      const call = yield* Effect.fork(client.execute(chat))
      yield* Effect.yieldNow()
      const refused = yield* Effect.either(client.execute(chat))
      assert.isTrue(Either.isLeft(refused) && refused.left._tag === "BulkheadFull")
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* Fiber.join(call)).status, 200)
      const log = yield* mock.log
      assert.deepStrictEqual(log.map((e) => Option.getOrUndefined(e.status)), [429, 200])
      // The retry waited the server's hint (1 s by default in the mock), not less.
      assert.isAtLeast((log[1]?.at ?? 0) - (log[0]?.at ?? 0), 1000)
    }).pipe(Effect.provide(MockHttpClient.layer({ scenario: ["rate_limit_tokens"] }))))

  it.effect("a deadline bounds the attempts and the waits between them", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.hang, S.hang, S.hang])
      const client = scripted.client.pipe(Resilience.middleware({ retryPolicy: policy, timeout: "3 seconds", deadline: "5 seconds" }))
      const fiber = yield* Effect.fork(Effect.flip(client.get(`${BASE}/models`)))
      yield* TestClock.adjust("5 seconds")
      const error = yield* Fiber.join(fiber)
      assert.isTrue(error._tag === "TimeoutError" && error.phase === "deadline")
      assert.strictEqual(Duration.toMillis(error._tag === "TimeoutError" ? error.timeout : Duration.zero), 5000)
    }))
})

describe("OpenAiClient.layer", () => {
  it.effect("the default tag's client fails with OpenAiError alone", () =>
    Effect.gen(function*() {
      const openai = yield* OpenAiClient.OpenAiClient
      const error = yield* Effect.flip(openai.models.list)
      assert.strictEqual(error.category, "NotFoundError")
    }).pipe(
      Effect.provide(OpenAiClient.layer({ apiKey: Redacted.make(API_KEY), baseUrl: BASE })),
      Effect.provideService(HttpClient.HttpClient, S.make([S.json(404, S.errorBody("no", "invalid_request_error", null))]).client)
    ))
})

describe("Resilience and OpenAiClient: bad options are one typed error at construction", () => {
  const build = (options: unknown) =>
    Effect.flip(
      OpenAiClient.make(options as OpenAiClient.Options).pipe(
        Effect.provideService(HttpClient.HttpClient, S.make([]).client)
      )
    )

  it.effect("an unreadable timeout names its field", () =>
    Effect.gen(function*() {
      const error = yield* build({ apiKey: Redacted.make(API_KEY), resilience: { timeout: "banana" } })
      assert.strictEqual(error._tag, "InvalidOptions")
      assert.strictEqual(error.field, "resilience.timeout")
      assert.include(error.message, "banana")
    }))

  it.effect("a plain-string API key is refused without being printed", () =>
    Effect.gen(function*() {
      const error = yield* build({ apiKey: API_KEY })
      assert.strictEqual(error.field, "apiKey")
      assert.notInclude(`${error.message} ${JSON.stringify(error)}`, API_KEY)
    }))

  it.effect("a policy RetryPolicy.make refused fails the client that is given it", () =>
    Effect.gen(function*() {
      const bad = RetryPolicy.make({ maxRetries: "banana" as unknown as number })
      const error = yield* build({ apiKey: Redacted.make(API_KEY), resilience: { retryPolicy: bad } })
      assert.strictEqual(error.field, "resilience.retryPolicy")
    }))

  it.effect("Resilience.validate: a zero body bound and a non-Schedule policy", () =>
    Effect.gen(function*() {
      const bound = yield* Effect.flip(Resilience.validate({ maxErrorBodyBytes: 0 }))
      assert.strictEqual(bound.field, "maxErrorBodyBytes")
      const policy = yield* Effect.flip(Resilience.validate({ retryPolicy: 3 as never }))
      assert.strictEqual(policy.field, "retryPolicy")
      const fine = yield* Resilience.validate({ timeout: "30 seconds", attemptHeader: false })
      assert.strictEqual(fine.attemptHeader, false)
    }))
})

describe("Resilience: the pre-flight check in bounded time", () => {
  it.effect("a prompt of one 400,000-character run is decided in bounded time (BPE is quadratic on a run)", () =>
    Effect.gen(function*() {
      const { openai, scripted } = yield* setup([S.json(200, completion)])
      const started = performance.now()
      // Too long for a token per byte, so it is counted: with the tokenizer that took minutes.
      yield* openai.chat.completions.create({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "x".repeat(400_000) }],
        max_tokens: 16
      })
      assert.isBelow(performance.now() - started, 5_000)
      assert.strictEqual(scripted.requests.length, 1)
    }))
})

describe("Resilience options are checked at construction", () => {
  const ok = S.json(200, { object: "list", data: [] })

  it.effect("make fails with InvalidOptions for a JavaScript caller's timeout: NaN", () =>
    Effect.gen(function*() {
      const scripted = S.make([ok])
      const error = yield* Effect.flip(Resilience.make(scripted.client, { timeout: Number.NaN } as never))
      assert.strictEqual(error._tag, "InvalidOptions")
      assert.strictEqual(error.field, "timeout")
      assert.strictEqual(scripted.requests.length, 0)
    }))

  it.effect("make fails with InvalidOptions for a policy built from maxRetries: \"banana\"", () =>
    Effect.gen(function*() {
      const scripted = S.make([ok])
      const retryPolicy = RetryPolicy.make({ maxRetries: "banana" as never })
      const error = yield* Effect.flip(Resilience.make(scripted.client, { retryPolicy }))
      assert.strictEqual(error._tag, "InvalidOptions")
      assert.strictEqual(error.field, "retryPolicy")
    }))

  it.effect("make with good options runs the call", () =>
    Effect.gen(function*() {
      const scripted = S.make([ok])
      const resilient = yield* Resilience.make(scripted.client, { timeout: "30 seconds" })
      const text = yield* resilient.run(HttpClientRequest.get(`${BASE}/models`), (r) => r.text)
      assert.include(text, "list")
    }))

  it.effect("middleware never throws: with timeout: NaN every request fails with the same InvalidOptions, unsent", () =>
    Effect.gen(function*() {
      const scripted = S.make([ok, ok])
      const client = scripted.client.pipe(Resilience.middleware({ timeout: Number.NaN } as never))
      const first = yield* Effect.flip(client.get(`${BASE}/models`))
      const second = yield* Effect.flip(client.get(`${BASE}/models`))
      assert.isTrue(first._tag === "InvalidOptions" && first.field === "timeout")
      assert.strictEqual(second, first)
      assert.strictEqual(scripted.requests.length, 0)
    }))

  it.effect("middleware with a policy from maxRetries: \"banana\" fails every request with InvalidOptions, not a defect", () =>
    Effect.gen(function*() {
      const scripted = S.make([ok])
      const retryPolicy = RetryPolicy.make({ maxRetries: "banana" as never })
      const exit = yield* Effect.exit(scripted.client.pipe(HttpMiddleware.resilient({ retryPolicy })).get(`${BASE}/models`))
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
      assert.isTrue(error?._tag === "InvalidOptions" && error.field === "retryPolicy")
      assert.strictEqual(scripted.requests.length, 0)
    }))

  it.effect("validated options keep InvalidOptions out of the middleware's error channel", () =>
    Effect.gen(function*() {
      const scripted = S.make([ok])
      const options = yield* Resilience.validate({ timeout: "30 seconds", deadline: "1 minute" })
      const client = scripted.client.pipe(Resilience.middleware(options))
      // Compiles only while the error channel is OpenAiError alone.
      const typed: HttpClient.HttpClient.With<OpenAiError.OpenAiError> = client
      assert.strictEqual((yield* typed.get(`${BASE}/models`)).status, 200)
      const error = yield* Effect.flip(Resilience.validate({ deadline: -1 }))
      assert.strictEqual(error.field, "deadline")
    }))

  it("InvalidOptions appears in the middleware's type only when the options can hold a bad value", () => {
    type Equals<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
    const none: Equals<Resilience.Invalid<{}>, never> = true
    const services: Equals<Resilience.Invalid<{ idempotencyKey: false; secrets: Array<string> }>, never> = true
    const timeout: Equals<Resilience.Invalid<{ timeout: "30 seconds" }>, InvalidOptions.InvalidOptions> = true
    const unknown: Equals<Resilience.Invalid<never>, InvalidOptions.InvalidOptions> = true
    const checked: Equals<Resilience.Invalid<Resilience.Validated<{ timeout: "30 seconds" }>>, never> = true
    assert.deepStrictEqual([none, services, timeout, unknown, checked], [true, true, true, true, true])
  })
})
