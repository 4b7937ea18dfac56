/**
 * One organisation's limit shared by several processes: goodput with the memory store (each
 * process paces itself) and with the Redis store (one limit for all).
 *
 * The parent starts the mock API over real HTTP (src/testing/MockServer.ts: 500 requests and
 * 30,000 tokens per minute for the API key, buckets that refill continuously, `x-ratelimit-*`
 * headers), a real `redis-server` on a free 127.0.0.1 port, and 4 worker processes. Each worker
 * runs a limiter that knows no limits (it learns them from the headers) in front of `fetch`, with
 * 24 fibers sending chat requests of varied sizes back to back (bench/workload.ts, as
 * bench/goodput.ts: 20% small, 80% of hundreds to 1,500 tokens); a response arrives 250 ms + 2 ms per `max_tokens` after the server admitted it,
 * and a 429 is sent again (after the pause the limiter takes from its hint) up to 5 times.
 *
 * Time: every process reads the same compressed clock (virtual = origin + real elapsed x 8, the
 * mock's buckets and the limiters' alike), so GOODPUT_DIST_MINUTES virtual minutes (default 4)
 * take an eighth of that in real time per store.
 *
 * Printed per store: the share of the allowed throughput the server admitted (admitted tokens or
 * requests, whichever binds, over the limit times the minutes run plus the bucket's initial
 * minute of credit), the share of HTTP requests answered 429, p50 / p99 latency per call (virtual
 * seconds, waiting and re-sends included) and the Redis round trips per HTTP request.
 *
 * Run: npx tsx bench/goodput-distributed.ts
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as RateLimiter from "../src/RateLimiter.js"
import * as RateLimiterRedis from "../src/RateLimiterRedis.js"
import { MockApi, MockServer } from "../src/testing/index.js"
import * as RedisServer from "../test/utils/redisServer.js"
import { generator, jobOf, percentile } from "./workload.js"
import { printTarget } from "./support/target.js"

const RPM = 500
const TPM = 30_000
const WORKERS = Number(process.env.GOODPUT_DIST_WORKERS ?? 4)
const FIBERS = 24
const FACTOR = 8
const MINUTES = Number(process.env.GOODPUT_DIST_MINUTES ?? 4)
const API_KEY = "sk-bench-shared-org"
/** Virtual time after the end during which calls in flight may still finish. */
const GRACE = 30_000

// ---------------------------------------------------------------------------------------------
// A clock shared by every process: real time since `origin`, sped up FACTOR times
// ---------------------------------------------------------------------------------------------

const scaledClock = (origin: number, factor: number): Clock.Clock => {
  const now = () => origin + (performance.timeOrigin + performance.now() - origin) * factor
  return {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: now,
    currentTimeMillis: Effect.sync(now),
    unsafeCurrentTimeNanos: () => BigInt(Math.floor(now() * 1e6)),
    currentTimeNanos: Effect.sync(() => BigInt(Math.floor(now() * 1e6))),
    sleep: (duration) =>
      Effect.async<void>((resume) => {
        const timer = setTimeout(() => resume(Effect.void), Duration.toMillis(duration) / factor)
        return Effect.sync(() => clearTimeout(timer))
      })
  }
}

// ---------------------------------------------------------------------------------------------
// Worker
// ---------------------------------------------------------------------------------------------

interface WorkerConfig {
  readonly index: number
  readonly url: string
  readonly store: "memory" | "redis"
  readonly redisUrl: string
  readonly prefix: string
  readonly origin: number
}

/** Sent to every worker on its stdin once all are ready, so that they start together. */
interface Go {
  readonly start: number
  readonly end: number
}

const readGo = Effect.async<Go>((resume) => {
  let input = ""
  process.stdin.on("data", (chunk: Buffer) => {
    input += chunk.toString()
    if (input.includes("\n")) resume(Effect.succeed(JSON.parse(input) as Go))
  })
})

interface WorkerResult {
  /** [arrival (virtual millis), status, estimated tokens] per HTTP request. */
  readonly requests: ReadonlyArray<readonly [number, number, number]>
  readonly latencies: ReadonlyArray<number>
  readonly failed: number
  readonly redisCommands: number
  readonly storeFailures: number
}

const runWorker = (config: WorkerConfig) =>
  Effect.gen(function*() {
    const store = config.store === "redis"
      // Durations are virtual: the defaults' real time (1 s store timeout, 50 ms clock skew) x FACTOR.
      ? yield* RateLimiterRedis.make({ url: config.redisUrl, prefix: config.prefix, connectTimeout: Duration.seconds(5 * FACTOR) })
      : yield* RateLimiter.makeStoreMemory
    const limiter = yield* RateLimiter.make({
      storeTimeout: Duration.seconds(FACTOR),
      clockSkew: config.store === "redis" ? Duration.millis(50 * FACTOR) : undefined
    }).pipe(
      Effect.provideService(RateLimiter.RateLimiterStore, store)
    )
    const client = (yield* HttpClient.HttpClient).pipe(
      // The answer arrives some time after the server admitted the request (generation time).
      HttpClient.transformResponse(Effect.tap((response) =>
        Effect.sleep(Duration.millis(Number(response.request.headers["x-bench-latency-ms"] ?? "0")))
      )),
      RateLimiter.middleware(limiter)
    )
    process.stdout.write("ready\n")
    const go = yield* readGo
    const requests: Array<readonly [number, number, number]> = []
    const latencies: Array<number> = []
    let failed = 0
    const fiber = (f: number) =>
      Effect.gen(function*() {
        const next = generator(1000 * config.index + f)
        const worker = 1000 * config.index + f
        for (let n = 0;; n++) {
          const began = yield* Clock.currentTimeMillis
          if (began >= go.end) return
          const job = jobOf(worker, n, next)
          const request = HttpClientRequest.post(`${config.url}/chat/completions`).pipe(
            HttpClientRequest.bearerToken(API_KEY),
            HttpClientRequest.setHeader("x-bench-latency-ms", String(250 + 2 * job.maxTokens)),
            HttpClientRequest.bodyUnsafeJson(job.body)
          )
          let ok = false
          for (let attempt = 0; attempt < 6 && !ok; attempt++) {
            const result = yield* Effect.either(
              Effect.flatMap(client.execute(request), (response) => Effect.as(response.arrayBuffer, response.status))
            )
            const at = yield* Clock.currentTimeMillis
            const status = result._tag === "Right" ? result.right : 0
            requests.push([at, status, job.tokens])
            ok = status === 200
            if (status !== 429) break
          }
          if (ok) latencies.push((yield* Clock.currentTimeMillis) - began)
          else failed++
        }
      })
    yield* Effect.sleep(Duration.millis(Math.max(0, go.start - (yield* Clock.currentTimeMillis))))
    // Calls still waiting some time after the end are dropped: the run is over.
    yield* Effect.forEach(Array.from({ length: FIBERS }, (_, f) => f), fiber, { concurrency: "unbounded", discard: true })
      .pipe(Effect.timeout(Duration.millis(go.end + GRACE - (yield* Clock.currentTimeMillis))), Effect.ignore)
    const redisCommands = (yield* Metric.value(RateLimiterRedis.commands)).count
    const storeFailures = (yield* Metric.value(RateLimiter.storeFailures)).count
    const result: WorkerResult = { requests, latencies, failed, redisCommands, storeFailures }
    process.stdout.write(`${JSON.stringify(result)}\n`)
  }).pipe(
    Effect.scoped,
    Effect.provide(FetchHttpClient.layer),
    Effect.withClock(scaledClock(config.origin, FACTOR))
  )

// ---------------------------------------------------------------------------------------------
// Parent
// ---------------------------------------------------------------------------------------------

interface Worker {
  readonly ready: Effect.Effect<void, Error>
  readonly go: (go: Go) => Effect.Effect<void>
  readonly result: Effect.Effect<WorkerResult, Error>
}

const spawnWorker = (config: WorkerConfig): Effect.Effect<Worker, never, Scope.Scope> =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "worker", JSON.stringify(config)], {
          stdio: ["pipe", "pipe", "inherit"]
        })
      ),
      (child) => Effect.sync(() => child.kill("SIGKILL"))
    )
    let output = ""
    const ready = yield* Deferred.make<void, Error>()
    const exited = yield* Deferred.make<WorkerResult, Error>()
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString()
      if (output.startsWith("ready\n")) Deferred.unsafeDone(ready, Effect.void)
    })
    child.once("exit", (code) => {
      const line = output.trim().split("\n").pop() ?? ""
      const failure = new Error(`worker ${config.index} exited with ${code}: ${output.slice(-300)}`)
      Deferred.unsafeDone(ready, Effect.fail(failure))
      try {
        Deferred.unsafeDone(exited, Effect.succeed(JSON.parse(line) as WorkerResult))
      } catch {
        Deferred.unsafeDone(exited, Effect.fail(failure))
      }
    })
    return {
      ready: Deferred.await(ready),
      go: (go) => Effect.sync(() => child.stdin.end(`${JSON.stringify(go)}\n`)),
      result: Deferred.await(exited)
    }
  })

interface Figures {
  readonly store: string
  readonly share: number
  readonly share429: number
  readonly p50: number
  readonly p99: number
  readonly roundTrips: number
  readonly http: number
  readonly realSeconds: number
  readonly storeFailures: number
}

const runStore = (store: "memory" | "redis", url: string, redisUrl: string, origin: number) =>
  Effect.scoped(Effect.gen(function*() {
    const mock = yield* MockApi.MockApi
    yield* mock.reset
    const prefix = `bench-${Date.now()}:`
    const workers = yield* Effect.forEach(
      Array.from({ length: WORKERS }, (_, index) => index),
      (index) => spawnWorker({ index, url, store, redisUrl, prefix, origin })
    )
    // Booting takes seconds on a busy machine: all start together once all are ready.
    yield* Effect.forEach(workers, (w) => w.ready, { discard: true })
    const realStart = Date.now()
    const start = (yield* Clock.currentTimeMillis) + 100 * FACTOR
    const end = start + MINUTES * 60_000
    yield* Effect.forEach(workers, (w) => w.go({ start, end }), { discard: true })
    const results = yield* Effect.forEach(workers, (w) => w.result)
    const requests = results.flatMap((r) => r.requests)
    const admitted = requests.filter(([at, status]) => status === 200 && at <= end)
    const admittedTokens = admitted.reduce((sum, [, , tokens]) => sum + tokens, 0)
    // The buckets start full: a minute of credit, then MINUTES of refill.
    const share = Math.max(admittedTokens / (TPM * (MINUTES + 1)), admitted.length / (RPM * (MINUTES + 1)))
    const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b)
    const log = yield* mock.log
    const http = log.length
    const http429 = log.filter((e) => Option.isSome(e.rateLimited)).length
    const commands = results.reduce((sum, r) => sum + r.redisCommands, 0)
    const storeFailures = results.reduce((sum, r) => sum + r.storeFailures, 0)
    const figures: Figures = {
      store,
      share,
      share429: http === 0 ? 0 : http429 / http,
      p50: percentile(latencies, 0.5) / 1000,
      p99: percentile(latencies, 0.99) / 1000,
      roundTrips: http === 0 ? 0 : commands / http,
      http,
      realSeconds: (Date.now() - realStart) / 1000,
      storeFailures
    }
    return figures
  }))

const pct = (x: number) => `${(100 * x).toFixed(1)}%`

const main = (origin: number) =>
  Effect.gen(function*() {
  const redis = yield* RedisServer.start
  const server = yield* MockServer.MockServer
  const stores = (process.env.GOODPUT_DIST_STORES ?? "memory,redis").split(",") as Array<"memory" | "redis">
  const figures = yield* Effect.forEach(stores, (store) => runStore(store, server.url, redis.url, origin))
  const shared = figures.find((f) => f.store === "redis")
  console.log(
    `goodput-distributed: ${WORKERS} processes x ${FIBERS} fibers, one key limited to ${RPM} RPM / ${TPM} TPM, ` +
      `${MINUTES} virtual minutes per store (clock x${FACTOR})\n`
  )
  console.log(
    "store    allowed-throughput  429-share  p50-latency  p99-latency  redis-round-trips/request  http-requests  store-failures  real-time"
  )
  for (const f of figures) {
    console.log(
      `${f.store.padEnd(8)} ${pct(f.share).padStart(18)}  ${pct(f.share429).padStart(9)}  ${f.p50.toFixed(2).padStart(10)}s` +
        `  ${f.p99.toFixed(2).padStart(10)}s  ${f.roundTrips.toFixed(2).padStart(25)}  ${String(f.http).padStart(13)}` +
        `  ${String(f.storeFailures).padStart(14)}  ${f.realSeconds.toFixed(1)}s`
    )
  }
  const memory = figures.find((f) => f.store === "memory")
  if (memory !== undefined) console.log(`\nmemory store overshoot: ${pct(memory.share429)} of its requests answered 429`)
  if (shared === undefined) return
  printTarget("redis-throughput", shared.share * 100, { op: ">=", goal: 95, unit: "%", digits: 1 })
  printTarget("redis-429-share", shared.share429 * 100, { op: "<=", goal: 1, unit: "%", digits: 1 })
})

if (process.argv[2] === "worker") {
  Effect.runPromise(runWorker(JSON.parse(process.argv[3] ?? "{}") as WorkerConfig)).then(
    () => process.exit(0),
    (e) => {
      console.error(e)
      process.exit(1)
    }
  )
} else {
  const origin = Date.now()
  Effect.runPromise(
    main(origin).pipe(
      Effect.provide(Layer.orDie(MockServer.layer({ rpm: RPM, tpm: TPM }))),
      Effect.scoped,
      Effect.withClock(scaledClock(origin, FACTOR))
    )
  ).then(
    () => process.exit(0),
    (e) => {
      console.error(e)
      process.exit(1)
    }
  )
}
