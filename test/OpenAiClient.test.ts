import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import { inspect } from "node:util"
import * as HttpMiddleware from "../src/HttpMiddleware.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as OpenAiError from "../src/OpenAiError.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import * as Embeddings from "../src/Schemas/Embeddings.js"
import { completion as baseCompletion, setupWith } from "./support/client.js"
import * as S from "../src/testing/ScriptedHttpClient.js"
import { type RecordedSpan, recordingTracer } from "./support/tracer.js"
import { quotaTest } from "../docs/examples/client.js"

const API_KEY = "sk-proj-TESTKEY0123456789abcdefghijklmnopqrstuvwxyz"
const BASE = "https://api.example.test/v1"

// Retries without jitter so that waits are exact: 1 s backoff, the server's hint when it gives one.
const policy = RetryPolicy.make({ maxRetries: 2, base: "1 second", factor: 1, jitter: "none" })

const setup = setupWith({ apiKey: Redacted.make(API_KEY), baseUrl: BASE, resilience: { retryPolicy: policy } })

// A field the schemas do not know yet must pass through.
const completion = { ...baseCompletion, a_field_from_next_year: { anything: true } }

const chatRequest = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "Say hi" }] }

const bodyOf = (scripted: S.Scripted, n: number): unknown => {
  const body = scripted.requests[n]?.body
  if (body?._tag !== "Uint8Array") return undefined
  return JSON.parse(new TextDecoder().decode(body.body))
}

describe("OpenAiClient: requests", () => {
  it.effect("chat.completions.create sends auth, account and resilience headers and decodes the result", () =>
    Effect.gen(function*() {
      const { openai, scripted } = yield* setup(
        [S.json(200, completion, { "x-request-id": "req_abc", "x-ratelimit-remaining-requests": "499" })],
        { organization: "org-1", project: "proj-1" }
      )
      const result = yield* openai.chat.completions.create({ ...chatRequest, stream: true })
      assert.strictEqual(result.data.choices[0]?.message.content, "Hi!")
      assert.deepStrictEqual(result.requestId, Option.some("req_abc"))
      assert.strictEqual(result.status, 200)
      assert.isTrue(Option.isSome(result.rateLimit))
      const request = scripted.requests[0]
      assert.strictEqual(request?.url, `${BASE}/chat/completions`)
      assert.strictEqual(request?.method, "POST")
      assert.strictEqual(request?.headers["authorization"], `Bearer ${API_KEY}`)
      assert.strictEqual(request?.headers["openai-organization"], "org-1")
      assert.strictEqual(request?.headers["openai-project"], "proj-1")
      assert.strictEqual(request?.headers[HttpMiddleware.ATTEMPT_HEADER], "0")
      assert.isString(request?.headers[HttpMiddleware.IDEMPOTENCY_HEADER])
      // `create` never asks for a stream, whatever the request said.
      assert.deepStrictEqual(bodyOf(scripted, 0), chatRequest)
    }))

  const errors: ReadonlyArray<readonly [S.Step, OpenAiError.Tag]> = [
    [S.json(400, S.errorBody("Invalid value for 'temperature'", "invalid_request_error", null, "temperature")), "BadRequest"],
    [S.json(400, S.errorBody("maximum context length is 8192 tokens", "invalid_request_error", "context_length_exceeded")), "ContextLengthExceeded"],
    [S.json(401, S.errorBody(`Incorrect API key provided: ${API_KEY}.`, "invalid_request_error", "invalid_api_key")), "IncorrectApiKey"],
    [S.json(401, S.errorBody("You must be a member of an organization to use the API.", "invalid_request_error", "no_organization")), "NoOrganization"],
    [S.json(401, S.errorBody("You didn't provide an API key.", "invalid_request_error", null)), "InvalidAuthentication"],
    [S.json(403, S.errorBody("Country, region, or territory not supported", "request_forbidden", "unsupported_country_region_territory")), "UnsupportedRegion"],
    [S.json(403, S.errorBody("You are not allowed to sample from this model", "invalid_request_error", null)), "PermissionDenied"],
    [S.json(404, S.errorBody("The model `gpt-9` does not exist", "invalid_request_error", "model_not_found")), "NotFound"],
    [S.json(429, S.errorBody("You exceeded your current quota", "insufficient_quota", "insufficient_quota")), "QuotaExceeded"],
    [S.json(429, S.errorBody("Request too large for gpt-4o on tokens per min (TPM): Limit 30000, Requested 31538.", "tokens", "rate_limit_exceeded")), "RequestTooLarge"],
    [S.json(200, { not: "a completion" }), "ResponseDecodeError"],
    [S.text(200, "{\"id\": \"chatcmpl-1\", \"object\""), "ResponseDecodeError"]
  ]
  for (const [step, tag] of errors) {
    it.effect(`${"status" in step ? step.status : "?"} -> ${tag}, with the request id, never retried, no key inside`, () =>
      Effect.gen(function*() {
        const withId = step._tag === "Respond" ? { ...step, headers: { ...step.headers, "x-request-id": "req_err" } } : step
        const { openai, scripted } = yield* setup([withId])
        const error = yield* Effect.flip(openai.chat.completions.create(chatRequest))
        assert.strictEqual(error._tag, tag)
        assert.deepStrictEqual(error.requestId, Option.some("req_err"))
        assert.strictEqual(scripted.requests.length, 1)
        for (const text of [String(error), JSON.stringify(error), inspect(error, { depth: 10 }), error.message]) {
          assert.notInclude(text, API_KEY)
          assert.notInclude(text, "TESTKEY0123456789")
        }
      }))
  }

  const retried: ReadonlyArray<readonly [S.Step, OpenAiError.Tag, number?]> = [
    [S.json(429, S.errorBody("Rate limit reached for requests", "requests", "rate_limit_exceeded")), "RateLimitReached"],
    [S.json(500, S.errorBody("The server had an error", "server_error", null)), "ServerError"],
    [S.text(502, "<html><title>502 Bad Gateway</title></html>"), "ServerError"],
    [S.json(503, S.errorBody("The engine is currently overloaded, please try again later", "server_error", null)), "EngineOverloaded"],
    [S.json(409, S.errorBody("Conflict", "invalid_request_error", null)), "Conflict"],
    // The default policy retries a 422 once only: a compatible server's validator may be flaky.
    [S.json(422, { detail: [{ loc: ["body", "messages"], msg: "field required" }] }), "UnprocessableEntity", 2],
    [S.fail(), "ConnectionError"]
  ]
  for (const [step, tag, attempts = 3] of retried) {
    it.effect(`${tag} is retried, and the last one surfaces after the retries, no key inside`, () =>
      Effect.gen(function*() {
        const { openai, scripted } = yield* setup(Array.from({ length: attempts }, () => step))
        const fiber = yield* Effect.fork(Effect.flip(openai.chat.completions.create(chatRequest)))
        yield* TestClock.adjust(Duration.seconds(10))
        const error = yield* Fiber.join(fiber)
        assert.strictEqual(error._tag, tag)
        assert.strictEqual(scripted.requests.length, attempts)
        for (const text of [String(error), JSON.stringify(error), inspect(error, { depth: 10 })]) {
          assert.notInclude(text, "TESTKEY0123456789")
        }
      }))
  }

  it.effect("honours retry-after-ms, keeps one idempotency key and counts attempts", () =>
    Effect.gen(function*() {
      const limited = S.json(429, S.errorBody("Rate limit reached", "tokens", "rate_limit_exceeded"), {
        "retry-after-ms": "2500",
        "x-request-id": "req_1"
      })
      const { openai, scripted } = yield* setup([limited, S.json(200, completion, { "x-request-id": "req_2" })])
      const fiber = yield* Effect.fork(openai.chat.completions.create(chatRequest))
      yield* TestClock.adjust(Duration.millis(2499))
      assert.strictEqual(scripted.requests.length, 1)
      // The hint plus its bounded jitter: at most 250 ms more (RetryPolicy's hintJitter).
      yield* TestClock.adjust(Duration.millis(251))
      const result = yield* Fiber.join(fiber)
      assert.deepStrictEqual(result.requestId, Option.some("req_2"))
      assert.strictEqual(S.header(scripted, 0, "idempotency-key"), S.header(scripted, 1, "idempotency-key"))
      assert.deepStrictEqual([S.header(scripted, 0, "x-retry-attempt"), S.header(scripted, 1, "x-retry-attempt")], ["0", "1"])
    }))

  it.effect("a body cut while reading is a ConnectionError and is retried", () =>
    Effect.gen(function*() {
      const { openai, scripted } = yield* setup([
        S.parts(200, ["{\"id\": \"chatcmpl-1\", ", S.cut()]),
        S.json(200, completion)
      ])
      const fiber = yield* Effect.fork(openai.chat.completions.create(chatRequest))
      yield* TestClock.adjust(Duration.seconds(5))
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.data.id, "chatcmpl-1")
      assert.strictEqual(scripted.requests.length, 2)
    }))

  it.effect("a per-attempt timeout retries a hung attempt; a deadline bounds them all", () =>
    Effect.gen(function*() {
      const { openai, scripted } = yield* setup([S.hang, S.json(200, completion)], { resilience: { timeout: "3 seconds" } })
      const fiber = yield* Effect.fork(openai.chat.completions.create(chatRequest))
      yield* TestClock.adjust(Duration.seconds(3))
      assert.strictEqual(scripted.requests.length, 1)
      yield* TestClock.adjust(Duration.seconds(1))
      yield* Fiber.join(fiber)
      assert.strictEqual(scripted.requests.length, 2)

      const late = yield* setup([S.hang, S.hang, S.hang], { resilience: { timeout: "3 seconds", deadline: "5 seconds" } })
      const lateFiber = yield* Effect.fork(Effect.flip(late.openai.chat.completions.create(chatRequest)))
      yield* TestClock.adjust(Duration.seconds(5))
      const error = yield* Fiber.join(lateFiber)
      assert.isTrue(error._tag === "TimeoutError" && error.phase === "deadline")
      assert.strictEqual(late.scripted.requests.length, 2)
    }))

  it.effect("for a non-streaming call the per-attempt timeout covers a body that stalls midway", () =>
    Effect.gen(function*() {
      const { openai, scripted } = yield* setup(
        [S.parts(200, ["{\"id\": \"chatcmpl-1\", ", S.pause("1 hour")]), S.json(200, completion)],
        { resilience: { timeout: "3 seconds" } }
      )
      const fiber = yield* Effect.fork(openai.chat.completions.create(chatRequest))
      yield* TestClock.adjust(Duration.millis(2999))
      assert.strictEqual(scripted.requests.length, 1)
      yield* TestClock.adjust(Duration.seconds(2))
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.data.id, "chatcmpl-1")
      assert.strictEqual(scripted.requests.length, 2)
    }))

  it.effect("without a deadline the last per-attempt TimeoutError surfaces (phase headers)", () =>
    Effect.gen(function*() {
      const { openai } = yield* setup([S.hang, S.hang, S.hang], { resilience: { timeout: "1 second" } })
      const fiber = yield* Effect.fork(Effect.flip(openai.models.list))
      yield* TestClock.adjust(Duration.seconds(10))
      const error = yield* Fiber.join(fiber)
      assert.isTrue(error._tag === "TimeoutError" && error.phase === "headers")
    }))

  it.effect("embeddings ask for base64 by default and decode to Float32Array", () =>
    Effect.gen(function*() {
      const vector = [0.25, -1.5, 3.125, 1e-7]
      const body = {
        object: "list",
        data: [{ object: "embedding", index: 0, embedding: Embeddings.encodeBase64Float32(vector) }],
        model: "text-embedding-3-small",
        usage: { prompt_tokens: 2, total_tokens: 2 }
      }
      const { openai, scripted } = yield* setup([
        S.json(200, body),
        S.json(200, { ...body, data: [{ object: "embedding", index: 0, embedding: vector }] })
      ])
      const result = yield* openai.embeddings.create({ model: "text-embedding-3-small", input: "hello" })
      const embedding = result.data.data[0]?.embedding
      assert.instanceOf(embedding, Float32Array)
      assert.deepStrictEqual(Array.from(embedding ?? []), Array.from(Float32Array.from(vector)))
      assert.strictEqual((bodyOf(scripted, 0) as { encoding_format?: string }).encoding_format, "base64")

      const floats = yield* openai.embeddings.create({
        model: "text-embedding-3-small",
        input: "hello",
        encoding_format: "float"
      })
      assert.strictEqual((bodyOf(scripted, 1) as { encoding_format?: string }).encoding_format, "float")
      assert.deepStrictEqual(Array.from(floats.data.data[0]?.embedding ?? []), Array.from(Float32Array.from(vector)))
    }))

  it.effect("a broken base64 embedding is a ResponseDecodeError with its path", () =>
    Effect.gen(function*() {
      const { openai } = yield* setup([
        S.json(200, {
          object: "list",
          data: [{ object: "embedding", index: 0, embedding: "AACAPw=" }],
          model: "m",
          usage: { prompt_tokens: 1, total_tokens: 1 }
        })
      ])
      const error = yield* Effect.flip(openai.embeddings.create({ model: "m", input: "x" }))
      assert.strictEqual(error._tag, "ResponseDecodeError")
      if (error._tag === "ResponseDecodeError") assert.include(error.path, "embedding")
    }))

  it.effect("models.list and models.retrieve", () =>
    Effect.gen(function*() {
      const model = { id: "ft:gpt-4o:org/x", object: "model", created: 1, owned_by: "org" }
      const { openai, scripted } = yield* setup([
        S.json(200, { object: "list", data: [model] }),
        S.json(200, model, { "x-request-id": "req_m" })
      ])
      const list = yield* openai.models.list
      assert.strictEqual(list.data.data[0]?.id, model.id)
      const one = yield* openai.models.retrieve(model.id)
      assert.deepStrictEqual(one.requestId, Option.some("req_m"))
      assert.strictEqual(scripted.requests[1]?.url, `${BASE}/models/${encodeURIComponent(model.id)}`)
      assert.strictEqual(scripted.requests[1]?.method, "GET")
      assert.isUndefined(S.header(scripted, 1, "idempotency-key"))
    }))

  it.effect("responses.create", () =>
    Effect.gen(function*() {
      const response = {
        id: "resp_1",
        object: "response",
        created_at: 1,
        status: "completed",
        model: "gpt-4o-mini",
        output: [{
          type: "message",
          id: "msg_1",
          status: "completed",
          role: "assistant",
          content: [{ type: "output_text", text: "Hello", annotations: [] }]
        }],
        usage: null
      }
      const { openai, scripted } = yield* setup([S.json(200, response, { "x-request-id": "req_r" })])
      const result = yield* openai.responses.create({ model: "gpt-4o-mini", input: "Hi" })
      assert.strictEqual(result.data.id, "resp_1")
      assert.deepStrictEqual(result.requestId, Option.some("req_r"))
      assert.strictEqual(scripted.requests[0]?.url, `${BASE}/responses`)
    }))

  it.effect("a body that cannot be encoded is a typed BadRequest, not a defect, and nothing is sent", () =>
    Effect.gen(function*() {
      const { openai, scripted } = yield* setup([])
      const error = yield* Effect.flip(
        openai.chat.completions.create({ ...chatRequest, metadata: { big: 1n } as unknown as Record<string, string> })
      )
      assert.strictEqual(error._tag, "BadRequest")
      assert.strictEqual(scripted.requests.length, 0)
    }))

  it.effect("the httpClient of the service is resilient and authenticated for other endpoints", () =>
    Effect.gen(function*() {
      const { openai, scripted } = yield* setup([S.fail(), S.json(200, { object: "list", data: [] })])
      const fiber = yield* Effect.fork(openai.httpClient.get("/files"))
      yield* TestClock.adjust(Duration.seconds(5))
      const response = yield* Fiber.join(fiber)
      assert.strictEqual(response.status, 200)
      assert.strictEqual(scripted.requests[1]?.url, `${BASE}/files`)
      assert.strictEqual(scripted.requests[1]?.headers["authorization"], `Bearer ${API_KEY}`)
    }))
})

describe("OpenAiClient: the API key stays secret", () => {
  it.effect("never appears in logs of failures, causes or the client itself", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const capture = Logger.make(({ cause, message }) => {
        lines.push(`${inspect(message, { depth: 10 })} ${Cause.pretty(cause)}`)
      })
      const keyInBody = S.json(401, S.errorBody(`Incorrect API key provided: ${API_KEY}`, "invalid_request_error", "invalid_api_key"))
      const { openai } = yield* setup([keyInBody, S.fail(), S.fail(), S.fail()], { resilience: { retryPolicy: HttpMiddleware.noRetry } })
      const program = Effect.gen(function*() {
        const exit1 = yield* Effect.exit(Effect.asVoid(openai.chat.completions.create(chatRequest)))
        const exit2 = yield* Effect.exit(Effect.asVoid(openai.models.list))
        for (const exit of [exit1, exit2]) {
          if (Exit.isFailure(exit)) {
            yield* Effect.logError("call failed", exit.cause)
            yield* Effect.logError(Cause.squash(exit.cause))
          }
        }
        yield* Effect.log(openai)
        yield* Effect.log(openai.httpClient)
      })
      yield* program.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture)))
      assert.isAbove(lines.length, 3)
      for (const line of lines) assert.notInclude(line, "TESTKEY0123456789")
      assert.notInclude(JSON.stringify(yield* OpenAiClient.config.pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["OPENAI_API_KEY", API_KEY]])))
      )), "TESTKEY0123456789")
    }))
})

describe("OpenAiClient: the API key stays out of traces", () => {
  it.effect("no span attribute, event or status holds the key, on success and on failure", () =>
    Effect.gen(function*() {
      const spans: Array<RecordedSpan> = []
      const tracer = recordingTracer(spans)
      const { openai } = yield* setup([
        S.json(200, completion, { "x-request-id": "req_t" }),
        S.json(401, S.errorBody(`Incorrect API key provided: ${API_KEY}`, "invalid_request_error", "invalid_api_key"))
      ])
      yield* openai.chat.completions.create(chatRequest).pipe(Effect.withSpan("ok"), Effect.withTracer(tracer))
      yield* Effect.flip(openai.chat.completions.create(chatRequest)).pipe(Effect.withSpan("fail"), Effect.withTracer(tracer))
      // What an exporter sends: attributes, events, and for a failure the cause (OpenTelemetry
      // records Cause.pretty as the exception). A success value is never exported.
      const recorded = spans.flatMap((span) => [
        `${span.name} ${inspect([...span.attributes], { depth: 10 })}`,
        ...span.events.map(([event, attributes]) => `${event} ${inspect(attributes, { depth: 10 })}`),
        span.exit !== undefined && Exit.isFailure(span.exit)
          ? `${Cause.pretty(span.exit.cause)} ${JSON.stringify(Cause.squash(span.exit.cause))}`
          : "ok"
      ])
      assert.isAbove(recorded.length, 2)
      assert.isTrue(recorded.some((line) => line.includes("http.request.header.authorization")))
      for (const line of recorded) assert.notInclude(line, "TESTKEY0123456789")
    }))
})

describe("OpenAiClient: configuration", () => {
  const provider = (entries: ReadonlyArray<readonly [string, string]>) =>
    Layer.setConfigProvider(ConfigProvider.fromMap(new Map(entries)))

  it.effect("layerConfig reads the key, base URL, organization, project and timeouts", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.json(200, { object: "list", data: [] })])
      const layer = OpenAiClient.layerConfig.pipe(
        Layer.provide(Layer.succeed(HttpClient.HttpClient, scripted.client)),
        Layer.provide(provider([
          ["OPENAI_API_KEY", API_KEY],
          ["OPENAI_BASE_URL", "http://localhost:8000/v1/"],
          ["OPENAI_ORG_ID", "org-9"],
          ["OPENAI_PROJECT_ID", ""],
          ["OPENAI_TIMEOUT", "30 seconds"],
          ["OPENAI_MAX_RETRIES", "0"]
        ]))
      )
      yield* Effect.flatMap(OpenAiClient.OpenAiClient, (openai) => openai.models.list).pipe(Effect.provide(layer))
      const request = scripted.requests[0]
      assert.strictEqual(request?.url, "http://localhost:8000/v1/models")
      assert.strictEqual(request?.headers["authorization"], `Bearer ${API_KEY}`)
      assert.strictEqual(request?.headers["openai-organization"], "org-9")
      assert.isUndefined(request?.headers["openai-project"])
    }))

  it.effect("defaults to the official base URL; a missing key is a ConfigError", () =>
    Effect.gen(function*() {
      const options = yield* OpenAiClient.config.pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["OPENAI_API_KEY", API_KEY]])))
      )
      assert.strictEqual(options.baseUrl, "https://api.openai.com/v1")
      assert.isTrue(Redacted.isRedacted(options.apiKey))
      const missing = yield* Effect.exit(
        OpenAiClient.config.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map())))
      )
      assert.isTrue(Exit.isFailure(missing))
      const negative = yield* Effect.exit(
        OpenAiClient.config.pipe(
          Effect.withConfigProvider(
            ConfigProvider.fromMap(new Map([["OPENAI_API_KEY", API_KEY], ["OPENAI_MAX_RETRIES", "-1"]]))
          )
        )
      )
      assert.isTrue(Exit.isFailure(negative))
    }))

  it.effect("OPENAI_MAX_RETRIES bounds the retries", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.fail(), S.fail()])
      const layer = OpenAiClient.layerConfig.pipe(
        Layer.provide(Layer.succeed(HttpClient.HttpClient, scripted.client)),
        Layer.provide(provider([["OPENAI_API_KEY", API_KEY], ["OPENAI_MAX_RETRIES", "1"]]))
      )
      const fiber = yield* Effect.fork(
        Effect.flip(Effect.flatMap(OpenAiClient.OpenAiClient, (openai) => openai.models.list).pipe(Effect.provide(layer)))
      )
      yield* TestClock.adjust(Duration.minutes(1))
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "ConnectionError")
      assert.strictEqual(scripted.requests.length, 2)
    }))
})

describe("docs/examples/client.ts", () => {
  it.effect("the quota testing recipe holds", () => Effect.map(quotaTest, (ok) => assert.isTrue(ok)))
})
