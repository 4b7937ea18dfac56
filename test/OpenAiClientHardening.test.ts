/**
 * What proxies and compatible servers do that the API documents nowhere: a 200 carrying an API
 * error, an HTML page where a stream was asked for, keys without the `sk-` shape echoed back, and
 * foreign clients inspecting the errors our middleware hands them.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { inspect } from "node:util"
import * as HttpMiddleware from "../src/HttpMiddleware.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import { setupWith } from "./support/client.js"
import * as S from "../src/testing/ScriptedHttpClient.js"
import { type RecordedSpan, recordingTracer } from "./support/tracer.js"

// An Azure-style key: no `sk-` prefix, so only exact-value scrubbing can catch it.
const API_KEY = "3f9a1c0e77d24b8e9c1a2b3c4d5e6f70"

const setup = setupWith({
  apiKey: Redacted.make(API_KEY),
  baseUrl: "https://proxy.example.test/v1",
  resilience: { retryPolicy: RetryPolicy.make({ maxRetries: 3, base: "1 millis", jitter: "none" }) }
})

const request = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "hi" }] }

describe("OpenAiClient against misbehaving servers", () => {
  it.effect("a 200 whose JSON body is an API error is that typed error, not a decode error", () =>
    Effect.gen(function*() {
      const { openai } = yield* setup([
        S.json(200, S.errorBody("You exceeded your current quota", "insufficient_quota", "insufficient_quota"), {
          "x-request-id": "req_200err"
        })
      ])
      const error = yield* Effect.flip(openai.chat.completions.create(request))
      assert.strictEqual(error._tag, "QuotaExceeded")
      assert.deepStrictEqual(error.requestId._tag === "Some" ? error.requestId.value : undefined, "req_200err")
    }))

  it.effect("an HTML page where a stream was asked for fails at once with a decode error, not retried", () =>
    Effect.gen(function*() {
      const page = "<html><head><title>Sign in - Corporate Proxy</title></head><body>Please log in</body></html>"
      const { openai, scripted } = yield* setup([
        S.text(200, page, { "content-type": "text/html; charset=utf-8" }),
        S.text(200, page, { "content-type": "text/html; charset=utf-8" })
      ])
      const error = yield* Effect.flip(Stream.runDrain(openai.chat.completions.stream(request)))
      assert.strictEqual(error._tag, "ResponseDecodeError")
      assert.include(error.message, "Sign in - Corporate Proxy")
      assert.strictEqual(scripted.requests.length, 1)
    }))

  it.effect("a stream error event that echoes a key of any shape has it scrubbed", () =>
    Effect.gen(function*() {
      const { openai } = yield* setup([
        S.sse([S.data({ error: { message: `Invalid subscription key ${API_KEY}`, type: "invalid_request_error", code: "invalid_api_key" } })])
      ])
      const error = yield* Effect.flip(Stream.runDrain(openai.chat.completions.stream(request)))
      assert.strictEqual(error._tag, "IncorrectApiKey")
      assert.notInclude(`${error.message} ${JSON.stringify(error)} ${inspect(error, { depth: 10 })}`, API_KEY)
    }))

  it.effect("the HttpClientError handed to a foreign client holds no credentials", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.fail(), S.fail(), S.fail()])
      const foreign = scripted.client.pipe(
        HttpMiddleware.classify,
        HttpMiddleware.toHttpClientError
      )
      const error = yield* Effect.flip(
        foreign.execute(
          HttpClientRequest.get("https://api.example.test/v1/models").pipe(
            HttpClientRequest.bearerToken(API_KEY),
            HttpClientRequest.setHeader("api-key", API_KEY)
          )
        )
      )
      assert.strictEqual(error._tag, "RequestError")
      assert.notInclude(`${JSON.stringify(error)} ${inspect(error, { depth: 10 })}`, API_KEY)
    }))
})

describe("OpenAiClient tracing", () => {
  const completion = {
    id: "chatcmpl-t",
    object: "chat.completion",
    created: 1,
    model: "gpt-4o-mini",
    choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop", logprobs: null }]
  }
  const traceparent = (scripted: S.Scripted) => scripted.requests[0]?.headers["traceparent"]

  it.effect("with Effect's default tracer (nothing records spans) no span is opened and no traceparent sent", () =>
    Effect.gen(function*() {
      const { openai, scripted } = yield* setup([S.json(200, completion)])
      yield* openai.chat.completions.create(request)
      assert.isUndefined(traceparent(scripted))
    }))

  it.effect("with a tracer installed the platform's http.client span is opened and traceparent sent", () =>
    Effect.gen(function*() {
      const spans: Array<RecordedSpan> = []
      const { openai, scripted } = yield* setup([S.json(200, completion)])
      yield* openai.chat.completions.create(request).pipe(Effect.withTracer(recordingTracer(spans)))
      assert.isDefined(traceparent(scripted))
      assert.isTrue(spans.some((span) => span.name.startsWith("http.client")))
    }))

  it.effect("tracing: false turns it off even with a tracer installed", () =>
    Effect.gen(function*() {
      const spans: Array<RecordedSpan> = []
      const scripted = S.make([S.json(200, completion)])
      const openai = yield* OpenAiClient.make({
        apiKey: Redacted.make(API_KEY),
        baseUrl: "https://proxy.example.test/v1",
        tracing: false
      }).pipe(Effect.provideService(HttpClient.HttpClient, scripted.client))
      yield* openai.chat.completions.create(request).pipe(Effect.withTracer(recordingTracer(spans)))
      assert.isUndefined(traceparent(scripted))
      assert.isFalse(spans.some((span) => span.name.startsWith("http.client")))
    }))
})
