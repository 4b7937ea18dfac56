import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Option, Redacted, TestClock } from "effect"
import * as FastCheck from "effect/FastCheck"
import type * as http from "node:http"
import { inspect } from "node:util"
import * as Classify from "../src/Classify.js"
import * as GoDuration from "../src/GoDuration.js"
import * as OpenAiError from "../src/OpenAiError.js"
import * as LoopbackServer from "./support/httpServer.js"
import * as Fixtures from "./utils/fixtures.js"

// Bodies below are shaped like the real ones (see ../shared/DESIGN.md and the recorded fixtures):
// compact or indented JSON, keys in the server's order, `param: null`, `code: null` where seen.

const errorBody = (error: Record<string, unknown>, indent?: number) => JSON.stringify({ error }, null, indent)

const classify = (status: number, body?: string | Uint8Array, headers?: Record<string, string>) =>
  Classify.classifyResponse({ status, body, headers, now: 0 })

const ms = (d: Option.Option<Duration.Duration>) => Option.map(d, Duration.toMillis)

const MAX_KEPT = Classify.MAX_MESSAGE_LENGTH + 40

describe("classifyResponse: 401", () => {
  it("invalid_api_key is IncorrectApiKey and keeps the server's masked key", () => {
    const e = classify(
      401,
      errorBody({
        message:
          "Incorrect API key provided: sk-VKMIs***************************************wjh3. You can find your API key at https://platform.openai.com/account/api-keys.",
        type: "invalid_request_error",
        param: null,
        code: "invalid_api_key"
      })
    )
    expect(e._tag).toBe("IncorrectApiKey")
    expect(e.category).toBe("AuthenticationError")
    expect(e.status).toEqual(Option.some(401))
    expect(e.code).toEqual(Option.some("invalid_api_key"))
    expect(e.type).toEqual(Option.some("invalid_request_error"))
    expect(e.param).toEqual(Option.none())
    expect(e.retryable).toBe(false)
    expect(e.message).toContain("wjh3")
    expect(OpenAiError.isAuthenticationError(e)).toBe(true)
  })

  it("no_organization is NoOrganization", () => {
    const e = classify(
      401,
      errorBody({
        message:
          "You must be a member of an organization to use the API. Please contact us through our help center at help.openai.com.",
        type: "invalid_request_error",
        param: null,
        code: "no_organization"
      })
    )
    expect(e._tag).toBe("NoOrganization")
    expect(e.category).toBe("AuthenticationError")
    expect(e.retryable).toBe(false)
  })

  it("a missing bearer with code null is InvalidAuthentication", () => {
    const e = classify(
      401,
      errorBody({
        message:
          "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
        type: "invalid_request_error",
        param: null,
        code: null
      })
    )
    expect(e._tag).toBe("InvalidAuthentication")
    expect(e.code).toEqual(Option.none())
    expect(e.category).toBe("AuthenticationError")
  })

  it("recognises the rows by message when the code is missing", () => {
    expect(classify(401, errorBody({ message: "Incorrect API key provided: abc.", type: "invalid_request_error" }))._tag)
      .toBe("IncorrectApiKey")
    expect(classify(401, errorBody({ message: "You must be a member of an organization to use the API." }))._tag)
      .toBe("NoOrganization")
    expect(classify(401, "")._tag).toBe("InvalidAuthentication")
  })
})

describe("classifyResponse: 403", () => {
  it("unsupported_country_region_territory is UnsupportedRegion, whatever the key order", () => {
    const e = classify(
      403,
      "{\"error\":{\"code\":\"unsupported_country_region_territory\",\"message\":\"Country, region, or territory not supported\",\"param\":null,\"type\":\"request_forbidden\"}}"
    )
    expect(e._tag).toBe("UnsupportedRegion")
    expect(e.category).toBe("PermissionDeniedError")
    expect(e.type).toEqual(Option.some("request_forbidden"))
    expect(e.retryable).toBe(false)
  })

  it("any other 403 is PermissionDenied", () => {
    const e = classify(
      403,
      errorBody({
        message: "You are not allowed to sample from this model",
        type: "invalid_request_error",
        param: null,
        code: null
      })
    )
    expect(e._tag).toBe("PermissionDenied")
    expect(e.category).toBe("PermissionDeniedError")
    expect(OpenAiError.isPermissionDeniedError(e)).toBe(true)
  })
})

describe("classifyResponse: 429", () => {
  it("a requests-per-minute limit keeps scope, figures and the message's hint", () => {
    const e = classify(
      429,
      errorBody({
        message:
          "Rate limit reached for gpt-3.5-turbo in organization org-fDaMe8LMZ8iU6sMXwl6htXIl on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/rate-limits to learn more.",
        type: "requests",
        param: null,
        code: "rate_limit_exceeded"
      })
    )
    expect(e._tag).toBe("RateLimitReached")
    if (e._tag !== "RateLimitReached") return
    expect(e.scope).toBe("requests")
    expect(e.limit).toEqual(Option.some(3))
    expect(e.used).toEqual(Option.some(3))
    expect(e.requested).toEqual(Option.some(1))
    expect(ms(e.retryAfter)).toEqual(Option.some(20_000))
    expect(e.retryAfterSource).toEqual(Option.some("message"))
    expect(e.retryable).toBe(true)
    expect(e.category).toBe("RateLimitError")
  })

  it("a tokens-per-minute limit reads Limit/Used/Requested and a fractional hint", () => {
    const e = classify(
      429,
      errorBody({
        message:
          "Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): Limit 200000, Used 162960, Requested 42288. Please try again in 1.574s. Visit https://platform.openai.com/account/rate-limits to learn more.",
        type: "tokens",
        param: null,
        code: "rate_limit_exceeded"
      }, 2)
    )
    expect(e._tag).toBe("RateLimitReached")
    if (e._tag !== "RateLimitReached") return
    expect(e.scope).toBe("tokens")
    expect([e.limit, e.used, e.requested]).toEqual([Option.some(200000), Option.some(162960), Option.some(42288)])
    expect(ms(e.retryAfter)).toEqual(Option.some(1574))
  })

  it("old bodies with code null and type tokens are still a rate limit", () => {
    const e = classify(
      429,
      errorBody({
        message:
          "Rate limit reached for default-text-davinci-003 in organization org-x on tokens per min. Limit: 150000.000000 / min. Current: 151990.000000 / min. Contact us through our help center at help.openai.com if you continue to have issues.",
        type: "tokens",
        param: null,
        code: null
      })
    )
    expect(e._tag).toBe("RateLimitReached")
    if (e._tag !== "RateLimitReached") return
    expect(e.scope).toBe("tokens")
    expect(e.limit).toEqual(Option.some(150000))
    expect(e.used).toEqual(Option.none())
    expect(e.code).toEqual(Option.none())
  })

  it("takes the scope from the message when the type is missing, and reads 20ms", () => {
    const e = classify(
      429,
      errorBody({
        message:
          "Rate limit reached for organization org-1 on requests per min (RPM): Limit 3000, Used 3000, Requested 1. Please try again in 20ms.",
        code: "rate_limit_exceeded"
      })
    )
    expect(e._tag === "RateLimitReached" && e.scope).toBe("requests")
    expect(ms(e.retryAfter)).toEqual(Option.some(20))
  })

  it("a 429 with nothing to go on is a rate limit of unknown scope", () => {
    const e = classify(429, "")
    expect(e._tag === "RateLimitReached" && e.scope).toBe("unknown")
    expect(e.retryable).toBe(true)
  })

  it.each([
    ["code and type", { code: "insufficient_quota", type: "insufficient_quota" }],
    ["type only (code null)", { code: null, type: "insufficient_quota" }],
    ["code only", { code: "insufficient_quota" }]
  ])("insufficient_quota (%s) is QuotaExceeded and never retried", (_name, fields) => {
    const e = classify(
      429,
      errorBody({
        message: "You exceeded your current quota, please check your plan and billing details.",
        param: null,
        ...fields
      }, 4),
      { "retry-after": "20" }
    )
    expect(e._tag).toBe("QuotaExceeded")
    expect(e.category).toBe("RateLimitError")
    expect(e.retryable).toBe(false)
    expect(OpenAiError.isRetryable(e)).toBe(false)
  })

  it("Request too large is RequestTooLarge with Limit and Requested, never retried", () => {
    const e = classify(
      429,
      errorBody({
        message:
          "Request too large for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Requested 31538. The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more.",
        type: "tokens",
        param: null,
        code: "rate_limit_exceeded"
      })
    )
    expect(e._tag).toBe("RequestTooLarge")
    if (e._tag !== "RequestTooLarge") return
    expect(e.limit).toEqual(Option.some(30000))
    expect(e.requested).toEqual(Option.some(31538))
    expect(e.retryable).toBe(false)
    expect(e.category).toBe("RateLimitError")
  })

  it("a Moonshot-style 429 engine_overloaded_error is EngineOverloaded in the RateLimitError category", () => {
    const e = classify(
      429,
      errorBody({ message: "The engine is currently overloaded, please try again later", type: "engine_overloaded_error" })
    )
    expect(e._tag).toBe("EngineOverloaded")
    expect(e.category).toBe("RateLimitError")
    expect(e.retryable).toBe(true)
    expect(OpenAiError.isRateLimitError(e)).toBe(true)
    expect(OpenAiError.isInternalServerError(e)).toBe(false)
  })
})

describe("classifyResponse: other OpenAI-compatible providers", () => {
  it("an Azure 429 reads its scope, its \"retry after 6 seconds\" and its apim-request-id", () => {
    const e = classify(
      429,
      "{\"error\":{\"code\":\"429\",\"message\": \"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-02-01 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 6 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.\"}}",
      { "apim-request-id": "0f1e2d3c-aaaa-bbbb-cccc-123456789abc" }
    )
    expect(e._tag === "RateLimitReached" && e.scope).toBe("tokens")
    expect(ms(e.retryAfter)).toEqual(Option.some(6000))
    expect(e.requestId).toEqual(Option.some("0f1e2d3c-aaaa-bbbb-cccc-123456789abc"))
  })

  it("an Azure 401 \"invalid subscription key\" is IncorrectApiKey", () => {
    const e = classify(
      401,
      "{\"error\":{\"code\":\"401\",\"message\":\"Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.\"}}"
    )
    expect(e._tag).toBe("IncorrectApiKey")
  })

  it("an Anthropic-style 529 overloaded_error is EngineOverloaded", () => {
    const e = classify(529, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}")
    expect([e._tag, e.message, e.type]).toEqual(["EngineOverloaded", "Overloaded", Option.some("overloaded_error")])
  })

  it("a Gemini-style error list reads its first element", () => {
    const e = classify(
      429,
      "[{\"error\": {\"code\": 429, \"message\": \"Resource has been exhausted (e.g. check quota).\", \"status\": \"RESOURCE_EXHAUSTED\"}}]"
    )
    expect([e._tag, e.code, e.message]).toEqual([
      "RateLimitReached",
      Option.some("429"),
      "Resource has been exhausted (e.g. check quota)."
    ])
  })

  it("a message sent as a list of strings is joined", () => {
    const e = classify(400, JSON.stringify({ error: { message: ["model must be a string", "messages should not be empty"] } }))
    expect(e.message).toBe("model must be a string; messages should not be empty")
  })

  it("an error with a code but no message says so", () => {
    expect(classify(500, errorBody({ code: "server_error", type: "server_error" })).message).toBe(
      "HTTP 500 Internal Server Error: the server sent no message (code server_error, type server_error)"
    )
  })
})

describe("classifyResponse: 5xx", () => {
  it("500 server_error is ServerError and keeps the request id in the message", () => {
    const e = classify(
      500,
      errorBody({
        message:
          "The server had an error processing your request. Sorry about that! You can retry your request, or contact us through our help center at help.openai.com if you keep seeing this error. (Please include the request ID req_540c6eaab7f4556b2baa22bcba915d51 in your email.)",
        type: "server_error",
        param: null,
        code: null
      }, 4),
      { "x-request-id": "req_540c6eaab7f4556b2baa22bcba915d51" }
    )
    expect(e._tag).toBe("ServerError")
    expect(e.category).toBe("InternalServerError")
    expect(e.retryable).toBe(true)
    expect(e.code).toEqual(Option.none())
    expect(e.requestId).toEqual(Option.some("req_540c6eaab7f4556b2baa22bcba915d51"))
    expect(e.message).toContain("req_540c6eaab7f4556b2baa22bcba915d51")
  })

  it("503 That model is currently overloaded is EngineOverloaded", () => {
    const e = classify(
      503,
      errorBody({
        message:
          "That model is currently overloaded with other requests. You can retry your request, or contact us through our help center at help.openai.com if the error persists.",
        type: "server_error",
        param: null,
        code: null
      }, 2)
    )
    expect(e._tag).toBe("EngineOverloaded")
    expect(e.category).toBe("InternalServerError")
    expect(e.retryable).toBe(true)
  })

  it("an overload message under 500 is EngineOverloaded too", () => {
    expect(classify(500, errorBody({ message: "The server is overloaded or not ready yet.", type: "server_error" }))._tag)
      .toBe("EngineOverloaded")
  })

  it.each([
    [
      502,
      "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n",
      "502 Bad Gateway"
    ],
    [
      504,
      "<!DOCTYPE html>\n<html lang=\"en-US\"><head><title>api.openai.com | 504: Gateway time-out</title></head><body><h1>Gateway time-out</h1></body></html>",
      "504: Gateway time-out"
    ]
  ])("a %d HTML page from a proxy is ServerError with the page's title", (status, html, title) => {
    const e = classify(status, html)
    expect(e._tag).toBe("ServerError")
    expect(e.status).toEqual(Option.some(status))
    expect(e.message).toContain(title)
    expect(e.message).toContain("HTML page")
    expect(e.message).not.toContain("<")
    expect(e.retryable).toBe(true)
  })

  it("an empty body says so", () => {
    const e = classify(500, "")
    expect(e._tag).toBe("ServerError")
    expect(e.message).toBe("HTTP 500 Internal Server Error with an empty body")
    expect(classify(502, new Uint8Array())._tag).toBe("ServerError")
  })

  it("an unknown 5xx is ServerError", () => {
    expect(classify(599, "oops")._tag).toBe("ServerError")
    expect(classify(520, "error code: 520").message).toContain("error code: 520")
  })
})

describe("classifyResponse: other statuses and body shapes", () => {
  it("400 context_length_exceeded is ContextLengthExceeded, other 400s BadRequest with param", () => {
    const ctx = classify(
      400,
      errorBody({
        message:
          "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens. Please reduce the length of the messages.",
        type: "invalid_request_error",
        param: "messages",
        code: "context_length_exceeded"
      })
    )
    expect(ctx._tag).toBe("ContextLengthExceeded")
    expect(ctx.category).toBe("BadRequestError")
    expect(ctx.param).toEqual(Option.some("messages"))
    const bad = classify(
      400,
      errorBody({
        message: "Invalid value for 'temperature': expected a number.",
        type: "invalid_request_error",
        param: "temperature",
        code: "invalid_value"
      })
    )
    expect(bad._tag).toBe("BadRequest")
    expect(bad.param).toEqual(Option.some("temperature"))
    expect(bad.retryable).toBe(false)
    expect(OpenAiError.isBadRequestError(bad)).toBe(true)
  })

  it("404 model_not_found, 409 and 422 have their own errors", () => {
    const nf = classify(
      404,
      errorBody({
        message: "The model `gpt-5-turbo` does not exist or you do not have access to it.",
        type: "invalid_request_error",
        param: null,
        code: "model_not_found"
      })
    )
    expect([nf._tag, nf.category, nf.retryable]).toEqual(["NotFound", "NotFoundError", false])
    const conflict = classify(409, errorBody({ message: "Another request updated this resource", type: "conflict" }))
    expect([conflict._tag, conflict.category, conflict.retryable]).toEqual(["Conflict", "ConflictError", true])
    expect(OpenAiError.isConflictError(conflict)).toBe(true)
  })

  it("a FastAPI {detail: [...]} 422 is UnprocessableEntity with a readable message", () => {
    const e = classify(
      422,
      JSON.stringify({
        detail: [
          { loc: ["body", "messages"], msg: "field required", type: "value_error.missing" },
          { loc: ["body", "model"], msg: "str type expected", type: "type_error.str" }
        ]
      })
    )
    expect(e._tag).toBe("UnprocessableEntity")
    expect(e.category).toBe("UnprocessableEntityError")
    expect(e.message).toBe("body -> messages: field required; body -> model: str type expected")
    expect(OpenAiError.isUnprocessableEntityError(e)).toBe(true)
  })

  it("{error: \"string\"} keeps the string as message", () => {
    const e = classify(404, "{\"error\":\"Model llama-9 not found, try pulling it first\"}")
    expect(e._tag).toBe("NotFound")
    expect(e.message).toBe("Model llama-9 not found, try pulling it first")
  })

  it("an integer code (vLLM, OpenRouter) becomes a string", () => {
    const vllm = classify(
      400,
      JSON.stringify({
        object: "error",
        message: "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.",
        type: "BadRequestError",
        param: null,
        code: 400
      })
    )
    expect(vllm._tag).toBe("ContextLengthExceeded")
    expect(vllm.code).toEqual(Option.some("400"))
    const openrouter = classify(
      429,
      errorBody({ message: "Rate limit exceeded: free-models-per-day", code: 429, metadata: { headers: {} } })
    )
    expect(openrouter._tag).toBe("RateLimitReached")
    expect(openrouter.code).toEqual(Option.some("429"))
  })

  it("param \"\" reads as none; missing keys read as none", () => {
    const e = classify(400, errorBody({ message: "bad", type: "invalid_request_error", param: "", code: "" }))
    expect(e.param).toEqual(Option.none())
    expect(e.code).toEqual(Option.none())
    const bare = classify(400, errorBody({ message: "bad" }))
    expect([bare.code, bare.type, bare.param]).toEqual([Option.none(), Option.none(), Option.none()])
    const noMessage = classify(400, errorBody({ type: "invalid_request_error" }))
    expect(noMessage.message.length).toBeGreaterThan(0)
    expect(noMessage.type).toEqual(Option.some("invalid_request_error"))
  })

  it("any key order and indentation give the same error", () => {
    const fields = {
      message: "Rate limit reached for gpt-4 on tokens per min (TPM): Limit 10, Used 9, Requested 5.",
      type: "tokens",
      param: null,
      code: "rate_limit_exceeded"
    }
    const reversed = Object.fromEntries(Object.entries(fields).reverse())
    const a = classify(429, errorBody(fields))
    const b = classify(429, errorBody(reversed, 4))
    const c = classify(429, JSON.stringify({ other: 1, error: reversed }, null, "\t"))
    for (const e of [b, c]) {
      expect(e._tag).toBe(a._tag)
      expect([e.message, e.code, e.type, e.param]).toEqual([a.message, a.code, a.type, a.param])
    }
  })

  it("cut-off JSON still reads the code, type and message that arrived", () => {
    const full = errorBody({
      message: "You exceeded your current quota, please check your plan and billing details.",
      type: "insufficient_quota",
      param: null,
      code: "insufficient_quota"
    })
    const cut = full.slice(0, full.indexOf("\"code\"") + 3)
    const e = classify(429, cut)
    expect(e._tag).toBe("QuotaExceeded")
    expect(e.type).toEqual(Option.some("insufficient_quota"))
    expect(e.message).toBe("You exceeded your current quota, please check your plan and billing details.")
    const early = classify(400, "{\"error\": {\"message\": \"Invalid val")
    expect(early._tag).toBe("BadRequest")
    expect(early.message).toBe("Invalid val")
    const nothing = classify(500, "{\"err")
    expect(nothing.message).toContain("cut-off or invalid JSON")
  })

  it("a JSON body with no error in it says so", () => {
    expect(classify(418, "{\"status\":\"teapot\"}").message).toContain("no error in it")
  })

  it("a megabytes-long body keeps a bounded message", () => {
    const huge = "x".repeat(3 * 1024 * 1024)
    for (const body of [errorBody({ message: huge, type: "server_error" }), huge, `<html><body>${huge}</body></html>`]) {
      const e = classify(500, body)
      expect(e._tag).toBe("ServerError")
      expect(e.message.length).toBeLessThanOrEqual(MAX_KEPT)
    }
    const bytes = new TextEncoder().encode(errorBody({ message: huge, code: "insufficient_quota" }))
    const quota = classify(429, bytes)
    expect(quota._tag).toBe("QuotaExceeded")
    expect(quota.message.length).toBeLessThanOrEqual(MAX_KEPT)
  })

  it("408 is UnexpectedStatus and retried; other statuses are UnexpectedStatus and not", () => {
    const timeout = classify(408, "")
    expect([timeout._tag, timeout.category, timeout.retryable]).toEqual(["UnexpectedStatus", "APIError", true])
    for (const status of [302, 405, 418, 451]) {
      const e = classify(status, "nope")
      expect([e._tag, e.category, e.retryable, e.status]).toEqual([
        "UnexpectedStatus",
        "APIError",
        false,
        Option.some(status)
      ])
    }
  })

  it("a status outside 100-999 reads as 0", () => {
    expect(classify(-1, "")._tag).toBe("UnexpectedStatus")
    expect(classify(429.5, "").status).toEqual(Option.some(0))
  })

  it("reads headers case-insensitively, from a record or a Headers", () => {
    const raw = {
      "X-Request-Id": "req_abc",
      "X-RateLimit-Remaining-Tokens": "0",
      "X-RateLimit-Reset-Tokens": "6m0s",
      "X-Should-Retry": "true"
    }
    for (const headers of [raw, new Headers(raw)]) {
      const e = Classify.classifyResponse({ status: 429, headers, body: "", now: 0 })
      expect(e.requestId).toEqual(Option.some("req_abc"))
      expect(Option.flatMap(e.rateLimit, (r) => r.remainingTokens)).toEqual(Option.some(0))
      expect(ms(e.retryAfter)).toEqual(Option.some(360_000))
      expect(e.retryAfterSource).toEqual(Option.some("x-ratelimit-reset"))
      expect(e.shouldRetry).toEqual(Option.some(true))
    }
  })
})

describe("classifyResponse: secrets", () => {
  it("scrubs an unmasked sk- key echoed by a proxy", () => {
    const key = "sk-proj-Abcdefghijklmnopqrstuvwxyz0123456789ABCD"
    const e = classify(401, errorBody({ message: `Incorrect API key provided: ${key}.`, param: key, code: "invalid_api_key" }))
    expect(e._tag).toBe("IncorrectApiKey")
    expect(e.message).not.toContain(key)
    expect(e.message).not.toContain("Abcdefghijkl")
    expect(e.message).toContain("<redacted>")
    expect(JSON.stringify(e)).not.toContain("Abcdefghijkl")
  })

  it("scrubbing stays linear on a hostile body (a long run of \"sk-\")", () => {
    // The backtracking key pattern took minutes on this; the bound is generous for a shared CI.
    const start = performance.now()
    const e = classify(500, errorBody({ message: "sk-".repeat(80_000), param: "sk-proj-".repeat(30_000) }))
    expect(e._tag).toBe("ServerError")
    expect(performance.now() - start).toBeLessThan(5000)
  })

  it("the secrets option scrubs the exact key, whatever its shape", () => {
    const key = "3f9c2b7a1e6d4c8b9a0f1e2d3c4b5a69"
    const e = Classify.classifyResponse({
      status: 401,
      body: errorBody({ message: `Access denied due to invalid subscription key ${key}.`, param: key }),
      headers: { "x-request-id": key },
      secrets: [key]
    })
    for (const kept of [e.message, Option.getOrElse(e.param, () => ""), Option.getOrElse(e.requestId, () => "")]) {
      expect(kept).not.toContain(key)
    }
    expect(e.message).toContain("<redacted>")
  })
})

describe("classifyResponse: x-should-retry and hints", () => {
  it("x-should-retry overrides the default decision both ways", () => {
    const quota = classify(429, errorBody({ message: "quota", code: "insufficient_quota" }), { "x-should-retry": "true" })
    expect(quota._tag).toBe("QuotaExceeded")
    expect(quota.retryable).toBe(true)
    const server = classify(500, "", { "x-should-retry": "false" })
    expect(server._tag).toBe("ServerError")
    expect(server.retryable).toBe(false)
    expect(classify(500, "", { "x-should-retry": "maybe" }).retryable).toBe(true)
  })

  it("prefers retry-after-ms (float) over retry-after over the message", () => {
    const body = errorBody({ message: "Rate limit reached. Please try again in 9.816s.", code: "rate_limit_exceeded" })
    const e = classify(429, body, { "retry-after-ms": "1500.5", "retry-after": "7" })
    expect(ms(e.retryAfter)).toEqual(Option.some(1500.5))
    expect(e.retryAfterSource).toEqual(Option.some("retry-after-ms"))
    const s = classify(429, body, { "retry-after": "7" })
    expect(ms(s.retryAfter)).toEqual(Option.some(7000))
    expect(s.retryAfterSource).toEqual(Option.some("retry-after"))
    expect(ms(classify(429, body, { "retry-after": "soon" }).retryAfter)).toEqual(Option.some(9816))
  })

  it.effect("reads an HTTP-date retry-after against the Clock", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("Wed, 25 Nov 2026 20:00:00 GMT"))
      const now = yield* Clock.currentTimeMillis
      const e = Classify.classifyResponse({
        status: 503,
        headers: { "Retry-After": "Wed, 25 Nov 2026 20:00:30 GMT" },
        body: "",
        now
      })
      expect(ms(e.retryAfter)).toEqual(Option.some(30_000))
      const past = Classify.classifyResponse({
        status: 503,
        headers: { "Retry-After": "Wed, 25 Nov 2026 19:00:00 GMT" },
        now
      })
      expect(ms(past.retryAfter)).toEqual(Option.some(0))
    }))

  it("garbage hint headers give no hint, not an error", () => {
    const e = classify(503, "", {
      "retry-after-ms": "-5",
      "retry-after": "tomorrow-ish",
      "x-ratelimit-reset-requests": "soon"
    })
    expect(e._tag).toBe("EngineOverloaded")
    expect(e.retryAfter).toEqual(Option.none())
  })
})

describe("classifyStreamError", () => {
  const rateLimited = {
    message: "Rate limit reached for gpt-4o on tokens per min (TPM): Limit 30000, Used 29000, Requested 2000. Please try again in 2s.",
    type: "tokens",
    param: null,
    code: "rate_limit_exceeded"
  }

  it("a chat completions data: {error} payload classifies like a 429, without a status", () => {
    for (const data of [{ error: rateLimited }, JSON.stringify({ error: rateLimited })]) {
      const e = Classify.classifyStreamError(data)
      expect(e._tag).toBe("RateLimitReached")
      expect(e.status).toEqual(Option.none())
      expect(e.category).toBe("RateLimitError")
      expect(ms(e.retryAfter)).toEqual(Option.some(2000))
    }
  })

  it("accepts a whole SSE frame (event: error, data: ...)", () => {
    const e = Classify.classifyStreamError(`event: error\ndata: ${JSON.stringify(rateLimited)}\n\n`)
    expect(e._tag).toBe("RateLimitReached")
    const d = Classify.classifyStreamError(`data: ${JSON.stringify({ error: { ...rateLimited, code: "insufficient_quota" } })}`)
    expect(d._tag).toBe("QuotaExceeded")
  })

  it("a server_error inside the stream is ServerError; an overload is EngineOverloaded", () => {
    const server = Classify.classifyStreamError({
      error: {
        message: "The server had an error while processing your request. Sorry about that!",
        type: "server_error",
        param: null,
        code: null
      }
    })
    expect([server._tag, server.retryable, server.status]).toEqual(["ServerError", true, Option.none()])
    const overload = Classify.classifyStreamError({ error: { message: "That model is currently overloaded with other requests." } })
    expect(overload._tag).toBe("EngineOverloaded")
  })

  it("a Responses API {type: error} event keeps its code, not its event type", () => {
    const e = Classify.classifyStreamError({
      type: "error",
      code: "ERR_SOMETHING",
      message: "Something went wrong",
      param: null,
      sequence_number: 1
    })
    expect(e._tag).toBe("ServerError")
    expect(e.code).toEqual(Option.some("ERR_SOMETHING"))
    expect(e.type).toEqual(Option.none())
    expect(e.message).toBe("Something went wrong")
    const limited = Classify.classifyStreamError({
      type: "error",
      code: "rate_limit_exceeded",
      message: "Rate limit reached",
      param: null,
      sequence_number: 3
    })
    expect(limited._tag).toBe("RateLimitReached")
  })

  it("a response.failed event classifies by response.error.code", () => {
    const failed = (error: unknown) => ({
      type: "response.failed",
      response: { id: "resp_123", object: "response", status: "failed", error, output: [] }
    })
    const server = Classify.classifyStreamError(failed({ code: "server_error", message: "The model failed to generate a response." }))
    expect([server._tag, server.message, server.code]).toEqual([
      "ServerError",
      "The model failed to generate a response.",
      Option.some("server_error")
    ])
    expect(Classify.classifyStreamError(failed({ code: "rate_limit_exceeded", message: "slow down" }))._tag)
      .toBe("RateLimitReached")
    for (const code of ["invalid_prompt", "invalid_image_url", "image_too_large", "bio_policy", "empty_image_file"]) {
      const e = Classify.classifyStreamError(failed({ code, message: "bad input" }))
      expect([e._tag, e.retryable]).toEqual(["BadRequest", false])
    }
    expect(Classify.classifyStreamError(failed(null)).message).toBe("The response failed")
  })

  it("other codes inside a stream map like their status would", () => {
    const of = (code: string) => Classify.classifyStreamError({ error: { message: "m", code } })._tag
    expect(of("context_length_exceeded")).toBe("ContextLengthExceeded")
    expect(of("invalid_api_key")).toBe("IncorrectApiKey")
    expect(of("model_not_found")).toBe("NotFound")
    expect(of("unsupported_country_region_territory")).toBe("UnsupportedRegion")
    expect(Classify.classifyStreamError({ error: { message: "m", type: "invalid_request_error" } })._tag).toBe("BadRequest")
  })

  it("garbage, text and nothing still give a typed error", () => {
    expect(Classify.classifyStreamError("upstream closed").message).toContain("upstream closed")
    expect(Classify.classifyStreamError(undefined)._tag).toBe("ServerError")
    expect(Classify.classifyStreamError({ choices: [] }).message).toContain("no error in it")
  })

  it("scrubs the secrets option from a stream error", () => {
    const key = "azure-key-0123456789abcdef"
    const e = Classify.classifyStreamError({ error: { message: `bad key ${key}` } }, { secrets: [key] })
    expect(e.message).not.toContain(key)
  })
})

// ---------------------------------------------------------------------------------------------
// Transport failures
// ---------------------------------------------------------------------------------------------

// Shaped like undici's errors: a class with `name` and `code`, wrapped by fetch in a TypeError.
class SocketError extends Error {
  override name = "SocketError"
  code = "UND_ERR_SOCKET"
}
class HeadersTimeoutError extends Error {
  override name = "HeadersTimeoutError"
  code = "UND_ERR_HEADERS_TIMEOUT"
}

// The server's chat completions URL, for the life of `use`.
const withServer = <A>(handler: http.RequestListener, use: (url: string) => Promise<A>): Promise<A> =>
  LoopbackServer.withServer(handler, (server) => use(`${server.origin}/v1/chat/completions`))

describe("classifyTransportError", () => {
  it("finds ECONNRESET inside a fetch TypeError's cause and keeps the cause", () => {
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", errno: -104, syscall: "read" })
    const cause = new TypeError("fetch failed", { cause: reset })
    const e = Classify.classifyTransportError(cause)
    expect(e._tag).toBe("ConnectionError")
    if (e._tag !== "ConnectionError") return
    expect(e.errorCode).toEqual(Option.some("ECONNRESET"))
    expect(e.cause).toBe(cause)
    expect(e.message).toContain("read ECONNRESET")
    expect([e.category, e.retryable, e.status]).toEqual(["APIConnectionError", true, Option.none()])
    expect(OpenAiError.isConnectionError(e)).toBe(true)
  })

  it("keeps the transport cause of a platform HttpClientError, never the request with its headers", () => {
    const request = HttpClientRequest.get("https://api.openai.com/v1/models").pipe(
      HttpClientRequest.bearerToken(Redacted.make("sk-proj-LeakCheckBearer0123456789")),
      HttpClientRequest.setHeader("api-key", "azure-leak-check-0123456789")
    )
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })
    const platform = new HttpClientError.RequestError({ request, reason: "Transport", cause: reset })
    const e = Classify.classifyTransportError(platform)
    expect(e._tag === "ConnectionError" && e.cause).toBe(reset)
    expect(e._tag === "ConnectionError" && e.errorCode).toEqual(Option.some("ECONNRESET"))
    for (const text of [JSON.stringify(e), inspect(e, { depth: 10 }), String(e)]) {
      expect(text).not.toContain("LeakCheckBearer")
      expect(text).not.toContain("azure-leak-check")
    }
    const bare = Classify.classifyTransportError(new HttpClientError.RequestError({ request, reason: "InvalidUrl" }))
    expect(JSON.stringify(bare)).not.toContain("azure-leak-check")
  })

  it("scrubs the credentials of a URL quoted by a transport error", () => {
    const e = Classify.classifyTransportError(
      new TypeError(
        "Request cannot be constructed from a URL that includes credentials: https://me:UrlPassw0rd@proxy.example/v1?api-key=QuerySecret1&limit=2"
      )
    )
    expect(e.message).not.toContain("UrlPassw0rd")
    expect(e.message).not.toContain("QuerySecret1")
    expect(e.message).toContain("https://<redacted>@proxy.example/v1?api-key=<redacted>&limit=2")
  })

  it("reads undici's UND_ERR_SOCKET", () => {
    const e = Classify.classifyTransportError(new TypeError("fetch failed", { cause: new SocketError("other side closed") }))
    expect(e._tag === "ConnectionError" && e.errorCode).toEqual(Option.some("UND_ERR_SOCKET"))
  })

  it("UND_ERR_HEADERS_TIMEOUT is a TimeoutError", () => {
    const e = Classify.classifyTransportError(
      new TypeError("fetch failed", { cause: new HeadersTimeoutError("Headers Timeout Error") }),
      { timeout: Duration.seconds(30) }
    )
    expect(e._tag).toBe("TimeoutError")
    if (e._tag !== "TimeoutError") return
    expect(e.phase).toBe("headers")
    expect(Duration.toMillis(e.timeout)).toBe(30_000)
    expect(e.message).toContain("30s")
    expect(e.code).toEqual(Option.some("UND_ERR_HEADERS_TIMEOUT"))
    expect([e.category, e.retryable]).toEqual(["APITimeoutError", true])
    expect(OpenAiError.isTimeoutError(e)).toBe(true)
  })

  it("an AbortSignal.timeout DOMException is a TimeoutError", () => {
    const e = Classify.classifyTransportError(new DOMException("The operation was aborted due to timeout", "TimeoutError"))
    expect(e._tag).toBe("TimeoutError")
  })

  it.effect("Effect's TimeoutException is a TimeoutError", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.never.pipe(Effect.timeout("10 seconds"), Effect.flip, Effect.fork)
      yield* TestClock.adjust("10 seconds")
      const exception = yield* Fiber.join(fiber)
      const e = Classify.classifyTransportError(exception, { timeout: "10 seconds" })
      expect(e._tag).toBe("TimeoutError")
      expect(e.message).toContain("10s")
    }))

  it("follows @effect/platform's RequestError cause", () => {
    const cause = new HttpClientError.RequestError({
      request: HttpClientRequest.post("https://api.openai.com/v1/chat/completions"),
      reason: "Transport",
      cause: new TypeError("fetch failed", {
        cause: Object.assign(new Error("getaddrinfo ENOTFOUND api.openai.com"), { code: "ENOTFOUND" })
      })
    })
    const e = Classify.classifyTransportError(cause)
    expect(e._tag === "ConnectionError" && e.errorCode).toEqual(Option.some("ENOTFOUND"))
    expect(e.message).toContain("ENOTFOUND api.openai.com")
  })

  it("reads the errors of an AggregateError (connection refused on every address)", () => {
    const refused = (address: string) =>
      Object.assign(new Error(`connect ECONNREFUSED ${address}`), { code: "ECONNREFUSED" })
    const e = Classify.classifyTransportError(
      new TypeError("fetch failed", { cause: new AggregateError([refused("::1:443"), refused("127.0.0.1:443")]) })
    )
    expect(e._tag === "ConnectionError" && e.errorCode).toEqual(Option.some("ECONNREFUSED"))
  })

  it("terminates on cyclic cause chains", () => {
    const a: Error & { cause?: unknown } = new Error("a")
    const b: Error & { cause?: unknown } = new Error("b", { cause: a })
    a.cause = b
    const self: Error & { cause?: unknown } = new Error("self")
    self.cause = self
    for (const cause of [a, self]) {
      const e = Classify.classifyTransportError(cause)
      expect(e._tag).toBe("ConnectionError")
    }
  })

  it("accepts causes that are not Errors", () => {
    for (const cause of ["socket hang up", 42, null, undefined, Symbol("x"), { code: "ECONNRESET" }, [1, 2], () => 1]) {
      const e = Classify.classifyTransportError(cause)
      expect(e._tag).toBe("ConnectionError")
      expect(e.message.length).toBeGreaterThan(0)
    }
    expect(Classify.classifyTransportError("socket hang up").message).toContain("socket hang up")
    const plain = Classify.classifyTransportError({ code: "ECONNRESET" })
    expect(plain._tag === "ConnectionError" && plain.errorCode).toEqual(Option.some("ECONNRESET"))
  })

  it("a hostile cause (throwing getters) is still a ConnectionError", () => {
    const hostile = new Proxy({}, {
      get() {
        throw new Error("boom")
      }
    })
    expect(Classify.classifyTransportError(hostile)._tag).toBe("ConnectionError")
  })

  it("returns an error that is already classified as it is", () => {
    const timeout = Classify.classifyTransportError(new HeadersTimeoutError("Headers Timeout Error"))
    expect(Classify.classifyTransportError(timeout)).toBe(timeout)
    const reset = Classify.classifyTransportError(new SocketError("other side closed"))
    expect(Classify.classifyTransportError(reset)).toBe(reset)
  })

  it("says how much of a stream had arrived", () => {
    const e = Classify.classifyTransportError(new SocketError("other side closed"), { received: { events: 12, bytes: 3400 } })
    expect(e._tag).toBe("ConnectionError")
    if (e._tag !== "ConnectionError") return
    expect(e.received).toEqual(Option.some({ events: 12, bytes: 3400 }))
    expect(e.message).toContain("12 event(s)")
  })

  it("scrubs a key from the cause's message", () => {
    const key = "sk-Abcdefghijklmnopqrstuvwxyz0123456789"
    const e = Classify.classifyTransportError(new Error(`bad header Authorization: Bearer ${key}`))
    expect(e.message).not.toContain("Abcdefghijkl")
  })

  it("classifies a real socket reset from fetch against a local server", () =>
    withServer((req) => req.socket.destroy(), async (url) => {
      const cause = await fetch(url, { method: "POST" }).then(() => undefined, (e: unknown) => e)
      const e = Classify.classifyTransportError(cause)
      expect(e._tag).toBe("ConnectionError")
      if (e._tag !== "ConnectionError") return
      expect(["UND_ERR_SOCKET", "ECONNRESET"]).toContain(Option.getOrElse(e.errorCode, () => "none"))
      expect(e.cause).toBe(cause)
    }))

  it("classifies a real connection refused", async () => {
    const url = await withServer((_req, res) => res.end(), async (u) => u)
    const cause = await fetch(url).then(() => undefined, (e: unknown) => e)
    const e = Classify.classifyTransportError(cause)
    expect(e._tag === "ConnectionError" && e.errorCode).toEqual(Option.some("ECONNREFUSED"))
  })
})

// ---------------------------------------------------------------------------------------------
// Properties: the classifiers are total
// ---------------------------------------------------------------------------------------------

const headerNames = [
  "x-request-id",
  "retry-after",
  "retry-after-ms",
  "x-should-retry",
  "x-ratelimit-limit-requests",
  "x-ratelimit-limit-tokens",
  "x-ratelimit-remaining-requests",
  "x-ratelimit-remaining-tokens",
  "x-ratelimit-reset-requests",
  "x-ratelimit-reset-tokens",
  "Retry-After",
  "content-type"
]

const headerValue = FastCheck.oneof(
  FastCheck.string(),
  FastCheck.integer().map(String),
  FastCheck.double().map(String),
  FastCheck.constantFrom("true", "false", "-1", "0", "6m0s", "1h2m3.5s", "Wed, 21 Oct 2015 07:28:00 GMT", "")
)

const headersArb = FastCheck.dictionary(FastCheck.oneof(FastCheck.constantFrom(...headerNames), FastCheck.string()), headerValue)

const errorObject = FastCheck.record({
  message: FastCheck.oneof(FastCheck.string(), FastCheck.constantFrom(
    "Rate limit reached for x on tokens per min (TPM): Limit 1, Used 2, Requested 3. Please try again in 1.5s.",
    "Request too large",
    "You exceeded your current quota",
    "That model is currently overloaded"
  ), FastCheck.anything()),
  type: FastCheck.oneof(FastCheck.string(), FastCheck.constant(null), FastCheck.integer()),
  param: FastCheck.oneof(FastCheck.string(), FastCheck.constant(null)),
  code: FastCheck.oneof(FastCheck.string(), FastCheck.constant(null), FastCheck.integer(), FastCheck.double())
}, { requiredKeys: [] })

const bodyArb = FastCheck.oneof(
  FastCheck.string(),
  FastCheck.string({ unit: "binary" }),
  FastCheck.uint8Array({ maxLength: 512 }),
  FastCheck.json(),
  errorObject.map((error) => JSON.stringify({ error })),
  errorObject.map((error) => JSON.stringify({ error }).slice(0, 40)),
  FastCheck.constant(undefined)
)

const checkError = (e: OpenAiError.OpenAiError) => {
  expect(OpenAiError.isOpenAiError(e)).toBe(true)
  expect(OpenAiError.tags).toContain(e._tag)
  expect(typeof e.message).toBe("string")
  expect(e.message.length).toBeLessThanOrEqual(MAX_KEPT)
  expect(typeof e.retryable).toBe("boolean")
  if (Option.isSome(e.retryAfter)) {
    const delay = Duration.toMillis(e.retryAfter.value)
    expect(delay).toBeGreaterThanOrEqual(0)
    expect(delay).toBeLessThanOrEqual(Duration.toMillis(GoDuration.MAX_HINT))
  }
}

describe("totality", () => {
  it.prop(
    "classifyResponse returns an OpenAiError for any status, headers and body",
    [FastCheck.oneof(FastCheck.integer({ min: -10, max: 1100 }), FastCheck.double()), headersArb, bodyArb, FastCheck.integer()],
    ([status, headers, body, now]) => {
      const e = Classify.classifyResponse({ status, headers, body, now })
      checkError(e)
      expect(Option.isSome(e.status)).toBe(true)
    }
  )

  it.prop(
    "classifyResponse survives values of the wrong type in every field",
    [FastCheck.anything(), FastCheck.anything(), FastCheck.anything(), FastCheck.anything(), FastCheck.anything()],
    ([status, headers, body, now, secrets]) => {
      // Callers outside TypeScript (or a bad cast) may pass anything: still a typed error.
      const input = { status, headers, body, now, secrets } as unknown as Classify.ResponseInput
      checkError(Classify.classifyResponse(input))
      checkError(Classify.classifyResponse(undefined as unknown as Classify.ResponseInput))
    }
  )

  it.prop(
    "classifyResponse reads a Headers object like the same record",
    [FastCheck.integer({ min: 100, max: 599 }), headersArb.map((h) => {
      // Only what a Headers can hold unchanged: valid names, printable values, one entry per name
      // (a Headers joins repeated names with ", ").
      const entries = Object.entries(h).filter(([k, v]) =>
        /^[a-z][a-z0-9-]*$/i.test(k) && /^[\x20-\x7e]*$/.test(v) && v.trim() === v
      )
      const names = entries.map(([k]) => k.toLowerCase())
      return Object.fromEntries(entries.filter(([k]) => names.filter((n) => n === k.toLowerCase()).length === 1))
    }), bodyArb],
    ([status, headers, body]) => {
      const fromRecord = Classify.classifyResponse({ status, headers, body, now: 0 })
      const fromHeaders = Classify.classifyResponse({ status, headers: new Headers(headers), body, now: 0 })
      expect(fromHeaders._tag).toBe(fromRecord._tag)
      expect([fromHeaders.requestId, fromHeaders.retryAfter, fromHeaders.shouldRetry]).toEqual([
        fromRecord.requestId,
        fromRecord.retryAfter,
        fromRecord.shouldRetry
      ])
    }
  )

  it.prop("classifyStreamError returns an OpenAiError for any value", [FastCheck.anything()], ([data]) => {
    const e = Classify.classifyStreamError(data)
    checkError(e)
    expect(e.status).toEqual(Option.none())
  })

  it.prop("classifyStreamError returns an OpenAiError for any text", [bodyArb.filter((b) => typeof b === "string")], ([data]) => {
    checkError(Classify.classifyStreamError(data))
  })

  it.prop(
    "classifyTransportError returns a ConnectionError or TimeoutError for any cause",
    [FastCheck.anything(), FastCheck.anything()],
    ([cause, inner]) => {
      for (const c of [cause, { cause }, new Error("x", { cause: inner }), { code: cause, cause: { cause: inner } }]) {
        const e = Classify.classifyTransportError(c)
        checkError(e)
        expect(["ConnectionError", "TimeoutError"]).toContain(e._tag)
      }
    }
  )
})

// ---------------------------------------------------------------------------------------------
// Conformance with real recorded error responses (../shared/fixtures/openai/errors). When the
// folder is absent, fixtures.ts prints why these suites skip (and fails under CI instead).
// ---------------------------------------------------------------------------------------------

interface ErrorFixture {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: unknown
  readonly body_raw?: string
  readonly body_raw_compact?: string
}

// The row each recorded body belongs to. A fixture not listed here is still checked against the
// category its status implies.
const expectedTag: Record<string, OpenAiError.Tag> = {
  "401_invalid_api_key.json": "IncorrectApiKey",
  "401_no_organization.json": "NoOrganization",
  "403_unsupported_country_region_territory.json": "UnsupportedRegion",
  "429_insufficient_quota.json": "QuotaExceeded",
  "429_rate_limit_requests_rpm.json": "RateLimitReached",
  "429_engine_overloaded_moonshot.json": "EngineOverloaded",
  "500_server_error.json": "ServerError",
  "503_model_overloaded.json": "EngineOverloaded"
}

const categoryOfStatus = (status: number): ReadonlyArray<OpenAiError.Category> =>
  status === 400 ? ["BadRequestError"] :
  status === 401 ? ["AuthenticationError"] :
  status === 403 ? ["PermissionDeniedError"] :
  status === 404 ? ["NotFoundError"] :
  status === 409 ? ["ConflictError"] :
  status === 422 ? ["UnprocessableEntityError"] :
  status === 429 ? ["RateLimitError"] :
  status >= 500 ? ["InternalServerError"] :
  ["APIError"]

const textOf = (u: unknown): Option.Option<string> =>
  typeof u === "string" && u.length > 0 ? Option.some(u) : typeof u === "number" ? Option.some(String(u)) : Option.none()

describe.skipIf(!Fixtures.fixturesAvailable)("recorded error responses (../shared/fixtures/openai/errors)", () => {
  const files = Fixtures.list("openai/errors").filter((f) => f.endsWith(".json"))

  it("has fixtures to check", () => {
    expect(files.length).toBeGreaterThan(0)
  })

  it.each(files)("%s classifies to its row", (file) => {
    const fixture = Fixtures.readJson(`openai/errors/${file}`) as ErrorFixture
    const bodies = [fixture.body_raw, fixture.body_raw_compact, JSON.stringify(fixture.body)]
      .filter((b): b is string => typeof b === "string")
    const inner = (fixture.body as { error?: Record<string, unknown> }).error ?? {}
    for (const body of bodies) {
      const e = Classify.classifyResponse({ status: fixture.status, headers: fixture.headers, body, now: 0 })
      const expected = expectedTag[file]
      if (expected !== undefined) expect(e._tag).toBe(expected)
      expect(categoryOfStatus(fixture.status)).toContain(e.category)
      expect(e.status).toEqual(Option.some(fixture.status))
      expect(e.code).toEqual(textOf(inner.code))
      expect(e.type).toEqual(textOf(inner.type))
      // Keys (even ones the server masked) are scrubbed; everything else is kept verbatim.
      const keyless = (m: string) => m.replace(/sk-[^\s.]+/g, "sk-…")
      if (typeof inner.message === "string") expect(keyless(e.message)).toBe(keyless(inner.message))
      expect(e.docs.endsWith(`/docs/errors/${e._tag}.md`)).toBe(true)
    }
  })

  it("the recorded rate limit keeps its figures and its hint", () => {
    const fixture = Fixtures.readJson("openai/errors/429_rate_limit_requests_rpm.json") as ErrorFixture
    const e = Classify.classifyResponse({ status: fixture.status, body: JSON.stringify(fixture.body), now: 0 })
    expect(e._tag).toBe("RateLimitReached")
    if (e._tag !== "RateLimitReached") return
    expect([e.scope, e.limit, e.used, e.requested]).toEqual(["requests", Option.some(3), Option.some(3), Option.some(1)])
    expect(ms(e.retryAfter)).toEqual(Option.some(20_000))
  })
})

describe.skipIf(!Fixtures.fixturesAvailable)("recorded Responses API stream events (../shared/fixtures/openai/responses)", () => {
  it("the error event is classified by its code", () => {
    const e = Classify.classifyStreamError(Fixtures.read("openai/responses/responses_stream_error_event_spec_example.json"))
    expect([e._tag, e.code, e.message, e.status]).toEqual([
      "ServerError",
      Option.some("ERR_SOMETHING"),
      "Something went wrong",
      Option.none()
    ])
  })

  it("the response.failed event is classified by response.error", () => {
    const e = Classify.classifyStreamError(Fixtures.readJson("openai/responses/responses_stream_failed_event_spec_example.json"))
    expect([e._tag, e.code, e.message]).toEqual([
      "ServerError",
      Option.some("server_error"),
      "The model failed to generate a response."
    ])
  })

  it("a response.incomplete event holds no error", () => {
    const json = Fixtures.readJson("openai/responses/responses_stream_incomplete_event_spec_example.json")
    expect(Classify.errorPayload(json)).toEqual(Option.none())
  })

  it("no event of a successful recorded stream holds an error", () => {
    const sse = Fixtures.read("openai/responses/responses_stream_spec_example.sse")
    const events = sse.split("\n").filter((l) => l.startsWith("data: ")).map((l) => JSON.parse(l.slice(6)) as unknown)
    expect(events.length).toBeGreaterThan(0)
    for (const event of events) expect(Classify.errorPayload(event)).toEqual(Option.none())
  })
})
