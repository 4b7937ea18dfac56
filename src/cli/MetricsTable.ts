/**
 * The library's metrics as a small table: what an exporter would have sent, for a user who has not
 * set one up. Series that differ only by operation, model or error tag are added together, so the
 * table stays short whatever the run called.
 *
 * @since 0.1.0
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"
import * as Telemetry from "../Telemetry.js"
import { color, ms, outputWidth, paragraph, table } from "./Render.js"

// The labels a row keeps; the rest (operation, model, error tag, ...) are added together, so the
// table stays small. An exporter keeps them all.
const kept = new Set(["outcome", "source", "reason", "gen_ai.token.type", "breaker", "bulkhead", "from", "to"])

interface Row {
  kind: "counter" | "gauge" | "histogram"
  value: number
  count: number
  sum: number
  max: number
}

const isSeconds = (name: string) => name.endsWith("_seconds") || name.endsWith(".duration") || name.endsWith("_chunk")

const cell = (name: string, row: Row): string => {
  if (row.kind !== "histogram") return String(Math.round(row.value * 100) / 100)
  if (row.count === 0) return "0"
  const mean = row.sum / row.count
  const show = (x: number) => isSeconds(name) ? ms(x * 1000) : String(Math.round(x * 100) / 100)
  return `${row.count} (mean ${show(mean)}, max ${show(row.max)})`
}

/**
 * Rows of `[metric, labels, value]` for the library's metrics in `pairs`, sorted by name.
 *
 * @since 0.1.0
 * @category rendering
 */
export const rows = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): Array<[string, string, string]> => {
  const byId = new Map<string, { name: string; labels: string; row: Row }>()
  for (const { metricKey, metricState } of pairs) {
    if (!Telemetry.isLibraryMetric(metricKey.name)) continue
    const labels = metricKey.tags.filter((t) => kept.has(t.key)).map((t) => `${t.key}=${t.value}`).join(" ")
    const id = `${metricKey.name} ${labels}`
    const entry = byId.get(id) ?? {
      name: metricKey.name,
      labels,
      row: { kind: "counter", value: 0, count: 0, sum: 0, max: 0 }
    }
    const row = entry.row
    if (MetricState.isCounterState(metricState)) row.value += Number(metricState.count)
    else if (MetricState.isGaugeState(metricState)) {
      row.kind = "gauge"
      row.value += Number(metricState.value)
    } else if (MetricState.isHistogramState(metricState)) {
      row.kind = "histogram"
      row.count += metricState.count
      row.sum += metricState.sum
      row.max = Math.max(row.max, metricState.count === 0 ? 0 : metricState.max)
    } else continue
    byId.set(id, entry)
  }
  return [...byId.values()]
    .filter(({ row }) => row.kind === "gauge" || row.value > 0 || row.count > 0)
    .sort((a, b) => a.name === b.name ? a.labels.localeCompare(b.labels) : a.name.localeCompare(b.name))
    .map(({ labels, name, row }) => [name, labels, cell(name, row)])
}

/**
 * Prints the table of the metrics gathered so far in this process, under a heading.
 *
 * @since 0.1.0
 * @category rendering
 */
export const print = (heading: string): Effect.Effect<void> =>
  Effect.gen(function*() {
    const lines = rows(yield* Metric.snapshot)
    yield* Console.log(color.bold(heading))
    yield* Console.log(
      color.dim(
        paragraph(
          "The library's metrics (Telemetry.metrics), as an OpenTelemetry exporter would send them; series of " +
            "different models, operations and error tags added together. Counters are totals, histograms count (mean, max).",
          "   "
        ) + "\n"
      )
    )
    yield* Console.log(lines.length === 0 ? "   (none recorded)" : table(["metric", "labels", "value"], lines, { width: outputWidth() }))
    yield* Console.log("")
  })
