/**
 * The example of docs/observability.md: the library's metrics and spans exported through
 * `@effect/opentelemetry`, here to the console. Run it (no key needed: the calls go to the
 * in-memory mock of the API, which answers the first with a 429):
 *
 *   npx tsx docs/examples/observability.ts
 *
 * In your project, import from the package instead of these relative paths:
 *   import { OpenAiClient, RetryPolicy, Telemetry } from "effect-openai-resilience"
 *   import { MockHttpClient } from "effect-openai-resilience/testing"
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { ConsoleMetricExporter, PeriodicExportingMetricReader, type PushMetricExporter } from "@opentelemetry/sdk-metrics"
import { ConsoleSpanExporter, SimpleSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, Redacted } from "effect"
import { pathToFileURL } from "node:url"
import * as OpenAiClient from "../../src/OpenAiClient.js"
import * as RetryPolicy from "../../src/RetryPolicy.js"
import { MockHttpClient } from "../../src/testing/index.js"

/**
 * OpenTelemetry for the whole program: spans to one exporter, metrics read every 10 s (and once
 * more at shutdown) into another. Swap the console exporters for OTLP ones
 * (`@opentelemetry/exporter-trace-otlp-http`, `@opentelemetry/exporter-metrics-otlp-http`) to send
 * them to a collector.
 */
export const TelemetryLive = (spans: SpanExporter, metrics: PushMetricExporter) =>
  NodeSdk.layer(() => ({
    resource: { serviceName: "observability-example" },
    spanProcessor: new SimpleSpanProcessor(spans),
    metricReader: new PeriodicExportingMetricReader({ exporter: metrics, exportIntervalMillis: 10_000 })
  }))

// The client, against the in-memory mock: its first answer is a rate-limit 429, then 200s.
const OpenAiLive = OpenAiClient.layer({
  apiKey: Redacted.make("sk-example"),
  baseUrl: MockHttpClient.baseUrl,
  resilience: { retryPolicy: RetryPolicy.make({ maxRetries: 2 }) }
}).pipe(Layer.provide(MockHttpClient.layer({ scenario: ["rate_limit_requests"] })))

/** Two calls: one span each (`chat gpt-4o-mini`), the first with a retry event and two attempts. */
export const program = Effect.gen(function*() {
  const openai = yield* OpenAiClient.OpenAiClient
  for (const content of ["Say hi", "Say bye"]) {
    const { data } = yield* openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content }] })
    yield* Effect.log(`${data.model}: ${data.choices[0]?.message.content ?? ""}`)
  }
}).pipe(Effect.provide(OpenAiLive))

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  // The layer's release flushes the last spans and metrics to the console before the exit.
  Effect.runPromise(program.pipe(Effect.provide(TelemetryLive(new ConsoleSpanExporter(), new ConsoleMetricExporter()))))
}
