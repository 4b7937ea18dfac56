/**
 * Examples for docs/testing.md: testing your own retry handling against the mock OpenAI API.
 *
 * In your project, import from the package instead of these relative paths:
 *   import { HttpMiddleware, RetryPolicy } from "effect-openai-resilience"
 *   import { MockApi, MockHttpClient, MockServer, ScriptedHttpClient } from "effect-openai-resilience/testing"
 *
 * Each example is an Effect that fails if the behaviour is wrong; the repository's tests run them
 * (test/MockHttpClient.test.ts, test/MockServer.test.ts and test/ScriptedHttpClient.test.ts).
 */
import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { Effect, Fiber, Layer, Option, TestClock } from "effect"
import * as HttpMiddleware from "../../src/HttpMiddleware.js"
import * as RetryPolicy from "../../src/RetryPolicy.js"
import { MockApi, MockHttpClient, MockServer, ScriptedHttpClient } from "../../src/testing/index.js"

/** The code under test: list the models through a resilient client. */
const listModels = (baseUrl: string) =>
  Effect.gen(function*() {
    const client = (yield* HttpClient.HttpClient).pipe(
      HttpMiddleware.resilient({ timeout: "10 seconds", retryPolicy: RetryPolicy.make({ maxRetries: 3 }) })
    )
    const response = yield* client.get(`${baseUrl}/models`)
    return response.status
  })

const check = (ok: boolean, what: string) => (ok ? Effect.void : Effect.dieMessage(`example failed: ${what}`))

/**
 * 1. Two server errors, then success, in virtual time. Run under `it.effect` (TestClock): the
 * retries' sleeps pass when the test moves the clock, so the test takes milliseconds.
 */
export const retriesServerErrors = Effect.gen(function*() {
  const fiber = yield* Effect.fork(listModels(MockHttpClient.baseUrl))
  yield* TestClock.adjust("1 minute")
  const status = yield* Fiber.join(fiber)
  const log = yield* Effect.flatMap(MockApi.MockApi, (mock) => mock.log)
  yield* check(status === 200, "the third attempt succeeds")
  yield* check(log.length === 3, "three requests reached the server")
  yield* check(log.map((e) => e.attempt).join() === "1,2,3", "the retries share one idempotency key")
}).pipe(Effect.provide(MockHttpClient.layer({ scenario: ["server_error", "server_error"] })))

/**
 * 2. A rate limit with `retry-after-ms: 1500`: the client must wait at least that long. The
 * mock's log records the Clock time of each request.
 */
export const waitsAsTheServerAsks = Effect.gen(function*() {
  const client = (yield* HttpClient.HttpClient).pipe(HttpMiddleware.resilient())
  const request = HttpClientRequest.get(`${MockHttpClient.baseUrl}/models`).pipe(
    HttpClientRequest.setHeaders({
      "x-mock-fault": "rate_limit_requests",
      "x-mock-fault-times": "1",
      "x-mock-retry-after-ms": "1500"
    })
  )
  const fiber = yield* Effect.fork(client.execute(request))
  yield* TestClock.adjust("1 minute")
  yield* Fiber.join(fiber)
  const [first, second] = yield* Effect.flatMap(MockApi.MockApi, (mock) => mock.log)
  yield* check(first !== undefined && second !== undefined && second.at - first.at >= 1500, "waited 1.5 s")
}).pipe(Effect.provide(MockHttpClient.layer()))

/**
 * 3. No retry for an exhausted quota: one request, and the typed error to show the user.
 */
export const doesNotRetryQuota = Effect.gen(function*() {
  const error = yield* Effect.flip(listModels(MockHttpClient.baseUrl))
  const log = yield* Effect.flatMap(MockApi.MockApi, (mock) => mock.log)
  yield* check(error._tag === "QuotaExceeded", "typed QuotaExceeded")
  yield* check(log.length === 1, "asked once")
}).pipe(Effect.provide(MockHttpClient.layer({ scenario: ["insufficient_quota"] })))

/**
 * 4. A server whose headers never come: the per-attempt timeout fires in virtual time, the
 * retry succeeds.
 */
export const timesOutSlowHeaders = Effect.gen(function*() {
  const fiber = yield* Effect.fork(listModels(MockHttpClient.baseUrl))
  yield* TestClock.adjust("2 minutes")
  const status = yield* Fiber.join(fiber)
  const log = yield* Effect.flatMap(MockApi.MockApi, (mock) => mock.log)
  yield* check(status === 200, "succeeds after the timeout")
  yield* check(Option.getOrUndefined(log[0]?.fault ?? Option.none()) === "slow_headers", "first attempt was slow")
}).pipe(Effect.provide(MockHttpClient.layer({ scenario: ["slow_headers"], slowHeadersDelay: "5 minutes" })))

/**
 * 5. The same, over a real socket: a TCP reset on the first attempt, then success. Run with the
 * live clock (`it.live`): the server is real.
 */
export const survivesAConnectionReset = Effect.gen(function*() {
  const server = yield* MockServer.MockServer
  const status = yield* listModels(server.url)
  const log = yield* Effect.flatMap(MockApi.MockApi, (mock) => mock.log)
  yield* check(status === 200, "the retry succeeds")
  yield* check(log.length === 2, "two requests reached the server")
}).pipe(Effect.provide(Layer.merge(MockServer.layer({ scenario: ["connection_reset"] }), FetchHttpClient.layer)))

/**
 * 6. Exact responses from a script: a 429 asking for 1.5 s, then a 200. The second request is
 * not sent before the clock reaches 1.5 s; a third request would be a defect.
 */
export const waitsForTheScriptedRetryAfter = Effect.gen(function*() {
  const scripted = ScriptedHttpClient.make([
    ScriptedHttpClient.json(
      429,
      ScriptedHttpClient.errorBody("Rate limit reached for requests", "requests", "rate_limit_exceeded"),
      { "retry-after-ms": "1500" }
    ),
    ScriptedHttpClient.json(200, { object: "list", data: [] })
  ])
  const fiber = yield* Effect.fork(
    listModels("https://api.openai.com/v1").pipe(Effect.provideService(HttpClient.HttpClient, scripted.client))
  )
  yield* TestClock.adjust("1499 millis")
  yield* check(scripted.requests.length === 1, "still waiting at 1.499 s")
  yield* TestClock.adjust("1 second") // the hint plus its bounded jitter (at most 10%)
  const status = yield* Fiber.join(fiber)
  yield* check(status === 200, "the retry succeeds")
  yield* check(scripted.requests.length === 2 && scripted.remaining() === 0, "two requests, the whole script")
})
