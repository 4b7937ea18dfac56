/**
 * What the library's metrics cost, in CPU per call.
 *
 *   npx tsx bench/telemetry.ts
 *
 * `OpenAiClient.chat.completions.create` against an in-memory HttpClient that answers every
 * request with the loopback benches' canned chat completion and rate-limit headers (no sockets, so the figures
 * are the client's own work), run sequentially in three ways:
 *
 *   (off)     metrics switched off with `Telemetry.withoutMetrics`, Effect's default Tracer;
 *   (on)      metrics on, exported through `@effect/opentelemetry`'s metric producer to a reader
 *             whose exporter drops everything (a no-op exporter), default Tracer;
 *   (spans)   for reference: metrics on and spans recorded by OpenTelemetry into a no-op exporter.
 *
 * CPU is `process.cpuUsage()` (user + system) over a block of calls; blocks are interleaved (off,
 * on, spans, then again, the order rotated every round) so load from elsewhere on a shared machine
 * falls on each alike, and the median block is reported per call. The target: metrics on costs at
 * most 10% more CPU per call than off.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { ExportResultCode } from "@opentelemetry/core"
import { AggregationTemporality, type PushMetricExporter } from "@opentelemetry/sdk-metrics"
import { PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import { SimpleSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as Telemetry from "../src/Telemetry.js"
import { API_KEY, body, completion, median } from "./support/loopback.js"
import { printTarget } from "./support/target.js"

const headers = {
  "content-type": "application/json",
  "x-request-id": "req_bench",
  "x-ratelimit-limit-requests": "10000",
  "x-ratelimit-remaining-requests": "9999",
  "x-ratelimit-remaining-tokens": "199000",
  "x-ratelimit-reset-requests": "6ms"
}

const canned = HttpClient.make((request) =>
  Effect.sync(() => HttpClientResponse.fromWeb(request, new Response(completion, { status: 200, headers })))
)

const noopMetrics: PushMetricExporter = {
  export: (_metrics, done) => done({ code: ExportResultCode.SUCCESS }),
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
  selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE
}
const noopSpans: SpanExporter = {
  export: (_spans, done) => done({ code: ExportResultCode.SUCCESS }),
  shutdown: () => Promise.resolve()
}

const clientLayer = OpenAiClient.layer({ apiKey: Redacted.make(API_KEY) }).pipe(
  Layer.provide(Layer.succeed(HttpClient.HttpClient, canned))
)
const metricsLayer = NodeSdk.layer(() => ({
  resource: { serviceName: "bench" },
  metricReader: new PeriodicExportingMetricReader({ exporter: noopMetrics, exportIntervalMillis: 3_600_000 })
}))
const spansLayer = NodeSdk.layer(() => ({
  resource: { serviceName: "bench" },
  spanProcessor: new SimpleSpanProcessor(noopSpans)
}))

const call = Effect.flatMap(OpenAiClient.OpenAiClient, (openai) => openai.chat.completions.create(body))

const variants = [
  { name: "off", runtime: ManagedRuntime.make(clientLayer), program: Telemetry.withoutMetrics(call) },
  { name: "on", runtime: ManagedRuntime.make(Layer.merge(clientLayer, metricsLayer)), program: call },
  { name: "spans", runtime: ManagedRuntime.make(Layer.mergeAll(clientLayer, metricsLayer, spansLayer)), program: call }
] as const

const BLOCK = 400
const ROUNDS = Number(process.env.ROUNDS ?? 15)

const block = async (variant: (typeof variants)[number]): Promise<number> => {
  const loop = Effect.forEach(Array.from({ length: BLOCK }), () => variant.program, { discard: true })
  const before = process.cpuUsage()
  await variant.runtime.runPromise(loop)
  const used = process.cpuUsage(before)
  return (used.user + used.system) / BLOCK
}

const main = async () => {
  // Warm-up: JIT, caches, each metric series built once.
  for (let i = 0; i < 3; i++) for (const v of variants) await block(v)
  const samples = new Map<string, Array<number>>(variants.map((v) => [v.name, []]))
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < variants.length; i++) {
      const v = variants[(round + i) % variants.length]
      if (v !== undefined) samples.get(v.name)?.push(await block(v))
    }
  }
  const perCall = (name: string) => median(samples.get(name) ?? [])
  const off = perCall("off")
  const on = perCall("on")
  const spans = perCall("spans")
  console.log(`Telemetry cost: CPU per call (µs), median of ${ROUNDS} interleaved blocks of ${BLOCK} calls`)
  console.log(`  metrics off                          ${off.toFixed(1)}`)
  console.log(`  metrics on, no-op exporter           ${on.toFixed(1)}  (${((on / off - 1) * 100).toFixed(1)}% over off)`)
  console.log(`  metrics and spans, no-op exporters   ${spans.toFixed(1)}  (${((spans / off - 1) * 100).toFixed(1)}% over off, reference)`)
  const overhead = (on / off - 1) * 100
  printTarget("metrics-cpu-overhead", overhead, { op: "<=", goal: 10, unit: "%", digits: 1 })
  for (const v of variants) await v.runtime.dispose()
}

main()
