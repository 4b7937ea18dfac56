/**
 * What a person sees with debug logging on, as docs/retries.md suggests: one line per retry
 * decision with a rounded delay, and no "Fiber terminated with an unhandled error" plus a stack
 * trace for every failed attempt (the per-attempt timeout's child fiber used to end failed).
 * Live clock: that timeout runs on a plain timer only there.
 */
import { expect, it } from "@effect/vitest"
import { Effect, Layer, Logger, LogLevel, Redacted } from "effect"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as MockHttpClient from "../src/testing/MockHttpClient.js"

it.live("a failed attempt logs its retry decision once, rounded, and no unhandled-error report", () =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const capture = Logger.make(({ message }) => {
      lines.push(Array.isArray(message) ? message.map(String).join(" ") : String(message))
    })
    const openai = yield* OpenAiClient.OpenAiClient
    yield* openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }).pipe(
      Logger.withMinimumLogLevel(LogLevel.Debug),
      Effect.provide(Logger.replace(Logger.defaultLogger, capture))
    )
    expect(lines.filter((line) => line.includes("Fiber terminated"))).toEqual([])
    const retries = lines.filter((line) => line.includes("retrying in"))
    expect(retries).toHaveLength(1)
    expect(retries[0]).toMatch(/^ServerError on attempt 1; retrying in \d+ms \(backoff\)$/)
  }).pipe(
    Effect.provide(
      OpenAiClient.layer({ apiKey: Redacted.make("sk-test"), baseUrl: MockHttpClient.baseUrl }).pipe(
        Layer.provide(MockHttpClient.layer({ scenario: ["server_error"] }))
      )
    )
  ))
