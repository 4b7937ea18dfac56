/**
 * Examples for docs/retries.md: choosing, tuning and testing a retry policy.
 *
 * In your project, import from the package instead of these relative paths:
 *   import { OpenAiError, RetryBudget, RetryPolicy } from "effect-openai-resilience"
 *
 * Each `check*` example is an Effect that dies if the behaviour is not what the doc says; the
 * repository's tests run them under TestClock (test/RetryPolicy.test.ts).
 */
import { Clock, Duration, Effect, Fiber, FiberRef, Option, Random, Ref, TestClock } from "effect"
import * as OpenAiError from "../../src/OpenAiError.js"
import * as RetryBudget from "../../src/RetryBudget.js"
import * as RetryPolicy from "../../src/RetryPolicy.js"

/** Stands in for a call to the API: anything whose error channel holds the typed errors. */
const createCompletion: Effect.Effect<string, OpenAiError.OpenAiError> = Effect.succeed("Hello!")

// ---------------------------------------------------------------------------------------------
// Using a policy
// ---------------------------------------------------------------------------------------------

/** The default policy needs no service. */
export const simplest = Effect.retry(createCompletion, RetryPolicy.default)

/** Tuned: more patience for rate limits, less for server errors, never for quota. */
export const tuned = RetryPolicy.make({
  maxRetries: 6,
  base: "250 millis",
  maxDelay: "20 seconds",
  deadline: "3 minutes",
  maxServerDelay: "30 seconds",
  onLongServerDelay: "cap",
  perTag: {
    RateLimitReached: { times: 6 },
    ServerError: { times: 2 },
    QuotaExceeded: { times: 0 }
  }
})

/** A shared budget: every call under the layer spends from (and refills) the same bucket. */
export const withBudget = RetryPolicy.retry(createCompletion, RetryPolicy.make({ budget: true })).pipe(
  Effect.provide(RetryBudget.layer({ capacity: 200 }))
)

/** Why did it stop? `retryOrElse` hands over the final decision with the unchanged error. */
export const explained = Effect.retryOrElse(createCompletion, RetryPolicy.default, (error, decision) =>
  Effect.logWarning(`gave up after ${decision.attempt} attempt(s)`).pipe(
    Effect.annotateLogs({ tag: error._tag, reason: decision._tag === "Stop" ? decision.reason : "retrying" }),
    Effect.zipRight(Effect.fail(error))
  ))

/** How many attempts did it take? */
export const counted = Effect.gen(function*() {
  const text = yield* RetryPolicy.retry(createCompletion, RetryPolicy.default)
  const attempts = yield* FiberRef.get(RetryPolicy.lastAttempts)
  return { text, attempts }
})

// ---------------------------------------------------------------------------------------------
// Testing a policy under TestClock
// ---------------------------------------------------------------------------------------------

const check = (ok: boolean, what: string) => (ok ? Effect.void : Effect.dieMessage(`example failed: ${what}`))

/**
 * A fake upstream: fails with `errors` in turn, then answers "ok". Records the virtual time of
 * every call, so a test can read the exact waits.
 */
const scripted = (errors: ReadonlyArray<OpenAiError.OpenAiError>) =>
  Effect.map(Ref.make<ReadonlyArray<number>>([]), (calls) => ({
    calls: Ref.get(calls),
    call: Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const n = (yield* Ref.getAndUpdate(calls, (times) => [...times, now])).length
      const error = errors[n]
      return error === undefined ? "ok" : yield* Effect.fail(error)
    })
  }))

/**
 * The recipe: fork the call, move virtual time with `TestClock.adjust`, then look at what
 * happened. `Random.fixed([1])` makes full jitter choose the top of each range, so every wait is
 * known in advance. Nothing sleeps for real: an hour of backoff runs in milliseconds.
 */
export const checkExactWaits = Effect.gen(function*() {
  const serverError = new OpenAiError.ServerError({ message: "The server had an error", status: Option.some(500) })
  const { call, calls } = yield* scripted([serverError, serverError, serverError])
  const fiber = yield* Effect.fork(
    Effect.retry(call, RetryPolicy.default).pipe(Effect.withRandom(Random.fixed([1])))
  )
  yield* TestClock.adjust(Duration.minutes(1))
  const result = yield* Fiber.join(fiber)
  const times = yield* calls
  // backoff ceilings 500 ms, 1 s, 2 s: calls at 0, 0.5, 1.5 and 3.5 s
  yield* check(result === "ok", "succeeds on the fourth attempt")
  yield* check(times.join(",") === "0,500,1500,3500", `waits 500 ms, 1 s, 2 s (got ${times.join(",")})`)
})

/** The server's hint wins over a shorter backoff, and a hint too long stops at once. */
export const checkServerHints = Effect.gen(function*() {
  const hinted = new OpenAiError.RateLimitReached({
    message: "Rate limit reached for requests. Please try again in 1.5s.",
    scope: "requests",
    limit: Option.none(),
    used: Option.none(),
    requested: Option.none(),
    retryAfter: Option.some(Duration.millis(1500)),
    retryAfterSource: Option.some("message")
  })
  // The hint replaces the backoff; its jitter is at most min(10% of the hint, 250 ms). With the
  // draw fixed at 0 it adds nothing, at 1 it adds min(150, 250) = 150 ms.
  const first = yield* scripted([hinted])
  const fiber = yield* Effect.fork(
    Effect.retry(first.call, RetryPolicy.default).pipe(Effect.withRandom(Random.fixed([0])))
  )
  yield* TestClock.adjust(Duration.seconds(2))
  yield* Fiber.join(fiber)
  yield* check((yield* first.calls).join(",") === "0,1500", "waits the 1.5 s hint as given")

  const jittered = yield* scripted([hinted])
  const top = yield* Effect.fork(
    Effect.retry(jittered.call, RetryPolicy.default).pipe(Effect.withRandom(Random.fixed([1])))
  )
  yield* TestClock.adjust(Duration.seconds(2))
  yield* Fiber.join(top)
  const [sent = 0, resent = 0] = yield* jittered.calls
  yield* check(resent - sent === 1650, "at most 10% of the hint above it")

  const tooLong = new OpenAiError.RateLimitReached({
    message: "Rate limit reached",
    scope: "tokens",
    limit: Option.none(),
    used: Option.none(),
    requested: Option.none(),
    retryAfter: Option.some(Duration.hours(1)),
    retryAfterSource: Option.some("retry-after")
  })
  const second = yield* scripted([tooLong])
  const error = yield* Effect.flip(Effect.retry(second.call, RetryPolicy.default))
  yield* check(error === tooLong, "the typed error comes out unchanged")
  yield* check((yield* second.calls).length === 1, "no retry when the hint is above maxServerDelay")
})
