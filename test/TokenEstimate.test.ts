import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck } from "effect"
import * as cl100k from "gpt-tokenizer/encoding/cl100k_base"
import * as o200k from "gpt-tokenizer/encoding/o200k_base"
import * as TokenEstimate from "../src/TokenEstimate.js"

describe("TokenEstimate estimator", () => {
  const words: TokenEstimate.Estimator = (text) => text.split(/\s+/).filter(Boolean).length

  it("counts every text with the estimator given: chat, Responses, completions, embeddings", () => {
    const chat = { messages: [{ role: "user", content: "one two three" }], max_tokens: 1 }
    expect(TokenEstimate.fromBody(chat, { estimator: words }).prompt).toBe(3 + 4 + 3)
    const responses = { input: "a b", instructions: "c d e" }
    expect(TokenEstimate.fromBody(responses, { estimator: words, path: "/v1/responses" }).prompt).toBe(3 + (4 + 2) + (4 + 3))
    expect(TokenEstimate.fromBody({ prompt: ["a b", "c"] }, { estimator: words }).prompt).toBe(3)
    expect(TokenEstimate.fromBody({ input: ["a b c d"] }, { estimator: words, path: "/v1/embeddings" }).prompt).toBe(4)
    // The default is unchanged: characters / 4.
    expect(TokenEstimate.fromBody(chat).prompt).toBe(3 + 4 + 4)
  })

  it("reads a broken estimator's answer as characters / 4", () => {
    const body = { messages: [{ role: "user", content: "12345678" }] }
    const expected = TokenEstimate.fromBody(body).prompt
    for (
      const estimator of [
        () => Number.NaN,
        () => -1,
        () => Number.POSITIVE_INFINITY,
        () => {
          throw new Error("boom")
        }
      ]
    ) {
      expect(TokenEstimate.fromBody(body, { estimator }).prompt).toBe(expected)
    }
  })

  it("messageOverhead sets the per-message cost; nonsense reads as 4", () => {
    const body = { messages: [{ role: "user", content: "" }, { role: "user", content: "" }] }
    expect(TokenEstimate.fromBody(body, { messageOverhead: 3 }).prompt).toBe(3 + 3 + 3)
    expect(TokenEstimate.fromBody(body, { messageOverhead: -1 }).prompt).toBe(3 + 4 + 4)
  })
})

describe("TokenEstimate.lowerBound", () => {
  it("counts runs of letters, groups of three digits and runs of symbols", () => {
    expect(TokenEstimate.lowerBound("")).toBe(0)
    expect(TokenEstimate.lowerBound("   \n\t ")).toBe(0)
    expect(TokenEstimate.lowerBound("Hello, world!! 12345")).toBe(5)
    expect(TokenEstimate.lowerBound("don't stop")).toBe(2)
    expect(TokenEstimate.lowerBound("x = a.b")).toBe(3)
    expect(TokenEstimate.lowerBound("1234567")).toBe(3)
  })

  // Texts of the kinds a prompt is made of, and the adversarial ones (long words, runs, marks).
  const samples: Record<string, string> = {
    prose: "The quick brown fox jumps over the lazy dog. It was the best of times; don't panic. ".repeat(30),
    chinese: "我们的系统在处理请求时遇到了问题，请稍后再试。".repeat(30),
    code: "export const f = (x: number): number => x * 2 // doubles\nif (a[i] !== b?.c) { return; }\n".repeat(30),
    json: JSON.stringify({ a: [1, 2, 3], b: { c: "d", e: null, f: 1.5e10 } }, null, 2).repeat(30),
    logs: "2024-10-01T12:00:00.123Z INFO [worker-3] request_id=req_abc123 status=200 latency_ms=41\n".repeat(30),
    alphabet: "abcdefghijklmnopqrstuvwxyz".repeat(30),
    longWords: "responsibilities internationalization counterrevolutionaries ".repeat(30),
    whitespace: `a${" ".repeat(200)}b\n\n\n\n${"\t".repeat(50)}c`,
    marks: "e\u0301e\u0301 cafe\u0301 na\u0308ive \u0915\u094d\u0937".repeat(30),
    digits: "3.14159265358979323846 ١٢٣٤٥٦ ½²³".repeat(30),
    base64: "SGVsbG8sIHdvcmxkIQ==/+aGVsbG8gd29ybGQ=".repeat(30),
    emoji: "👍🏽 🇫🇷 👨‍👩‍👧 ok".repeat(30)
  }

  it.each(Object.keys(samples))("is never above the real count (o200k_base, cl100k_base): %s", (name) => {
    const text = samples[name] ?? ""
    expect(TokenEstimate.lowerBound(text)).toBeLessThanOrEqual(o200k.countTokens(text))
    expect(TokenEstimate.lowerBound(text)).toBeLessThanOrEqual(cl100k.countTokens(text))
  })

  it("is close to the real count on English prose", () => {
    const text = samples.prose ?? ""
    expect(TokenEstimate.lowerBound(text) / o200k.countTokens(text)).toBeGreaterThan(0.75)
  })

  it.effect.prop(
    "is never above the real count on any text",
    [
      FastCheck.oneof(
        FastCheck.string({ unit: "grapheme", maxLength: 300 }),
        FastCheck.string({ unit: "binary", maxLength: 300 }),
        FastCheck.array(
          FastCheck.constantFrom("the", " ", "'", "s", "don't", "123", "4", "..", "(", "é", "\u0301", "\n", "日本", "_", "A", "bC"),
          { maxLength: 80 }
        ).map((parts) => parts.join(""))
      )
    ],
    ([text]) =>
      Effect.sync(() => {
        expect(TokenEstimate.lowerBound(text)).toBeLessThanOrEqual(o200k.countTokens(text))
        expect(TokenEstimate.lowerBound(text)).toBeLessThanOrEqual(cl100k.countTokens(text))
      })
  )
})
