import { HttpClient, HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, FastCheck, Option } from "effect"
import { countTokens } from "gpt-tokenizer/encoding/o200k_base"
import * as OpenAiError from "../src/OpenAiError.js"
import * as Preflight from "../src/Preflight.js"
import * as TokenEstimate from "../src/TokenEstimate.js"
import { MockApi, MockHttpClient } from "../src/testing/index.js"

const CHAT = "/v1/chat/completions"

const chat = (model: string, content: string, extra: Record<string, unknown> = {}) => ({
  model,
  messages: [{ role: "user", content }],
  ...extra
})

/** Counts one token per character: exact arithmetic for boundary tests. */
const perChar: TokenEstimate.Estimator = (text) => text.length

const failure = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

// Chinese prose: characters / 4 and the piece bound are far below the real count.
const chinese = "我们的系统在处理请求时遇到了问题，请稍后再试。"

describe("Preflight.contextWindow", () => {
  it("reads the table, dated snapshots, fine-tunes and overrides", () => {
    expect(Preflight.contextWindow("gpt-4o-mini")).toEqual(Option.some(128_000))
    expect(Preflight.contextWindow("gpt-4o-mini-2024-07-18")).toEqual(Option.some(128_000))
    expect(Preflight.contextWindow("gpt-4-0613")).toEqual(Option.some(8_192))
    expect(Preflight.contextWindow("gpt-4-turbo-2024-04-09")).toEqual(Option.some(128_000))
    expect(Preflight.contextWindow("gpt-4.1-nano-2025-04-14")).toEqual(Option.some(1_047_576))
    expect(Preflight.contextWindow("ft:gpt-3.5-turbo-0125:acme::abc123")).toEqual(Option.some(16_385))
    expect(Preflight.contextWindow("llama-3-8b")).toEqual(Option.none())
    expect(Preflight.contextWindow("llama-3-8b", { "llama-3-8b": 8192 })).toEqual(Option.some(8192))
    expect(Preflight.contextWindow("gpt-4o", { "gpt-4o": 64_000 })).toEqual(Option.some(64_000))
    // 0 (or nonsense) removes an entry, and with it the check.
    expect(Preflight.contextWindow("gpt-4o-2024-08-06", { "gpt-4o": 0 })).toEqual(Option.none())
    expect(Preflight.contextWindow("gpt-4o", { "gpt-4o": Number.NaN })).toEqual(Option.none())
    // A prefix counts only up to a `-`: "gpt-4o" is not a snapshot of "gpt-4".
    expect(Preflight.contextWindow("gpt-4o")).toEqual(Option.some(128_000))
    expect(Preflight.contextWindow("gpt-4omega")).toEqual(Option.none())
  })
})

describe("Preflight.checkBody", () => {
  it.effect("fails a chat request that cannot fit with the server's typed error, caught before sending", () =>
    Effect.gen(function*() {
      const body = chat("gpt-4", "word ".repeat(9000), { max_tokens: 100 })
      const error = yield* Effect.flip(Preflight.checkBody(body, CHAT))
      expect(error._tag).toBe("ContextLengthExceeded")
      expect(error).toBeInstanceOf(OpenAiError.ContextLengthExceeded)
      expect(error).toBeInstanceOf(Preflight.CaughtBeforeSending)
      expect(error.probableCause).toMatch(/^Caught before sending/)
      expect(error.probableCause).not.toBe(OpenAiError.describe("ContextLengthExceeded").probableCause)
      expect(error.solution).toBe(OpenAiError.describe("ContextLengthExceeded").solution)
      expect(error.code).toEqual(Option.some("context_length_exceeded"))
      expect(error.param).toEqual(Option.some("messages"))
      expect(error.status).toEqual(Option.none())
      expect(error.retryable).toBe(false)
      // Word for word as docs/preflight.md quotes it.
      expect(error.message).toBe(
        "This model's maximum context length is 8192 tokens. However, you requested at least 9107 tokens " +
          "(9007 in the messages, 100 in the completion). Please reduce the length of the messages or completion. " +
          "(Checked before sending, counted with gpt-tokenizer (cl100k_base).)"
      )
    }))

  it.effect("the boundary: prompt + max_tokens equal to the window passes, one more fails", () =>
    Effect.gen(function*() {
      const options = { contextWindows: { m: 100 }, tokenizer: perChar }
      // 3 to prime the reply + (3 per message + 10 characters) = 16
      const fits = chat("m", "x".repeat(10), { max_tokens: 84 })
      expect(Exit.isSuccess(yield* Effect.exit(Preflight.checkBody(fits, CHAT, options)))).toBe(true)
      const over = chat("m", "x".repeat(10), { max_tokens: 85 })
      const error = failure(yield* Effect.exit(Preflight.checkBody(over, CHAT, options)))
      expect(error?.message).toMatch(/you requested at least 101 tokens \(16 in the messages, 85 in the completion\)/)
      expect(error?.message).toMatch(/counted with the configured estimator/)
    }))

  it.effect("reads max_completion_tokens first, then max_tokens; without either the prompt alone must fit", () =>
    Effect.gen(function*() {
      const options = { contextWindows: { m: 100 }, tokenizer: perChar }
      const run = (extra: Record<string, unknown>, chars = 10) =>
        Effect.map(Effect.exit(Preflight.checkBody(chat("m", "x".repeat(chars), extra), CHAT, options)), Exit.isSuccess)
      expect(yield* run({ max_completion_tokens: 84, max_tokens: 1000 })).toBe(true)
      expect(yield* run({ max_completion_tokens: 85, max_tokens: 1 })).toBe(false)
      expect(yield* run({})).toBe(true)
      expect(yield* run({}, 94)).toBe(true)
      expect(yield* run({}, 95)).toBe(false)
      // A nonsense allowance reads as none.
      expect(yield* run({ max_tokens: -5 })).toBe(true)
    }))

  it.effect("checks Responses (input, instructions, max_output_tokens) and legacy completions (prompt)", () =>
    Effect.gen(function*() {
      const options = { contextWindows: { m: 50 }, tokenizer: perChar }
      const responses = { model: "m", instructions: "x".repeat(10), input: "y".repeat(10), max_output_tokens: 25 }
      // 3 + (3 + 10) input + (3 + 10) instructions = 29, + 25 > 50
      const error = failure(yield* Effect.exit(Preflight.checkBody(responses, "/v1/responses", options)))
      expect(error?.param).toEqual(Option.some("input"))
      expect(error?.message).toMatch(/29 in the input, 25 in the completion/)
      const legacy = { model: "m", prompt: "z".repeat(60) }
      const legacyError = failure(yield* Effect.exit(Preflight.checkBody(legacy, "/v1/completions", options)))
      expect(legacyError?.param).toEqual(Option.some("prompt"))
    }))

  it.effect("counts with gpt-tokenizer when present: Chinese text the bound lets through is caught", () =>
    Effect.gen(function*() {
      // 2000 copies: about 30,000 real tokens, a few hundred by the bound.
      const text = chinese.repeat(2000)
      const real = countTokens(text)
      const bound = TokenEstimate.lowerBound(text)
      expect(real).toBeGreaterThan(16_385)
      expect(bound).toBeLessThan(16_385)
      const body = chat("gpt-4o-mini", text)
      const options = { contextWindows: { "gpt-4o-mini": 16_385 } }
      const auto = failure(yield* Effect.exit(Preflight.checkBody(body, CHAT, options)))
      expect(auto?.message).toMatch(/gpt-tokenizer \(o200k_base\)/)
      expect(auto?.message).toContain(`${real + 6} in the messages`)
      // Without the tokenizer only what certainly cannot fit is rejected: this passes.
      const byBound = yield* Effect.exit(Preflight.checkBody(body, CHAT, { ...options, tokenizer: "bound" }))
      expect(Exit.isSuccess(byBound)).toBe(true)
    }))

  it.effect("the bound still rejects what certainly cannot fit, and says how it counted", () =>
    Effect.gen(function*() {
      const body = chat("gpt-4", "word ".repeat(9000))
      const error = failure(yield* Effect.exit(Preflight.checkBody(body, CHAT, { tokenizer: "bound" })))
      expect(error?.message).toMatch(/counted with a lower bound on the tokens \(install gpt-tokenizer/)
    }))

  it.effect("passes what it cannot judge: unknown models, other endpoints, bodies that are not requests", () =>
    Effect.gen(function*() {
      const huge = "word ".repeat(20_000)
      const passes = (body: unknown, path = CHAT) => Effect.map(Effect.exit(Preflight.checkBody(body, path)), Exit.isSuccess)
      expect(yield* passes(chat("my-local-model", huge))).toBe(true)
      expect(yield* passes(chat("gpt-4", huge), "/v1/embeddings")).toBe(true)
      expect(yield* passes({ model: "gpt-4", input: huge }, "/v1/moderations")).toBe(true)
      expect(yield* passes(null)).toBe(true)
      expect(yield* passes("nope")).toBe(true)
      expect(yield* passes({ model: 42, messages: [] })).toBe(true)
      expect(yield* passes({ model: "gpt-4", messages: "not a list" })).toBe(true)
    }))

  it.effect("a request that fits even at a token per byte is passed without counting (nor loading a tokenizer)", () =>
    Effect.gen(function*() {
      let counted = 0
      const counting: TokenEstimate.Estimator = (text) => {
        counted++
        return text.length
      }
      yield* Preflight.checkBody(chat("gpt-4o-mini", "é".repeat(1000), { max_tokens: 1000 }), CHAT, { tokenizer: counting })
      expect(counted).toBe(0)
      const options = { contextWindows: { m: 2_006 }, tokenizer: counting }
      // 1000 two-byte characters: 2000 bytes + 6 fits exactly; one more byte does not.
      yield* Preflight.checkBody(chat("m", "é".repeat(1000)), CHAT, options)
      expect(counted).toBe(0)
      yield* Preflight.checkBody(chat("m", `${"é".repeat(1000)}x`), CHAT, options)
      expect(counted).toBe(1)
    }))

  it.effect.prop(
    "what passes without counting really fits (a token per UTF-8 byte is an upper bound)",
    [FastCheck.string({ unit: "binary", maxLength: 400 }), FastCheck.integer({ min: 1, max: 1_000 })],
    ([text, window]) =>
      Effect.gen(function*() {
        // An estimator that rejects everything: whatever passes, passed on the upper bound alone.
        const options = { contextWindows: { m: window }, tokenizer: () => 1e12 }
        const exit = yield* Effect.exit(Preflight.checkBody(chat("m", text), CHAT, options))
        if (Exit.isSuccess(exit)) expect(countTokens(text) + 6).toBeLessThanOrEqual(window)
      })
  )

  it.effect.prop(
    "never dies on any body: it succeeds or fails with ContextLengthExceeded",
    [FastCheck.anything(), FastCheck.constantFrom(CHAT, "/v1/responses", "/v1/completions", "/v1/models")],
    ([body, path]) =>
      Effect.gen(function*() {
        const withModel = typeof body === "object" && body !== null && !Array.isArray(body)
          ? { model: "gpt-4", ...body }
          : body
        const exit = yield* Effect.exit(Preflight.checkBody(withModel, path, { tokenizer: "bound" }))
        if (Exit.isFailure(exit)) expect(failure(exit)?._tag).toBe("ContextLengthExceeded")
      })
  )
})

describe("Preflight.check and middleware", () => {
  const request = (body: unknown, path = "/chat/completions") =>
    HttpClientRequest.post(`${MockHttpClient.baseUrl}${path}`).pipe(HttpClientRequest.bodyUnsafeJson(body))

  it.effect("check reads an HttpClientRequest; GETs and other paths pass", () =>
    Effect.gen(function*() {
      const tooLong = request(chat("gpt-4", "word ".repeat(9000)))
      expect(failure(yield* Effect.exit(Preflight.check(tooLong)))?._tag).toBe("ContextLengthExceeded")
      expect(Exit.isSuccess(yield* Effect.exit(Preflight.check(request(chat("gpt-4", "hi")))))).toBe(true)
      const get = HttpClientRequest.get(`${MockHttpClient.baseUrl}/chat/completions`)
      expect(Exit.isSuccess(yield* Effect.exit(Preflight.check(get)))).toBe(true)
      const query = request(chat("gpt-4", "word ".repeat(9000)), "/chat/completions?api-version=2024-10-21")
      expect(failure(yield* Effect.exit(Preflight.check(query)))?._tag).toBe("ContextLengthExceeded")
    }))

  it.effect("as middleware, a request that cannot fit is never sent; one that fits is", () =>
    Effect.gen(function*() {
      const client = (yield* HttpClient.HttpClient).pipe(Preflight.middleware())
      const mock = yield* MockApi.MockApi
      const rejected = yield* Effect.exit(client.execute(request(chat("gpt-4", "word ".repeat(9000)))))
      expect(failure(rejected)?._tag).toBe("ContextLengthExceeded")
      expect(yield* mock.log).toHaveLength(0)
      const sent = yield* client.execute(request(chat("gpt-4", "Say hi", { max_tokens: 16 })))
      expect(sent.status).toBe(200)
      expect(yield* mock.log).toHaveLength(1)
    }).pipe(Effect.provide(MockHttpClient.layer())))

})
