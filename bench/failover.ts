/**
 * Failover across deployments during a primary outage, in virtual time.
 *
 * Ten virtual minutes, 5 chat completions per second (3,000 calls). From minute 4 to minute 6
 * the primary is down, then recovers; the secondary stays up. Two kinds of outage: the primary
 * answers 500 (`server_error`) at once, or it does not answer at all (every setup has a 10 s
 * per-attempt timeout). Each deployment is the test kit's MockApi behind the MockHttpClient, with a seeded
 * latency (100-300 ms, skewed low; the secondary 100 ms slower), so the whole client runs:
 * classification, decoding, retries, breaker.
 *
 * Three setups:
 * (a) the primary alone, with this library's default retry policy;
 * (b) the fallback plan: primary then secondary, each with the default policy and its own breaker
 *     (5 consecutive failures, open 5 s, no growth);
 * (c) a baseline as LiteLLM's router does by default: the official SDK's retries
 *     (`RetryPolicy.officialSdk`) on a deployment, then the next deployment on any error; a
 *     deployment with 3 failed calls within a minute is cooled down (skipped) for 5 s.
 *
 * Printed per setup: success rate (all calls, and calls that arrived during the outage), p50/p99
 * latency of all calls (arrival to result), requests sent to each deployment, and how long after
 * the primary's recovery calls were back on it (the first call arriving after the recovery from
 * which every call was served by the primary).
 *
 * Virtual time comes from the test kit's Simulation (see bench/amplification.ts for why not TestClock).
 *
 * Run: npx tsx bench/failover.ts
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import type * as Schedule from "effect/Schedule"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as Deployment from "../src/Deployment.js"
import * as Fallback from "../src/Fallback.js"
import type * as OpenAiError from "../src/OpenAiError.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import { MockApi, MockHttpClient, Simulation } from "../src/testing/index.js"
import { targetLine } from "./support/target.js"
import { printTable } from "./support/table.js"

const MINUTE = 60_000
const DURATION_MS = 10 * MINUTE
const OUTAGE_START = 4 * MINUTE
const OUTAGE_END = 6 * MINUTE
const RATE_PER_SECOND = 5
const CALLS = (DURATION_MS / 1000) * RATE_PER_SECOND

const request = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "Say hi" }] }

interface Upstream {
  sent: number
}

// How the primary is down: it answers 500 at once, or it does not answer at all.
type Outage = "errors" | "hangs"

// Every setup bounds an attempt as a production client would; a hung attempt ends here.
const ATTEMPT_TIMEOUT = "10 seconds"

// A deployment over its own in-memory mock, with latency and (for the primary) the outage put on
// each attempt by a request tweak: the mock answers `server_error` when asked by header, or the
// attempt never gets an answer.
const deployment = (
  name: string,
  options: {
    readonly extraLatencyMs: number
    readonly down: Outage | undefined
    readonly policy: Schedule.Schedule<unknown, OpenAiError.OpenAiError>
    readonly breaker?: CircuitBreaker.CircuitBreaker
  }
) =>
  Effect.gen(function*() {
    const upstream: Upstream = { sent: 0 }
    const mock = yield* MockApi.make({ maxLogEntries: 1_000 })
    const client = yield* MockHttpClient.make.pipe(Effect.provideService(MockApi.MockApi, mock))
    const latency = Effect.map(Random.next, (u) => 100 + options.extraLatencyMs + 200 * u * u * u)
    const down = (now: number) => options.down !== undefined && now >= OUTAGE_START && now < OUTAGE_END
    const transformClient = (c: HttpClient.HttpClient) =>
      HttpClient.transform(
        HttpClient.mapRequestEffect(c, (r) =>
          Effect.map(Clock.currentTimeMillis, (now) => {
            upstream.sent++
            return down(now) && options.down === "errors" ? HttpClientRequest.setHeader(r, "x-mock-fault", "server_error") : r
          })),
        (effect) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            down(now) && options.down === "hangs"
              ? Effect.never
              : Effect.zipRight(Effect.flatMap(latency, (ms) => Effect.sleep(ms)), effect))
      )
    const d = yield* Deployment.compatible({
      name,
      baseUrl: MockHttpClient.baseUrl,
      apiKey: Redacted.make(`sk-${name}-bench-0123456789`),
      transformClient,
      resilience: { retryPolicy: options.policy, breaker: options.breaker, timeout: ATTEMPT_TIMEOUT }
    }).pipe(Effect.provideService(HttpClient.HttpClient, client))
    return { d, upstream }
  })

interface Call {
  readonly arrival: number
  readonly latency: number
  readonly ok: boolean
  readonly servedBy: string | undefined
}

type Serve = Effect.Effect<string, unknown>

const plans = (outage: Outage) => ({
  "(a) one deployment, library retries": Effect.gen(function*() {
    const primary = yield* deployment("primary", { extraLatencyMs: 0, down: outage, policy: RetryPolicy.default })
    const serve: Serve = Effect.as(primary.d.client.chat.completions.create(request), "primary")
    return { serve, upstreams: [primary.upstream] }
  }),
  "(b) fallback plan": Effect.gen(function*() {
    const breaker = (name: string) =>
      CircuitBreaker.make({ name, consecutiveFailures: 5, openDuration: "5 seconds", backoffFactor: 1 })
    const primary = yield* deployment("primary", {
      extraLatencyMs: 0,
      down: outage,
      policy: RetryPolicy.default,
      breaker: yield* breaker("primary")
    })
    const secondary = yield* deployment("secondary", {
      extraLatencyMs: 100,
      down: undefined,
      policy: RetryPolicy.default,
      breaker: yield* breaker("secondary")
    })
    const plan = yield* Fallback.make([primary.d, secondary.d])
    const serve: Serve = Effect.map(plan.chat.completions.create(request), (r) => r.route.served)
    return { serve, upstreams: [primary.upstream, secondary.upstream] }
  }),
  "(c) baseline: SDK retries, any error, cooldowns": Effect.gen(function*() {
    const primary = yield* deployment("primary", { extraLatencyMs: 0, down: outage, policy: RetryPolicy.officialSdk })
    const secondary = yield* deployment("secondary", { extraLatencyMs: 100, down: undefined, policy: RetryPolicy.officialSdk })
    const all = [primary, secondary].map((x) => ({ ...x, failures: [] as Array<number>, coolUntil: 0 }))
    const serve: Serve = Effect.gen(function*() {
      let last: unknown = undefined
      for (const x of all) {
        const now = yield* Clock.currentTimeMillis
        if (now < x.coolUntil) continue
        const result = yield* Effect.either(x.d.client.chat.completions.create(request))
        if (result._tag === "Right") return x.d.name
        last = result.left
        const at = yield* Clock.currentTimeMillis
        x.failures = [...x.failures.filter((t) => t > at - MINUTE), at]
        if (x.failures.length >= 3) {
          x.coolUntil = at + 5_000
          x.failures = []
        }
      }
      return yield* Effect.fail(last ?? "every deployment cooling down")
    })
    return { serve, upstreams: [primary.upstream, secondary.upstream] }
  })
})

type Setup = ReturnType<typeof plans>[keyof ReturnType<typeof plans>]

const scenario = async (name: string, setup: Setup) => {
  const started = Date.now()
  const sim = Simulation.make()
  const calls: Array<Call> = []
  let upstreams: ReadonlyArray<Upstream> = []
  await sim.run(Effect.scoped(Effect.gen(function*() {
    const built = yield* setup
    upstreams = built.upstreams
    yield* Effect.forEach(
      Array.from({ length: CALLS }, (_, i) => (i * 1000) / RATE_PER_SECOND),
      (arrival) =>
        Effect.zipRight(
          Effect.sleep(arrival),
          Effect.flatMap(Effect.either(built.serve), (result) =>
            Effect.map(Clock.currentTimeMillis, (now) => {
              calls.push({
                arrival,
                latency: now - arrival,
                ok: result._tag === "Right",
                servedBy: result._tag === "Right" ? result.right : undefined
              })
            }))
        ),
      { concurrency: "unbounded", discard: true }
    )
  })).pipe(
    Effect.withRandom(Random.make(`failover ${name}`)),
    // The breaker logs every transition; the table says what matters.
    Logger.withMinimumLogLevel(LogLevel.Warning)
  ))
  const during = calls.filter((c) => c.arrival >= OUTAGE_START && c.arrival < OUTAGE_END)
  const latencies = calls.map((c) => c.latency).sort((a, b) => a - b)
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil(latencies.length * p) - 1)] ?? 0
  // Back on the primary: from the first call after the recovery from which every call was its.
  const after = calls.filter((c) => c.arrival >= OUTAGE_END).sort((a, b) => a.arrival - b.arrival)
  let back: number | undefined = undefined
  for (let i = after.length - 1; i >= 0; i--) {
    const c = after[i]
    if (c === undefined || c.servedBy !== "primary") break
    back = c.arrival - OUTAGE_END
  }
  return {
    name,
    success: calls.filter((c) => c.ok).length / calls.length,
    outageSuccess: during.filter((c) => c.ok).length / during.length,
    p50: pct(0.5),
    p99: pct(0.99),
    sent: upstreams.map((u) => u.sent),
    back,
    realMillis: Date.now() - started
  }
}

const table = async (outage: Outage) => {
  console.log(
    `${CALLS} calls over ${DURATION_MS / MINUTE} virtual minutes (${RATE_PER_SECOND}/s); from minute ${
      OUTAGE_START / MINUTE
    } to ${OUTAGE_END / MINUTE} the primary ${
      outage === "errors" ? "answers 500 at once" : "does not answer (attempt timeout 10 s)"
    }; the secondary stays up\n`
  )
  const results = []
  for (const [name, setup] of Object.entries(plans(outage))) results.push(await scenario(name, setup))
  const pc = (x: number) => `${(x * 100).toFixed(2)}%`
  printTable(
    ["setup", "success", "in outage", "p50", "p99", "sent primary/secondary", "back on primary", "real"],
    results.map((r) => [
      r.name,
      pc(r.success),
      pc(r.outageSuccess),
      `${r.p50.toFixed(0)} ms`,
      `${r.p99.toFixed(0)} ms`,
      r.sent.join(" / "),
      r.sent.length < 2 ? "-" : r.back === undefined ? "never" : `${(r.back / 1000).toFixed(1)} s`,
      `${r.realMillis} ms`
    ])
  )
  console.log("")
  return results[1]
}

const main = async () => {
  const targets: Array<string> = []
  for (const outage of ["errors", "hangs"] as const) {
    const plan = await table(outage)
    if (plan === undefined) continue
    const ok = plan.outageSuccess * 100
    targets.push(targetLine(`fallback-outage-success (${outage})`, ok, { op: ">=", goal: 99.9, unit: "%" }))
    const back = plan.back === undefined ? Number.POSITIVE_INFINITY : plan.back / 1000
    targets.push(
      targetLine(`fallback-back-on-primary (${outage})`, back, { op: "<=", goal: 10, unit: " s", digits: 1, infinite: "never" })
    )
  }
  for (const line of targets) console.log(line)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
