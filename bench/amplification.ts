/**
 * Retry amplification under a total outage, in virtual time.
 *
 * 10,000 logical requests arrive evenly over 120 s. The upstream fails every request (500) for
 * the first 60 s, then recovers. For each policy we print how many requests were sent per logical
 * request that arrived during the outage, and how long after the upstream's recovery the client
 * recovered: until the last request that arrived during the outage settled (succeeded or gave up).
 *
 * Policies: the library default with a shared RetryBudget, the default without one, and
 * RetryPolicy.officialSdk (openai-node's documented rules) as the baseline.
 *
 * Virtual time: TestClock wakes one sleeper per step and waits a real timer tick for every fiber
 * to suspend in between (measured: 800 fibers with three sleeps each take 10 s), so 10,000
 * concurrent callers would need minutes. This file runs on the test kit's Simulation instead (a
 * discrete-event Clock): every caller's sleep goes into a heap, and time jumps to the next
 * wake-up as soon as every caller is asleep or done. The policies cannot tell the difference: they read time and sleep only through
 * Effect's Clock service, as under TestClock.
 *
 * Run: npx tsx bench/amplification.ts
 */
import * as Clock from "effect/Clock"
import * as Simulation from "../src/testing/Simulation.js"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import type * as Schedule from "effect/Schedule"
import * as OpenAiError from "../src/OpenAiError.js"
import * as RetryBudget from "../src/RetryBudget.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import { printTarget } from "./support/target.js"
import { printTable } from "./support/table.js"

const LOGICAL = 10_000
const ARRIVAL_WINDOW_MS = 120_000
const OUTAGE_MS = 60_000

// ---------------------------------------------------------------------------------------------
// One scenario
// ---------------------------------------------------------------------------------------------

interface Result {
  readonly name: string
  readonly outageLogical: number
  readonly outageSent: number
  readonly totalSent: number
  readonly outageSucceeded: number
  readonly failed: number
  /** Last settle time of a request that arrived during the outage, minus the outage's end. */
  readonly recoveryMillis: number
  readonly firstSuccessAfterMillis: number
  readonly realMillis: number
}

const scenario = async <R>(
  name: string,
  policy: Schedule.Schedule<RetryPolicy.Decision, OpenAiError.OpenAiError, R>,
  provide: (effect: Effect.Effect<void, never, R>) => Effect.Effect<void>
): Promise<Result> => {
  const started = Date.now()
  const sim = Simulation.make()
  const random = Random.make("amplification")
  let outageSent = 0
  let totalSent = 0
  let outageSucceeded = 0
  let failed = 0
  let lastOutageSettle = 0
  let firstSuccessAfter = Number.POSITIVE_INFINITY

  // One instance for every failure: building 50,000 Errors (stack traces) would measure the
  // garbage collector rather than the policies.
  const outage = Effect.fail(
    new OpenAiError.ServerError({ message: "The server had an error", status: Option.some(500) })
  )
  const upstream = Effect.flatMap(Clock.currentTimeMillis, (now) => {
    totalSent++
    if (now < OUTAGE_MS) {
      outageSent++
      return outage
    }
    return Effect.succeed(now)
  })

  const logical = (arrival: number) =>
    RetryPolicy.retry(upstream, policy).pipe(
      Effect.matchEffect({
        onFailure: () =>
          Effect.map(Clock.currentTimeMillis, (now) => {
            failed++
            if (arrival < OUTAGE_MS) lastOutageSettle = Math.max(lastOutageSettle, now)
          }),
        onSuccess: (at) =>
          Effect.sync(() => {
            if (arrival < OUTAGE_MS) {
              outageSucceeded++
              lastOutageSettle = Math.max(lastOutageSettle, at)
            }
            if (at >= OUTAGE_MS) firstSuccessAfter = Math.min(firstSuccessAfter, at - OUTAGE_MS)
          })
      }),
      provide,
      Effect.withRandom(random)
    )

  // Every caller waits for its arrival time on the simulated clock, then runs.
  await sim.run(
    Effect.forEach(
      Array.from({ length: LOGICAL }, (_, i) => (i * ARRIVAL_WINDOW_MS) / LOGICAL),
      (arrival) => Effect.zipRight(Effect.sleep(arrival), logical(arrival)),
      { concurrency: "unbounded", discard: true }
    )
  )
  const outageLogical = Math.ceil((OUTAGE_MS * LOGICAL) / ARRIVAL_WINDOW_MS)
  return {
    name,
    outageLogical,
    outageSent,
    totalSent,
    outageSucceeded,
    failed,
    recoveryMillis: Math.max(0, lastOutageSettle - OUTAGE_MS),
    firstSuccessAfterMillis: firstSuccessAfter,
    realMillis: Date.now() - started
  }
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

const main = async () => {
  const budget = Effect.runSync(RetryBudget.make())
  const results = [
    await scenario(
      "default + budget",
      RetryPolicy.make({ budget: true }),
      Effect.provideService(RetryBudget.RetryBudget, budget)
    ),
    await scenario("default, no budget", RetryPolicy.default, (effect) => effect),
    await scenario("officialSdk (baseline)", RetryPolicy.officialSdk, (effect) => effect)
  ]
  const baseline = results[2]
  const perLogical = (r: Result) => r.outageSent / r.outageLogical
  const fmt = (n: number, digits = 2) => n.toFixed(digits)
  const seconds = (ms: number) => Number.isFinite(ms) ? `${fmt(ms / 1000, 1)} s` : "never"
  console.log(
    `${LOGICAL} logical requests over ${ARRIVAL_WINDOW_MS / 1000} s; upstream fails every request for the first ${
      OUTAGE_MS / 1000
    } s\n`
  )
  printTable(
    ["policy", "sent/logical (outage)", "vs baseline", "sent total", "outage reqs ok", "recovery", "1st success", "real"],
    results.map((r) => [
      r.name,
      fmt(perLogical(r)),
      baseline === undefined ? "-" : `${fmt(perLogical(r) / perLogical(baseline))}x`,
      String(r.totalSent),
      `${r.outageSucceeded}/${r.outageLogical}`,
      seconds(r.recoveryMillis),
      seconds(r.firstSuccessAfterMillis),
      `${r.realMillis} ms`
    ])
  )
  const withBudget = results[0]
  if (withBudget !== undefined) {
    const amplification = perLogical(withBudget)
    const cap = 10
    console.log("")
    printTarget("default+budget requests per logical request in the outage", amplification, { op: "<=", goal: 1.2 })
    printTarget("default+budget recovery", withBudget.recoveryMillis / 1000, { op: "<=", goal: cap, unit: " s", digits: 1 })
  }
  console.log(
    "\nrecovery: time from the upstream's recovery until the last request that arrived during the outage settled;" +
      "\n1st success: time from the upstream's recovery to the first successful response."
  )
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
