/**
 * The breaker's state transitions against a model: any sequence of successes, failures and
 * passing time, under TestClock, leaves the breaker in the state the model says, refuses exactly
 * when the model does, and says how long to wait.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Either, TestClock } from "effect"
import * as FastCheck from "effect/FastCheck"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as OpenAiError from "../src/OpenAiError.js"

type Op = { readonly _tag: "Call"; readonly ok: boolean } | { readonly _tag: "Wait"; readonly millis: number }

const op: FastCheck.Arbitrary<Op> = FastCheck.oneof(
  FastCheck.boolean().map((ok): Op => ({ _tag: "Call", ok })),
  FastCheck.integer({ min: 1, max: 20_000 }).map((millis): Op => ({ _tag: "Wait", millis }))
)

interface Settings {
  readonly consecutive: number
  readonly openMillis: number
  readonly factor: number
  readonly maxMillis: number
}

const settings: FastCheck.Arbitrary<Settings> = FastCheck.record({
  consecutive: FastCheck.integer({ min: 1, max: 4 }),
  openMillis: FastCheck.integer({ min: 100, max: 10_000 }),
  factor: FastCheck.integer({ min: 1, max: 3 }),
  maxMillis: FastCheck.integer({ min: 10_000, max: 60_000 })
})

type Model =
  | { readonly _tag: "Closed"; readonly failures: number }
  | { readonly _tag: "Open"; readonly retryAt: number; readonly trips: number }
  | { readonly _tag: "HalfOpen"; readonly trips: number }

/** What a breaker with one probe should do: the rules of docs/limits.md, written plainly. */
const model = (s: Settings) => {
  const interval = (trips: number) => Math.min(s.maxMillis, s.openMillis * Math.pow(s.factor, trips - 1))
  const due = (m: Model, now: number): Model => m._tag === "Open" && now >= m.retryAt ? { _tag: "HalfOpen", trips: m.trips } : m
  const call = (m: Model, now: number, ok: boolean): { readonly next: Model; readonly refusedFor?: number } => {
    const current = due(m, now)
    switch (current._tag) {
      case "Open":
        return { next: current, refusedFor: current.retryAt - now }
      case "HalfOpen":
        return ok
          ? { next: { _tag: "Closed", failures: 0 } }
          : { next: { _tag: "Open", retryAt: now + interval(current.trips + 1), trips: current.trips + 1 } }
      case "Closed": {
        if (ok) return { next: { _tag: "Closed", failures: 0 } }
        const failures = current.failures + 1
        return failures >= s.consecutive
          ? { next: { _tag: "Open", retryAt: now + interval(1), trips: 1 } }
          : { next: { _tag: "Closed", failures } }
      }
    }
  }
  return { call, due }
}

const upstreamDown = new OpenAiError.ServerError({ message: "The server had an error processing your request." })

describe("CircuitBreaker: transitions", () => {
  it.scoped.prop(
    "follows the model over any sequence of calls and waits",
    [settings, FastCheck.array(op, { maxLength: 40 })],
    ([s, ops]) =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({
          consecutiveFailures: s.consecutive,
          openDuration: Duration.millis(s.openMillis),
          backoffFactor: s.factor,
          maxOpenDuration: Duration.millis(s.maxMillis)
        })
        const { call, due } = model(s)
        let state: Model = { _tag: "Closed", failures: 0 }
        let now = 0
        for (const step of ops) {
          if (step._tag === "Wait") {
            yield* TestClock.adjust(Duration.millis(step.millis))
            now += step.millis
            state = due(state, now)
          } else {
            const expected = call(state, now, step.ok)
            const result = yield* Effect.either(breaker(step.ok ? Effect.void : Effect.fail(upstreamDown)))
            if (expected.refusedFor === undefined) {
              assert.isTrue(Either.isRight(result) || result.left._tag === "ServerError", "admitted")
            } else {
              assert.isTrue(Either.isLeft(result) && result.left._tag === "CircuitOpen", "refused")
              if (Either.isLeft(result) && result.left._tag === "CircuitOpen") {
                assert.strictEqual(Duration.toMillis(result.left.retryAfter), expected.refusedFor)
              }
            }
            state = expected.next
          }
          const actual = yield* breaker.state
          assert.strictEqual(actual._tag, state._tag)
          if (actual._tag === "Closed" && state._tag === "Closed") assert.strictEqual(actual.failures, state.failures)
          if (actual._tag === "Open" && state._tag === "Open") {
            assert.strictEqual(actual.retryAt, state.retryAt)
            assert.strictEqual(actual.trips, state.trips)
          }
        }
      }),
    { fastCheck: { numRuns: 100 } }
  )
})
