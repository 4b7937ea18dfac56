import { HttpClient, HttpClientError, HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Either, Exit, FastCheck, Fiber, Option, Stream, TestClock } from "effect"
import * as Examples from "../docs/examples/testing.js"
import * as Classify from "../src/Classify.js"
import * as GoDuration from "../src/GoDuration.js"
import type * as OpenAiError from "../src/OpenAiError.js"
import { Faults, MockApi, MockHttpClient, MockRateLimits } from "../src/testing/index.js"

const url = (path: string) => `${MockHttpClient.baseUrl}${path}`
const API_KEY = "sk-test-0123456789abcdefghijklmnop"

const chatRequest = (headers: Record<string, string> = {}, body: Record<string, unknown> = {}) =>
  HttpClientRequest.post(url("/chat/completions")).pipe(
    HttpClientRequest.bearerToken(API_KEY),
    HttpClientRequest.setHeaders(headers),
    HttpClientRequest.bodyUnsafeJson({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Hello there, mock" }],
      ...body
    })
  )

const send = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.flatMap(HttpClient.HttpClient, (client) => client.execute(request))

const sendText = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.flatMap(send(request), (res) => Effect.map(res.text, (text) => ({ res, text })))

const dataLines = (text: string): ReadonlyArray<string> =>
  text.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6))

const expectedTag: Partial<Record<Faults.FaultName, OpenAiError.Tag>> = {
  invalid_authentication: "InvalidAuthentication",
  incorrect_api_key: "IncorrectApiKey",
  no_organization: "NoOrganization",
  unsupported_region: "UnsupportedRegion",
  rate_limit_requests: "RateLimitReached",
  rate_limit_tokens: "RateLimitReached",
  rate_limit_legacy: "RateLimitReached",
  rate_limit_headerless: "RateLimitReached",
  insufficient_quota: "QuotaExceeded",
  request_too_large: "RequestTooLarge",
  server_error: "ServerError",
  engine_overloaded: "EngineOverloaded",
  provider_overloaded: "EngineOverloaded",
  bad_request: "BadRequest",
  context_length_exceeded: "ContextLengthExceeded",
  conversation_locked: "BadRequest",
  not_found: "NotFound",
  conflict: "Conflict",
  unprocessable: "UnprocessableEntity"
}

const statusFaults = Faults.names.filter((n) => Faults.descriptions[n].kind === "status")

describe("MockHttpClient: endpoints", () => {
  it.effect("chat completions echo the last user message with consistent usage and headers", () =>
    Effect.gen(function*() {
      const { res, text } = yield* sendText(chatRequest())
      expect(res.status).toBe(200)
      const body = JSON.parse(text)
      expect(body.object).toBe("chat.completion")
      expect(body.choices[0].message.content).toBe("Hello there, mock")
      const prompt = MockApi.estimateTokens("/v1/chat/completions", {
        messages: [{ role: "user", content: "Hello there, mock" }],
        max_tokens: 0
      })
      expect(body.usage.prompt_tokens).toBe(prompt)
      expect(body.usage.completion_tokens).toBe(Math.ceil("Hello there, mock".length / 4))
      expect(res.headers["x-request-id"]).toMatch(/^req_[0-9a-f]{32}$/)
      for (const h of ["limit", "remaining", "reset"]) {
        expect(res.headers[`x-ratelimit-${h}-requests`]).toBeDefined()
        expect(res.headers[`x-ratelimit-${h}-tokens`]).toBeDefined()
      }
    }).pipe(Effect.provide(MockHttpClient.layer())))

  it.effect("streamed chat completions end with a usage chunk and [DONE]", () =>
    Effect.gen(function*() {
      const { res, text } = yield* sendText(
        chatRequest({}, { stream: true, stream_options: { include_usage: true } })
      )
      expect(res.headers["content-type"]).toContain("text/event-stream")
      const lines = dataLines(text)
      expect(lines[lines.length - 1]).toBe("[DONE]")
      const chunks = lines.slice(0, -1).map((l) => JSON.parse(l))
      const usage = chunks[chunks.length - 1]
      expect(usage.choices).toEqual([])
      expect(usage.usage.total_tokens).toBe(usage.usage.prompt_tokens + usage.usage.completion_tokens)
      const content = chunks.flatMap((c) => c.choices.map((ch: { delta: { content?: string } }) => ch.delta.content ?? ""))
        .join("")
      expect(content).toBe("Hello there, mock")
      expect(chunks[chunks.length - 2].choices[0].finish_reason).toBe("stop")
    }).pipe(Effect.provide(MockHttpClient.layer())))

  it.effect("SSE events arrive with their delay on the Clock", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(sendText(chatRequest({ "x-mock-chunk-delay-ms": "100" }, { stream: true })))
      yield* TestClock.adjust("250 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("10 seconds")
      const { text } = yield* Fiber.join(fiber)
      expect(dataLines(text).at(-1)).toBe("[DONE]")
    }).pipe(Effect.provide(MockHttpClient.layer())))

  it.effect("embeddings: base64 is the float32 little-endian encoding of the float vector", () =>
    Effect.gen(function*() {
      const request = (encoding_format: string) =>
        HttpClientRequest.post(url("/embeddings")).pipe(
          HttpClientRequest.bodyUnsafeJson({ model: "text-embedding-3-small", input: ["a", "bb"], encoding_format, dimensions: 8 })
        )
      const floats = JSON.parse((yield* sendText(request("float"))).text)
      const b64 = JSON.parse((yield* sendText(request("base64"))).text)
      expect(floats.data).toHaveLength(2)
      expect(floats.usage.prompt_tokens).toBe(2)
      for (const i of [0, 1]) {
        const bytes = Buffer.from(b64.data[i].embedding, "base64")
        const decoded = Array.from({ length: bytes.length / 4 }, (_, k) => bytes.readFloatLE(k * 4))
        expect(decoded).toEqual(floats.data[i].embedding)
        expect(decoded).toHaveLength(8)
      }
      expect(floats.data[0].embedding).not.toEqual(floats.data[1].embedding)
    }).pipe(Effect.provide(MockHttpClient.layer())))

  it.effect("models: list, retrieve, and 404 model_not_found for an unknown id", () =>
    Effect.gen(function*() {
      const list = JSON.parse((yield* sendText(HttpClientRequest.get(url("/models")))).text)
      expect(list.object).toBe("list")
      const id = list.data[0].id
      const one = yield* sendText(HttpClientRequest.get(url(`/models/${id}`)))
      expect(JSON.parse(one.text)).toMatchObject({ id, object: "model" })
      for (const id of ["gpt-nope", "%E0%A4%A"]) {
        const missing = yield* sendText(HttpClientRequest.get(url(`/models/${id}`)))
        expect(missing.res.status).toBe(404)
        expect(JSON.parse(missing.text).error.code).toBe("model_not_found")
      }
    }).pipe(Effect.provide(MockHttpClient.layer())))

  it.effect("responses: plain and streamed events", () =>
    Effect.gen(function*() {
      const request = (stream: boolean) =>
        HttpClientRequest.post(url("/responses")).pipe(
          HttpClientRequest.bodyUnsafeJson({ model: "gpt-4o-mini", input: "Echo me", stream })
        )
      const plain = JSON.parse((yield* sendText(request(false))).text)
      expect(plain.object).toBe("response")
      expect(plain.status).toBe("completed")
      expect(plain.output[0].content[0].text).toBe("Echo me")
      const streamed = yield* sendText(request(true))
      const events = streamed.text.split("\n").filter((l) => l.startsWith("event: ")).map((l) => l.slice(7))
      expect(events[0]).toBe("response.created")
      expect(events.at(-1)).toBe("response.completed")
      const data = dataLines(streamed.text).map((l) => JSON.parse(l))
      expect(data.filter((d) => d.type === "response.output_text.delta").map((d) => d.delta).join("")).toBe("Echo me")
      expect(data.map((d) => d.sequence_number)).toEqual(data.map((_, i) => i))
    }).pipe(Effect.provide(MockHttpClient.layer())))
})

describe("MockHttpClient: faults", () => {
  it.effect("every status fault has the real status, type, code, request id, and classifies as the guide says", () =>
    Effect.gen(function*() {
      for (const fault of statusFaults) {
        const d = Faults.descriptions[fault]
        const { res, text } = yield* sendText(chatRequest({ "x-mock-fault": fault }))
        expect(res.status, fault).toBe(d.status)
        const body = JSON.parse(text)
        if (fault === "unprocessable") {
          expect(body.detail, fault).toBeDefined()
        } else {
          expect(body.error.type, fault).toBe(d.type)
          expect(body.error.code, fault).toBe(d.code)
        }
        expect(res.headers["x-request-id"], fault).toMatch(/^req_/)
        expect(res.headers["retry-after-ms"] !== undefined, fault).toBe(d.retryAfter)
        const classified = Classify.classifyResponse({ status: res.status, headers: res.headers, body: text })
        expect(classified._tag, fault).toBe(expectedTag[fault])
        expect(Option.getOrUndefined(classified.requestId), fault).toBe(res.headers["x-request-id"])
        expect(text, fault).not.toContain(API_KEY)
      }
    }).pipe(Effect.provide(MockHttpClient.layer())))

  it.effect("rate-limit faults name their scope and the delay, in the message and the headers", () =>
    Effect.gen(function*() {
      const { res, text } = yield* sendText(
        chatRequest({ "x-mock-fault": "rate_limit_tokens", "x-mock-retry-after-ms": "1500" })
      )
      expect(JSON.parse(text).error.message).toMatch(
        /^Rate limit reached for gpt-4o-mini in organization org-mock on tokens per min \(TPM\): Limit \d+, Used \d+, Requested \d+\. Please try again in 1\.5s\./
      )
      expect(res.headers["retry-after-ms"]).toBe("1500")
      expect(res.headers["retry-after"]).toBe("2")
      const e = Classify.classifyResponse({ status: res.status, headers: res.headers, body: text })
      expect(e._tag === "RateLimitReached" && e.scope).toBe("tokens")
    }).pipe(Effect.provide(MockHttpClient.layer())))

  it.effect("incorrect_api_key masks the key it echoes", () =>
    Effect.gen(function*() {
      const { text } = yield* sendText(chatRequest({ "x-mock-fault": "incorrect_api_key" }))
      expect(JSON.parse(text).error.message).toContain(`sk-test-${"*".repeat(API_KEY.length - 12)}mnop`)
    }).pipe(Effect.provide(MockHttpClient.layer())))

  it.effect("x-should-retry is sent when asked, by header or option", () =>
    Effect.gen(function*() {
      const { res } = yield* sendText(chatRequest({ "x-mock-fault": "insufficient_quota", "x-mock-should-retry": "false" }))
      expect(res.headers["x-should-retry"]).toBe("false")
      const plain = yield* sendText(chatRequest({ "x-mock-fault": "server_error" }))
      expect(plain.res.headers["x-should-retry"]).toBeUndefined()
      const withRetryAfter = yield* sendText(chatRequest({ "x-mock-fault": "server_error", "x-mock-retry-after-ms": "250" }))
      expect(withRetryAfter.res.headers["retry-after-ms"]).toBe("250")
    }).pipe(Effect.provide(MockHttpClient.layer())))

  it.effect("option shouldRetry adds x-should-retry to every fault", () =>
    Effect.gen(function*() {
      const { res } = yield* sendText(chatRequest({ "x-mock-fault": "server_error" }))
      expect(res.headers["x-should-retry"]).toBe("true")
    }).pipe(Effect.provide(MockHttpClient.layer({ shouldRetry: true }))))

  it.effect("malformed_json, html_502 and empty_body send what proxies and broken servers send", () =>
    Effect.gen(function*() {
      const broken = yield* sendText(chatRequest({ "x-mock-fault": "malformed_json" }))
      expect(broken.res.status).toBe(200)
      expect(() => JSON.parse(broken.text)).toThrow()
      expect(broken.text.startsWith("{\"id\":\"chatcmpl-")).toBe(true)
      const html = yield* sendText(chatRequest({ "x-mock-fault": "html_502" }))
      expect(html.res.status).toBe(502)
      expect(html.res.headers["content-type"]).toBe("text/html")
      expect(html.text).toContain("502 Bad Gateway")
      expect(Classify.classifyResponse({ status: 502, headers: html.res.headers, body: html.text })._tag).toBe("ServerError")
      const empty = yield* sendText(chatRequest({ "x-mock-fault": "empty_body" }))
      expect(empty.res.status).toBe(200)
      expect(empty.text).toBe("")
      const empty503 = yield* sendText(chatRequest({ "x-mock-fault": "empty_body", "x-mock-status": "503" }))
      expect(empty503.res.status).toBe(503)
    }).pipe(Effect.provide(MockHttpClient.layer())))

  it.effect("slow_headers holds the response until the Clock has moved (30 s by default)", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(send(chatRequest({ "x-mock-fault": "slow_headers" })))
      yield* TestClock.adjust("29 seconds")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(fiber)).status).toBe(200)
      // A client timeout fires first, in virtual time.
      const timed = yield* Effect.fork(
        send(chatRequest({ "x-mock-fault": "slow_headers", "x-mock-delay-ms": "5000" })).pipe(Effect.timeout("1 second"))
      )
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.await(timed)
      expect(Exit.isFailure(exit) && Cause.isFailType(exit.cause) && exit.cause.error._tag).toBe("TimeoutException")
    }).pipe(Effect.provide(MockHttpClient.layer())))

  it.effect("connection_reset fails with a Transport RequestError caused by ECONNRESET", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(send(chatRequest({ "x-mock-fault": "connection_reset" })))
      expect(error._tag).toBe("RequestError")
      expect(error instanceof HttpClientError.RequestError && error.reason).toBe("Transport")
      expect(error.cause).toMatchObject({ code: "ECONNRESET", message: "read ECONNRESET" })
      const classified = Classify.classifyTransportError(error)
      expect(classified._tag).toBe("ConnectionError")
      expect(Option.getOrUndefined(classified.code)).toBe("ECONNRESET")
    }).pipe(Effect.provide(MockHttpClient.layer())))

  it.effect("stream_error sends an error frame after some chunks (chat and responses)", () =>
    Effect.gen(function*() {
      const { res, text } = yield* sendText(chatRequest({ "x-mock-fault": "stream_error" }, { stream: true }))
      expect(res.status).toBe(200)
      const lines = dataLines(text)
      expect(lines).not.toContain("[DONE]")
      const last = JSON.parse(lines[lines.length - 1] ?? "{}")
      expect(last.error.type).toBe("server_error")
      expect(lines.length).toBeGreaterThan(1)
      expect(Classify.classifyStreamError(last)._tag).toBe("ServerError")
      const responses = yield* sendText(
        HttpClientRequest.post(url("/responses")).pipe(
          HttpClientRequest.setHeader("x-mock-fault", "stream_error"),
          HttpClientRequest.bodyUnsafeJson({ model: "gpt-4o-mini", input: "hi there", stream: true })
        )
      )
      // Nested, as real traffic sends it; the spec's flat shape on request.
      expect(responses.text).toContain("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"server_error\",\"code\":\"server_error\"")
      const flat = yield* sendText(
        HttpClientRequest.post(url("/responses")).pipe(
          HttpClientRequest.setHeaders({ "x-mock-fault": "stream_error", "x-mock-error-shape": "flat" }),
          HttpClientRequest.bodyUnsafeJson({ model: "gpt-4o-mini", input: "hi there", stream: true })
        )
      )
      expect(flat.text).toContain("event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\"")
      expect(responses.text).not.toContain("response.completed")
      // Without stream: true it is a plain 500.
      const plain = yield* send(chatRequest({ "x-mock-fault": "stream_error" }))
      expect(plain.status).toBe(500)
    }).pipe(Effect.provide(MockHttpClient.layer())))

  it.effect("stream_cut fails the body part-way with a ResponseError caused by ECONNRESET", () =>
    Effect.gen(function*() {
      const res = yield* send(chatRequest({ "x-mock-fault": "stream_cut" }, { stream: true }))
      expect(res.status).toBe(200)
      const received: Array<string> = []
      const decoder = new TextDecoder()
      const error = yield* Effect.flip(
        Stream.runForEach(res.stream, (b) => Effect.sync(() => received.push(decoder.decode(b))))
      )
      expect(error._tag).toBe("ResponseError")
      expect(error.cause).toMatchObject({ code: "ECONNRESET" })
      expect(received.join("")).toContain("chat.completion.chunk")
      expect(received.join("")).not.toContain("[DONE]")
      // A plain body cut off half-way.
      const plain = yield* send(chatRequest({ "x-mock-fault": "stream_cut" }))
      expect(Either.isLeft(yield* Effect.either(plain.text))).toBe(true)
    }).pipe(Effect.provide(MockHttpClient.layer())))
})

describe("MockHttpClient: fail N times, scenarios, seeded faults", () => {
  it.effect("x-mock-fault-times fails the first N attempts of a logical request, then succeeds", () =>
    Effect.gen(function*() {
      const attempt = (key: Record<string, string>) =>
        Effect.map(send(chatRequest({ "x-mock-fault": "server_error", "x-mock-fault-times": "2", ...key })), (r) => r.status)
      const statuses = [
        yield* attempt({ "x-mock-key": "a" }),
        yield* attempt({ "x-mock-key": "a" }),
        yield* attempt({ "x-mock-key": "b" }),
        yield* attempt({ "x-mock-key": "a" })
      ]
      expect(statuses).toEqual([500, 500, 500, 200])
      // Idempotency-Key wins over x-mock-key.
      const idem = [
        yield* attempt({ "idempotency-key": "k1", "x-mock-key": "x" }),
        yield* attempt({ "idempotency-key": "k1", "x-mock-key": "y" }),
        yield* attempt({ "idempotency-key": "k1", "x-mock-key": "z" })
      ]
      expect(idem).toEqual([500, 500, 200])
      const log = yield* Effect.flatMap(MockApi.MockApi, (m) => m.log)
      expect(log.map((e) => [e.key, e.attempt])).toEqual([
        ["a", 1],
        ["a", 2],
        ["b", 1],
        ["a", 3],
        ["k1", 1],
        ["k1", 2],
        ["k1", 3]
      ])
      expect(log.map((e) => Option.getOrUndefined(e.fault))).toEqual([
        "server_error",
        "server_error",
        "server_error",
        undefined,
        "server_error",
        "server_error",
        undefined
      ])
    }).pipe(Effect.provide(MockHttpClient.layer())))

  it.effect("without a key, the same method, path and body are one logical request", () =>
    Effect.gen(function*() {
      const statuses: Array<number> = []
      for (let i = 0; i < 3; i++) {
        statuses.push((yield* send(chatRequest({ "x-mock-fault": "engine_overloaded", "x-mock-fault-times": "1" }))).status)
      }
      expect(statuses).toEqual([503, 200, 200])
    }).pipe(Effect.provide(MockHttpClient.layer())))

  it.effect("a start-up scenario serves its faults in order, then normal responses", () =>
    Effect.gen(function*() {
      const statuses: Array<number> = []
      for (let i = 0; i < 4; i++) statuses.push((yield* send(chatRequest())).status)
      expect(statuses).toEqual([500, 200, 429, 200])
      const mock = yield* MockApi.MockApi
      yield* mock.reset
      expect((yield* send(chatRequest())).status).toBe(500)
      expect(yield* mock.log).toHaveLength(1)
    }).pipe(Effect.provide(MockHttpClient.layer({ scenario: ["server_error", "ok", "rate_limit_tokens"] }))))

  it.effect("seeded fault rates are deterministic and near their probability", () =>
    Effect.gen(function*() {
      const run = (seed: number) =>
        Effect.gen(function*() {
          const out: Array<number> = []
          for (let i = 0; i < 200; i++) out.push((yield* send(chatRequest({ "x-mock-key": String(i) }))).status)
          return out
        }).pipe(Effect.provide(MockHttpClient.layer({ faultRates: { server_error: 0.3, conflict: 0.1 }, seed })))
      const a = yield* run(42)
      const b = yield* run(42)
      const c = yield* run(7)
      expect(a).toEqual(b)
      expect(a).not.toEqual(c)
      const share = (status: number) => a.filter((s) => s === status).length / a.length
      expect(share(500)).toBeGreaterThan(0.2)
      expect(share(500)).toBeLessThan(0.4)
      expect(share(409)).toBeGreaterThan(0.04)
      expect(share(409)).toBeLessThan(0.17)
    }))
})

describe("MockHttpClient: rate limits under TestClock", () => {
  it.effect("RPM: the fourth request in a minute gets 429 requests; the window refills continuously", () =>
    Effect.gen(function*() {
      const remaining: Array<string | undefined> = []
      for (let i = 0; i < 3; i++) {
        const res = yield* send(chatRequest())
        expect(res.status).toBe(200)
        remaining.push(res.headers["x-ratelimit-remaining-requests"])
      }
      expect(remaining).toEqual(["2", "1", "0"])
      const { res, text } = yield* sendText(chatRequest())
      expect(res.status).toBe(429)
      const error = JSON.parse(text).error
      expect(error).toMatchObject({ type: "requests", code: "rate_limit_exceeded", param: null })
      expect(error.message).toBe(
        "Rate limit reached for gpt-4o-mini in organization org-mock on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/rate-limits to learn more."
      )
      expect(res.headers["retry-after-ms"]).toBe("20000")
      expect(res.headers["retry-after"]).toBe("20")
      expect(res.headers["x-ratelimit-reset-requests"]).toBe("1m0s")
      const classified = Classify.classifyResponse({ status: 429, headers: res.headers, body: text })
      expect(classified._tag === "RateLimitReached" && [classified.scope, classified.limit, classified.used]).toEqual([
        "requests",
        Option.some(3),
        Option.some(3)
      ])
      // Another key has its own limits.
      expect((yield* send(chatRequest().pipe(HttpClientRequest.bearerToken("sk-other")))).status).toBe(200)
      yield* TestClock.adjust("19999 millis")
      expect((yield* send(chatRequest())).status).toBe(429)
      yield* TestClock.adjust("1 millis")
      const after = yield* send(chatRequest())
      expect(after.status).toBe(200)
      expect(after.headers["x-ratelimit-remaining-requests"]).toBe("0")
      yield* TestClock.adjust("1 minute")
      expect((yield* send(chatRequest())).headers["x-ratelimit-remaining-requests"]).toBe("2")
      const log = yield* Effect.flatMap(MockApi.MockApi, (m) => m.log)
      expect(log.filter((e) => Option.isSome(e.rateLimited)).map((e) => e.sequence)).toEqual([4, 6])
    }).pipe(Effect.provide(MockHttpClient.layer({ rpm: 3 }))))

  it.effect("TPM: tokens are estimated, counted with max_tokens, and a request above the limit is too large", () =>
    Effect.gen(function*() {
      const body = { max_tokens: 40 }
      const need = MockApi.estimateTokens("/v1/chat/completions", {
        messages: [{ role: "user", content: "Hello there, mock" }],
        ...body
      })
      const first = yield* send(chatRequest({}, body))
      expect(first.status).toBe(200)
      expect(first.headers["x-ratelimit-remaining-tokens"]).toBe(String(100 - need))
      expect(first.headers["x-ratelimit-reset-tokens"]).toBe(`${(need * 60) / 100}s`)
      const second = yield* sendText(chatRequest({}, body))
      expect(second.res.status).toBe(429)
      const message: string = JSON.parse(second.text).error.message
      expect(JSON.parse(second.text).error.type).toBe("tokens")
      expect(message).toContain(`on tokens per min (TPM): Limit 100, Used ${need}, Requested ${need}.`)
      const waitMs = Math.ceil(((2 * need - 100) * 60_000) / 100)
      expect(second.res.headers["retry-after-ms"]).toBe(String(waitMs))
      yield* TestClock.adjust(waitMs)
      expect((yield* send(chatRequest({}, body))).status).toBe(200)
      const tooLarge = yield* sendText(chatRequest({}, { max_tokens: 500 }))
      expect(tooLarge.res.status).toBe(429)
      const e = Classify.classifyResponse({ status: 429, headers: tooLarge.res.headers, body: tooLarge.text })
      expect(e._tag).toBe("RequestTooLarge")
    }).pipe(Effect.provide(MockHttpClient.layer({ tpm: 100 }))))
})

describe("MockHttpClient: request log and bad input", () => {
  it.effect("the log records method, path, redacted headers, attempt and fault", () =>
    Effect.gen(function*() {
      yield* send(chatRequest({ "x-mock-fault": "conflict", "x-mock-key": "k" }))
      yield* send(HttpClientRequest.get(url("/models")).pipe(HttpClientRequest.setHeader("api-key", API_KEY)))
      const log = yield* Effect.flatMap(MockApi.MockApi, (m) => m.log)
      expect(log).toHaveLength(2)
      expect(log[0]).toMatchObject({
        sequence: 1,
        method: "POST",
        path: "/v1/chat/completions",
        key: "k",
        attempt: 1,
        fault: Option.some("conflict"),
        status: Option.some(409)
      })
      expect(log[0]?.headers["authorization"]).toBe("<redacted>")
      expect(log[0]?.headers["x-mock-fault"]).toBe("conflict")
      expect(log[1]).toMatchObject({ method: "GET", path: "/v1/models", fault: Option.none() })
      expect(log[1]?.headers["api-key"]).toBe("<redacted>")
      expect(JSON.stringify(log)).not.toContain(API_KEY)
    }).pipe(Effect.provide(MockHttpClient.layer())))

  it.effect("bad requests to the mock get a 400 in the API's error shape", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [HttpClientRequest.HttpClientRequest, number, string | null]> = [
        [chatRequest({ "x-mock-fault": "no_such_fault" }), 400, "unknown_mock_fault"],
        [chatRequest({ "x-mock-fault": "server_error", "x-mock-fault-times": "two" }), 400, "invalid_mock_header"],
        [chatRequest({ "x-mock-status": "999" }), 400, "invalid_mock_header"],
        [
          HttpClientRequest.post(url("/chat/completions")).pipe(
            HttpClientRequest.bodyText("{\"model\": \"gpt-4o\", \"messages\": [", "application/json")
          ),
          400,
          null
        ],
        [
          HttpClientRequest.post(url("/chat/completions")).pipe(HttpClientRequest.bodyUnsafeJson({ model: "gpt-4o" })),
          400,
          "missing_required_parameter"
        ],
        [
          HttpClientRequest.post(url("/embeddings")).pipe(HttpClientRequest.bodyUnsafeJson({ model: "x", input: "" })),
          400,
          null
        ],
        [HttpClientRequest.post(url("/nope")), 404, null]
      ]
      for (const [request, status, code] of cases) {
        const { res, text } = yield* sendText(request)
        expect(res.status).toBe(status)
        const body = JSON.parse(text)
        expect(body.error.type).toBe("invalid_request_error")
        expect(body.error.code).toBe(code)
        expect(typeof body.error.message).toBe("string")
      }
      const unknown = yield* sendText(chatRequest({ "x-mock-fault": "no_such_fault" }))
      expect(JSON.parse(unknown.text).error.message).toContain("Known faults: invalid_authentication")
    }).pipe(Effect.provide(MockHttpClient.layer())))

  it.effect("requireApiKey answers 401 without a bearer token", () =>
    Effect.gen(function*() {
      const res = yield* send(HttpClientRequest.get(url("/models")))
      expect(res.status).toBe(401)
      expect((yield* send(HttpClientRequest.get(url("/models")).pipe(HttpClientRequest.bearerToken("k")))).status).toBe(200)
    }).pipe(Effect.provide(MockHttpClient.layer({ requireApiKey: true }))))
})

describe("docs/examples/testing.ts (in memory, TestClock)", () => {
  it.effect("retries two server errors", () => Examples.retriesServerErrors)
  it.effect("waits as long as retry-after-ms asks", () => Examples.waitsAsTheServerAsks)
  it.effect("does not retry an exhausted quota", () => Examples.doesNotRetryQuota)
  it.effect("times out slow headers and retries", () => Examples.timesOutSlowHeaders)
})

describe("MockRateLimits (the limiter behind the mock)", () => {
  it("reads full after exactly the reset time despite floating-point refill (found by the property below)", () => {
    let state = MockRateLimits.empty({ rpm: 5, tpm: 1000 })
    let now = 0
    for (const [dt, tokens] of [[0, 326], [5177, 164], [2177, 192]] as const) {
      now += dt
      state = MockRateLimits.consume(state, "k", tokens, now)[1]
    }
    const headers = MockRateLimits.peek(state, "k", now)
    const reset = Option.getOrElse(
      Option.map(GoDuration.parse(headers["x-ratelimit-reset-tokens"] ?? ""), Duration.toMillis),
      () => -1
    )
    expect(MockRateLimits.peek(state, "k", now + reset)["x-ratelimit-remaining-tokens"]).toBe("1000")
  })

  it.prop(
    "remaining stays within the limit, and after the reset time the window is full again",
    { steps: FastCheck.array(FastCheck.tuple(FastCheck.integer({ min: 0, max: 30_000 }), FastCheck.integer({ min: 0, max: 400 })), { maxLength: 30 }) },
    ({ steps }) => {
      let state = MockRateLimits.empty({ rpm: 5, tpm: 1000 })
      let now = 0
      for (const [dt, tokens] of steps) {
        now += dt
        const [decision, next] = MockRateLimits.consume(state, "k", tokens, now)
        state = next
        const remaining = Number(decision.headers["x-ratelimit-remaining-tokens"])
        expect(remaining).toBeGreaterThanOrEqual(0)
        expect(remaining).toBeLessThanOrEqual(1000)
        if (decision._tag === "Limited") {
          // Waiting as long as the 429 says is enough.
          const [retry] = MockRateLimits.consume(state, "k", tokens, now + decision.retryAfterMs)
          expect(retry._tag).toBe("Allowed")
        }
      }
      const headers = MockRateLimits.peek(state, "k", now)
      const resetMs = Math.max(
        Option.getOrElse(Option.map(GoDuration.parse(headers["x-ratelimit-reset-tokens"] ?? ""), Duration.toMillis), () => -1),
        Option.getOrElse(Option.map(GoDuration.parse(headers["x-ratelimit-reset-requests"] ?? ""), Duration.toMillis), () => -1)
      )
      expect(resetMs).toBeGreaterThanOrEqual(0)
      const full = MockRateLimits.peek(state, "k", now + resetMs)
      expect(full["x-ratelimit-remaining-tokens"]).toBe("1000")
      expect(full["x-ratelimit-remaining-requests"]).toBe("5")
    }
  )
})
