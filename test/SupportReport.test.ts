import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, FastCheck, Option, Redacted, TestClock } from "effect"
import * as Classify from "../src/Classify.js"
import * as OpenAiError from "../src/OpenAiError.js"
import * as SupportReport from "../src/SupportReport.js"

const KEY = "sk-proj-Abcdefghijklmnopqrstuvwxyz0123456789ABCD"

const request: SupportReport.RequestInfo = {
  method: "POST",
  url: "https://example.openai.azure.com/openai/deployments/gpt/chat/completions?api-version=2024-06-01&api-key=" + KEY,
  headers: {
    Authorization: `Bearer ${KEY}`,
    "api-key": KEY,
    Cookie: "session=abc",
    "OpenAI-Organization": "org-123",
    "Content-Type": "application/json"
  },
  body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `my key is ${KEY}` }] }
}

describe("SupportReport", () => {
  it.effect("holds what the guide asks for, stamped with the Clock's time", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2026, 10, 25, 12, 30, 0))
      const error = Classify.classifyResponse({
        status: 429,
        headers: { "x-request-id": "req_abc", "x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "1.5s" },
        body: JSON.stringify({
          error: { message: "Rate limit reached for gpt-4o-mini. Please try again in 1.5s.", type: "tokens", code: "rate_limit_exceeded", param: null }
        })
      })
      const report = yield* SupportReport.fromError(error, {
        request,
        attempts: [{ attempt: 1, outcome: "RateLimitReached", status: 429, delayMs: 1500, reason: "server hint (message)" }],
        timeZone: "Europe/Paris"
      })
      expect(report.model).toBe("gpt-4o-mini")
      expect(report.error).toMatchObject({ tag: "RateLimitReached", category: "RateLimitError", status: 429, code: "rate_limit_exceeded", type: "tokens" })
      expect(report.requestId).toBe("req_abc")
      expect(report.timestamp).toBe("2026-11-25T12:30:00.000Z")
      expect(report.timeZone).toBe("Europe/Paris")
      expect(report.localTime).toContain("13:30:00")
      expect(report.request.headers["openai-organization"]).toBe("org-123")
      expect(report.retryAfterMs).toBe(1500)
      expect(report.rateLimit).toContain("tokens 0/?")
      const text = SupportReport.toText(report)
      expect(text).toContain("req_abc")
      expect(text).toContain("#1: 429 RateLimitReached")
      expect(text).toContain("What to do")
    }))

  it("redacts secret headers, URL credentials, query keys and key-shaped text", () => {
    const report = SupportReport.make(new OpenAiError.IncorrectApiKey({ message: `Incorrect API key provided: ${KEY}` }), 0, {
      request,
      secrets: [Redacted.make(KEY)]
    })
    const all = SupportReport.toJson(report) + SupportReport.toText(report)
    expect(all).not.toContain(KEY)
    expect(all).not.toContain("session=abc")
    expect(report.request.headers.authorization).toBe("<redacted>")
    expect(report.request.headers["api-key"]).toBe("<redacted>")
    expect(report.request.url).not.toContain(KEY)
  })

  it("truncates large bodies with a note", () => {
    const big = "x".repeat(10_000)
    const report = SupportReport.make(new OpenAiError.ServerError({ message: "boom" }), 0, {
      request: { method: "POST", url: "http://127.0.0.1/v1/embeddings", body: big },
      maxBodyLength: 100
    })
    expect(report.request.body).toHaveLength(100)
    expect(report.request.bodyNote).toBe("truncated: showing 100 of 10000 characters")
  })

  it("scrubs a key that straddles the truncation point before cutting the body", () => {
    // A key without the `sk-` shape is found only by exact match: cut first, its head would stay.
    const secret = "custom-gateway-key-0123456789abcdefghijklmnop"
    const body = "x".repeat(90) + secret + "y".repeat(50)
    const report = SupportReport.make(new OpenAiError.ServerError({ message: "boom" }), 0, {
      request: { method: "POST", url: "http://127.0.0.1/v1/chat/completions", body },
      maxBodyLength: 100,
      secrets: [Redacted.make(secret)]
    })
    expect(report.request.body).toBe("x".repeat(90) + "<redacted>")
    expect(SupportReport.toJson(report)).not.toContain(secret.slice(0, 10))
  })

  it.prop(
    "no secret survives, wherever it was put",
    [FastCheck.stringMatching(/^[A-Za-z0-9]{20,60}$/)],
    ([suffix]) => {
      const secret = `sk-${suffix}`
      const error = Classify.classifyResponse({
        status: 401,
        headers: { "x-request-id": "req_1" },
        body: JSON.stringify({ error: { message: `Incorrect API key provided: ${secret}`, code: "invalid_api_key" } })
      })
      const report = SupportReport.make(error, 0, {
        request: {
          method: "POST",
          url: `https://user:${secret}@api.example.com/v1/chat/completions?key=${secret}`,
          headers: { authorization: `Bearer ${secret}`, "x-api-key": secret, "x-custom": secret },
          body: JSON.stringify({ model: "m", messages: [{ role: "user", content: secret }] })
        },
        attempts: [{ attempt: 1, outcome: `failed with ${secret}`, reason: `because ${secret}`, requestId: secret }],
        secrets: [secret]
      })
      expect(SupportReport.toJson(report)).not.toContain(suffix)
      expect(SupportReport.toText(report)).not.toContain(suffix)
    }
  )

  it("reports a connection error without a status", () => {
    const report = SupportReport.make(
      new OpenAiError.ConnectionError({
        message: "Connection error (ECONNRESET): socket hang up",
        cause: new Error("socket hang up"),
        errorCode: Option.some("ECONNRESET"),
        received: Option.none(),
        retryAfter: Option.some(Duration.seconds(1))
      }),
      0
    )
    expect(report.error.status).toBeNull()
    expect(report.error.category).toBe("APIConnectionError")
    expect(report.request.url).toBe("unknown")
  })
})

describe("SupportReport with the secrets given", () => {
  it("scrubs them from the request id, code, type and param it copies from the error", () => {
    // An Azure-style key: no `sk-` shape, so only the exact value given as a secret finds it.
    const key = "3f9a1c0e77d24b8e9c1a2b3c4d5e6f70"
    const error = new OpenAiError.BadRequest({
      message: "bad",
      requestId: Option.some(`req-${key}`),
      code: Option.some(key),
      type: Option.some(`t-${key}`),
      param: Option.some(key)
    })
    const report = SupportReport.make(error, 0, { secrets: [Redacted.make(key)] })
    expect(JSON.stringify(report)).not.toContain(key)
    expect(SupportReport.toText(report)).not.toContain(key)
    expect(report.requestId).toBe("req-<redacted>")
  })
})
