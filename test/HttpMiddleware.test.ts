import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as TestClock from "effect/TestClock"
import * as HttpMiddleware from "../src/HttpMiddleware.js"
import * as OpenAiError from "../src/OpenAiError.js"
import * as S from "../src/testing/ScriptedHttpClient.js"
import { byHand, explain, transformClient } from "../docs/examples/middleware.js"

// A stand-in policy with the shape of RetryPolicy.default: honour the server's delay, else 1 s;
// stop on non-retryable errors; at most `times` retries.
const policy = (times = 2): Schedule.Schedule<unknown, OpenAiError.OpenAiError> =>
  Schedule.identity<OpenAiError.OpenAiError>().pipe(
    Schedule.addDelay((e) => Option.getOrElse(e.retryAfter, () => Duration.seconds(1))),
    Schedule.whileInput((e: OpenAiError.OpenAiError) => e.retryable),
    Schedule.intersect(Schedule.recurs(times))
  )

const URL = "https://api.example.test/v1/chat/completions"

const rateLimited = (headers: Record<string, string> = {}) =>
  S.json(429, S.errorBody("Rate limit reached for requests", "requests", "rate_limit_exceeded"), {
    "x-request-id": "req_429",
    ...headers
  })

const ok = (headers: Record<string, string> = {}) => S.json(200, { ok: true }, { "x-request-id": "req_ok", ...headers })

describe("HttpMiddleware.classify", () => {
  const cases: ReadonlyArray<readonly [S.Step, OpenAiError.Tag]> = [
    [S.json(400, S.errorBody("Invalid value for 'temperature'", "invalid_request_error", null, "temperature")), "BadRequest"],
    [
      S.json(400, S.errorBody("This model's maximum context length is 8192 tokens", "invalid_request_error", "context_length_exceeded")),
      "ContextLengthExceeded"
    ],
    [S.json(401, S.errorBody("Incorrect API key provided: sk-abc***wxyz", "invalid_request_error", "invalid_api_key")), "IncorrectApiKey"],
    [S.json(401, S.errorBody("You must be a member of an organization to use the API.", "invalid_request_error", "no_organization")), "NoOrganization"],
    [S.json(401, S.errorBody("Missing bearer", "invalid_request_error", null)), "InvalidAuthentication"],
    [
      S.json(403, S.errorBody("Country, region, or territory not supported", "request_forbidden", "unsupported_country_region_territory")),
      "UnsupportedRegion"
    ],
    [S.json(403, S.errorBody("Not allowed", "invalid_request_error", null)), "PermissionDenied"],
    [S.json(404, S.errorBody("The model `x` does not exist", "invalid_request_error", "model_not_found")), "NotFound"],
    [S.json(409, S.errorBody("Conflict", "invalid_request_error", null)), "Conflict"],
    [S.json(422, { detail: [{ loc: ["body", "model"], msg: "field required" }] }), "UnprocessableEntity"],
    [rateLimited(), "RateLimitReached"],
    [S.json(429, S.errorBody("You exceeded your current quota", "insufficient_quota", "insufficient_quota")), "QuotaExceeded"],
    [
      S.json(429, S.errorBody("Request too large for gpt-4 on tokens per min (TPM): Limit 30000, Requested 31538.", "tokens", "rate_limit_exceeded")),
      "RequestTooLarge"
    ],
    [S.json(500, S.errorBody("The server had an error", "server_error", null)), "ServerError"],
    [S.text(502, "<html><head><title>502 Bad Gateway</title></head></html>"), "ServerError"],
    [S.json(503, S.errorBody("That model is currently overloaded with other requests.", "server_error", null)), "EngineOverloaded"],
    [S.text(418, ""), "UnexpectedStatus"],
    [S.fail(), "ConnectionError"]
  ]
  for (const [step, tag] of cases) {
    it.effect(`${"status" in step ? step.status : "transport failure"} -> ${tag}`, () =>
      Effect.gen(function*() {
        const scripted = S.make([step])
        const client = scripted.client.pipe(HttpMiddleware.classify)
        const error = yield* Effect.flip(client.post(URL))
        assert.strictEqual(error._tag, tag)
      }))
  }

  it.effect("keeps x-request-id, the server's hints and the transport cause", () =>
    Effect.gen(function*() {
      const scripted = S.make([rateLimited({ "retry-after-ms": "1500" }), S.fail()])
      const client = scripted.client.pipe(HttpMiddleware.classify)
      const limited = yield* Effect.flip(client.get(URL))
      assert.deepStrictEqual(limited.requestId, Option.some("req_429"))
      assert.deepStrictEqual(limited.retryAfter, Option.some(Duration.millis(1500)))
      const cut = yield* Effect.flip(client.get(URL))
      assert.strictEqual(cut._tag, "ConnectionError")
      if (cut._tag === "ConnectionError") {
        assert.deepStrictEqual(cut.errorCode, Option.some("ECONNRESET"))
        // The transport error itself, not the platform error that holds the request and its headers.
        assert.isFalse(HttpClientError.isHttpClientError(cut.cause))
        assert.strictEqual((cut.cause as { code?: string }).code, "ECONNRESET")
      }
    }))

  it.effect("passes 2xx through with the body unread", () =>
    Effect.gen(function*() {
      const scripted = S.make([ok()])
      const response = yield* scripted.client.pipe(HttpMiddleware.classify).get(URL)
      assert.strictEqual(scripted.pulled[0], 0)
      assert.deepStrictEqual(HttpMiddleware.requestId(response), Option.some("req_ok"))
      assert.deepStrictEqual(yield* response.json, { ok: true })
    }))

  it.effect("reads at most the bound of an error body", () =>
    Effect.gen(function*() {
      const chunk = "x".repeat(64 * 1024)
      const scripted = S.make([S.parts(500, Array.from({ length: 32 }, () => chunk))])
      const error = yield* Effect.flip(scripted.client.pipe(HttpMiddleware.classify).get(URL))
      assert.strictEqual(error._tag, "ServerError")
      assert.isAtMost(scripted.pulled[0] ?? Infinity, HttpMiddleware.MAX_ERROR_BODY_BYTES + chunk.length)
      assert.isAtMost(error.message.length, 3000)
    }))

  it.effect("classifies an error body cut midway from what arrived", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.parts(429, ['{"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"', S.cut()])])
      const error = yield* Effect.flip(scripted.client.pipe(HttpMiddleware.classify).get(URL))
      assert.strictEqual(error._tag, "QuotaExceeded")
    }))

  it.effect("classifies an inner filterStatusOk's ResponseError from its response", () =>
    Effect.gen(function*() {
      const scripted = S.make([rateLimited()])
      const client = scripted.client.pipe(HttpClient.filterStatusOk, HttpMiddleware.classify)
      const error = yield* Effect.flip(client.get(URL))
      assert.strictEqual(error._tag, "RateLimitReached")
      assert.deepStrictEqual(error.requestId, Option.some("req_429"))
    }))

  it.effect("an unparseable URL is a non-retryable ConnectionError, not a defect", () =>
    Effect.gen(function*() {
      const scripted = S.make([])
      const error = yield* Effect.flip(scripted.client.pipe(HttpMiddleware.classify).get("http://exa mple:99999/"))
      assert.strictEqual(error._tag, "ConnectionError")
      assert.isFalse(error.retryable)
    }))

  it.effect("scrubs the secrets it is given from messages", () =>
    Effect.gen(function*() {
      const key = "my-custom-proxy-secret-123"
      const scripted = S.make([S.json(401, S.errorBody(`Bad key ${key}`, "invalid_request_error", null))])
      const client = scripted.client.pipe(HttpMiddleware.classifyWith({ secrets: [key] }))
      const error = yield* Effect.flip(client.get(URL))
      assert.notInclude(error.message, key)
      assert.notInclude(JSON.stringify(error), key)
    }))
})

describe("HttpMiddleware.retry", () => {
  it.effect("waits exactly as long as retry-after-ms asks, then retries", () =>
    Effect.gen(function*() {
      const scripted = S.make([rateLimited({ "retry-after-ms": "1500" }), ok()])
      const client = scripted.client.pipe(HttpMiddleware.classify, HttpMiddleware.retry(policy()))
      const fiber = yield* Effect.fork(client.get(URL))
      yield* TestClock.adjust(Duration.millis(1499))
      assert.strictEqual(scripted.requests.length, 1)
      yield* TestClock.adjust(Duration.millis(1))
      const response = yield* Fiber.join(fiber)
      assert.strictEqual(response.status, 200)
      assert.strictEqual(scripted.requests.length, 2)
    }))

  it.effect("gives up with the last typed error, and never retries what must not be", () =>
    Effect.gen(function*() {
      const scripted = S.make([
        S.json(500, S.errorBody("boom", "server_error", null), { "x-request-id": "req_1" }),
        S.json(429, S.errorBody("You exceeded your current quota", "insufficient_quota", "insufficient_quota"), {
          "x-request-id": "req_2"
        })
      ])
      const client = scripted.client.pipe(HttpMiddleware.classify, HttpMiddleware.retry(policy(5)))
      const fiber = yield* Effect.fork(Effect.flip(client.get(URL)))
      yield* TestClock.adjust(Duration.seconds(10))
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "QuotaExceeded")
      assert.deepStrictEqual(error.requestId, Option.some("req_2"))
      assert.strictEqual(scripted.requests.length, 2)
    }))

  it.effect("x-should-retry: false stops the retries", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.json(500, S.errorBody("boom", "server_error", null), { "x-should-retry": "false" })])
      const client = scripted.client.pipe(HttpMiddleware.classify, HttpMiddleware.retry(policy(5)))
      const error = yield* Effect.flip(client.get(URL))
      assert.strictEqual(error._tag, "ServerError")
      assert.strictEqual(scripted.requests.length, 1)
    }))

  it.effect("sends the attempt count, 0 then 1 then 2", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.fail(), S.fail(), ok()])
      const client = scripted.client.pipe(
        HttpMiddleware.classify,
        HttpMiddleware.attemptHeader(),
        HttpMiddleware.retry(policy())
      )
      const fiber = yield* Effect.fork(client.get(URL))
      yield* TestClock.adjust(Duration.seconds(5))
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(
        [0, 1, 2].map((n) => S.header(scripted, n, HttpMiddleware.ATTEMPT_HEADER)),
        ["0", "1", "2"]
      )
    }))
})

describe("HttpMiddleware.idempotencyKey", () => {
  it.effect("one key for every attempt of a POST, a new key for the next call, none on GET", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.fail(), rateLimited(), ok(), ok(), ok()])
      const client = scripted.client.pipe(
        HttpMiddleware.classify,
        HttpMiddleware.retry(policy()),
        HttpMiddleware.idempotencyKey
      )
      const fiber = yield* Effect.fork(client.post(URL))
      yield* TestClock.adjust(Duration.seconds(5))
      yield* Fiber.join(fiber)
      yield* client.post(URL)
      yield* client.get(URL)
      const keys = [0, 1, 2, 3, 4].map((n) => S.header(scripted, n, HttpMiddleware.IDEMPOTENCY_HEADER))
      assert.match(keys[0] ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      assert.strictEqual(keys[1], keys[0])
      assert.strictEqual(keys[2], keys[0])
      assert.notStrictEqual(keys[3], keys[0])
      assert.isUndefined(keys[4])
    }))

  it.effect("keeps one key even when applied inside the retry", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.fail(), ok()])
      const client = scripted.client.pipe(
        HttpMiddleware.classify,
        HttpMiddleware.idempotencyKey,
        HttpMiddleware.retry(policy())
      )
      const fiber = yield* Effect.fork(client.post(URL))
      yield* TestClock.adjust(Duration.seconds(5))
      yield* Fiber.join(fiber)
      const [a, b] = [0, 1].map((n) => S.header(scripted, n, HttpMiddleware.IDEMPOTENCY_HEADER))
      assert.isDefined(a)
      assert.strictEqual(a, b)
    }))

  it.effect("draws the key from Effect's Random, so a seeded Random gives the same key", () =>
    Effect.gen(function*() {
      const run = () => Effect.gen(function*() {
        const scripted = S.make([ok()])
        yield* scripted.client.pipe(HttpMiddleware.idempotencyKey).post(URL)
        return S.header(scripted, 0, HttpMiddleware.IDEMPOTENCY_HEADER)
      }).pipe(Effect.withRandom(Random.make("seed")))
      const a = yield* run()
      const b = yield* run()
      assert.isDefined(a)
      assert.strictEqual(a, b)
    }))

  it.effect("leaves a caller's own key alone", () =>
    Effect.gen(function*() {
      const scripted = S.make([ok()])
      yield* scripted.client.pipe(HttpMiddleware.idempotencyKey).post(URL, { headers: { "Idempotency-Key": "mine" } })
      assert.strictEqual(S.header(scripted, 0, HttpMiddleware.IDEMPOTENCY_HEADER), "mine")
    }))
})

describe("HttpMiddleware.timeout and deadline", () => {
  it.effect("a hung attempt times out (phase headers) and the next attempt succeeds", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.hang, ok()])
      const client = scripted.client.pipe(
        HttpMiddleware.classify,
        HttpMiddleware.timeout("5 seconds"),
        HttpMiddleware.retry(policy())
      )
      const fiber = yield* Effect.fork(client.get(URL))
      yield* TestClock.adjust(Duration.millis(4999))
      assert.strictEqual(scripted.requests.length, 1)
      yield* TestClock.adjust(Duration.millis(1))
      yield* TestClock.adjust(Duration.seconds(1))
      const response = yield* Fiber.join(fiber)
      assert.strictEqual(response.status, 200)
      assert.strictEqual(scripted.requests.length, 2)
    }))

  it.effect("without retry the TimeoutError says phase headers and the timeout", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.hang])
      const client = scripted.client.pipe(HttpMiddleware.classify, HttpMiddleware.timeout("5 seconds"))
      const fiber = yield* Effect.fork(Effect.flip(client.get(URL)))
      yield* TestClock.adjust(Duration.seconds(5))
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "TimeoutError")
      if (error._tag === "TimeoutError") {
        assert.strictEqual(error.phase, "headers")
        assert.isTrue(Duration.equals(error.timeout, Duration.seconds(5)))
      }
    }))

  it.effect("the deadline bounds all attempts and the waits between them", () =>
    Effect.gen(function*() {
      const scripted = S.make([
        rateLimited({ "retry-after-ms": "2000" }),
        rateLimited({ "retry-after-ms": "2000" }),
        ok()
      ])
      const client = scripted.client.pipe(
        HttpMiddleware.classify,
        HttpMiddleware.retry(policy()),
        HttpMiddleware.deadline("3 seconds")
      )
      const fiber = yield* Effect.fork(Effect.flip(client.get(URL)))
      yield* TestClock.adjust(Duration.seconds(3))
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "TimeoutError")
      if (error._tag === "TimeoutError") assert.strictEqual(error.phase, "deadline")
      assert.strictEqual(scripted.requests.length, 2)
    }))
})

describe("HttpMiddleware.timeout on the live clock (a plain timer, one fiber)", () => {
  it.live("times out a hung attempt in real time, then succeeds on the next", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.hang, ok()])
      const client = scripted.client.pipe(
        HttpMiddleware.classify,
        HttpMiddleware.timeout("40 millis"),
        HttpMiddleware.retry(Schedule.recurs(1))
      )
      const started = Date.now()
      const response = yield* client.get(URL)
      assert.strictEqual(response.status, 200)
      assert.isAtLeast(Date.now() - started, 35)
      assert.strictEqual(scripted.requests.length, 2)
    }))

  it.live("reports phase headers, and an inner failure or success passes unchanged", () =>
    Effect.gen(function*() {
      const hung = S.make([S.hang])
      const error = yield* Effect.flip(hung.client.pipe(HttpMiddleware.classify, HttpMiddleware.timeout("20 millis")).get(URL))
      assert.isTrue(error._tag === "TimeoutError" && error.phase === "headers")
      const failing = S.make([rateLimited()])
      const limited = yield* Effect.flip(failing.client.pipe(HttpMiddleware.classify, HttpMiddleware.timeout("5 seconds")).get(URL))
      assert.strictEqual(limited._tag, "RateLimitReached")
      const fine = S.make([ok()])
      const response = yield* fine.client.pipe(HttpMiddleware.classify, HttpMiddleware.timeout("5 seconds")).get(URL)
      assert.deepStrictEqual(yield* response.json, { ok: true })
    }))

  it.live("interrupting the caller interrupts the attempt", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.hang])
      const client = scripted.client.pipe(HttpMiddleware.classify, HttpMiddleware.timeout("10 seconds"))
      const fiber = yield* Effect.fork(client.get(URL))
      yield* Effect.sleep("10 millis")
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
    }))
})

describe("HttpMiddleware.resilient", () => {
  it.effect("composes classify, timeout, attempt header, retry, idempotency key and deadline", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.hang, rateLimited({ "retry-after-ms": "100" }), ok()])
      const client = scripted.client.pipe(
        HttpMiddleware.resilient({ retryPolicy: policy(), timeout: "2 seconds", deadline: "1 minute" })
      )
      const fiber = yield* Effect.fork(client.post(URL))
      yield* TestClock.adjust(Duration.seconds(10))
      const response = yield* Fiber.join(fiber)
      assert.deepStrictEqual(HttpMiddleware.requestId(response), Option.some("req_ok"))
      const keys = [0, 1, 2].map((n) => S.header(scripted, n, HttpMiddleware.IDEMPOTENCY_HEADER))
      assert.isDefined(keys[0])
      assert.deepStrictEqual(keys, [keys[0], keys[0], keys[0]])
      assert.deepStrictEqual([0, 1, 2].map((n) => S.header(scripted, n, HttpMiddleware.ATTEMPT_HEADER)), ["0", "1", "2"])
    }))

  it.effect("idempotency key and attempt header can be turned off", () =>
    Effect.gen(function*() {
      const scripted = S.make([ok()])
      const client = scripted.client.pipe(
        HttpMiddleware.resilient({ retryPolicy: policy(), idempotencyKey: false, attemptHeader: false })
      )
      yield* client.post(URL)
      assert.isUndefined(S.header(scripted, 0, HttpMiddleware.IDEMPOTENCY_HEADER))
      assert.isUndefined(S.header(scripted, 0, HttpMiddleware.ATTEMPT_HEADER))
    }))

  it.effect("fits where a plain HttpClient is required, and gives the typed error back", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.json(429, S.errorBody("You exceeded your current quota", "insufficient_quota", "insufficient_quota"))])
      const transformClient = (client: HttpClient.HttpClient): HttpClient.HttpClient =>
        client.pipe(HttpMiddleware.resilient({ retryPolicy: policy() }), HttpMiddleware.toHttpClientError)
      const error = yield* Effect.flip(transformClient(scripted.client).get(URL))
      assert.strictEqual(error._tag, "RequestError")
      const typed = HttpMiddleware.fromHttpClientError(error)
      assert.isTrue(Option.isSome(typed) && typed.value._tag === "QuotaExceeded")
      assert.isTrue(Option.isNone(HttpMiddleware.fromHttpClientError(new Error("other"))))
      // As @effect/ai's HttpRequestError keeps it: one wrapper more, at error.cause.cause.
      const wrapped = { _tag: "HttpRequestError", cause: error }
      const deep = HttpMiddleware.fromHttpClientError(wrapped)
      assert.isTrue(Option.isSome(deep) && deep.value._tag === "QuotaExceeded")
      const cyclic: { cause?: unknown } = {}
      cyclic.cause = cyclic
      assert.isTrue(Option.isNone(HttpMiddleware.fromHttpClientError(cyclic)))
    }))

  it.effect("without a policy nothing is retried by HttpMiddleware.noRetry", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.fail()])
      const result = yield* Effect.either(scripted.client.pipe(HttpMiddleware.resilient({ retryPolicy: HttpMiddleware.noRetry })).get(URL))
      assert.isTrue(Either.isLeft(result))
      assert.strictEqual(scripted.requests.length, 1)
    }))
})

describe("docs/examples/middleware.ts", () => {
  it.effect("the hand-built stack retries a reset and keeps one key", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.fail(), ok()])
      const fiber = yield* Effect.fork(byHand(scripted.client).post(URL).pipe(Effect.withRandom(Random.fixed([0.5]))))
      yield* TestClock.adjust(Duration.seconds(30))
      const response = yield* Fiber.join(fiber)
      assert.strictEqual(response.status, 200)
      assert.strictEqual(S.header(scripted, 0, "idempotency-key"), S.header(scripted, 1, "idempotency-key"))
    }))

  it.effect("transformClient + explain recover the typed error", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.json(404, S.errorBody("The model `x` does not exist", "invalid_request_error", "model_not_found"))])
      const error = yield* Effect.flip(transformClient(scripted.client).get(URL))
      assert.match(explain(error), /^NotFound: /)
    }))
})
