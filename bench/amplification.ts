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
 * concurrent callers would need minutes. This file uses a discrete-event Clock instead: every
 * caller's sleep goes into a heap, and time jumps to the next wake-up as soon as every caller is
 * asleep or done. The policies cannot tell the difference: they read time and sleep only through
 * Effect's Clock service, as under TestClock.
 *
 * Run: npx tsx bench/amplification.ts
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import type * as Schedule from "effect/Schedule"
import * as OpenAiError from "../src/OpenAiError.js"
import * as RetryBudget from "../src/RetryBudget.js"
import * as RetryPolicy from "../src/RetryPolicy.js"

const LOGICAL = 10_000
const ARRIVAL_WINDOW_MS = 120_000
const OUTAGE_MS = 60_000

// ---------------------------------------------------------------------------------------------
// A discrete-event Clock
// ---------------------------------------------------------------------------------------------

interface Sleeper {
  readonly at: number
  readonly seq: number
  readonly wake: () => void
  cancelled: boolean
}

/** A binary min-heap on (at, seq): wake-ups in time order, ties in the order they were asked. */
class Heap {
  private readonly items: Array<Sleeper> = []
  get size(): number {
    return this.items.length
  }
  peek(): Sleeper | undefined {
    return this.items[0]
  }
  private less(i: number, j: number): boolean {
    const a = this.items[i]
    const b = this.items[j]
    if (a === undefined || b === undefined) return false
    return a.at < b.at || (a.at === b.at && a.seq < b.seq)
  }
  private swap(i: number, j: number): void {
    const a = this.items[i]
    const b = this.items[j]
    if (a === undefined || b === undefined) return
    this.items[i] = b
    this.items[j] = a
  }
  push(item: Sleeper): void {
    this.items.push(item)
    let i = this.items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.less(i, parent)) break
      this.swap(i, parent)
      i = parent
    }
  }
  pop(): Sleeper | undefined {
    const top = this.items[0]
    const last = this.items.pop()
    if (top === undefined || last === undefined || this.items.length === 0) return top
    this.items[0] = last
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let smallest = i
      if (l < this.items.length && this.less(l, smallest)) smallest = l
      if (r < this.items.length && this.less(r, smallest)) smallest = r
      if (smallest === i) break
      this.swap(i, smallest)
      i = smallest
    }
    return top
  }
}

class SimClock implements Clock.Clock {
  readonly [Clock.ClockTypeId]: Clock.ClockTypeId = Clock.ClockTypeId
  private now = 0
  private seq = 0
  /** Callers running (not asleep, not done). Time may advance only when this is zero. */
  private active = 0
  private readonly heap = new Heap()
  private idle: (() => void) | undefined

  unsafeCurrentTimeMillis(): number {
    return this.now
  }
  unsafeCurrentTimeNanos(): bigint {
    return BigInt(Math.round(this.now * 1_000_000))
  }
  readonly currentTimeMillis: Effect.Effect<number> = Effect.sync(() => this.now)
  readonly currentTimeNanos: Effect.Effect<bigint> = Effect.sync(() => this.unsafeCurrentTimeNanos())

  sleep(duration: Duration.Duration): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      const sleeper: Sleeper = {
        at: this.now + Math.max(0, Duration.toMillis(duration)),
        seq: this.seq++,
        wake: () => resume(Effect.void),
        cancelled: false
      }
      this.heap.push(sleeper)
      this.leave()
      // Interrupted while asleep: the wake-up is dropped and the fiber runs its finalizers.
      return Effect.sync(() => {
        sleeper.cancelled = true
        this.active++
      })
    })
  }

  /** Runs `start` at virtual time `at`, as a caller that is running until it sleeps or leaves. */
  at(at: number, start: () => void): void {
    this.heap.push({ at, seq: this.seq++, wake: start, cancelled: false })
  }

  /** A caller stops running (asleep or done). */
  leave(): void {
    this.active--
    if (this.active === 0 && this.idle !== undefined) {
      const idle = this.idle
      this.idle = undefined
      idle()
    }
  }

  private waitIdle(): Promise<void> {
    return this.active === 0 ? Promise.resolve() : new Promise((resolve) => (this.idle = resolve))
  }

  /** Advances time wake-up by wake-up until nobody is asleep. */
  async run(): Promise<void> {
    for (;;) {
      await this.waitIdle()
      const next = this.heap.peek()
      if (next === undefined) return
      this.now = Math.max(this.now, next.at)
      // Wake everyone due at this instant together, as a real clock would.
      while (this.heap.peek()?.at === next.at) {
        const sleeper = this.heap.pop()
        if (sleeper === undefined || sleeper.cancelled) continue
        this.active++
        sleeper.wake()
      }
    }
  }
}

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
  const clock = new SimClock()
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
      Effect.withRandom(random),
      Effect.withClock(clock),
      Effect.ensuring(Effect.sync(() => clock.leave()))
    )

  // Callers start at their arrival time, so only those in flight are alive at once.
  const settled: Array<Promise<void>> = []
  for (let i = 0; i < LOGICAL; i++) {
    const arrival = (i * ARRIVAL_WINDOW_MS) / LOGICAL
    clock.at(arrival, () => settled.push(Effect.runPromise(logical(arrival))))
  }
  await clock.run()
  await Promise.all(settled)
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
  const header = [
    "policy".padEnd(24),
    "sent/logical (outage)".padStart(22),
    "vs baseline".padStart(12),
    "sent total".padStart(11),
    "outage reqs ok".padStart(15),
    "recovery".padStart(9),
    "1st success".padStart(12),
    "real".padStart(8)
  ].join(" ")
  console.log(header)
  console.log("-".repeat(header.length))
  for (const r of results) {
    console.log([
      r.name.padEnd(24),
      fmt(perLogical(r)).padStart(22),
      (baseline === undefined ? "-" : `${fmt(perLogical(r) / perLogical(baseline))}x`).padStart(12),
      String(r.totalSent).padStart(11),
      `${r.outageSucceeded}/${r.outageLogical}`.padStart(15),
      seconds(r.recoveryMillis).padStart(9),
      seconds(r.firstSuccessAfterMillis).padStart(12),
      `${r.realMillis} ms`.padStart(8)
    ].join(" "))
  }
  const withBudget = results[0]
  if (withBudget !== undefined) {
    const amplification = perLogical(withBudget)
    const cap = 10
    console.log(
      `\ntarget (default + budget): <= 1.20 requests per logical request during the outage: ${fmt(amplification)} ${
        amplification <= 1.2 ? "ok" : "MISSED"
      }`
    )
    console.log(
      `target (default + budget): recovery within one backoff cap (${cap} s): ${seconds(withBudget.recoveryMillis)} ${
        withBudget.recoveryMillis <= cap * 1000 ? "ok" : "MISSED"
      }`
    )
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
