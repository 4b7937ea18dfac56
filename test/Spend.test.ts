import { HttpClient, HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Metric, Option, TestClock } from "effect"
import * as Spend from "../src/Spend.js"
import { MockApi, MockHttpClient } from "../src/testing/index.js"

const close = (a: Option.Option<number>, b: number) => {
  expect(Option.isSome(a)).toBe(true)
  if (Option.isSome(a)) expect(a.value).toBeCloseTo(b, 12)
}

describe("Spend.costOf", () => {
  it("prices chat, Responses and embeddings usage; cached input at the cached price", () => {
    close(Spend.costOf("gpt-4o-mini", { prompt_tokens: 1_000_000, completion_tokens: 1_000_000 }), 0.15 + 0.6)
    close(
      Spend.costOf("gpt-4o-2024-08-06", {
        prompt_tokens: 1000,
        completion_tokens: 100,
        prompt_tokens_details: { cached_tokens: 400 }
      }),
      (600 * 2.5 + 400 * 1.25 + 100 * 10) / 1e6
    )
    close(
      Spend.costOf("gpt-4.1", { input_tokens: 2000, output_tokens: 500, input_tokens_details: { cached_tokens: 1000 } }),
      (1000 * 2 + 1000 * 0.5 + 500 * 8) / 1e6
    )
    close(Spend.costOf("text-embedding-3-small", { prompt_tokens: 5_000_000, total_tokens: 5_000_000 }), 0.1)
    // No cached price: cached tokens cost the input price. More cached than input reads as all.
    close(Spend.costOf("gpt-4", { prompt_tokens: 10, completion_tokens: 0, prompt_tokens_details: { cached_tokens: 99 } }), 10 * 30 / 1e6)
  })

  it("gives None for a model without a price or no usage; overrides win; a bad price is none", () => {
    expect(Spend.costOf("my-local-model", { prompt_tokens: 10 })).toEqual(Option.none())
    expect(Spend.costOf("gpt-4o-mini", null)).toEqual(Option.none())
    expect(Spend.costOf("gpt-4o-mini", "nope")).toEqual(Option.none())
    close(Spend.costOf("gpt-4o-mini", { prompt_tokens: -5, completion_tokens: Number.NaN }), 0)
    close(Spend.costOf("my-local-model", { prompt_tokens: 1e6 }, { "my-local-model": { input: 1, output: 2 } }), 1)
    close(Spend.costOf("gpt-4o-mini", { prompt_tokens: 1e6 }, { "gpt-4o-mini": { input: 0.1, output: 0.4 } }), 0.1)
    expect(
      Spend.costOf("gpt-4o-mini", { prompt_tokens: 1e6 }, { "gpt-4o-mini": { input: -1, output: 0 } })
    ).toEqual(Option.none())
  })
})

describe("Spend accounts", () => {
  const million = { prompt_tokens: 1_000_000, completion_tokens: 0 }

  it.effect("records costs, counts them in the metric by model, and reports the period's spend", () =>
    Effect.gen(function*() {
      const metric = Spend.spentTotal.pipe(Metric.tagged("model", "gpt-4o-mini-test-metric"))
      const before = (yield* Metric.value(metric)).count
      const spend = yield* Spend.make({ prices: { "gpt-4o-mini-test-metric": { input: 2, output: 0 } } })
      expect(yield* spend.record("gpt-4o-mini-test-metric", million)).toBe(2)
      expect(yield* spend.record("gpt-4o-mini-test-metric", million)).toBe(2)
      expect(yield* spend.record("unpriced", million)).toBe(0)
      expect(yield* spend.spent).toBe(4)
      expect((yield* Metric.value(metric)).count - before).toBe(4)
      yield* spend.check // no limit: never fails
    }))

  it.effect("a limit stops at the period's limit until the period ends, then resets", () =>
    Effect.gen(function*() {
      const spend = yield* Spend.make({ limit: 0.3, period: "1 hour" })
      yield* TestClock.setTime(Duration.toMillis(Duration.minutes(15)))
      yield* spend.record("gpt-4o-mini", million) // 0.15
      yield* spend.check
      yield* spend.record("gpt-4o-mini", million) // 0.30: reached
      const error = yield* Effect.flip(spend.check)
      expect(error._tag).toBe("SpendLimitReached")
      expect(error.limit).toBe(0.3)
      expect(error.spent).toBeCloseTo(0.3, 12)
      expect(error.period).toEqual(Duration.hours(1))
      expect(error.retryAfter).toEqual(Duration.minutes(45))
      expect(error.message).toMatch(/^Spend limit reached: \$0\.3000 of \$0\.3 in this period of 1h; it resets in 45m/)
      yield* TestClock.adjust("44 minutes")
      expect((yield* Effect.flip(spend.check)).retryAfter).toEqual(Duration.minutes(1))
      yield* TestClock.adjust("1 minute")
      yield* spend.check
      expect(yield* spend.spent).toBe(0)
    }))

  it.effect("nonsense options read as no limit and a one-day period", () =>
    Effect.gen(function*() {
      const spend = yield* Spend.make({ limit: Number.NaN, period: "soon" as never })
      yield* spend.record("gpt-4o-mini", { prompt_tokens: 1e9 })
      yield* spend.check
      yield* TestClock.adjust("23 hours")
      expect(yield* spend.spent).toBeGreaterThan(0)
      yield* TestClock.adjust("1 hour")
      expect(yield* spend.spent).toBe(0)
    }))

  it.effect("layer shares one account", () =>
    Effect.gen(function*() {
      const a = yield* Spend.Spend
      const b = yield* Spend.Spend
      yield* a.record("gpt-4o-mini", million)
      expect(yield* b.spent).toBeCloseTo(0.15, 12)
    }).pipe(Effect.provide(Spend.layer())))
})

describe("Spend.middleware", () => {
  const chat = (stream = false) =>
    HttpClientRequest.post(`${MockHttpClient.baseUrl}/chat/completions`).pipe(
      HttpClientRequest.bodyUnsafeJson({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hello" }], stream })
    )

  it.effect("records each JSON response's usage, and stops the client once the limit is spent", () =>
    Effect.gen(function*() {
      const spend = yield* Spend.make({ limit: 1e-9 })
      const client = (yield* HttpClient.HttpClient).pipe(Spend.middleware(spend))
      const mock = yield* MockApi.MockApi
      const first = yield* client.execute(chat())
      const body = (yield* first.json) as { readonly model: string; readonly usage: unknown }
      // The caller still reads the body the middleware read.
      expect(Option.getOrThrow(Spend.costOf(body.model, body.usage))).toBeGreaterThan(0)
      expect(yield* spend.spent).toBeCloseTo(Option.getOrThrow(Spend.costOf(body.model, body.usage)), 12)
      const error = yield* Effect.flip(client.execute(chat()))
      expect(error._tag).toBe("SpendLimitReached")
      expect(yield* mock.log).toHaveLength(1)
    }).pipe(Effect.provide(MockHttpClient.layer())))

  it.effect("does not read a stream", () =>
    Effect.gen(function*() {
      const spend = yield* Spend.make()
      const client = (yield* HttpClient.HttpClient).pipe(Spend.middleware(spend))
      const response = yield* client.execute(chat(true))
      expect(response.headers["content-type"]).toMatch(/event-stream/)
      expect(yield* spend.spent).toBe(0)
      expect((yield* response.text).length).toBeGreaterThan(0)
    }).pipe(Effect.provide(MockHttpClient.layer())))
})
