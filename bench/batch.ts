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
 * mock's log). Then `Batch.runDurable` with the file checkpoint, killed 20 times at random virtual
 * times and restarted (a new client, limiter and checkpoint opened from the file each time; the
 * kill is a fiber interruption, which writes nothing, as SIGKILL; the real SIGKILL is in
 * test/BatchCli.test.ts): results lost, duplicated, and requests re-sent against those in flight
 * at each kill. That part runs 2,000 requests (each result is fsynced: real disk time).
 *
 * Run: `npx tsx bench/batch.ts`.
 */
import { HttpClient } from "@effect/platform"
import { Chunk, Clock, Effect, Exit, Fiber, Option, Queue, Redacted, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Batch from "../src/Batch.js"
import * as CheckpointFile from "../src/CheckpointFile.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import { MockApi, MockHttpClient, Simulation } from "../src/testing/index.js"
import { generator, jobOf } from "./workload.js"

const RPM = 500
const TPM = 30_000
const N = Number(process.env.BATCH_N ?? 10_000)
const KILL_N = Number(process.env.BATCH_KILL_N ?? 2_000)
const KILLS = 20
const API_KEY = Redacted.make("sk-bench-batch-000000000000000000")

const jobs = (n: number) => {
  const next = generator(42)
  return Array.from({ length: n }, (_, i) => jobOf(0, i, next))
}
const requestsOf = (n: number): Array<Batch.Request> =>
  jobs(n).map((job) => ({ id: job.id, endpoint: "/chat/completions", body: job.body }))

const mockOptions = { rpm: RPM, tpm: TPM, seed: 3, faultRates: { server_error: 0.01 } }

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
  readonly http: number
  readonly http429: number
  readonly realMillis: number
}

const sentMoreThanOnce = (log: ReadonlyArray<MockApi.LogEntry>) => {
  const counts = new Map<string, number>()
  for (const e of log) counts.set(e.key, (counts.get(e.key) ?? 0) + 1)
  return [...counts.values()].filter((n) => n > 1).length
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

const killed = async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-batch-"))
  const output = path.join(dir, "out.jsonl")
  const errors = path.join(dir, "errors.jsonl")
  const requests = requestsOf(KILL_N)
  const next = generator(7)
  const sim = Simulation.make()
  const mock = await sim.run(MockApi.make(mockOptions)).then((e) => Exit.isSuccess(e) ? e.value : undefined)
  if (mock === undefined) throw new Error("mock")
  const sentIn: Array<Set<string>> = []
  let inFlightAtKills = 0
  const minimum = minimumMinutes(jobs(KILL_N)) * 60_000
  const killAt = Array.from({ length: KILLS }, () => next() * minimum).sort((a, b) => a - b)
  const runOnce = Effect.gen(function*() {
    const limiter = yield* newLimiter
    const openai = yield* clientOver(mock, { limiter })
    yield* Batch.runDurable(Stream.fromIterable(requests), { send: Batch.send(openai), pacing: paced(limiter) }).pipe(
      Stream.runDrain,
      Effect.provide(CheckpointFile.layer({ output, errors }))
    )
  })
  // What reached the server in a run, by request id (the body names it in `user`).
  const idOfKey = (key: string) => /"user":"([^"]+)"/.exec(key)?.[1] ?? key
  let seen = 0
  const reached = async () => {
    const exit = await sim.run(mock.log)
    const log = Exit.isSuccess(exit) ? exit.value : []
    const ids = new Set(log.filter((e) => e.sequence > seen).map((e) => idOfKey(e.key)))
    seen = log.reduce((max, e) => Math.max(max, e.sequence), seen)
    return ids
  }
  const recorded = () =>
    new Set([output, errors].flatMap((file) =>
      fs.existsSync(file)
        ? fs.readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0).map((l) => (JSON.parse(l) as { id: string }).id)
        : []
    ))
  for (const at of [...killAt, Number.POSITIVE_INFINITY]) {
    const fiber = sim.fork(runOnce)
    await sim.runUntil(at, () => fiber.unsafePoll() !== null)
    if (fiber.unsafePoll() === null) {
      await sim.run(Fiber.interrupt(fiber))
      const sent = await reached()
      sentIn.push(sent)
      // In flight at the kill: reached the server in this run, no result written.
      const done = recorded()
      inFlightAtKills += [...sent].filter((id) => !done.has(id)).length
    } else {
      sentIn.push(await reached())
      const exit = fiber.unsafePoll()
      if (exit !== null && Exit.isFailure(exit)) throw new Error(String(exit.cause))
      if (at !== Number.POSITIVE_INFINITY) continue
    }
  }
  const ids = [...fs.readFileSync(output, "utf8").split("\n"), ...fs.readFileSync(errors, "utf8").split("\n")]
    .filter((l) => l.length > 0)
    .map((l) => (JSON.parse(l) as { id: string }).id)
  const unique = new Set(ids)
  const timesSent = new Map<string, number>()
  for (const run of sentIn) for (const id of run) timesSent.set(id, (timesSent.get(id) ?? 0) + 1)
  const resent = [...timesSent.values()].filter((n) => n > 1).reduce((sum, n) => sum + n - 1, 0)
  fs.rmSync(dir, { recursive: true })
  return {
    lost: requests.filter((r) => !unique.has(r.id)).length,
    duplicated: ids.length - unique.size,
    resent,
    inFlightAtKills,
    runs: sentIn.length
  }
}

// A minute's worth in the bucket at the start, then the limit's rate: whichever limit binds.
const minimumMinutes = (all: ReadonlyArray<{ readonly tokens: number }>) => {
  const tokens = all.reduce((sum, j) => sum + j.tokens, 0)
  return Math.max(Math.max(0, all.length - RPM) / RPM, Math.max(0, tokens - TPM) / TPM)
}

const main = async () => {
  const minimum = minimumMinutes(jobs(N))
  console.log(`bench/batch: ${N} chat requests of varied sizes against ${RPM} RPM / ${TPM} TPM, 1% server errors, virtual time`)
  console.log(`theoretical minimum at the limit: ${minimum.toFixed(1)} min\n`)
  const results = [await measure("(a) Batch.run + RateLimiter", runner), await measure("(b) cookbook rules", cookbook)]
  console.log("runner                        minutes  vs minimum  failed  sent >1  HTTP  429s  real")
  for (const r of results) {
    console.log(
      `${r.name.padEnd(30)}${r.minutes.toFixed(1).padStart(7)}  ${(r.minutes / minimum).toFixed(2).padStart(9)}x` +
        `${String(r.failed).padStart(8)}${String(r.sentTwice).padStart(9)}${String(r.http).padStart(6)}${String(r.http429).padStart(6)}` +
        `  ${(r.realMillis / 1000).toFixed(1)}s`
    )
  }
  const [a, b] = results
  if (a === undefined || b === undefined) return
  const k = await killed()
  console.log(
    `\nkilled ${KILLS} times (${KILL_N} requests, ${k.runs} runs): lost ${k.lost}, duplicated ${k.duplicated}, ` +
      `re-sent ${k.resent} (in flight at the kills: ${k.inFlightAtKills})`
  )
  const line = (name: string, value: string, goal: string, met: boolean) =>
    console.log(`target ${name}: ${value} (goal ${goal}) ${met ? "met" : "missed"}`)
  console.log("")
  line("completion vs minimum (a)", `${(a.minutes / minimum).toFixed(2)}x`, "<= 1.1", a.minutes / minimum <= 1.1)
  line("completion (a) vs (b)", `${(a.minutes / b.minutes).toFixed(2)}x`, "<= 0.6", a.minutes / b.minutes <= 0.6)
  line("failed for good (a)", String(a.failed), "<= " + String(b.failed), a.failed <= b.failed)
  line("results lost after kills", String(k.lost), "= 0", k.lost === 0)
  line("results duplicated after kills", String(k.duplicated), "= 0", k.duplicated === 0)
  line("re-sent after kills vs in flight", `${k.resent} of ${k.inFlightAtKills}`, "<= in flight", k.resent <= k.inFlightAtKills)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
