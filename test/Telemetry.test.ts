/**
 * Metrics and spans, end to end through `@effect/opentelemetry` with the SDK's in-memory span
 * exporter and a real metric reader: what an operator's collector would receive.
 *
 * Effect's metrics live in one global registry, so each test uses its own model (or breaker, or
 * bulkhead) name and reads only the series carrying it.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { SpanKind, SpanStatusCode } from "@opentelemetry/api"
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  type MetricData,
  PeriodicExportingMetricReader
} from "@opentelemetry/sdk-metrics"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Exit, Fiber, Layer, Redacted, Stream, TestClock } from "effect"
import { program as exampleProgram, TelemetryLive } from "../docs/examples/observability.js"
import * as Bulkhead from "../src/Bulkhead.js"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as Resilience from "../src/Resilience.js"
import * as RetryBudget from "../src/RetryBudget.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import * as Telemetry from "../src/Telemetry.js"
import { typedClientWith } from "./support/client.js"
import * as S from "../src/testing/ScriptedHttpClient.js"

const API_KEY = "sk-proj-TELEMETRYKEY0123456789abcdefghijklmn"
const BASE = "https://api.example.test/v1"
const policy = RetryPolicy.make({ maxRetries: 2, base: "1 second", factor: 1, jitter: "none" })

// One OpenTelemetry SDK per test: spans into memory, metrics read on demand by a real reader.
const otel = () => {
  const spans = new InMemorySpanExporter()
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 3_600_000
  })
  const layer = NodeSdk.layer(() => ({
    resource: { serviceName: "telemetry-test" },
    spanProcessor: new SimpleSpanProcessor(spans),
    metricReader: reader
  }))
  const collect = Effect.promise(() => reader.collect()).pipe(
    Effect.map(({ resourceMetrics }) => resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics))
  )
  return { layer, spans, collect }
}

type Attributes = Readonly<Record<string, string>>

const points = (metrics: ReadonlyArray<MetricData>, name: string, attributes: Attributes) => {
  const metric = metrics.find((m) => m.descriptor.name === name)
  const matching = (metric?.dataPoints ?? []).filter((p) =>
    Object.entries(attributes).every(([k, v]) => p.attributes[k] === v)
  )
  return { metric, matching }
}

// A counter's or gauge's value summed over the matching series (0 when none).
const value = (metrics: ReadonlyArray<MetricData>, name: string, attributes: Attributes): number =>
  points(metrics, name, attributes).matching.reduce((sum, p) => sum + (typeof p.value === "number" ? p.value : 0), 0)

// A histogram's count and sum over the matching series.
const histogram = (metrics: ReadonlyArray<MetricData>, name: string, attributes: Attributes) => {
  const { matching, metric } = points(metrics, name, attributes)
  assert.strictEqual(metric?.dataPointType, DataPointType.HISTOGRAM, name)
  let count = 0
  let sum = 0
  let max = 0
  for (const p of matching) {
    if (typeof p.value === "number") continue
    count += p.value.count
    sum += p.value.sum ?? 0
    max = Math.max(max, p.value.max ?? 0)
  }
  return { count, sum, max }
}

const completion = (model: string) => ({
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1727346142,
  model: `${model}-2024-07-18`,
  choices: [{ index: 0, message: { role: "assistant", content: "Hi!", refusal: null }, logprobs: null, finish_reason: "stop" }],
  usage: { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 }
})
const rateLimitHeaders = {
  "x-request-id": "req_telemetry_1",
  "x-ratelimit-limit-requests": "500",
  "x-ratelimit-remaining-requests": "499",
  "x-ratelimit-limit-tokens": "30000",
  "x-ratelimit-remaining-tokens": "29000"
}
const rateLimited = S.json(
  429,
  S.errorBody(
    "Rate limit reached for gpt-4o-mini in organization org-abc on requests per min (RPM): Limit 3, Used 3, Requested 1.",
    "requests",
    "rate_limit_exceeded"
  ),
  { "retry-after-ms": "1500", "x-request-id": "req_telemetry_429" }
)
const quota = S.json(
  429,
  S.errorBody("You exceeded your current quota, please check your plan and billing details.", "insufficient_quota", "insufficient_quota")
)
const serverError = S.json(500, S.errorBody("The server had an error processing your request.", "server_error", null))

// `OpenAiClient.make` with the layers given: its error and requirement types are exactly theirs.
const clientWith = typedClientWith(Redacted.make(API_KEY), BASE)

const chatRequest = (model: string) => ({ model, messages: [{ role: "user" as const, content: "Say hi" }] })

// @effect/opentelemetry 0.64 hands an array attribute to OpenTelemetry as its JSON text; other
// tracers keep the array.
const asArray = (attribute: unknown): unknown => typeof attribute === "string" ? JSON.parse(attribute) : attribute

const byName = (spans: ReadonlyArray<ReadableSpan>, name: string) => spans.filter((s) => s.name === name)

// No attribute or event of any span holds the key, a bearer token or the key's distinctive part.
const assertNoSecrets = (spans: ReadonlyArray<ReadableSpan>) => {
  const texts: Array<string> = []
  for (const span of spans) {
    texts.push(JSON.stringify(span.attributes))
    for (const event of span.events) texts.push(event.name, JSON.stringify(event.attributes ?? {}))
  }
  assert.isAbove(texts.length, 0)
  for (const text of texts) {
    assert.notInclude(text, API_KEY)
    assert.notInclude(text, "TELEMETRYKEY")
    assert.notInclude(text.toLowerCase(), "bearer")
  }
}

describe("Telemetry: one successful call", () => {
  it.effect("a span with the gen_ai attributes, an attempt span beneath it, and every call metric", () => {
    const { collect, layer, spans } = otel()
    const model = "obs-success"
    return Effect.gen(function*() {
      const { openai } = yield* clientWith([S.json(200, completion(model), rateLimitHeaders)], { retryPolicy: policy })
      yield* openai.chat.completions.create(chatRequest(model))

      const finished = spans.getFinishedSpans()
      const [call] = byName(finished, `chat ${model}`)
      assert.isDefined(call)
      if (call === undefined) return
      assert.strictEqual(call.kind, SpanKind.CLIENT)
      assert.deepStrictEqual(
        {
          operation: call.attributes["gen_ai.operation.name"],
          provider: call.attributes["gen_ai.provider.name"],
          request: call.attributes["gen_ai.request.model"],
          response: call.attributes["gen_ai.response.model"],
          input: call.attributes["gen_ai.usage.input_tokens"],
          output: call.attributes["gen_ai.usage.output_tokens"],
          reasons: asArray(call.attributes["gen_ai.response.finish_reasons"]),
          error: call.attributes["error.type"]
        },
        {
          operation: "chat",
          provider: "openai",
          request: model,
          response: `${model}-2024-07-18`,
          input: 30,
          output: 12,
          reasons: ["stop"],
          error: undefined
        }
      )
      const attempts = byName(finished, "openai.attempt")
      assert.strictEqual(attempts.length, 1)
      assert.strictEqual(attempts[0]?.parentSpanContext?.spanId, call.spanContext().spanId)
      assert.strictEqual(attempts[0]?.attributes["openai.attempt"], 0)
      // The platform's own request span sits beneath the attempt.
      const http = finished.find((s) => s.parentSpanContext?.spanId === attempts[0]?.spanContext().spanId)
      assert.isDefined(http)

      const metrics = yield* collect
      const labels = { operation: "chat", model }
      assert.strictEqual(value(metrics, "openai_calls_total", { ...labels, outcome: "success" }), 1)
      assert.strictEqual(value(metrics, "openai_attempts_total", { ...labels, outcome: "success" }), 1)
      assert.strictEqual(histogram(metrics, "openai_attempt_duration_seconds", labels).count, 1)
      const genAi = { "gen_ai.operation.name": "chat", "gen_ai.request.model": model, "gen_ai.provider.name": "openai" }
      assert.strictEqual(histogram(metrics, "gen_ai.client.operation.duration", genAi).count, 1)
      assert.deepInclude(
        histogram(metrics, "gen_ai.client.token.usage", { ...genAi, "gen_ai.token.type": "input" }),
        { count: 1, sum: 30 }
      )
      assert.deepInclude(
        histogram(metrics, "gen_ai.client.token.usage", { ...genAi, "gen_ai.token.type": "output" }),
        { count: 1, sum: 12 }
      )
      assert.strictEqual(value(metrics, "openai_ratelimit_remaining_requests", { model }), 499)
      assert.strictEqual(value(metrics, "openai_ratelimit_remaining_tokens", { model }), 29000)
      // No request id and no key in any label.
      for (const metric of metrics) {
        for (const point of metric.dataPoints) {
          const text = JSON.stringify(point.attributes)
          assert.notInclude(text, "req_telemetry")
          assert.notInclude(text, "TELEMETRYKEY")
        }
      }
      assertNoSecrets(finished)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a stream: time to first chunk, and the response model from the first chunk", () => {
    const { collect, layer, spans } = otel()
    const model = "obs-stream"
    const chunk = {
      id: "chatcmpl-s",
      object: "chat.completion.chunk",
      created: 1,
      model: `${model}-2024-07-18`,
      choices: [{ index: 0, delta: { content: "Hi" }, logprobs: null, finish_reason: null }]
    }
    return Effect.gen(function*() {
      const { openai } = yield* clientWith([S.sse([S.pause("2 seconds"), S.data(chunk), S.data("[DONE]")])], {})
      const fiber = yield* Effect.fork(Stream.runCollect(openai.chat.completions.stream(chatRequest(model))))
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* Fiber.join(fiber)).length, 1)
      const metrics = yield* collect
      const first = histogram(metrics, "gen_ai.client.operation.time_to_first_chunk", { "gen_ai.request.model": model })
      assert.deepInclude(first, { count: 1, sum: 2 })
      const [call] = byName(spans.getFinishedSpans(), `chat ${model}`)
      assert.strictEqual(call?.attributes["gen_ai.response.model"], `${model}-2024-07-18`)
    }).pipe(Effect.provide(layer))
  })
})

describe("Telemetry: failures and retries", () => {
  it.effect("a 429 then a success: the retry, its wait by source, both attempts, and the retry as a span event", () => {
    const { collect, layer, spans } = otel()
    const model = "obs-429"
    return Effect.gen(function*() {
      const { openai } = yield* clientWith([rateLimited, S.json(200, completion(model))], { retryPolicy: policy })
      const fiber = yield* Effect.fork(openai.chat.completions.create(chatRequest(model)))
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(fiber)

      const metrics = yield* collect
      const labels = { operation: "chat", model }
      assert.strictEqual(value(metrics, "openai_calls_total", { ...labels, outcome: "success" }), 1)
      assert.strictEqual(
        value(metrics, "openai_attempts_total", { ...labels, outcome: "failure", error_tag: "RateLimitReached" }),
        1
      )
      assert.strictEqual(value(metrics, "openai_attempts_total", { ...labels, outcome: "success" }), 1)
      const delay = histogram(metrics, "openai_retry_delay_seconds", {
        error_tag: "RateLimitReached",
        source: "retry-after-ms"
      })
      assert.isAtLeast(delay.count, 1)
      assert.isAtLeast(delay.max, 1.5)
      assert.isAtLeast(value(metrics, "openai_retries_total", { error_tag: "RateLimitReached", source: "retry-after-ms" }), 1)
      // The call took the server's 1.5 s hint.
      assert.isAtLeast(histogram(metrics, "gen_ai.client.operation.duration", { "gen_ai.request.model": model }).sum, 1.5)

      const finished = spans.getFinishedSpans()
      const [call] = byName(finished, `chat ${model}`)
      const retry = call?.events.find((e) => e.name === "openai.retry")
      assert.strictEqual(retry?.attributes?.["openai.retry.source"], "retry-after-ms")
      const attempts = byName(finished, "openai.attempt")
      assert.deepStrictEqual(attempts.map((a) => a.attributes["error.type"]), ["RateLimitReached", undefined])
      assert.strictEqual(attempts[0]?.status.code, SpanStatusCode.ERROR)
      assertNoSecrets(finished)
    }).pipe(Effect.provide(layer))
  })

  it.effect("exhausted quota: one attempt, the call failed with QuotaExceeded, the stop counted", () => {
    const { collect, layer, spans } = otel()
    const model = "obs-quota"
    return Effect.gen(function*() {
      const { openai } = yield* clientWith([quota], { retryPolicy: policy })
      const error = yield* Effect.flip(openai.chat.completions.create(chatRequest(model)))
      assert.strictEqual(error._tag, "QuotaExceeded")

      const metrics = yield* collect
      const failed = { operation: "chat", model, outcome: "failure", error_tag: "QuotaExceeded" }
      assert.strictEqual(value(metrics, "openai_calls_total", failed), 1)
      assert.strictEqual(value(metrics, "openai_attempts_total", failed), 1)
      assert.strictEqual(
        histogram(metrics, "gen_ai.client.operation.duration", {
          "gen_ai.request.model": model,
          "error.type": "QuotaExceeded"
        }).count,
        1
      )
      assert.isAtLeast(value(metrics, "openai_retry_stops_total", { error_tag: "QuotaExceeded", reason: "not-retryable" }), 1)
      const [call] = byName(spans.getFinishedSpans(), `chat ${model}`)
      assert.strictEqual(call?.attributes["error.type"], "QuotaExceeded")
      assert.strictEqual(call?.status.code, SpanStatusCode.ERROR)
      assert.isDefined(call?.events.find((e) => e.name === "openai.retry.stop"))
      assertNoSecrets(spans.getFinishedSpans())
    }).pipe(Effect.provide(layer))
  })

  it.effect("a retry budget: its level after the call", () => {
    const { collect, layer } = otel()
    const model = "obs-budget"
    const budgeted = RetryPolicy.make({ maxRetries: 3, base: "1 second", jitter: "none", budget: true })
    return Effect.gen(function*() {
      const { openai } = yield* clientWith([serverError, S.json(200, completion(model))], { retryPolicy: budgeted })
      const fiber = yield* Effect.fork(openai.chat.completions.create(chatRequest(model)))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      // 20 tokens, a retry costs 5, a success earns 1 back.
      assert.strictEqual(value(yield* collect, "openai_retry_budget_tokens", {}), 16)
    }).pipe(Effect.provide(Layer.merge(layer, RetryBudget.layer({ capacity: 20 }))))
  })
})

describe("Telemetry: the breaker, the bulkhead and the limiter", () => {
  it.scoped("a breaker opening: its state gauge, the transition, and the refused call's CircuitOpen", () => {
    const { collect, layer } = otel()
    const model = "obs-breaker"
    return Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ name: "obs-breaker", consecutiveFailures: 1, openDuration: "1 minute" })
      const { openai } = yield* clientWith([serverError], { breaker, retryPolicy: policy })
      // The 500 opens the circuit; the retry after the backoff finds it open and ends the call.
      const first = yield* Effect.fork(Effect.flip(openai.chat.completions.create(chatRequest(model))))
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(first))._tag, "CircuitOpen")
      const refused = yield* Effect.flip(openai.chat.completions.create(chatRequest(model)))
      assert.strictEqual(refused._tag, "CircuitOpen")

      let metrics = yield* collect
      assert.strictEqual(value(metrics, "openai_circuit_breaker_state", { breaker: "obs-breaker" }), 2)
      assert.strictEqual(
        value(metrics, "openai_circuit_breaker_transitions_total", { breaker: "obs-breaker", from: "closed", to: "open" }),
        1
      )
      assert.strictEqual(
        value(metrics, "openai_calls_total", { model, outcome: "failure", error_tag: "CircuitOpen" }),
        2
      )
      // Nothing was sent for the refused attempts: one attempt in all.
      assert.strictEqual(value(metrics, "openai_attempts_total", { model }), 1)

      yield* TestClock.adjust("1 minute")
      metrics = yield* collect
      assert.strictEqual(value(metrics, "openai_circuit_breaker_state", { breaker: "obs-breaker" }), 1)
      assert.strictEqual(
        value(metrics, "openai_circuit_breaker_transitions_total", { breaker: "obs-breaker", from: "open", to: "half_open" }),
        1
      )
    }).pipe(Effect.provide(layer))
  })

  it.scoped("a bulkhead refusing: active, queued and refused", () => {
    const { collect, layer } = otel()
    const model = "obs-bulkhead"
    return Effect.gen(function*() {
      const bulkhead = yield* Bulkhead.make({ name: "obs-bulkhead", maxConcurrent: 1, maxQueue: 0 })
      const { openai } = yield* clientWith([S.json(200, completion(model), {}, "1 second")], { bulkhead })
      const first = yield* Effect.fork(openai.chat.completions.create(chatRequest(model)))
      yield* Effect.yieldNow()
      const refused = yield* Effect.flip(openai.chat.completions.create(chatRequest(model)))
      assert.strictEqual(refused._tag, "BulkheadFull")

      let metrics = yield* collect
      assert.strictEqual(value(metrics, "openai_bulkhead_active", { bulkhead: "obs-bulkhead" }), 1)
      assert.strictEqual(value(metrics, "openai_bulkhead_queued", { bulkhead: "obs-bulkhead" }), 0)
      assert.strictEqual(value(metrics, "openai_bulkhead_refused_total", { bulkhead: "obs-bulkhead" }), 1)
      assert.strictEqual(value(metrics, "openai_calls_total", { model, error_tag: "BulkheadFull" }), 1)

      yield* TestClock.adjust("1 second")
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(first)))
      metrics = yield* collect
      assert.strictEqual(value(metrics, "openai_bulkhead_active", { bulkhead: "obs-bulkhead" }), 0)
    }).pipe(Effect.provide(layer))
  })

  it.effect("the limiter waiting: the wait, the queue while it waits, the 429 avoided, the estimate against usage", () => {
    const { collect, layer } = otel()
    const model = "obs-limiter"
    return Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ requestsPerMinute: 1 }).pipe(Effect.provide(RateLimiter.layerStoreMemory))
      const { openai } = yield* clientWith([S.json(200, completion(model)), S.json(200, completion(model))], { limiter })
      yield* openai.chat.completions.create(chatRequest(model))
      const second = yield* Effect.fork(openai.chat.completions.create(chatRequest(model)))
      yield* TestClock.adjust("30 seconds")
      assert.strictEqual(value(yield* collect, "openai_limiter_queued", { model }), 1)
      yield* TestClock.adjust("31 seconds")
      yield* Fiber.join(second)

      const metrics = yield* collect
      assert.strictEqual(value(metrics, "openai_limiter_queued", { model }), 0)
      const wait = histogram(metrics, "openai_limiter_wait_seconds", { model })
      assert.strictEqual(wait.count, 2)
      assert.isAtLeast(wait.max, 30)
      assert.strictEqual(value(metrics, "openai_limiter_delayed_total", { model }), 1)
      assert.strictEqual(value(metrics, "openai_limiter_rate_limited_total", { model }), 0)
      const ratio = histogram(metrics, "openai_limiter_token_estimate_ratio", { model })
      assert.strictEqual(ratio.count, 2)
      assert.isAbove(ratio.sum, 0)
    }).pipe(Effect.provide(layer))
  })

  it.effect("a 429 the limiter did not avoid is counted as received", () => {
    const { collect, layer } = otel()
    const model = "obs-limiter-429"
    return Effect.gen(function*() {
      const limiter = yield* RateLimiter.make().pipe(Effect.provide(RateLimiter.layerStoreMemory))
      const { openai } = yield* clientWith([rateLimited, S.json(200, completion(model))], { limiter, retryPolicy: policy })
      const fiber = yield* Effect.fork(openai.chat.completions.create(chatRequest(model)))
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(fiber)
      assert.strictEqual(value(yield* collect, "openai_limiter_rate_limited_total", { model }), 1)
    }).pipe(Effect.provide(layer))
  })
})

describe("Telemetry: the middleware form and the switch", () => {
  it.effect("a bare HttpClient call reads its operation and model off the request, and its deployment off the path", () => {
    const { collect, layer } = otel()
    return Effect.gen(function*() {
      const scripted = S.make([S.json(200, completion("obs-azure"))])
      const client = scripted.client.pipe(Resilience.middleware({}))
      const request = HttpClientRequest.post(`${BASE}/openai/deployments/obs-deploy/chat/completions?api-version=1`).pipe(
        HttpClientRequest.bodyUnsafeJson({ model: "obs-azure-model", messages: [] })
      )
      yield* client.execute(request)
      assert.strictEqual(
        value(yield* collect, "openai_calls_total", {
          operation: "chat",
          model: "obs-azure-model",
          deployment: "obs-deploy",
          outcome: "success"
        }),
        1
      )
    }).pipe(Effect.provide(layer))
  })

  it.effect("withoutMetrics records nothing, and spans still follow the Tracer", () => {
    const { collect, layer, spans } = otel()
    const model = "obs-off"
    return Effect.gen(function*() {
      const { openai } = yield* clientWith([S.json(200, completion(model))], {})
      yield* Telemetry.withoutMetrics(openai.chat.completions.create(chatRequest(model)))
      assert.strictEqual(value(yield* collect, "openai_calls_total", { model }), 0)
      assert.strictEqual(byName(spans.getFinishedSpans(), `chat ${model}`).length, 1)
    }).pipe(Effect.provide(layer))
  })

  it.effect("layerMetricsDisabled turns them off for what it is provided to", () => {
    const { collect, layer } = otel()
    const model = "obs-off-layer"
    return Effect.gen(function*() {
      const { openai } = yield* clientWith([S.json(200, completion(model))], {})
      yield* openai.chat.completions.create(chatRequest(model)).pipe(Effect.provide(Telemetry.layerMetricsDisabled))
      assert.strictEqual(value(yield* collect, "openai_calls_total", { model }), 0)
    }).pipe(Effect.provide(layer))
  })
})

// The in-memory exporter forgets its spans at shutdown, which the example's layer does on release.
class KeptSpans extends InMemorySpanExporter {
  override shutdown() {
    return Promise.resolve()
  }
}

describe("docs/examples/observability.ts", () => {
  it.effect("its program, under its TelemetryLive layer, exports both calls' spans and the metrics at shutdown", () =>
    Effect.gen(function*() {
      const spans = new KeptSpans()
      const metrics = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
      const fiber = yield* Effect.fork(exampleProgram.pipe(Effect.provide(TelemetryLive(spans, metrics))))
      // The mock's 429 asks for a 1 s wait.
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(fiber)
      const calls = byName(spans.getFinishedSpans(), "chat gpt-4o-mini")
      assert.strictEqual(calls.length, 2)
      assert.isDefined(calls[0]?.events.find((e) => e.name === "openai.retry"))
      const exported = metrics.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((scope) => scope.metrics))
      assert.isAtLeast(value(exported, "openai_calls_total", { model: "gpt-4o-mini", outcome: "success" }), 2)
    }))
})
