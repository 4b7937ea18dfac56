/**
 * `demo`, what `npm start` runs: starts the embedded mock server on 127.0.0.1, walks through every
 * row of OpenAI's error guide and every library error type (what the server sent, the typed error
 * it became, what the retry policy decided and why, the outcome), then sends a burst of concurrent
 * requests into the mock's rate limits, first with retries alone and then paced by the
 * RateLimiter, and compares them.
 *
 * @since 0.1.0
 */
import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as OpenAiClient from "../OpenAiClient.js"
import * as OpenAiError from "../OpenAiError.js"
import * as RateLimiter from "../RateLimiter.js"
import * as RetryPolicy from "../RetryPolicy.js"
import * as Faults from "../testing/Faults.js"
import * as MockApi from "../testing/MockApi.js"
import * as MockServer from "../testing/MockServer.js"
import * as MockHttpClient from "../testing/MockHttpClient.js"
import * as Simulation from "../testing/Simulation.js"
import * as MetricsTable from "./MetricsTable.js"
import { color, ms, outputWidth, paragraph, progress, table } from "./Render.js"

/** One row of the walkthrough: a fault the mock serves, and how often before it succeeds. */
interface Row {
  readonly fault: Faults.FaultName
  readonly guide: string
  /** Serve the fault this many times for the logical request, then answer normally. */
  readonly times: number
  readonly stream?: boolean
  readonly headers?: Readonly<Record<string, string>>
}

const FOREVER = 99

/** The guide's rows first, then the library types, then what proxies and networks do. */
export const rows: ReadonlyArray<Row> = [
  { fault: "invalid_authentication", guide: "401 Invalid Authentication", times: FOREVER },
  { fault: "incorrect_api_key", guide: "401 Incorrect API key provided", times: FOREVER },
  { fault: "no_organization", guide: "401 Not a member of an organization", times: FOREVER },
  { fault: "unsupported_region", guide: "403 Country, region, or territory not supported", times: FOREVER },
  { fault: "rate_limit_requests", guide: "429 Rate limit reached for requests", times: 2 },
  { fault: "rate_limit_tokens", guide: "429 Rate limit reached for tokens", times: 1 },
  { fault: "insufficient_quota", guide: "429 You exceeded your current quota", times: FOREVER },
  { fault: "request_too_large", guide: "429 Request too large for the TPM limit", times: FOREVER },
  { fault: "server_error", guide: "500 The server had an error", times: 2 },
  { fault: "engine_overloaded", guide: "503 The engine is currently overloaded", times: 1 },
  {
    fault: "server_error",
    guide: "500 with x-should-retry: false",
    times: FOREVER,
    headers: { "x-mock-should-retry": "false" }
  },
  { fault: "bad_request", guide: "BadRequestError (400)", times: FOREVER },
  { fault: "context_length_exceeded", guide: "400 context_length_exceeded", times: FOREVER },
  { fault: "not_found", guide: "NotFoundError (404 model_not_found)", times: FOREVER },
  { fault: "conflict", guide: "ConflictError (409)", times: 1 },
  { fault: "unprocessable", guide: "UnprocessableEntityError (422, retried once)", times: FOREVER },
  { fault: "html_502", guide: "502 HTML page from a proxy", times: 1 },
  { fault: "malformed_json", guide: "200 with a broken JSON body", times: FOREVER },
  { fault: "empty_body", guide: "200 with an empty body", times: FOREVER },
  { fault: "slow_headers", guide: "APITimeoutError (no headers in time)", times: 1 },
  { fault: "connection_reset", guide: "APIConnectionError (ECONNRESET)", times: 1 },
  { fault: "stream_error", guide: "Error event inside a 200 stream", times: FOREVER, stream: true },
  { fault: "stream_cut", guide: "Stream cut mid-way", times: FOREVER, stream: true }
]

const DEMO_KEY = Redacted.make("sk-demo-0000000000000000000000000000")

const sent = (row: Row): string => {
  const d = Faults.descriptions[row.fault]
  if (d.status === undefined) return "connection reset"
  const parts = [String(d.status)]
  if (d.code) parts.push(d.code)
  else if (d.type) parts.push(d.type)
  if (d.retryAfter) parts.push("+ retry-after")
  if (row.headers?.["x-mock-should-retry"] === "false") parts.push("+ x-should-retry: false")
  if (d.kind === "body") parts.push(row.fault === "html_502" ? "HTML" : "broken body")
  if (d.kind === "stream") parts.push(row.fault === "stream_cut" ? "then cut" : "then error event")
  return parts.join(" ")
}

const why = (source: RetryPolicy.DelaySource): string =>
  source === "backoff" || source === "schedule" ? source : `server: ${source}`

const describePolicy = (decisions: ReadonlyArray<RetryPolicy.Decision>): string => {
  const waits = decisions.filter((d): d is RetryPolicy.Retry => d._tag === "Retry")
  const stop = decisions.find((d): d is RetryPolicy.Stop => d._tag === "Stop")
  const parts: Array<string> = []
  if (waits.length > 0) {
    parts.push(
      `retried ${waits.length}x, waited ${waits.map((w) => `${ms(Duration.toMillis(w.delay))} (${why(w.source)})`).join(", ")}`
    )
  }
  if (stop !== undefined) {
    const reasons: Record<RetryPolicy.StopReason, string> = {
      "not-retryable": "never retried: cannot succeed",
      "server-refused": "server said x-should-retry: false",
      "tag-limit": "retry limit for this error reached",
      "max-retries": "max retries reached",
      deadline: "deadline reached",
      "hint-above-cap": "server hint above the cap",
      budget: "retry budget empty",
      "schedule-done": "the rule's schedule is done"
    }
    parts.push(waits.length === 0 ? `failed fast (${reasons[stop.reason]})` : `then stopped (${reasons[stop.reason]})`)
  }
  return parts.length === 0 ? "no retry needed" : parts.join("; ")
}

interface RowResult {
  readonly row: Row
  readonly firstTag: string
  readonly firstCategory: string
  readonly policy: string
  readonly outcome: string
  readonly ok: boolean
  readonly elapsedMs: number
}

const runRow = (row: Row, baseUrl: string, http: HttpClient.HttpClient) =>
  Effect.gen(function*() {
    const decisions = yield* Ref.make<ReadonlyArray<RetryPolicy.Decision>>([])
    const policy = RetryPolicy.default.pipe(
      Schedule.tapOutput((decision) => Ref.update(decisions, (all) => [...all, decision]))
    )
    const headers = { "x-mock-fault": row.fault, "x-mock-fault-times": String(row.times), ...row.headers }
    const client = yield* OpenAiClient.make({
      apiKey: DEMO_KEY,
      baseUrl,
      resilience: { timeout: "1 second", retryPolicy: policy },
      transformClient: HttpClient.mapRequest(HttpClientRequest.setHeaders(headers))
    }).pipe(Effect.provideService(HttpClient.HttpClient, http))
    const request = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "Hello from the demo" }] }
    const start = yield* Clock.currentTimeMillis
    const chunks = yield* Ref.make(0)
    const result: Either.Either<unknown, OpenAiError.OpenAiError> = row.stream
      ? yield* Effect.either(
        client.chat.completions.stream(request).pipe(Stream.runForEach(() => Ref.update(chunks, (n) => n + 1)))
      )
      : yield* Effect.either(client.chat.completions.create(request))
    const elapsedMs = (yield* Clock.currentTimeMillis) - start
    const seen = yield* Ref.get(decisions)
    const received = yield* Ref.get(chunks)
    const firstTag = seen[0]?.tag ?? (Either.isLeft(result) ? result.left._tag : undefined)
    const firstCategory = Either.isLeft(result) && result.left._tag === firstTag
      ? result.left.category
      : firstTag === undefined
      ? undefined
      : OpenAiError.describe(firstTag).category
    const attempts = seen.filter((d) => d._tag === "Retry").length + 1
    const policyText = seen.length > 0
      ? describePolicy(seen)
      : Either.isRight(result)
      ? "no retry needed"
      : received > 0
      ? `not replayed: ${received} chunks already delivered`
      : result.left._tag === "ResponseDecodeError"
      ? "not retried: a 2xx arrived but its body is unreadable"
      : "not retried"
    const outcome = Either.isRight(result)
      ? `ok after ${attempts} attempt${attempts === 1 ? "" : "s"}`
      : `fails with ${result.left._tag}`
    return {
      row,
      firstTag: firstTag ?? "(none)",
      firstCategory: firstCategory ?? "",
      policy: policyText,
      outcome,
      ok: Either.isRight(result),
      elapsedMs
    } satisfies RowResult
  })

/** The walkthrough table: one row per guide row and library error type. */
export const walkthrough = (baseUrl: string, http: HttpClient.HttpClient) =>
  Effect.gen(function*() {
    yield* Console.log(color.bold(paragraph("1. Every row of the error guide, through the default retry policy")))
    yield* Console.log(
      color.dim(
        `${
          paragraph(
            "Each request asks the mock for one fault (x-mock-fault); retryable faults clear after a few attempts.",
            "   "
          )
        }\n`
      )
    )
    const results: Array<RowResult> = []
    for (const row of rows) {
      results.push(yield* runRow(row, baseUrl, http))
    }
    yield* Console.log(
      table(
        ["guide row / library type", "server sent", "typed error", "category", "what the policy did → outcome", "time"],
        results.map((r) => [
          r.row.guide,
          sent(r.row),
          r.firstTag,
          r.firstCategory,
          `${r.policy} → ${r.ok ? color.green(r.outcome) : color.red(r.outcome)}`,
          ms(r.elapsedMs)
        ]),
        // Narrow terminals lose the time, what the server sent and the category (each error's page
        // names it) before words get cut.
        { width: outputWidth(), drop: [5, 1, 3] }
      )
    )
    const recovered = results.filter((r) => r.ok).length
    yield* Console.log(
      `\n${
        paragraph(
          `${results.length} scenarios: ${recovered} recovered by retrying, ${
            results.length - recovered
          } failed with their typed error (never retried when retrying cannot help).`
        )
      }\n`
    )
    return results
  })

interface BurstStats {
  readonly label: string
  readonly succeeded: number
  readonly failed: number
  readonly sent: number
  readonly rateLimited: number
  readonly tokens: number
  readonly p50: number
  readonly p99: number
}

/**
 * The burst: the limits of the goodput benchmark (500 requests and 30,000 tokens per minute),
 * workers sending requests of varied sizes back to back for 3 minutes of virtual time.
 */
export const burstSettings = { workers: 10, minutes: 3, rpm: 500, tpm: 30_000, seed: 2024 } as const

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0

type BurstClient = "sdk" | "retries" | "paced"

interface Counters {
  ok: number
  failed: number
  /** Tokens (as the mock counts them) of the requests that succeeded within the window. */
  tokens: number
  readonly latencies: Array<number>
}

const endAt = burstSettings.minutes * 60_000

// One client with its own in-memory mock (no sockets); its workers run inside the simulation.
const startClient = (kind: BurstClient, counters: Counters) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(MockHttpClient.layer({ rpm: burstSettings.rpm, tpm: burstSettings.tpm }))
    const http = Context.get(context, HttpClient.HttpClient)
    const mock = Context.get(context, MockApi.MockApi)
    const client = yield* OpenAiClient.make({
      apiKey: DEMO_KEY,
      baseUrl: MockHttpClient.baseUrl,
      resilience: {
        retryPolicy: kind === "sdk" ? RetryPolicy.officialSdk : RetryPolicy.make({ maxRetries: 8, deadline: "5 minutes" }),
        ...(kind === "paced"
          ? { limiter: yield* RateLimiter.make().pipe(Effect.provide(RateLimiter.layerStoreMemory)) }
          : {})
      }
    }).pipe(Effect.provideService(HttpClient.HttpClient, http))
    const worker = (w: number) =>
      Effect.gen(function*() {
        for (let i = 0; (yield* Clock.currentTimeMillis) < endAt; i++) {
          // Varied sizes: 50 to 1,450 prompt characters and 32 to 256 completion tokens.
          const size = 50 + ((w * 7919 + i * 104_729) % 1400)
          const maxTokens = 32 + ((w * 31 + i * 17) % 225)
          const body = {
            model: "gpt-4o-mini",
            max_tokens: maxTokens,
            messages: [{ role: "user" as const, content: "x".repeat(size) }]
          }
          const sentAt = yield* Clock.currentTimeMillis
          const result = yield* Effect.either(client.chat.completions.create(body))
          const doneAt = yield* Clock.currentTimeMillis
          if (doneAt > endAt) return
          if (Either.isRight(result)) {
            // The latency of an answer: failures are counted apart, not mixed into the spread.
            counters.latencies.push(doneAt - sentAt)
            counters.ok++
            counters.tokens += MockApi.estimateTokens("/v1/chat/completions", body)
          } else {
            counters.failed++
            // An application would not resend a failed request at once: the worker pauses a second.
            yield* Effect.sleep("1 second")
          }
        }
      })
    yield* Effect.forEach(Array.from({ length: burstSettings.workers }, (_, w) => w), worker, {
      concurrency: "unbounded",
      discard: true
    })
    return yield* mock.log
  })

const clients: ReadonlyArray<readonly [string, BurstClient]> = [
  ["like openai-node", "sdk"],
  ["retries only", "retries"],
  ["paced + retries", "paced"]
]

// The three clients share one simulated clock: minutes of traffic, many sleepers, a second or two
// of real time. The progress bar follows virtual time.
const simulateBurst = async (): Promise<{ readonly runs: ReadonlyArray<BurstStats>; readonly realMs: number }> => {
  const realStart = Date.now()
  const sim = Simulation.make()
  const counters: Array<Counters> = clients.map(() => ({ ok: 0, failed: 0, tokens: 0, latencies: [] }))
  const main = sim.fork(
    Effect.scoped(
      Effect.forEach(clients, ([, kind], i) => startClient(kind, counters[i] ?? { ok: 0, failed: 0, tokens: 0, latencies: [] }), {
        concurrency: "unbounded"
      })
    ).pipe(
      // The jitter of the retry schedules draws from Random: a fixed seed gives the same table on
      // every run (the simulation itself is deterministic).
      Effect.withRandom(Random.make(burstSettings.seed))
    )
  )
  const total = burstSettings.minutes * 60
  const bar = progress(total, "virtual time")
  for (let second = 5; second <= total; second += 5) {
    await sim.runUntil(second * 1000)
    Effect.runSync(
      bar.update(second, `s  answered: ${clients.map((_, i) => counters[i]?.ok ?? 0).join(" / ")}`)
    )
  }
  // Requests still in flight at the end finish (their results no longer count).
  await sim.runUntil(Number.POSITIVE_INFINITY, () => main.unsafePoll() !== null)
  const exit = main.unsafePoll()
  const logs = exit !== null && Exit.isSuccess(exit) ? exit.value : []
  const realMs = Date.now() - realStart
  Effect.runSync(bar.finish(total, `s of virtual time in ${ms(realMs)}`))
  const runs = clients.map(([label], i): BurstStats => {
    const c = counters[i] ?? { ok: 0, failed: 0, tokens: 0, latencies: [] }
    const log = logs[i] ?? []
    const sorted = [...c.latencies].sort((a, b) => a - b)
    return {
      label,
      succeeded: c.ok,
      failed: c.failed,
      sent: log.filter((entry) => entry.at <= endAt).length,
      rateLimited: log.filter((entry) => entry.at <= endAt && Option.contains(entry.status, 429)).length,
      tokens: c.tokens,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99)
    }
  })
  return { runs, realMs }
}

const percent = (part: number, whole: number): string => `${Math.round((100 * part) / Math.max(1, whole))}%`
const thousands = (n: number): string => Math.round(n).toLocaleString("en-US")

/**
 * The one sentence under the burst table: why pacing wins, with this run's figures. The limit
 * sets everyone's throughput, so what differs is what each client wastes to get there.
 */
export const verdict = (runs: ReadonlyArray<BurstStats>): string => {
  const paced = runs.find((r) => r.label === "paced + retries")
  const others = runs.filter((r) => r !== paced)
  if (paced === undefined || others.length === 0) return ""
  const worst = (f: (r: BurstStats) => number) => thousands(Math.max(...others.map(f)))
  const fasterElsewhere = others.some((r) => r.p50 < paced.p50)
  return `Why pacing wins: the limit, not the client, sets the throughput (all three move about the same tokens per ` +
    `minute), so what differs is the waste: waiting before sending instead of after a 429, the paced client had ` +
    `${thousands(paced.failed)} requests fail for good (others: up to ${worst((r) => r.failed)}) and sent ` +
    `${thousands(paced.rateLimited)} into a 429 (others: up to ${worst((r) => r.rateLimited)}), ` +
    (fasterElsewhere
      ? `at the price of a steady wait (answers in ${ms(paced.p50)} to ${ms(paced.p99)}, p50 to p99) where the others ` +
        `answer a lucky share sooner and fail the rest.`
      : `and answered in ${ms(paced.p50)} to ${ms(paced.p99)} (p50 to p99).`)
}

const burstSection = Effect.gen(function*() {
  yield* Console.log(color.bold("2. A burst into the rate limit"))
  yield* Console.log(
    color.dim(
      `${
        paragraph(
          `Three clients, ${burstSettings.workers} workers each, against their own mock limited to ${burstSettings.rpm} ` +
            `requests and ${thousands(burstSettings.tpm)} tokens per minute, for ${burstSettings.minutes} virtual ` +
            `minutes (simulated: they pass in seconds).`,
          "   "
        )
      }\n`
    )
  )
  const { runs } = yield* Effect.promise(simulateBurst)
  const minutes = burstSettings.minutes
  // What the limit allowed over the run: a full bucket at the start plus the refill.
  const allowed = burstSettings.tpm * (1 + minutes)
  const line = (s: BurstStats) => [
    s.label,
    String(s.succeeded),
    String(s.failed),
    `${thousands(s.rateLimited)} of ${thousands(s.sent)} (${percent(s.rateLimited, s.sent)})`,
    `${thousands(s.tokens / minutes)} (${percent(s.tokens, allowed)})`,
    `${ms(s.p50)} / ${ms(s.p99)}`
  ]
  yield* Console.log("")
  yield* Console.log(
    table(
      ["client", "answered", "failed for good", "wasted: 429s of sent", "tokens/min (of allowed)", "latency p50 / p99"],
      runs.map(line),
      { width: outputWidth(), drop: [3] }
    )
  )
  yield* Console.log(`\n${paragraph(verdict(runs))}`)
  yield* Console.log(
    color.dim(
      `\n${
        paragraph(
          `"like openai-node" follows the official SDK's documented retry rules (2 retries, retry-after up to 60 s); ` +
            `"retries only" is this library's default policy; "paced" adds the RateLimiter, which learns the limits ` +
            `from the x-ratelimit-* headers. Allowed tokens: the limit's full bucket at the start plus its refill. ` +
            `Latency: of the answered requests. Workers pause a second after a request fails for good. ` +
            `See docs/limits.md.`,
          "   "
        )
      }\n`
    )
  )
  return runs
})

/**
 * The `batch` command over the sample requests, against the mock, as this process was started
 * (`node dist/cli/main.js` in the repository), with paths relative to the working directory.
 *
 * @since 0.2.0
 * @category commands
 */
export const batchCommand = (): string => {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const sample = path.relative(process.cwd(), path.resolve(here, "..", "..", "docs", "examples", "requests.jsonl"))
  const bin = process.argv[1] === undefined ? "effect-openai-resilience" : `node ${path.relative(process.cwd(), process.argv[1])}`
  return `${bin} batch ${sample} --out out.jsonl --mock`
}

/**
 * Runs the whole demo against an embedded mock server. Returns normally (exit 0) when the demo
 * ran, whatever the scenarios' outcomes: failing is what half of them are for.
 *
 * @since 0.1.0
 * @category commands
 */
export const run = (options: { readonly sections?: ReadonlyArray<"walkthrough" | "burst"> } = {}) =>
  Effect.gen(function*() {
    const sections = options.sections ?? ["walkthrough", "burst"]
    const server = yield* MockServer.MockServer
    const http = yield* HttpClient.HttpClient
    yield* Console.log(color.bold("effect-openai-resilience demo"))
    yield* Console.log(
      `Embedded mock OpenAI server on ${server.url}${
        process.env.OPENAI_API_KEY ? " (OPENAI_API_KEY is set: `doctor` checks your real setup; faults can only be injected here)" : ""
      }\n`
    )
    if (sections.includes("walkthrough")) yield* walkthrough(server.url, http)
    if (sections.includes("burst")) yield* burstSection
    // The full demo only (what `npm start` runs): the metrics, then where to go next.
    if (sections.length > 1) {
      yield* MetricsTable.print("3. What the library's metrics saw")
      yield* Console.log(`\n${paragraph("Next, a file of requests through the limits, resumable after kill -9 (docs/batch.md):")}`)
      yield* Console.log(batchCommand())
    }
  }).pipe(
    Effect.provide(
      Layer.merge(
        MockServer.layer({
          retryAfter: "300 millis",
          slowHeadersDelay: "3 seconds",
          chunkDelay: "5 millis"
        }),
        FetchHttpClient.layer
      )
    )
  )
