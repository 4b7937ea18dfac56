/**
 * @effect/ai-openai with the stack through its `transformClient`, against the mock server on real
 * sockets: attempts in the mock's log, the AiError @effect/ai raises, the typed error read back.
 */
import { AiError, LanguageModel } from "@effect/ai"
import { OpenAiLanguageModel } from "@effect/ai-openai"
import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, Stream } from "effect"
import { Bulkhead, CircuitBreaker, type Resilience, RetryBudget, RetryPolicy } from "../src/index.js"
import { EffectAi } from "../src/effect-ai/index.js"
import { MockApi, MockServer } from "../src/testing/index.js"

const API_KEY = "sk-effect-ai-test-0123456789abcdef"
const policy = RetryPolicy.make({ maxRetries: 2, base: "1 millis", maxDelay: "2 millis" })

type Fault = NonNullable<MockServer.ServerOptions["scenario"]>[number]

/** @effect/ai-openai over the stack, against a mock that serves `scenario` to successive requests. */
const withAi = <A, E>(
  scenario: ReadonlyArray<Fault>,
  program: Effect.Effect<A, E, LanguageModel.LanguageModel | MockApi.MockApi>,
  options: {
    readonly fetch?: typeof globalThis.fetch
    readonly resilience?: Resilience.Options<RetryBudget.RetryBudget>
  } = {}
) =>
  Effect.gen(function*() {
    const { url } = yield* MockServer.MockServer
    const resilience: Resilience.Options<RetryBudget.RetryBudget> = { retryPolicy: policy, secrets: [API_KEY], ...options.resilience }
    const client = EffectAi.layer({ apiKey: Redacted.make(API_KEY), apiUrl: url, resilience })
    const http = options.fetch === undefined
      ? FetchHttpClient.layer
      : Layer.provide(FetchHttpClient.layer, Layer.succeed(FetchHttpClient.Fetch, options.fetch))
    return yield* program.pipe(
      Effect.provide(OpenAiLanguageModel.model("gpt-4o-mini").pipe(Layer.provide(client), Layer.provide(http)))
    )
  }).pipe(Effect.provide([MockServer.layer({ scenario, retryAfter: "5 millis" }), RetryBudget.layer()]))

const log = Effect.flatMap(MockApi.MockApi, (mock) => mock.log)
const generate = LanguageModel.generateText({ prompt: "Hello from @effect/ai" })
const streamed = LanguageModel.streamText({ prompt: "Hello from @effect/ai" }).pipe(
  Stream.runFold("", (text, part) => part.type === "text-delta" ? text + part.delta : text)
)

const explained = (e: unknown) => {
  const x = EffectAi.explain(e)
  expect(Option.isSome(x), `no explanation for ${String(e)}`).toBe(true)
  return Option.getOrThrow(x)
}

describe("EffectAi with @effect/ai-openai", () => {
  it.live("rides out 429s and a 500 as one call", () =>
    withAi(
      ["rate_limit_requests", "rate_limit_tokens", "ok", "server_error"],
      Effect.gen(function*() {
        expect((yield* generate).text).toBe("Hello from @effect/ai")
        expect((yield* log).map((e) => e.attempt)).toEqual([1, 2, 3])
        expect((yield* streamed)).toBe("Hello from @effect/ai")
        expect(yield* log).toHaveLength(5)
      })
    ))

  it.live("an HTTP error whose retries ran out stays an HttpResponseError with its status and body; the typed error reads back", () =>
    withAi(
      ["rate_limit_tokens", "rate_limit_tokens", "rate_limit_tokens", "insufficient_quota"],
      Effect.gen(function*() {
        const limited = yield* Effect.flip(generate)
        expect(limited._tag).toBe("HttpResponseError")
        const e = limited as AiError.HttpResponseError
        expect(e.response.status).toBe(429)
        expect(e.body).toContain("rate_limit_exceeded")
        const x = explained(limited)
        expect(x.error._tag).toBe("RateLimitReached")
        expect(x.attempts).toBe(3)
        expect(x.decisions.map((d) => d._tag)).toEqual(["Retry", "Retry", "Stop"])
        expect(String(limited.message)).not.toContain(API_KEY)
        // catchTag on the typed error compiles and runs.
        const recovered = yield* generate.pipe(
          EffectAi.typedErrors,
          Effect.as("no"),
          Effect.catchTag("QuotaExceeded", (q) => Effect.succeed(q._tag))
        )
        expect(recovered).toBe("QuotaExceeded")
        expect(yield* log).toHaveLength(4)
      })
    ))

  it.live("500 and 503: HttpResponseError, retried as the policy says", () =>
    withAi(
      ["server_error", "server_error", "server_error", "engine_overloaded", "engine_overloaded", "engine_overloaded"],
      Effect.gen(function*() {
        for (const tag of ["ServerError", "EngineOverloaded"]) {
          const error = yield* Effect.flip(generate)
          expect(error._tag, tag).toBe("HttpResponseError")
          expect(explained(error).error._tag).toBe(tag)
        }
        expect(yield* log).toHaveLength(6)
      })
    ))

  it.live("a reset stays a transport error (HttpRequestError, reason Transport) with the typed error behind it", () =>
    withAi(
      ["connection_reset", "connection_reset", "connection_reset"],
      Effect.gen(function*() {
        const error = yield* Effect.flip(generate)
        expect(error._tag).toBe("HttpRequestError")
        expect((error as AiError.HttpRequestError).reason).toBe("Transport")
        const x = explained(error)
        expect(x.error._tag).toBe("ConnectionError")
        expect(x.attempts).toBe(3)
        expect(yield* log).toHaveLength(3)
      })
    ))

  it.live("a slow server is a TimeoutError behind a transport error", () =>
    withAi(
      ["slow_headers", "slow_headers", "slow_headers"],
      Effect.gen(function*() {
        const error = yield* Effect.flip(generate)
        expect(error._tag).toBe("HttpRequestError")
        expect(explained(error).error._tag).toBe("TimeoutError")
      }),
      { resilience: { timeout: "500 millis" } }
    ))

  it.live("a stream that has started: its error event or cut fails the stream with the typed error, not an error part", () =>
    withAi(
      ["stream_error", "stream_cut"],
      Effect.gen(function*() {
        const eventError = yield* Effect.flip(streamed)
        expect(explained(eventError).error._tag).toBe("ServerError")
        expect(explained(eventError).attempts).toBe(1)
        const cut = yield* Effect.flip(streamed)
        expect(explained(cut).error._tag).toBe("ConnectionError")
        expect(yield* log).toHaveLength(2)
      })
    ))

  it.live("before the first event, an error event and a cut are classified and retried", () => {
    let calls = 0
    const encoder = new TextEncoder()
    const sse = { "content-type": "text/event-stream", "x-request-id": "req_first" }
    // The first two answers fail before any event; the third goes to the mock.
    const fetch = ((input: string | URL | Request, init?: RequestInit) => {
      calls++
      if (calls === 1) {
        const frame = `event: error\ndata: ${JSON.stringify({ type: "error", code: "server_error", message: "overloaded", param: null })}\n\n`
        return Promise.resolve(new Response(frame, { headers: sse }))
      }
      if (calls === 2) {
        const body = new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(encoder.encode(": keep-alive\n\n"))
            c.error(new TypeError("terminated"))
          }
        })
        return Promise.resolve(new Response(body, { headers: sse }))
      }
      return globalThis.fetch(input, init)
    }) as typeof globalThis.fetch
    return withAi(
      [],
      Effect.gen(function*() {
        expect(yield* streamed).toBe("Hello from @effect/ai")
        expect(calls).toBe(3)
        expect(yield* log).toHaveLength(1)
      }),
      { fetch }
    )
  })

  it.live("breaker, bulkhead and budget compose: an open circuit is a transport error explained as CircuitOpen", () =>
    Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 3, openDuration: "1 minute" })
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2, maxQueue: 2 })
      yield* withAi(
        ["server_error", "server_error", "server_error"],
        Effect.gen(function*() {
          yield* Effect.flip(generate)
          const refused = yield* Effect.flip(generate)
          expect(refused._tag).toBe("HttpRequestError")
          expect(explained(refused).error._tag).toBe("CircuitOpen")
          expect(yield* log).toHaveLength(3)
        }),
        { resilience: { breaker, bulkhead, retryPolicy: RetryPolicy.withBudget(policy) } }
      )
    }).pipe(Effect.scoped))
})
