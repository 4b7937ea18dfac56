/**
 * What a resilient call tells an operator: Effect `Metric`s for every layer and one span per
 * logical call, named after the OpenTelemetry GenAI semantic conventions where they have a name
 * (`gen_ai.client.operation.duration`, `gen_ai.client.token.usage`, `gen_ai.*` span attributes)
 * and `openai_*` otherwise. They go wherever Effect's metrics and spans go: provide
 * `@effect/opentelemetry`'s `NodeSdk.layer` (or any Tracer) and they are exported; provide nothing
 * and spans are not even built.
 *
 * Labels are bounded: operation (`chat`, `embeddings`, `responses`, ...), model, Azure deployment,
 * outcome, error tag, breaker and bulkhead names. Never the API key, never a request id.
 *
 * Every metric is listed in {@link metrics}; docs/observability.md says what each means and which
 * alerts to set.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import { retriesTotal, stopsTotal } from "./internal/retryPolicy.js"
import * as internal from "./internal/telemetry.js"

/**
 * Whether the library records its metrics (default `true`). Spans follow the Tracer instead: with
 * Effect's default Tracer, which records nothing, none are built.
 *
 * @example
 * ```ts
 * import { Telemetry } from "effect-openai-resilience"
 * import { Effect, FiberRef } from "effect"
 *
 * const on = FiberRef.get(Telemetry.metricsEnabled) // Effect<boolean>
 * ```
 *
 * @since 0.1.0
 * @category switches
 */
export const metricsEnabled: FiberRef.FiberRef<boolean> = internal.currentMetricsEnabled

/**
 * Runs `effect` with the library's metrics off.
 *
 * @example
 * ```ts
 * import { Telemetry } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * declare const call: Effect.Effect<string>
 * const quiet = Telemetry.withoutMetrics(call)
 * ```
 *
 * @since 0.1.0
 * @category switches
 */
export const withoutMetrics = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locally(effect, internal.currentMetricsEnabled, false)

/**
 * A layer that turns the library's metrics off for everything it is provided to.
 *
 * @example
 * ```ts
 * import { Telemetry } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * declare const program: Effect.Effect<void>
 * const main = program.pipe(Effect.provide(Telemetry.layerMetricsDisabled))
 * ```
 *
 * @since 0.1.0
 * @category switches
 */
export const layerMetricsDisabled: Layer.Layer<never> = Layer.locallyScoped(internal.currentMetricsEnabled, false)

type Histogram = Metric.Metric.Histogram<number>
type Counter = Metric.Metric.Counter<number>
type Gauge = Metric.Metric.Gauge<number>

/**
 * The library's metrics, unlabelled (each series carries its labels). Read one with
 * `Metric.value(Metric.tagged(...))`, or let an exporter read them all.
 *
 * | metric | kind | labels |
 * | --- | --- | --- |
 * | `gen_ai.client.operation.duration` (s) | histogram | gen_ai.operation.name, gen_ai.provider.name, gen_ai.request.model, error.type |
 * | `gen_ai.client.token.usage` | histogram | the same, gen_ai.token.type (input, output) |
 * | `gen_ai.client.operation.time_to_first_chunk` (s) | histogram | as the duration (streams) |
 * | `openai_calls_total`, `openai_attempts_total` | counter | operation, model, deployment, outcome, error_tag |
 * | `openai_attempt_duration_seconds` | histogram | the same |
 * | `openai_retries_total` / `openai_retry_stops_total` | counter | error_tag, source / reason |
 * | `openai_retry_delay_seconds` | histogram | error_tag, source (a hint's header, or `backoff`) |
 * | `openai_retry_budget_tokens` | gauge | |
 * | `openai_limiter_wait_seconds`, `openai_limiter_queued`, `openai_limiter_delayed_total`, `openai_limiter_rate_limited_total`, `openai_limiter_token_estimate_ratio` | | model, deployment |
 * | `openai_ratelimit_remaining_requests`, `openai_ratelimit_remaining_tokens` | gauge | model, deployment |
 * | `openai_circuit_breaker_state` (0 closed, 1 half-open, 2 open) | gauge | breaker |
 * | `openai_circuit_breaker_transitions_total` | counter | breaker, from, to |
 * | `openai_bulkhead_active`, `openai_bulkhead_queued` / `openai_bulkhead_refused_total` | gauge / counter | bulkhead |
 *
 * @example
 * ```ts
 * import { Telemetry } from "effect-openai-resilience"
 * import { Effect, Metric } from "effect"
 *
 * const refused = Metric.value(Telemetry.metrics.bulkheadRefused.pipe(Metric.tagged("bulkhead", "openai")))
 * const program = Effect.map(refused, (state) => state.count)
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const metrics: {
  readonly operationDuration: Histogram
  readonly tokenUsage: Histogram
  readonly timeToFirstChunk: Histogram
  readonly calls: Counter
  readonly attempts: Counter
  readonly attemptDuration: Histogram
  readonly retries: Counter
  readonly retryStops: Counter
  readonly retryDelay: Histogram
  readonly retryBudget: Gauge
  readonly limiterWait: Histogram
  readonly limiterQueued: Gauge
  readonly limiterDelayed: Counter
  readonly rateLimited: Counter
  readonly tokenEstimate: Histogram
  readonly remainingRequests: Gauge
  readonly remainingTokens: Gauge
  readonly breakerState: Gauge
  readonly breakerTransitions: Counter
  readonly bulkheadActive: Gauge
  readonly bulkheadQueued: Gauge
  readonly bulkheadRefused: Counter
} = {
  operationDuration: Metric.fromMetricKey(internal.keys.operationDuration),
  tokenUsage: Metric.fromMetricKey(internal.keys.tokenUsage),
  timeToFirstChunk: Metric.fromMetricKey(internal.keys.timeToFirstChunk),
  calls: Metric.fromMetricKey(internal.keys.calls),
  attempts: Metric.fromMetricKey(internal.keys.attempts),
  attemptDuration: Metric.fromMetricKey(internal.keys.attemptDuration),
  retries: retriesTotal,
  retryStops: stopsTotal,
  retryDelay: Metric.fromMetricKey(internal.keys.retryDelay),
  retryBudget: Metric.fromMetricKey(internal.keys.retryBudget),
  limiterWait: Metric.fromMetricKey(internal.keys.limiterWait),
  limiterQueued: Metric.fromMetricKey(internal.keys.limiterQueued),
  limiterDelayed: Metric.fromMetricKey(internal.keys.limiterDelayed),
  rateLimited: Metric.fromMetricKey(internal.keys.rateLimited),
  tokenEstimate: Metric.fromMetricKey(internal.keys.tokenEstimate),
  remainingRequests: Metric.fromMetricKey(internal.keys.remainingRequests),
  remainingTokens: Metric.fromMetricKey(internal.keys.remainingTokens),
  breakerState: Metric.fromMetricKey(internal.keys.breakerState),
  breakerTransitions: Metric.fromMetricKey(internal.keys.breakerTransitions),
  bulkheadActive: Metric.fromMetricKey(internal.keys.bulkheadActive),
  bulkheadQueued: Metric.fromMetricKey(internal.keys.bulkheadQueued),
  bulkheadRefused: Metric.fromMetricKey(internal.keys.bulkheadRefused)
}

/**
 * Whether a metric name is one of this library's (the `gen_ai.client.*` and `openai_*` ones), to
 * pick them out of `Metric.snapshot`.
 *
 * @example
 * ```ts
 * import { Telemetry } from "effect-openai-resilience"
 * import { Effect, Metric } from "effect"
 *
 * const ours = Effect.map(Metric.snapshot, (pairs) => pairs.filter((p) => Telemetry.isLibraryMetric(p.metricKey.name)))
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const isLibraryMetric = (name: string): boolean => name.startsWith("openai_") || name.startsWith("gen_ai.client.")
