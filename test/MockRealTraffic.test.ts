/**
 * The mock as real traffic: the Responses API's error event as production sends it, the hint
 * headers each fault really carries, bodies framed as proxies frame them, the recorded wording,
 * and the recorded faults a client must survive. In memory (MockHttpClient) where the
 * framing does not matter, over real sockets (MockServer) where it does.
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, Stream } from "effect"
import * as http from "node:http"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import { Faults, MockHttpClient, MockServer } from "../src/testing/index.js"

const url = (path: string) => `${MockHttpClient.baseUrl}${path}`
const API_KEY = "sk-real-traffic-0123456789abcdefghij"

const post = (path: string, headers: Record<string, string>, body: Record<string, unknown>) =>
  Effect.flatMap(HttpClient.HttpClient, (client) =>
    client.execute(
      HttpClientRequest.post(url(path)).pipe(
        HttpClientRequest.bearerToken(API_KEY),
        HttpClientRequest.setHeaders(headers),
        HttpClientRequest.bodyUnsafeJson(body)
      )
    )).pipe(Effect.flatMap((res) => Effect.map(res.text, (text) => ({ res, text }))))

const chat = (headers: Record<string, string> = {}, body: Record<string, unknown> = {}) =>
  post("/chat/completions", headers, {
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Hello there" }],
    ...body
  })

const HINT_HEADERS = {
  "retry-after": "retry-after",
  "retry-after-ms": "retry-after-ms",
  "x-ratelimit": "x-ratelimit-remaining-requests"
} as const

const hintsSent = (headers: Readonly<Record<string, string>>): ReadonlyArray<Faults.Hint> =>
  Faults.hints.filter((h) => headers[HINT_HEADERS[h]] !== undefined)

const statusFaults = Faults.names.filter((n) => Faults.descriptions[n].kind === "status")

describe("the Responses API's error event", () => {
  const stream = (headers: Record<string, string>) =>
    post("/responses", headers, { model: "gpt-4o-mini", input: "one two three four", stream: true })
  const lastEvent = (text: string): Record<string, unknown> =>
    JSON.parse(text.trim().split("\n").filter((l) => l.startsWith("data: ")).at(-1)?.slice(6) ?? "{}")

  it.effect("is nested as real traffic sends it, flat as the spec on request, and response.failed on its fault", () =>
    Effect.gen(function*() {
      const nested = lastEvent((yield* stream({ "x-mock-fault": "stream_error" })).text)
      expect(nested).toMatchObject({ type: "error", error: { type: "server_error", code: "server_error", param: null } })
      expect(nested).not.toHaveProperty("code")
      expect(typeof nested.sequence_number).toBe("number")
      const flat = lastEvent((yield* stream({ "x-mock-fault": "stream_error", "x-mock-error-shape": "flat" })).text)
      expect(flat).toMatchObject({ type: "error", code: "server_error", param: null })
      expect(flat).not.toHaveProperty("error")
      const failed = yield* stream({ "x-mock-fault": "response_failed" })
      expect(failed.text).toContain("event: response.failed\n")
      expect(lastEvent(failed.text)).toMatchObject({
        type: "response.failed",
        response: { status: "failed", error: { code: "server_error" } }
      })
      expect(failed.text).not.toContain("response.completed")
    }).pipe(Effect.provide(MockHttpClient.layer())))

  it.effect("the server option chooses the shape for every request", () =>
    Effect.gen(function*() {
      const flat = lastEvent((yield* stream({ "x-mock-fault": "stream_error" })).text)
      expect(flat).toHaveProperty("code", "server_error")
      const bad = yield* stream({ "x-mock-error-shape": "sideways" })
      expect(bad.res.status).toBe(400)
      expect(JSON.parse(bad.text).error.code).toBe("invalid_mock_header")
    }).pipe(Effect.provide(MockHttpClient.layer({ responsesErrorShape: "flat" }))))

  for (const [name, headers] of [
    ["nested error event", { "x-mock-fault": "stream_error" }],
    ["flat error event", { "x-mock-fault": "stream_error", "x-mock-error-shape": "flat" }],
    ["response.failed", { "x-mock-fault": "response_failed" }]
  ] as const) {
    it.effect(`this library's Responses stream fails with the typed error on a ${name}`, () =>
      Effect.gen(function*() {
        const openai = yield* OpenAiClient.make({
          apiKey: Redacted.make(API_KEY),
          baseUrl: MockHttpClient.baseUrl,
          retryPolicy: RetryPolicy.make({ maxRetries: 0 }),
          transformClient: HttpClient.mapRequest(HttpClientRequest.setHeaders(headers))
        })
        const seen: Array<string> = []
        const error = yield* openai.responses.stream({ model: "gpt-4o-mini", input: "one two three" }).pipe(
          Stream.runForEach((event) => Effect.sync(() => seen.push(event.type))),
          Effect.flip
        )
        expect(error._tag).toBe("ServerError")
        expect(Option.getOrUndefined(error.code)).toBe("server_error")
        expect(seen[0]).toBe("response.created")
        expect(seen).not.toContain("response.completed")
      }).pipe(Effect.provide(MockHttpClient.layer())))
  }
})

describe("hint headers", () => {
  it.effect("each fault carries by default what the real server sends, and nothing else", () =>
    Effect.gen(function*() {
      for (const fault of statusFaults) {
        const { res } = yield* chat({ "x-mock-fault": fault })
        expect(hintsSent(res.headers), fault).toEqual(Faults.descriptions[fault].hints)
      }
      // Recorded real 429s often carry no hint at all.
      expect(Faults.descriptions.rate_limit_headerless.hints).toEqual([])
      expect(Faults.descriptions.insufficient_quota.hints).toEqual([])
      // A rate-limit fault's limit headers say the limit it names is spent.
      const { res } = yield* chat({ "x-mock-fault": "rate_limit_requests", "x-mock-retry-after-ms": "1500" })
      expect(res.headers["x-ratelimit-remaining-requests"]).toBe("0")
      expect(res.headers["x-ratelimit-reset-requests"]).toBe("1.5s")
    }).pipe(Effect.provide(MockHttpClient.layer())))

  it.effect("x-mock-hints chooses them per request, `none` included; a bad list is a 400", () =>
    Effect.gen(function*() {
      const all = yield* chat({ "x-mock-fault": "server_error", "x-mock-hints": "retry-after, x-ratelimit,retry-after-ms" })
      expect(hintsSent(all.res.headers)).toEqual(["retry-after", "retry-after-ms", "x-ratelimit"])
      expect(all.res.headers["retry-after"]).toBe("1")
      const none = yield* chat({ "x-mock-fault": "rate_limit_tokens", "x-mock-hints": "none", "x-mock-retry-after-ms": "900" })
      expect(hintsSent(none.res.headers)).toEqual([])
      // The delay still reads in the message, as on real traffic.
      expect(JSON.parse(none.text).error.message).toContain("Please try again in 900ms.")
      const bad = yield* chat({ "x-mock-hints": "retry-later" })
      expect(bad.res.status).toBe(400)
      expect(JSON.parse(bad.text).error.param).toBe("x-mock-hints")
    }).pipe(Effect.provide(MockHttpClient.layer())))

  it.effect("the server option chooses them for every fault, or per fault and for the limiter", () =>
    Effect.gen(function*() {
      const quota = yield* chat({ "x-mock-fault": "insufficient_quota" })
      expect(hintsSent(quota.res.headers)).toEqual(["retry-after-ms"])
      const tokens = yield* chat({ "x-mock-fault": "rate_limit_tokens" })
      expect(hintsSent(tokens.res.headers)).toEqual(Faults.descriptions.rate_limit_tokens.hints)
      yield* chat()
      const limited = yield* chat()
      expect(limited.res.status).toBe(429)
      expect(hintsSent(limited.res.headers)).toEqual([])
    }).pipe(Effect.provide(MockHttpClient.layer({
      rpm: 1,
      hints: { insufficient_quota: ["retry-after-ms"], rate_limiter: [] }
    }))))

  it.effect("a list in the server option applies to every fault; the limiter sends its refill time by default", () =>
    Effect.gen(function*() {
      const err = yield* chat({ "x-mock-fault": "server_error" })
      expect(hintsSent(err.res.headers)).toEqual(["retry-after"])
      yield* chat()
      const limited = yield* chat()
      expect(hintsSent(limited.res.headers)).toEqual(["retry-after"])
    }).pipe(Effect.provide(MockHttpClient.layer({ rpm: 1, hints: ["retry-after"] }))))

  it.effect("the stateful limiter's 429 carries retry-after, retry-after-ms and the limits unless told otherwise", () =>
    Effect.gen(function*() {
      yield* chat()
      const limited = yield* chat()
      expect(limited.res.status).toBe(429)
      expect(hintsSent(limited.res.headers)).toEqual(["retry-after", "retry-after-ms", "x-ratelimit"])
    }).pipe(Effect.provide(MockHttpClient.layer({ rpm: 1 }))))
})

describe("recorded wording and bodies", () => {
  it.effect("messages read as recorded", () =>
    Effect.gen(function*() {
      const message = (fault: Faults.FaultName) => Effect.map(chat({ "x-mock-fault": fault }), (r) => ({
        message: String(JSON.parse(r.text).error.message),
        requestId: r.res.headers["x-request-id"] ?? ""
      }))
      expect((yield* message("rate_limit_requests")).message).toMatch(
        /Visit https:\/\/platform\.openai\.com\/account\/rate-limits to learn more\. You can increase your rate limit by adding a payment method to your account at https:\/\/platform\.openai\.com\/account\/billing\.$/
      )
      const overloaded = yield* message("engine_overloaded")
      // The recorded id is bare hex: "(Please include the request ID 500d9fff... in your message.)"
      expect(overloaded.message).toContain(`request ID ${overloaded.requestId.replace(/^req_/, "")} in your message.)`)
      expect(overloaded.message).not.toContain("req_")
      expect((yield* message("invalid_authentication")).message).toContain(
        "or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password."
      )
      const legacy = yield* chat({ "x-mock-fault": "rate_limit_legacy" })
      expect(JSON.parse(legacy.text).error).toMatchObject({ type: "requests", code: null })
      const provider = JSON.parse((yield* chat({ "x-mock-fault": "provider_overloaded" })).text).error
      expect(provider).toEqual({ message: "The engine is currently overloaded, please try again later", type: "engine_overloaded_error" })
      const locked = JSON.parse(
        (yield* post("/responses", { "x-mock-fault": "conversation_locked" }, { model: "gpt-4o-mini", input: "hi" })).text
      ).error
      expect(locked).toMatchObject({ type: "invalid_request_error", code: "conversation_locked" })
      expect(locked.message).toContain("retry")
    }).pipe(Effect.provide(MockHttpClient.layer())))
})

describe("body faults in memory", () => {
  it.effect("body_cut: the whole length announced, the body fails part-way as a socket would", () =>
    Effect.gen(function*() {
      const whole = yield* chat()
      const client = yield* HttpClient.HttpClient
      const res = yield* client.execute(
        HttpClientRequest.post(url("/chat/completions")).pipe(
          HttpClientRequest.setHeader("x-mock-fault", "body_cut"),
          HttpClientRequest.bodyUnsafeJson({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hello there" }] })
        )
      )
      expect(res.headers["content-length"]).toBe(String(new TextEncoder().encode(whole.text).length))
      const error = yield* Effect.flip(res.text)
      expect(error._tag).toBe("ResponseError")
      expect(error.cause).toMatchObject({ code: "ECONNRESET" })
      const empty = yield* chat({ "x-mock-fault": "empty_body_content_length", "x-mock-status": "503" })
      expect([empty.res.status, empty.res.headers["content-length"], empty.text]).toEqual([503, "0", ""])
    }).pipe(Effect.provide(MockHttpClient.layer())))
})

/** A raw node:http request, to see the framing the socket carries. */
const raw = (port: number, headers: Record<string, string>) =>
  Effect.async<{
    readonly status: number
    readonly headers: http.IncomingHttpHeaders
    readonly bytes: number
    readonly error: string | undefined
  }>((resume) => {
    let bytes = 0
    const req = http.request(
      { host: "127.0.0.1", port, path: "/v1/chat/completions", method: "POST", headers: { "content-type": "application/json", ...headers } },
      (res) => {
        const done = (error: string | undefined) =>
          resume(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, bytes, error }))
        res.on("data", (d: Buffer) => (bytes += d.length))
        res.on("end", () => done(undefined))
        res.on("error", (e) => done(e.message))
        res.on("aborted", () => done("aborted"))
      }
    )
    req.on("error", (e) => resume(Effect.succeed({ status: 0, headers: {}, bytes, error: e.message })))
    req.end(JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "framing on the wire" }] }))
  })

describe("framing over real sockets", () => {
  const withServer = Effect.provide(Layer.mergeAll(MockServer.layer()))

  it.live("empty_body is chunked with no byte; empty_body_content_length says content-length: 0", () =>
    Effect.gen(function*() {
      const { port } = yield* MockServer.MockServer
      const chunked = yield* raw(port, { "x-mock-fault": "empty_body" })
      expect(chunked.headers["transfer-encoding"]).toBe("chunked")
      expect(chunked.headers["content-length"]).toBeUndefined()
      expect([chunked.bytes, chunked.error]).toEqual([0, undefined])
      const sized = yield* raw(port, { "x-mock-fault": "empty_body_content_length" })
      expect(sized.headers["content-length"]).toBe("0")
      expect(sized.headers["transfer-encoding"]).toBeUndefined()
      expect([sized.bytes, sized.error]).toEqual([0, undefined])
    }).pipe(withServer))

  it.live("body_cut announces the whole length, sends half and closes", () =>
    Effect.gen(function*() {
      const { port } = yield* MockServer.MockServer
      const whole = yield* raw(port, {})
      const cut = yield* raw(port, { "x-mock-fault": "body_cut" })
      expect(cut.headers["transfer-encoding"]).toBeUndefined()
      expect(Number(cut.headers["content-length"])).toBe(whole.bytes)
      expect(cut.bytes).toBe(Math.floor(whole.bytes / 2))
      expect(cut.error).toBeDefined()
    }).pipe(withServer))

  it.live("html_502 is the proxy's page: no x-request-id, none of OpenAI's headers", () =>
    Effect.gen(function*() {
      const { port } = yield* MockServer.MockServer
      const page = yield* raw(port, { "x-mock-fault": "html_502" })
      expect(page.status).toBe(502)
      expect(page.headers["content-type"]).toBe("text/html")
      expect(Object.keys(page.headers).filter((h) => h.startsWith("openai-") || h === "x-request-id")).toEqual([])
    }).pipe(withServer))
})
