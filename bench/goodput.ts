/**
 * Goodput under OpenAI-style rate limits, in virtual time.
 *
 * The mock API's core (src/testing/MockApi.ts, the in-memory test kit) enforces 500 requests and
 * 30,000 tokens per minute per API key, with buckets that refill continuously as OpenAI's do and
 * `x-ratelimit-*` headers on every answer. 50 workers send chat requests of varied sizes back to
 * back for 10 virtual minutes; a 200 takes 250 ms plus 4 ms per `max_tokens` to arrive after the
 * server admitted it, a 429 takes 20 ms. Three clients:
 *
 *   (a) pacing + retry: the RateLimiter (no limits configured: it learns them from the headers;
 *       each attempt acquires a permit and reports its headers or its typed 429) inside
 *       RetryPolicy.default;
 *   (a') and (a"): the same with every estimate 25% too low / too high, to show the headers and
 *       the 429s' "Requested N" correcting them;
 *   (b) retries only: RetryPolicy.default (server hints honoured, up to 5 retries in 2 minutes);
 *   (c) baseline: RetryPolicy.officialSdk, openai-node's documented rules (2 retries on 429/5xx,
 *       backoff min(0.5 * 2^n, 8) s minus up to 25% jitter, retry-after honoured below 60 s).
 *
 * The bench calls the mock's `handle` and `Classify.classifyResponse` directly rather than going
 * through MockHttpClient: (b) and (c) send some 50,000 requests, and a web `Response` and an
 * `AbortController` per request would make the run several times slower. The HttpClient
 * middleware itself is tested against MockHttpClient in test/RateLimiter.test.ts.
 *
 * Printed per client: tokens per minute admitted by the server over the limit (over the whole run,
 * which includes the bucket's initial minute of credit, and in steady state, minutes 1 to 10),
 * the mean size of admitted requests, the share of HTTP requests answered 429 and of calls that
 * saw one, calls that failed for good, and p50 / p99 latency per call (waiting and retries
 * included).
 *
 * Virtual time: TestClock wakes one sleeper per step and waits real timer ticks for every fiber to
 * suspend in between, which for some 80,000 sleeps takes many minutes. This file runs every fiber
 * on the test kit's Simulation (a scheduler whose queue it drains itself and a discrete-event Clock: sleeps go into a heap,
 * and time jumps to the next wake-up once the queue is empty (every fiber asleep or blocked).
 * Everything under test reads time and sleeps only through Effect's Clock, as under TestClock.
 *
 * Then priority lanes: the same workers as a background batch under an interactive trickle, the
 * limiter first in, first out and then with lanes (GOODPUT_ONLY=lanes runs only that part).
 *
 * Run: npx tsx bench/goodput.ts
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import type * as Schedule from "effect/Schedule"
import * as Scheduler from "effect/Scheduler"
import * as Classify from "../src/Classify.js"
import * as OpenAiError from "../src/OpenAiError.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as RateLimitHeaders from "../src/RateLimitHeaders.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import { MockApi, Simulation } from "../src/testing/index.js"
import { generator, type Job, jobOf, percentile } from "./workload.js"
import { printTarget } from "./support/target.js"

const RPM = 500
const TPM = 30_000
const WORKERS = 50
const MINUTES = Number(process.env.GOODPUT_MINUTES ?? 10)
const END = MINUTES * 60_000

// ---------------------------------------------------------------------------------------------
// Workload
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// One client
// ---------------------------------------------------------------------------------------------

/** What a client does with one attempt: send it, or pace it first and report what came back. */
type Attempt = Effect.Effect<unknown, OpenAiError.OpenAiError>
type Client = (attempt: Attempt, demand: RateLimiter.Demand, report: Report) => Attempt
/** Where the limiter learns what the attempt's response said (headers of a 200). */
interface Report {
  headers: Readonly<Record<string, string>> | undefined
}

interface Result {
  readonly name: string
  readonly fullShare: number
  readonly steadyShare: number
  readonly requestsPerMinute: number
  readonly httpRequests: number
  readonly http429: number
  readonly logical: number
  readonly logical429: number
  readonly failed: number
  readonly completed: number
  readonly p50: number
  readonly p99: number
  readonly realMillis: number
  readonly steps: number
}

/** Between interactive arrivals, when a scenario has a trickle of them over the batch. */
const TRICKLE_MILLIS = 3_000

const scenario = async (name: string, makeClient: Effect.Effect<Client>, trickle = false): Promise<Result> => {
  const started = Date.now()
  const sim = Simulation.make()
  const latencies: Array<number> = []
  let failed = 0
  const encoder = new TextEncoder()
  const key = RateLimiter.keyFor({ apiKey: "sk-bench-key", model: "gpt-4o-mini" })

  const program = Effect.gen(function*() {
    const mock = yield* MockApi.MockApi
    const client = yield* makeClient
    // One attempt against the mock's core: it admits (and counts) the request or answers 429 at
    // once; a 200 then takes 250 ms + 4 ms per max_tokens to arrive, a 429 20 ms.
    const send = (job: Job, bytes: Uint8Array, report: Report): Attempt =>
      Effect.gen(function*() {
        const answer = yield* mock.handle({
          method: "POST",
          url: "/v1/chat/completions",
          headers: {
            authorization: "Bearer sk-bench-key",
            "content-type": "application/json",
            "x-bench-tokens": String(job.tokens)
          },
          body: bytes
        })
        if (answer._tag !== "Respond") {
          return yield* Effect.fail(new OpenAiError.ConnectionError({ message: "reset", errorCode: Option.none(), received: Option.none(), cause: Option.none() }))
        }
        yield* Effect.sleep(Duration.millis(answer.status === 200 ? 250 + 4 * job.maxTokens : 20))
        if (answer.status === 200) {
          report.headers = answer.headers
          return answer.status
        }
        const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
        const body = answer.body._tag === "Bytes" ? answer.body.bytes : new Uint8Array()
        return yield* Effect.fail(Classify.classifyResponse({ status: answer.status, headers: answer.headers, body, now }))
      })
    const worker = (w: number) =>
      Effect.gen(function*() {
        const next = generator(1000 + w)
        for (let n = 0;; n++) {
          const start = yield* Effect.clockWith((c) => c.currentTimeMillis)
          if (start >= END) return
          const job = jobOf(w, n, next)
          const bytes = encoder.encode(JSON.stringify(job.body))
          const report: Report = { headers: undefined }
          const demand: RateLimiter.Demand = { key, tokens: job.tokens, priority: trickle ? "background" : undefined }
          const exit = yield* Effect.exit(client(send(job, bytes, report), demand, report))
          const end = yield* Effect.clockWith((c) => c.currentTimeMillis)
          if (end <= END) {
            latencies.push(end - start)
            if (Exit.isFailure(exit)) failed++
          }
        }
      })
    const fibers = yield* Effect.forEach(Array.from({ length: WORKERS }, (_, w) => w), (w) => Effect.forkDaemon(worker(w)))
    if (trickle) {
      // Interactive calls arrive on their own schedule, whatever the batch is doing.
      const next = generator(99)
      const arrivals = Effect.gen(function*() {
        for (let n = 0;; n++) {
          yield* Effect.sleep(Duration.millis(TRICKLE_MILLIS))
          const job = jobOf(WORKERS, n, next)
          const report: Report = { headers: undefined }
          const demand: RateLimiter.Demand = { key, tokens: job.tokens, priority: "interactive" }
          yield* Effect.forkDaemon(Effect.exit(client(send(job, encoder.encode(JSON.stringify(job.body)), report), demand, report)))
        }
      })
      fibers.push(yield* Effect.forkDaemon(arrivals))
    }
    return { mock, fibers }
  })

  const setup = await sim.run(
    program.pipe(
      Effect.withRandom(Random.make(`goodput-${name}`)),
      Effect.provide(MockApi.layer({ rpm: RPM, tpm: TPM, maxLogEntries: 1_000_000 }))
    )
  )
  if (Exit.isFailure(setup)) throw new Error(`setup failed: ${Cause.pretty(setup.cause)}`)
  const { fibers, mock } = setup.value
  await sim.runUntil(END)
  await sim.run(Fiber.interruptAll(fibers))
  const log = await Effect.runPromise(mock.log.pipe(Effect.withScheduler(Scheduler.defaultScheduler)))

  let tokens = 0
  let steadyTokens = 0
  let admitted = 0
  const logical = new Set<string>()
  const logical429 = new Set<string>()
  let http429 = 0
  for (const entry of log) {
    if (entry.at >= END) continue
    logical.add(entry.key)
    if (Option.contains(entry.status, 429)) {
      http429++
      logical429.add(entry.key)
    }
    if (Option.contains(entry.status, 200)) {
      const t = Number(entry.headers["x-bench-tokens"] ?? "0")
      tokens += t
      admitted++
      if (entry.at >= 60_000) steadyTokens += t
    }
  }
  latencies.sort((a, b) => a - b)
  return {
    name,
    fullShare: tokens / MINUTES / TPM,
    steadyShare: steadyTokens / (MINUTES - 1) / TPM,
    requestsPerMinute: admitted / MINUTES,
    httpRequests: log.filter((e) => e.at < END).length,
    http429,
    logical: logical.size,
    logical429: logical429.size,
    failed,
    completed: latencies.length,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    realMillis: Date.now() - started,
    steps: sim.steps()
  }
}

const retryWith = (policy: Schedule.Schedule<unknown, OpenAiError.OpenAiError>): Effect.Effect<Client> =>
  Effect.succeed((attempt) => RetryPolicy.retry(attempt, policy))

/**
 * Pacing: each attempt waits in the limiter (limits learned from the headers, nothing
 * configured) and reports its response's headers or its typed 429; RetryPolicy.default outside.
 */
const pacedWith = (
  estimateScale: number,
  options: { readonly limiter?: RateLimiter.Options; readonly interactiveWaits?: Array<number> } = {}
): Effect.Effect<Client> => Effect.map(
  // The bench's options are valid, so nothing to refuse.
  RateLimiter.make(options.limiter).pipe(Effect.provide(RateLimiter.layerStoreMemory), Effect.orDie),
  (limiter) => (attempt, demand, report) => {
    const once = Effect.flatMap(limiter.acquire({ ...demand, tokens: demand.tokens * estimateScale }), (permit) => {
      if (demand.priority === "interactive") options.interactiveWaits?.push(Duration.toMillis(permit.waited))
      return attempt.pipe(
        Effect.onExit((exit) =>
          limiter.release(
            permit,
            Exit.isSuccess(exit)
              ? {
                status: Option.some(200),
                rateLimit: RateLimitHeaders.fromHeaders(report.headers),
                rateLimited: false,
                retryAfter: Option.none()
              }
              : Option.match(Cause.failureOption(exit.cause), {
                onNone: () => RateLimiter.outcomeOfError(undefined),
                onSome: RateLimiter.outcomeOfError
              })
          )
        )
      )
    })
    return RetryPolicy.retry(once, RetryPolicy.default)
  }
)

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

const pct = (x: number) => `${(100 * x).toFixed(1)}%`
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`

/** The mean size of the workload's requests, from a sample. */
const workloadMean = (): number => {
  const next = generator(7)
  let sum = 0
  for (let i = 0; i < 10_000; i++) sum += jobOf(0, i, next).tokens
  return sum / 10_000
}

const main = async () => {
  console.log(
    `goodput: ${WORKERS} workers, ${MINUTES} virtual minutes, mock limits ${RPM} RPM / ${TPM.toLocaleString("en")} TPM\n`
  )
  console.log(
    "TPM/limit: tokens admitted by the server per minute over the limit (the bucket starts full: up to\n" +
      "  one extra minute of credit); steady: minutes 1-10 only. tokens/req: mean size of admitted requests\n" +
      `  (the workload's mean is ${workloadMean().toFixed(0)}; smaller means big requests starve). failed: calls that gave up.\n` +
      "  p50/p99: per call, waiting and retries included (50 workers back to back: about 50 / calls per second).\n"
  )
  const only = process.env.GOODPUT_ONLY
  const all: Array<[string, Effect.Effect<Client>]> = [
    ["(a) pacing + retry", pacedWith(1)],
    ["(a') same, estimates 25% low", pacedWith(0.75)],
    ["(a\") same, estimates 25% high", pacedWith(1.25)],
    ["(b) retries only", retryWith(RetryPolicy.default)],
    ["(c) openai-node rules", retryWith(RetryPolicy.officialSdk)]
  ]
  const results: Array<Result> = []
  for (const [name, client] of all) {
    if (only === undefined || name.startsWith(`(${only}`)) results.push(await scenario(name, client))
  }
  const rows = [
    [
      "client",
      "TPM/limit",
      "steady TPM/limit",
      "RPM",
      "tokens/req",
      "HTTP 429",
      "logical w/ 429",
      "failed",
      "p50",
      "p99",
      "wall"
    ],
    ...results.map((r) => [
      r.name,
      pct(r.fullShare),
      pct(r.steadyShare),
      r.requestsPerMinute.toFixed(1),
      (r.fullShare * TPM / Math.max(1e-9, r.requestsPerMinute)).toFixed(0),
      `${pct(r.http429 / Math.max(1, r.httpRequests))} (${r.http429}/${r.httpRequests})`,
      pct(r.logical429 / Math.max(1, r.logical)),
      `${pct(r.failed / Math.max(1, r.completed))} (${r.failed})`,
      secs(r.p50),
      secs(r.p99),
      secs(r.realMillis)
    ])
  ]
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length))) ?? []
  if (results.length > 0) for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  "))
  const a = results.find((r) => r.name.startsWith("(a)"))
  const c = results.find((r) => r.name.startsWith("(c)"))
  if (a !== undefined && c !== undefined) {
    console.log(
      `\n(a) vs (c): ${(a.steadyShare / c.steadyShare).toFixed(2)}x the steady token throughput, ` +
        `${pct(a.http429 / Math.max(1, a.httpRequests))} vs ${pct(c.http429 / Math.max(1, c.httpRequests))} of HTTP requests ` +
        `answered 429, ${pct(a.failed / Math.max(1, a.completed))} vs ${pct(c.failed / Math.max(1, c.completed))} of calls failed`
    )
    printTarget("(a) share of the allowed throughput", a.steadyShare * 100, { op: ">=", goal: 95, unit: "%", digits: 1 })
    printTarget("(a) HTTP requests answered 429", (a.http429 / Math.max(1, a.httpRequests)) * 100, {
      op: "<=",
      goal: 1,
      unit: "%",
      digits: 1
    })
  }
  if (only === undefined || only === "lanes") await lanes()
}

/**
 * Priority lanes: the same 50 workers as a background batch saturating the limit, and an
 * interactive call every 3 s, with the limiter first in, first out and then with lanes. Printed:
 * the interactive calls' p50/p99 wait in the limiter (per attempt), and the throughput.
 */
const lanes = async () => {
  console.log(`\nlanes: ${WORKERS} background workers saturating the limit, one interactive call every ${TRICKLE_MILLIS / 1000} s`)
  const runs: Array<{ name: string; waits: Array<number>; result: Result }> = []
  for (const [name, limiter] of [["FIFO", {}], ["lanes", { lanes: {} }]] as const) {
    const waits: Array<number> = []
    const result = await scenario(`lanes ${name}`, pacedWith(1, { limiter, interactiveWaits: waits }), true)
    waits.sort((a, b) => a - b)
    runs.push({ name, waits, result })
    console.log(
      `${name.padEnd(6)} interactive attempts ${waits.length}, wait p50 ${percentile(waits, 0.5).toFixed(0)} ms, ` +
        `p99 ${percentile(waits, 0.99).toFixed(0)} ms; steady TPM/limit ${pct(result.steadyShare)}, ` +
        `HTTP 429 ${pct(result.http429 / Math.max(1, result.httpRequests))}`
    )
  }
  const [fifo, laned] = runs
  if (fifo === undefined || laned === undefined) return
  // A permit interval at the mock's 500 requests a minute.
  const interval = 60_000 / RPM
  const p99 = percentile(laned.waits, 0.99)
  printTarget("lanes-interactive-p99-wait", p99, { op: "<=", goal: interval, unit: " ms", digits: 0 })
  const ratio = percentile(fifo.waits, 0.99) / Math.max(1, p99)
  printTarget("lanes-vs-fifo-p99-wait, times shorter", ratio, { op: ">=", goal: 10, unit: "x", digits: 1 })
  const kept = laned.result.steadyShare / Math.max(1e-9, fifo.result.steadyShare)
  printTarget("lanes-throughput-kept, of FIFO's", kept * 100, { op: ">=", goal: 97, unit: "%", digits: 1 })
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
