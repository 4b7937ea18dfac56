/**
 * bench/batch: 10,000 chat requests of varied sizes (bench/workload.ts) against the mock's limits
 * (500 requests/min, 30,000 tokens/min, 1% server errors), in virtual time (the test kit's
 * Simulation: the mock is served in-process, so no real I/O), for
 *
 * (a) `Batch.run` over a client with a learning `RateLimiter` and `RetryPolicy.default`;
 * (b) a port of the cookbook's `api_request_parallel_processor.py` rules: pace at 50% of the
 *     limits (its capacity buckets, full at the start), a 15 s pause for everyone after any 429,
 *     at most 5 attempts per request, every error alike.
 *
 * Printed: completion time against the theoretical minimum at the limit (a full bucket at the
 * start, then the limit's rate), requests failed for good, requests sent more than once (from the
 * mock's log), and of those, the ones sent again after an attempt that had succeeded.
 *
 * Then the kill part, for real: the built command (`dist/cli/main.js batch --resume`) as a
 * subprocess against a mock server this bench serves on 127.0.0.1 (a free port), killed with
 * SIGKILL at 20 random points (once its output passes a random line count) and started again
 * each time. Real HTTP and real time, so it runs 1,000 requests with the limits ×20 (10,000
 * requests/min, 600,000 tokens/min), which finishes in about a minute plus the restarts.
 * Printed: results lost and duplicated; requests re-sent (calls that reached the server beyond
 * one per request; each call carries its own idempotency key, so the mock's log counts them)
 * against the requests in flight at the kills (reached the server in that run, no result written).
 *
 * Run: `npx tsx bench/batch.ts` (the kill part builds `dist/` first when `src/` is newer).
 */
import { HttpClient } from "@effect/platform"
import { Chunk, Clock, Effect, Exit, Layer, Option, Queue, Redacted, Scope, Stream } from "effect"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Batch from "../src/Batch.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import { MockApi, MockHttpClient, MockServer, Simulation } from "../src/testing/index.js"
import { printTarget } from "./support/target.js"
import { generator, jobOf } from "./workload.js"

const RPM = 500
const TPM = 30_000
const N = Number(process.env.BATCH_N ?? 10_000)
const KILL_N = Number(process.env.BATCH_KILL_N ?? 1_000)
// The kill part runs over real HTTP in real time: the limits ×20 finish it in about a minute.
const KILL_SCALE = 20
const KILLS = 20
const API_KEY = Redacted.make("sk-bench-batch-000000000000000000")

const jobs = (n: number) => {
  const next = generator(42)
  return Array.from({ length: n }, (_, i) => jobOf(0, i, next))
}
const requestsOf = (n: number): Array<Batch.Request> =>
  jobs(n).map((job) => ({ id: job.id, endpoint: "/chat/completions", body: job.body }))

// The log keeps every entry: the counts below read all of it.
const mockOptions = { rpm: RPM, tpm: TPM, seed: 3, faultRates: { server_error: 0.01 }, maxLogEntries: 1_000_000 }

// Without an idempotency key, the mock's log keys a request by its body: one key per request.
const clientOver = (mock: MockApi.MockApiService, resilience: OpenAiClient.LayerOptions["resilience"]) =>
  Effect.flatMap(MockHttpClient.make.pipe(Effect.provideService(MockApi.MockApi, mock)), (http) =>
    OpenAiClient.make({
      apiKey: API_KEY,
      baseUrl: MockHttpClient.baseUrl,
      resilience: { idempotencyKey: false, ...resilience }
    }).pipe(Effect.provideService(HttpClient.HttpClient, http), Effect.orDie))

const newLimiter = RateLimiter.make({}).pipe(Effect.provide(RateLimiter.layerStoreMemory), Effect.orDie)
const limitKey = RateLimiter.keyFor({ apiKey: API_KEY, model: "gpt-4o-mini" })
const paced = (limiter: RateLimiter.Service) => ({ limiter, key: () => limitKey })

interface Outcome {
  readonly name: string
  readonly minutes: number
  readonly failed: number
  readonly sentTwice: number
  readonly afterSuccess: number
  readonly http: number
  readonly http429: number
  readonly realMillis: number
}

const sentMoreThanOnce = (log: ReadonlyArray<MockApi.LogEntry>) => {
  const counts = new Map<string, number>()
  for (const e of log) counts.set(e.key, (counts.get(e.key) ?? 0) + 1)
  return [...counts.values()].filter((n) => n > 1).length
}

// Requests sent again although an earlier attempt had been answered with a 2xx: needless.
const sentAfterSuccess = (log: ReadonlyArray<MockApi.LogEntry>) => {
  const answered = new Set<string>()
  const again = new Set<string>()
  for (const e of log) {
    if (answered.has(e.key)) again.add(e.key)
    if (Option.exists(e.status, (s) => s >= 200 && s < 300)) answered.add(e.key)
  }
  return again.size
}

const measure = async (
  name: string,
  body: (mock: MockApi.MockApiService) => Effect.Effect<number>
): Promise<Outcome> => {
  const started = Date.now()
  const sim = Simulation.make()
  const exit = await sim.run(Effect.gen(function*() {
    const mock = yield* MockApi.make(mockOptions)
    const failed = yield* body(mock)
    return { failed, log: yield* mock.log }
  }))
  if (!Exit.isSuccess(exit)) throw new Error(`${name}: ${String(exit.cause)}`)
  const { failed, log } = exit.value
  return {
    name,
    minutes: sim.now() / 60_000,
    failed,
    sentTwice: sentMoreThanOnce(log),
    afterSuccess: sentAfterSuccess(log),
    http: log.length,
    http429: log.filter((e) => Option.contains(e.status, 429)).length,
    realMillis: Date.now() - started
  }
}

const runner = (mock: MockApi.MockApiService) =>
  Effect.gen(function*() {
    const limiter = yield* newLimiter
    const openai = yield* clientOver(mock, { limiter })
    const results = yield* Stream.runCollect(
      Batch.run(Stream.fromIterable(requestsOf(N)), { send: Batch.send(openai), pacing: paced(limiter) })
    )
    return Chunk.filter(results, (r) => r._tag === "Failure").length
  })

// The cookbook's main loop, rule for rule; its 1 ms polling becomes a sleep until the next event
// (capacity enough for the next request, or a call finishing), which changes nothing it decides.
const cookbook = (mock: MockApi.MockApiService) =>
  Effect.gen(function*() {
    const openai = yield* clientOver(mock, { retryPolicy: RetryPolicy.make({ maxRetries: 0 }) })
    const maxRpm = RPM * 0.5
    const maxTpm = TPM * 0.5
    const pauseAfter429 = 15_000
    const attempts = 5
    let requestCapacity = maxRpm
    let tokenCapacity = maxTpm
    let lastUpdate = yield* Clock.currentTimeMillis
    let last429 = Number.NEGATIVE_INFINITY
    let inFlight = 0
    let failed = 0
    const pending = jobs(N).map((job) => ({ job, attemptsLeft: attempts }))
    pending.reverse()
    const retries: Array<(typeof pending)[number]> = []
    const events = yield* Queue.unbounded<void>()
    let next: (typeof pending)[number] | undefined
    for (;;) {
      if (next === undefined) next = retries.shift() ?? pending.pop()
      if (next === undefined && inFlight === 0) break
      const now = yield* Clock.currentTimeMillis
      requestCapacity = Math.min(maxRpm, requestCapacity + (maxRpm * (now - lastUpdate)) / 60_000)
      tokenCapacity = Math.min(maxTpm, tokenCapacity + (maxTpm * (now - lastUpdate)) / 60_000)
      lastUpdate = now
      if (next !== undefined && requestCapacity >= 1 && tokenCapacity >= next.job.tokens) {
        requestCapacity -= 1
        tokenCapacity -= next.job.tokens
        const item = next
        item.attemptsLeft -= 1
        next = undefined
        inFlight++
        yield* Effect.fork(
          openai.chat.completions.create(item.job.body as never).pipe(
            Effect.catchAll((error) =>
              Effect.flatMap(Clock.currentTimeMillis, (at) =>
                Effect.sync(() => {
                  if (error._tag === "RateLimitReached") last429 = at
                  if (item.attemptsLeft > 0) retries.push(item)
                  else failed++
                }))
            ),
            Effect.ensuring(Effect.sync(() => inFlight--)),
            Effect.ensuring(Queue.offer(events, undefined))
          )
        )
        continue
      }
      const sincePause = now - last429
      if (sincePause < pauseAfter429) {
        yield* Effect.sleep(pauseAfter429 - sincePause)
        continue
      }
      if (next === undefined) {
        yield* Queue.take(events)
        continue
      }
      const wait = Math.max(
        ((1 - requestCapacity) * 60_000) / maxRpm,
        ((next.job.tokens - tokenCapacity) * 60_000) / maxTpm,
        1
      )
      yield* Effect.race(Effect.sleep(Math.ceil(wait)), Queue.take(events))
    }
    return failed
  })

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const entry = path.join(root, "dist", "cli", "main.js")

const newest = (dir: string): number =>
  fs.readdirSync(dir, { withFileTypes: true }).reduce((latest, d) => {
    const full = path.join(dir, d.name)
    return Math.max(latest, d.isDirectory() ? newest(full) : fs.statSync(full).mtimeMs)
  }, 0)

// The command under test is the built one: build it when the sources are newer.
const ensureBuilt = () => {
  if (fs.existsSync(entry) && fs.statSync(entry).mtimeMs >= newest(path.join(root, "src"))) return
  console.log("building dist/ (src/ is newer)...")
  execFileSync(process.execPath, [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"], {
    cwd: root,
    stdio: "inherit"
  })
}

// Complete lines of a file, read as it grows (a file cut shorter is read again from the start).
const lineCounter = (file: string) => {
  let offset = 0
  let lines = 0
  return () => {
    let size = 0
    try {
      size = fs.statSync(file).size
    } catch {
      return 0
    }
    if (size < offset) offset = lines = 0
    if (size === offset) return lines
    const fd = fs.openSync(file, "r")
    const chunk = Buffer.alloc(size - offset)
    fs.readSync(fd, chunk, 0, chunk.length, offset)
    fs.closeSync(fd)
    const last = chunk.lastIndexOf(10)
    for (let i = 0; i <= last; i++) if (chunk[i] === 10) lines++
    offset += last + 1
    return lines
  }
}

const idsIn = (file: string): Array<string> =>
  fs.existsSync(file)
    ? fs.readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0).map((l) => (JSON.parse(l) as { id: string }).id)
    : []

const exited = (child: ChildProcess) =>
  new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)))

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const killed = async () => {
  ensureBuilt()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-batch-"))
  const input = path.join(dir, "requests.jsonl")
  const output = path.join(dir, "out.jsonl")
  const errors = path.join(dir, "errors.jsonl")
  const all = jobs(KILL_N)
  // The cookbook's input: one body per line, the id in `metadata`.
  fs.writeFileSync(input, all.map((job) => JSON.stringify({ ...job.body, metadata: { id: job.id } })).join("\n") + "\n")
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(
    Layer.buildWithScope(MockServer.layer({ ...mockOptions, rpm: RPM * KILL_SCALE, tpm: TPM * KILL_SCALE }), scope)
  )
  const server = Effect.runSync(Effect.provide(MockServer.MockServer, context))
  const mock = Effect.runSync(Effect.provide(MockApi.MockApi, context))
  const logNow = () => Effect.runPromise(mock.log)
  const env = { PATH: process.env.PATH ?? "", OPENAI_API_KEY: Redacted.value(API_KEY), OPENAI_BASE_URL: server.url }
  const args = [entry, "batch", input, "--out", output, "--errors", errors, "--resume"]
  const written = [lineCounter(output), lineCounter(errors)]
  const results = () => written.reduce((sum, count) => sum + count(), 0)
  const next = generator(7)
  // 20 points spread over the run, as numbers of results written; each run is killed once it
  // has written at least one more.
  const targets = Array.from({ length: KILLS }, () => Math.floor((0.02 + 0.93 * next()) * KILL_N)).sort((a, b) => a - b)
  const started = Date.now()
  let kills = 0
  let inFlight = 0
  let seen = 0
  for (const target of [...targets, Number.POSITIVE_INFINITY]) {
    const before = results()
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: "ignore" })
    const exit = exited(child)
    const goal = Math.max(target, before + 1)
    const watch = setInterval(() => {
      if (child.exitCode === null && results() >= goal) child.kill("SIGKILL")
    }, 2)
    const signal = await exit
    clearInterval(watch)
    // Requests already on the socket when it died still reach the server: let them land.
    await pause(200)
    const log = await logNow()
    const calls = new Set(log.filter((e) => e.sequence > seen).map((e) => e.key))
    seen = log.reduce((most, e) => Math.max(most, e.sequence), seen)
    if (signal === "SIGKILL") {
      kills++
      // Reached the server in this run, no result written: in flight at the kill.
      inFlight += calls.size - (results() - before)
    }
  }
  const realSeconds = (Date.now() - started) / 1000
  const log = await logNow()
  await Effect.runPromise(Scope.close(scope, Exit.void))
  const ids = [...idsIn(output), ...idsIn(errors)]
  const unique = new Set(ids)
  const failed = idsIn(errors).length
  fs.rmSync(dir, { recursive: true })
  return {
    lost: all.filter((job) => !unique.has(job.id)).length,
    duplicated: ids.length - unique.size,
    // Each call carries its own idempotency key; retries within a call share it.
    resent: new Set(log.map((e) => e.key)).size - KILL_N,
    inFlight,
    kills,
    failed,
    realSeconds
  }
}

// A minute's worth in the bucket at the start, then the limit's rate: whichever limit binds.
const minimumMinutes = (all: ReadonlyArray<{ readonly tokens: number }>) => {
  const tokens = all.reduce((sum, j) => sum + j.tokens, 0)
  return Math.max(Math.max(0, all.length - RPM) / RPM, Math.max(0, tokens - TPM) / TPM)
}

const virtual = async () => {
  const minimum = minimumMinutes(jobs(N))
  console.log(`bench/batch: ${N} chat requests of varied sizes against ${RPM} RPM / ${TPM} TPM, 1% server errors, virtual time`)
  console.log(`theoretical minimum at the limit: ${minimum.toFixed(1)} min\n`)
  const results = [await measure("(a) Batch.run + RateLimiter", runner), await measure("(b) cookbook rules", cookbook)]
  console.log("runner                        minutes  vs minimum  failed  sent >1  after a 2xx   HTTP  429s   real")
  for (const r of results) {
    console.log(
      `${r.name.padEnd(30)}${r.minutes.toFixed(1).padStart(7)}  ${(r.minutes / minimum).toFixed(2).padStart(9)}x` +
        `${String(r.failed).padStart(8)}${String(r.sentTwice).padStart(9)}${String(r.afterSuccess).padStart(13)}` +
        `${String(r.http).padStart(7)}${String(r.http429).padStart(6)}${(r.realMillis / 1000).toFixed(1).padStart(6)}s`
    )
  }
  console.log("(sent >1: the mock's log has the request more than once; a 500 answered the attempts before the last)")
  const [a, b] = results
  if (a === undefined || b === undefined) return () => {}
  return () => {
    printTarget("completion vs minimum (a)", a.minutes / minimum, { op: "<=", goal: 1.1, unit: "x" })
    printTarget("completion (a) vs (b)", a.minutes / b.minutes, { op: "<=", goal: 0.6, unit: "x" })
    printTarget("failed for good (a) vs (b)", a.failed, { op: "<=", goal: b.failed, digits: 0 })
    printTarget("sent again after a 2xx (a)", a.afterSuccess, { op: "<=", goal: 0, digits: 0 })
  }
}

const kill = async () => {
  console.log(
    `\nkill part: ${KILL_N} requests, limits ×${KILL_SCALE} (${RPM * KILL_SCALE} RPM / ${TPM * KILL_SCALE} TPM), real HTTP on ` +
      `127.0.0.1, real time: dist/cli/main.js batch --resume, kill -9 at ${KILLS} random points`
  )
  const k = await killed()
  console.log(
    `SIGKILLs ${k.kills}, runs ${k.kills + 1}, ${k.realSeconds.toFixed(0)} s: lost ${k.lost}, duplicated ${k.duplicated}, ` +
      `failed for good ${k.failed}; re-sent ${k.resent}, in flight at the kills ${k.inFlight}`
  )
  return () => {
    printTarget("SIGKILLs", k.kills, { op: ">=", goal: KILLS, digits: 0 })
    printTarget("results lost after kills", k.lost, { op: "<=", goal: 0, digits: 0 })
    printTarget("results duplicated after kills", k.duplicated, { op: "<=", goal: 0, digits: 0 })
    printTarget("re-sent after kills vs in flight at the kills", k.resent, { op: "<=", goal: k.inFlight, digits: 0 })
  }
}

// BATCH_PART=virtual or BATCH_PART=kill runs one part.
const main = async () => {
  const part = process.env.BATCH_PART
  const targets = [
    part === "kill" ? () => {} : await virtual(),
    part === "virtual" ? () => {} : await kill()
  ]
  console.log("")
  for (const print of targets) print()
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
