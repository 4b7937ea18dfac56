/**
 * What the classifier costs on hostile bodies: the worst case over bodies built to make a scan
 * backtrack (runs of unclosed `<`, `<title`, `<h1`, key and URL prefixes, cut-off JSON strings),
 * up to the 256 KiB the classifier reads, against `JSON.parse` of a body of the same size as the
 * baseline measured in the same run.
 *
 *   npx tsx bench/hostile.ts
 *
 * Each figure is the median of 9 runs after a warm-up. Targets: every body up to 256 KiB
 * classified in at most 10 ms (as a response and as a stream error event), and a 5 MB stream
 * error event (bytes) in at most 10 ms.
 */
import * as Classify from "../src/Classify.js"
import { hostileBody, type HostileShape } from "../test/support/hostile.js"
import { printTarget } from "./support/target.js"

const SIZE = 256 * 1024

const shapes: ReadonlyArray<HostileShape> = [
  { prefix: "<html>", units: ["<"] },
  { prefix: "<html>", units: ["<title"] },
  { prefix: "<html>", units: ["<title>"] },
  { prefix: "</h1>", units: ["<h1 "] },
  { prefix: "<html>", units: ["< a"] },
  { prefix: "<html>", units: ["<TITLE ", ">"] },
  { prefix: "", units: ["sk-"] },
  { prefix: "", units: ["sk-proj-"] },
  { prefix: "", units: ["bearer "] },
  { prefix: "", units: ["https://u:", "@"] },
  { prefix: "", units: ["?api-key="] },
  { prefix: "", units: ["api-key:"] },
  { prefix: "{", units: ["\"code\": \"", "\\"] },
  { prefix: "{", units: ["\"message\":", " "] },
  { prefix: "", units: ["try again in ", "1."] },
  { prefix: "event: error\ndata: {", units: ["data:", "\n"] }
]

const median = (f: () => void): number => {
  f()
  const times: Array<number> = []
  for (let i = 0; i < 9; i++) {
    const start = performance.now()
    f()
    times.push(performance.now() - start)
  }
  times.sort((a, b) => a - b)
  return times[4] ?? Number.NaN
}

const json = JSON.stringify({ data: "x".repeat(SIZE - 20) })
const baseline = median(() => JSON.parse(json))
console.log(`baseline: JSON.parse of ${SIZE} bytes: ${baseline.toFixed(2)} ms`)

let worstResponse = 0
let worstStream = 0
for (const shape of shapes) {
  const body = hostileBody(shape, SIZE)
  const response = median(() => Classify.classifyResponse({ status: 502, body, now: 0 }))
  const stream = median(() => Classify.classifyStreamError(body, { now: 0 }))
  worstResponse = Math.max(worstResponse, response)
  worstStream = Math.max(worstStream, stream)
  console.log(
    `${JSON.stringify(shape).padEnd(52)} response ${response.toFixed(2).padStart(6)} ms  stream event ${
      stream.toFixed(2).padStart(6)
    } ms  (${(Math.max(response, stream) / baseline).toFixed(1)}x the baseline)`
  )
}

const big = new TextEncoder().encode(
  JSON.stringify({ error: { message: "x".repeat(5_000_000), type: "insufficient_quota", code: "insufficient_quota" } })
)
const bigTag = Classify.classifyStreamError(big)._tag
const bigEvent = median(() => Classify.classifyStreamError(big))
console.log(`5 MB stream error event (bytes): ${bigEvent.toFixed(2)} ms, ${bigTag}`)

printTarget("worst-256k-response", worstResponse, { op: "<=", goal: 10, unit: " ms" })
printTarget("worst-256k-stream-event", worstStream, { op: "<=", goal: 10, unit: " ms" })
printTarget("5mb-stream-event, read as QuotaExceeded", bigEvent, {
  op: "<=",
  goal: 10,
  unit: " ms",
  also: bigTag === "QuotaExceeded"
})
