import { describe, expect, it } from "@effect/vitest"
import {
  Array as Arr,
  Cause,
  Clock,
  Duration,
  Effect,
  Exit,
  FastCheck,
  Fiber,
  FiberRef,
  Logger,
  LogLevel,
  Metric,
  Option,
  Random,
  Ref,
  Schedule,
  TestClock
} from "effect"
import * as Examples from "../docs/examples/retries.js"
import * as Classify from "../src/Classify.js"
import * as OpenAiError from "../src/OpenAiError.js"
import * as RetryBudget from "../src/RetryBudget.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import { rateLimited, serverError } from "./support/errors.js"
import * as Fixtures from "./utils/fixtures.js"

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/**
 * A scripted upstream: `respond(n, now)` answers the n-th call (0-based). Records the Clock time
 * of every call so tests can read the exact delays.
 */
const upstream = <A>(respond: (n: number, now: number) => Effect.Effect<A, OpenAiError.OpenAiError>) =>
  Effect.map(Ref.make<ReadonlyArray<number>>([]), (calls) => ({
    calls: Ref.get(calls),
    call: Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const n = (yield* Ref.getAndUpdate(calls, (a) => [...a, now])).length
      return yield* respond(n, now)
    })
  }))

const alwaysFailing = (error: OpenAiError.OpenAiError) => upstream(() => Effect.fail(error))

const failingThen = (errors: ReadonlyArray<OpenAiError.OpenAiError>) =>
  upstream((n) => {
    const error = errors[n]
    return error === undefined ? Effect.succeed("ok") : Effect.fail(error)
  })

/** Runs `call` with `policy` in a fork, advances virtual time, returns the exit and decisions. */
const run = <A, R>(
  call: Effect.Effect<A, OpenAiError.OpenAiError>,
  policy: Schedule.Schedule<RetryPolicy.Decision, OpenAiError.OpenAiError, R>,
  options: { readonly random?: ReadonlyArray<number>; readonly advance?: Duration.DurationInput } = {}
) =>
  Effect.gen(function*() {
    const decisions = yield* Ref.make<ReadonlyArray<RetryPolicy.Decision>>([])
    const observed = policy.pipe(Schedule.tapOutput((d) => Ref.update(decisions, (a) => [...a, d])))
    const fiber = yield* Effect.retry(call, observed).pipe(
      Effect.withRandom(Random.fixed([...(options.random ?? [0.5])] as [number, ...Array<number>])),
      Effect.fork
    )
    yield* TestClock.adjust(options.advance ?? Duration.hours(1))
    const exit = yield* Fiber.await(fiber)
    return { exit, decisions: yield* Ref.get(decisions) }
  })

const delays = (decisions: ReadonlyArray<RetryPolicy.Decision>) =>
  decisions.flatMap((d) => d._tag === "Retry" ? [Duration.toMillis(d.delay)] : [])

const lastDecision = (decisions: ReadonlyArray<RetryPolicy.Decision>) => decisions[decisions.length - 1]

// ---------------------------------------------------------------------------------------------
// Delays
// ---------------------------------------------------------------------------------------------

describe("RetryPolicy delays", () => {
  it.effect("exact delays of a sequence with a fixed Random (full jitter, capped)", () =>
    Effect.gen(function*() {
      const { call, calls } = yield* alwaysFailing(serverError())
      const policy = RetryPolicy.make({ base: "1 second", factor: 2, maxDelay: "5 seconds", maxRetries: 5 })
      const { decisions, exit } = yield* run(call, policy, { random: [0.5] })
      // ceilings 1, 2, 4, 5 (cap), 5 s; half of each
      expect(delays(decisions)).toEqual([500, 1000, 2000, 2500, 2500])
      expect(yield* calls).toEqual([0, 500, 1500, 3500, 6000, 8500])
      expect(Exit.isFailure(exit)).toBe(true)
      expect(lastDecision(decisions)).toMatchObject({ _tag: "Stop", reason: "max-retries", attempt: 6 })
    }))

  it.effect("jitter draws through Random: different fixed values give different delays", () =>
    Effect.gen(function*() {
      const { call } = yield* alwaysFailing(serverError())
      const policy = RetryPolicy.make({ base: "1 second", maxRetries: 3 })
      const { decisions } = yield* run(call, policy, { random: [0, 1, 0.25] })
      expect(delays(decisions)).toEqual([0, 2000, 1000])
    }))

  it.effect("jitter none waits the ceiling", () =>
    Effect.gen(function*() {
      const { call } = yield* alwaysFailing(serverError())
      const policy = RetryPolicy.make({ base: "100 millis", factor: 3, maxRetries: 3, jitter: "none" })
      const { decisions } = yield* run(call, policy)
      expect(delays(decisions)).toEqual([100, 300, 900])
    }))

  it.effect("the default policy: 500 ms doubling, 5 retries, then the last error unchanged", () =>
    Effect.gen(function*() {
      const error = serverError()
      const { call, calls } = yield* alwaysFailing(error)
      const { decisions, exit } = yield* run(call, RetryPolicy.default, { random: [1] })
      expect(delays(decisions)).toEqual([500, 1000, 2000, 4000, 8000])
      expect((yield* calls).length).toBe(6)
      expect(exit).toEqual(Exit.fail(error))
      if (Exit.isFailure(exit)) {
        const failure = Option.getOrThrow(Cause.failureOption(exit.cause))
        expect(failure).toBe(error) // the same instance, not a copy or a wrapper
      }
    }))

  it.effect("succeeds as soon as the upstream does", () =>
    Effect.gen(function*() {
      const { call, calls } = yield* failingThen([serverError(), rateLimited()])
      const { exit } = yield* run(call, RetryPolicy.default)
      expect(exit).toEqual(Exit.succeed("ok"))
      expect((yield* calls).length).toBe(3)
    }))
})

// ---------------------------------------------------------------------------------------------
// Server hints
// ---------------------------------------------------------------------------------------------

describe("RetryPolicy server hints", () => {
  it.effect("a hint is waited as given (from retry-after-ms via Classify)", () =>
    Effect.gen(function*() {
      const error = Classify.classifyResponse({
        status: 429,
        headers: { "retry-after-ms": "1574" },
        body: JSON.stringify({
          error: { message: "Rate limit reached for requests", type: "requests", code: "rate_limit_exceeded" }
        }),
        now: 0
      })
      expect(error._tag).toBe("RateLimitReached")
      const { call, calls } = yield* failingThen([error])
      const { decisions, exit } = yield* run(call, RetryPolicy.default, { random: [0] })
      expect(exit).toEqual(Exit.succeed("ok"))
      expect(yield* calls).toEqual([0, 1574])
      expect(decisions[0]).toMatchObject({ _tag: "Retry", source: "retry-after-ms", capped: false, rule: "default" })
    }))

  it.effect("a hint shorter than the backoff is still waited as given: the backoff is for when there is no hint", () =>
    Effect.gen(function*() {
      const error = rateLimited({ retryAfter: Option.some(Duration.millis(1)), retryAfterSource: Option.some("retry-after-ms") })
      const { call, calls } = yield* failingThen([error])
      const { decisions } = yield* run(call, RetryPolicy.make({ base: "1 second" }), { random: [1] })
      expect(decisions[0]).toMatchObject({ _tag: "Retry", source: "retry-after-ms" })
      // 1 ms plus at most 10% of it: the 1 s backoff ceiling plays no part.
      expect(delays(decisions)).toEqual([1.1])
      expect(yield* calls).toEqual([0, 1.1])
    }))

  it.effect("the hint's jitter is at most 10% of the hint and at most 250 ms by default", () =>
    Effect.gen(function*() {
      const hinted = (ms: number) =>
        rateLimited({ retryAfter: Option.some(Duration.millis(ms)), retryAfterSource: Option.some("retry-after") })
      const top = (ms: number) =>
        Effect.flatMap(failingThen([hinted(ms)]), ({ call }) => run(call, RetryPolicy.default, { random: [1] }))
      expect(delays((yield* top(500)).decisions)).toEqual([550])
      expect(delays((yield* top(2_000)).decisions)).toEqual([2_200])
      expect(delays((yield* top(20_000)).decisions)).toEqual([20_250])
    }))

  it.effect("hintJitter changes the bound; { ratio: 0 } waits every hint exactly", () =>
    Effect.gen(function*() {
      const error = rateLimited({ retryAfter: Option.some(Duration.seconds(10)), retryAfterSource: Option.some("retry-after") })
      const wide = yield* failingThen([error])
      const a = yield* run(wide.call, RetryPolicy.make({ hintJitter: { ratio: 0.5, max: "2 seconds" } }), { random: [1] })
      expect(delays(a.decisions)).toEqual([12_000])
      const exact = yield* failingThen([error])
      const b = yield* run(exact.call, RetryPolicy.make({ hintJitter: { ratio: 0 } }), { random: [1] })
      expect(delays(b.decisions)).toEqual([10_000])
      // Nonsense is an InvalidOptions naming the field, as for every option.
      const bad = RetryPolicy.make({ hintJitter: { ratio: -1, max: Number.NaN } })
      expect(Option.map(RetryPolicy.invalidOptions(bad), (e) => e.field)).toEqual(Option.some("hintJitter.ratio"))
    }))

  it.effect.prop(
    "a hint is never shortened and at most min(10%, 250 ms) longer, for any random draw",
    [FastCheck.double({ min: 0, max: 1, noNaN: true }), FastCheck.integer({ min: 0, max: 60_000 })],
    ([r, hintMs]) =>
      Effect.gen(function*() {
        const error = rateLimited({
          retryAfter: Option.some(Duration.millis(hintMs)),
          retryAfterSource: Option.some("retry-after")
        })
        const { call, calls } = yield* failingThen([error])
        const { decisions } = yield* run(call, RetryPolicy.default, { random: [r] })
        const [delay] = delays(decisions)
        expect(delay).toBeGreaterThanOrEqual(hintMs)
        expect(delay).toBeLessThanOrEqual(hintMs + Math.min(hintMs * 0.1, 250))
        const [, second] = yield* calls
        expect(second).toBeGreaterThanOrEqual(hintMs)
      })
  )

  it.effect("a hint above maxServerDelay fails fast by default: one attempt, the typed error out", () =>
    Effect.gen(function*() {
      const error = Classify.classifyResponse({
        status: 429,
        headers: { "retry-after": "7200" },
        body: JSON.stringify({ error: { message: "Rate limit reached", type: "requests", code: "rate_limit_exceeded" } }),
        now: 0
      })
      const { call, calls } = yield* alwaysFailing(error)
      const { decisions, exit } = yield* run(call, RetryPolicy.default, { advance: Duration.hours(3) })
      expect(exit).toEqual(Exit.fail(error))
      expect(yield* calls).toEqual([0])
      expect(decisions).toHaveLength(1)
      expect(decisions[0]).toMatchObject({ _tag: "Stop", reason: "hint-above-cap", attempt: 1 })
    }))

  it.effect("a hint above maxServerDelay in cap mode waits the cap and says so", () =>
    Effect.gen(function*() {
      const error = rateLimited({ retryAfter: Option.some(Duration.hours(2)), retryAfterSource: Option.some("retry-after") })
      const { call, calls } = yield* failingThen([error])
      const policy = RetryPolicy.make({ maxServerDelay: "30 seconds", onLongServerDelay: "cap" })
      const { decisions, exit } = yield* run(call, policy)
      expect(exit).toEqual(Exit.succeed("ok"))
      expect(yield* calls).toEqual([0, 30_000])
      expect(decisions[0]).toMatchObject({ _tag: "Retry", capped: true, source: "retry-after" })
    }))

  it.effect("a hint below the cap is unaffected by the cap mode", () =>
    Effect.gen(function*() {
      const error = rateLimited({ retryAfter: Option.some(Duration.seconds(20)), retryAfterSource: Option.some("retry-after") })
      const { call, calls } = yield* failingThen([error])
      const { exit } = yield* run(call, RetryPolicy.make({ onLongServerDelay: "cap" }), { random: [0] })
      expect(exit).toEqual(Exit.succeed("ok"))
      expect(yield* calls).toEqual([0, 20_000])
    }))
})

// ---------------------------------------------------------------------------------------------
// Decisions by tag
// ---------------------------------------------------------------------------------------------

const never: ReadonlyArray<OpenAiError.OpenAiError> = [
  new OpenAiError.QuotaExceeded({ message: "You exceeded your current quota", status: Option.some(429) }),
  new OpenAiError.RequestTooLarge({ message: "Request too large", limit: Option.none(), requested: Option.none() }),
  new OpenAiError.InvalidAuthentication({ message: "Missing bearer" }),
  new OpenAiError.IncorrectApiKey({ message: "Incorrect API key provided" }),
  new OpenAiError.NoOrganization({ message: "You must be a member of an organization" }),
  new OpenAiError.UnsupportedRegion({ message: "Country, region, or territory not supported" }),
  new OpenAiError.PermissionDenied({ message: "Forbidden" }),
  new OpenAiError.BadRequest({ message: "Invalid value" }),
  new OpenAiError.ContextLengthExceeded({ message: "maximum context length" }),
  new OpenAiError.NotFound({ message: "The model does not exist" }),
  new OpenAiError.ResponseDecodeError({ message: "Expected JSON", path: "", issue: "x", body: "<html>" }),
  new OpenAiError.UnexpectedStatus({ message: "I'm a teapot", status: Option.some(418) })
]

const always: ReadonlyArray<OpenAiError.OpenAiError> = [
  rateLimited(),
  new OpenAiError.EngineOverloaded({ message: "The engine is currently overloaded", status: Option.some(503) }),
  serverError(),
  new OpenAiError.UnexpectedStatus({ message: "Request Timeout", status: Option.some(408) }),
  new OpenAiError.Conflict({ message: "Conflict" }),
  new OpenAiError.ConnectionError({
    message: "socket hang up",
    cause: new Error("socket hang up"),
    errorCode: Option.some("ECONNRESET"),
    received: Option.none()
  }),
  new OpenAiError.TimeoutError({ message: "No headers", phase: "headers", timeout: Duration.seconds(30) })
]

describe("RetryPolicy decisions", () => {
  it.effect.each(never.map((e) => [e._tag, e] as const))("%s fails after exactly one attempt", ([, error]) =>
    Effect.gen(function*() {
      const { call, calls } = yield* alwaysFailing(error)
      const { decisions, exit } = yield* run(call, RetryPolicy.default)
      expect(exit).toEqual(Exit.fail(error))
      expect((yield* calls).length).toBe(1)
      expect(decisions).toEqual([expect.objectContaining({ _tag: "Stop", reason: "not-retryable" })])
    }))

  it.effect.each(always.map((e) => [e._tag, e] as const))("%s is retried up to maxRetries", ([, error]) =>
    Effect.gen(function*() {
      const { call, calls } = yield* alwaysFailing(error)
      const { exit } = yield* run(call, RetryPolicy.make({ maxRetries: 3 }))
      expect(exit).toEqual(Exit.fail(error))
      expect((yield* calls).length).toBe(4)
    }))

  it.effect("the policy's first decision agrees with error.retryable for every tag (one rule)", () =>
    Effect.gen(function*() {
      const all = [...always, ...never, new OpenAiError.UnprocessableEntity({ message: "field required" })]
      expect(new Set(all.map((e) => e._tag))).toEqual(new Set(OpenAiError.tags))
      for (const error of all) {
        const { call } = yield* alwaysFailing(error)
        const { decisions } = yield* run(call, RetryPolicy.make({ maxRetries: 1 }))
        expect([error._tag, decisions[0]?._tag]).toEqual([error._tag, error.retryable ? "Retry" : "Stop"])
      }
    }))

  it.effect("UnprocessableEntity is retried at most once", () =>
    Effect.gen(function*() {
      const { call, calls } = yield* alwaysFailing(new OpenAiError.UnprocessableEntity({ message: "field required" }))
      const { decisions } = yield* run(call, RetryPolicy.default)
      expect((yield* calls).length).toBe(2)
      expect(lastDecision(decisions)).toMatchObject({ _tag: "Stop", reason: "tag-limit" })
    }))

  it.effect("x-should-retry: true retries what the default would not (via Classify)", () =>
    Effect.gen(function*() {
      const error = Classify.classifyResponse({
        status: 429,
        headers: { "x-should-retry": "true" },
        body: JSON.stringify({
          error: { message: "You exceeded your current quota", type: "insufficient_quota", code: "insufficient_quota" }
        }),
        now: 0
      })
      expect(error._tag).toBe("QuotaExceeded")
      const { call, calls } = yield* failingThen([error])
      const { exit } = yield* run(call, RetryPolicy.default)
      expect(exit).toEqual(Exit.succeed("ok"))
      expect((yield* calls).length).toBe(2)
    }))

  it.effect("x-should-retry: false stops what the default would retry", () =>
    Effect.gen(function*() {
      const error = Classify.classifyResponse({
        status: 500,
        headers: { "x-should-retry": "false" },
        body: JSON.stringify({ error: { message: "The server had an error", type: "server_error", code: null } }),
        now: 0
      })
      expect(error._tag).toBe("ServerError")
      const { call, calls } = yield* alwaysFailing(error)
      const { decisions } = yield* run(call, RetryPolicy.default)
      expect((yield* calls).length).toBe(1)
      expect(decisions[0]).toMatchObject({ _tag: "Stop", reason: "server-refused" })
    }))

  it.effect("honorShouldRetry: false ignores the server's verdict", () =>
    Effect.gen(function*() {
      const { call, calls } = yield* alwaysFailing(serverError({ shouldRetry: Option.some(false) }))
      yield* run(call, RetryPolicy.make({ honorShouldRetry: false, maxRetries: 2 }))
      expect((yield* calls).length).toBe(3)
    }))

  it.effect("perTag: times limits a tag, turns a never-retried tag on, and times: 0 beats the server", () =>
    Effect.gen(function*() {
      const policy = RetryPolicy.make({
        perTag: { RateLimitReached: { times: 2 }, QuotaExceeded: { times: 1 }, ServerError: { times: 0 } }
      })
      const limited = yield* alwaysFailing(rateLimited())
      const a = yield* run(limited.call, policy)
      expect((yield* limited.calls).length).toBe(3)
      expect(lastDecision(a.decisions)).toMatchObject({ reason: "tag-limit" })

      const quota = yield* alwaysFailing(new OpenAiError.QuotaExceeded({ message: "quota" }))
      yield* run(quota.call, policy)
      expect((yield* quota.calls).length).toBe(2)

      const forbidden = yield* alwaysFailing(serverError({ shouldRetry: Option.some(true) }))
      yield* run(forbidden.call, policy)
      expect((yield* forbidden.calls).length).toBe(1)
    }))

  it.effect("per-tag counts are separate, maxRetries bounds the total", () =>
    Effect.gen(function*() {
      const policy = RetryPolicy.make({ maxRetries: 3, perTag: { RateLimitReached: { times: 1 }, ServerError: { times: 1 } } })
      const { call, calls } = yield* failingThen([rateLimited(), serverError(), serverError()])
      const { decisions } = yield* run(call, policy)
      expect((yield* calls).length).toBe(3)
      expect(lastDecision(decisions)).toMatchObject({ _tag: "Stop", tag: "ServerError", reason: "tag-limit" })
    }))
})

// ---------------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------------

describe("RetryPolicy limits", () => {
  it.effect("maxRetries stops retries", () =>
    Effect.gen(function*() {
      const { call, calls } = yield* alwaysFailing(serverError())
      const { decisions } = yield* run(call, RetryPolicy.make({ maxRetries: 2 }))
      expect((yield* calls).length).toBe(3)
      expect(lastDecision(decisions)).toMatchObject({ _tag: "Stop", reason: "max-retries", attempt: 3 })
    }))

  it.effect("maxRetries: 0 never retries", () =>
    Effect.gen(function*() {
      const { call, calls } = yield* alwaysFailing(serverError())
      yield* run(call, RetryPolicy.make({ maxRetries: 0 }))
      expect((yield* calls).length).toBe(1)
    }))

  it.effect("the deadline stops retries before a wait that would end past it", () =>
    Effect.gen(function*() {
      const { call, calls } = yield* alwaysFailing(serverError())
      const policy = RetryPolicy.make({ base: "1 second", jitter: "none", deadline: "5 seconds", maxRetries: 100 })
      const { decisions } = yield* run(call, policy)
      // waits 1 s then 2 s; the next (4 s) would end at 7 s > 5 s
      expect(yield* calls).toEqual([0, 1000, 3000])
      expect(lastDecision(decisions)).toMatchObject({ _tag: "Stop", reason: "deadline" })
      expect(Option.map(Option.fromNullable(lastDecision(decisions)), (d) => Duration.toMillis(d.elapsed))).toEqual(
        Option.some(3000)
      )
    }))

  it.effect("under RetryPolicy.retry the deadline counts from the start of the first attempt", () =>
    Effect.gen(function*() {
      const policy = RetryPolicy.make({ base: "1 second", jitter: "none", deadline: "8 seconds", maxRetries: 100 })
      // Every attempt takes 3 s before it fails.
      const slow = (calls: Ref.Ref<number>) =>
        Effect.zipRight(
          Effect.zipRight(Ref.update(calls, (n) => n + 1), Effect.sleep("3 seconds")),
          Effect.fail(serverError())
        )
      const viaRetry = yield* Ref.make(0)
      const a = yield* Effect.fork(RetryPolicy.retry(slow(viaRetry), policy))
      const viaEffect = yield* Ref.make(0)
      const b = yield* Effect.fork(Effect.retry(slow(viaEffect), policy))
      yield* TestClock.adjust("1 minute")
      yield* Fiber.await(a)
      yield* Fiber.await(b)
      // from 0: fails at 3 s, retries at 4 s, fails at 7 s; 7 + 2 > 8: stop
      expect(yield* Ref.get(viaRetry)).toBe(2)
      // from the first failure (3 s): the second fails 4 s later, 4 + 2 <= 8: one more
      expect(yield* Ref.get(viaEffect)).toBe(3)
    }))

  it.effect("the budget stops retries, and is shared between calls", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make({ capacity: 10, retryCost: 5 })
      const policy = RetryPolicy.make({ budget: true })
      const first = yield* alwaysFailing(serverError())
      const a = yield* run(first.call, policy).pipe(Effect.provideService(RetryBudget.RetryBudget, budget))
      expect((yield* first.calls).length).toBe(3)
      expect(lastDecision(a.decisions)).toMatchObject({ _tag: "Stop", reason: "budget" })
      expect(yield* budget.tokens).toBe(0)

      const second = yield* alwaysFailing(serverError())
      yield* run(second.call, policy).pipe(Effect.provideService(RetryBudget.RetryBudget, budget))
      expect((yield* second.calls).length).toBe(1)
    }))

  it.effect("successes through RetryPolicy.retry earn tokens back; transport retries cost more", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make({ capacity: 20, retryCost: 5, transportRetryCost: 10, successRefund: 2 })
      const timeout = new OpenAiError.TimeoutError({ message: "slow", phase: "headers", timeout: Duration.seconds(1) })
      const { call } = yield* failingThen([timeout, serverError()])
      const fiber = yield* RetryPolicy.retry(call, RetryPolicy.withBudget(RetryPolicy.default)).pipe(
        Effect.provideService(RetryBudget.RetryBudget, budget),
        Effect.fork
      )
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.join(fiber)).toBe("ok")
      // 20 - 10 (timeout) - 5 (server error) + 2 (success)
      expect(yield* budget.tokens).toBe(7)
    }))

  it.effect("the budget never refills above its capacity", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make({ capacity: 3, successRefund: 1 })
      const ok = Effect.succeed(1)
      yield* Effect.repeatN(RetryBudget.track(ok), 10).pipe(Effect.provideService(RetryBudget.RetryBudget, budget))
      expect(yield* budget.tokens).toBe(3)
    }))

  it.effect("interrupting during a backoff stops at once; no attempt starts after", () =>
    Effect.gen(function*() {
      const { call, calls } = yield* alwaysFailing(serverError())
      const policy = RetryPolicy.make({ base: "10 seconds", jitter: "none" })
      const fiber = yield* Effect.fork(Effect.retry(call, policy))
      yield* TestClock.adjust("1 second")
      expect(yield* calls).toEqual([0])
      // Fiber.interrupt returns only when the fiber is done: no virtual time passes meanwhile.
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(yield* Clock.currentTimeMillis).toBe(1000)
      yield* TestClock.adjust("1 hour")
      expect(yield* calls).toEqual([0])
    }))

  it.effect("a policy rides out one virtual hour of outage in milliseconds", () =>
    Effect.gen(function*() {
      const hour = 3_600_000
      const { call, calls } = yield* upstream((_, now) => now < hour ? Effect.fail(serverError()) : Effect.succeed("back"))
      const policy = RetryPolicy.make({
        maxRetries: Number.POSITIVE_INFINITY,
        deadline: "2 hours",
        maxDelay: "1 minute",
        base: "1 second"
      })
      const started = Date.now()
      const { exit } = yield* run(call, policy, { random: [1], advance: Duration.minutes(62) })
      const realMillis = Date.now() - started
      expect(exit).toEqual(Exit.succeed("back"))
      const times = yield* calls
      expect(times[times.length - 1]).toBeGreaterThanOrEqual(hour)
      expect(times[times.length - 1]).toBeLessThanOrEqual(hour + 60_000)
      expect(realMillis).toBeLessThan(5_000)
    }))

  it.effect("invalid options are an InvalidOptions naming the field, and the policy retries nothing", () =>
    Effect.gen(function*() {
      const { call, calls } = yield* alwaysFailing(serverError())
      const policy = RetryPolicy.make({ maxRetries: -3, factor: Number.NaN })
      const invalid = Option.getOrThrow(RetryPolicy.invalidOptions(policy))
      expect([invalid._tag, invalid.module, invalid.field, invalid.value]).toEqual(["InvalidOptions", "RetryPolicy", "maxRetries", "-3"])
      yield* run(call, policy, { random: [1] })
      expect((yield* calls).length).toBe(1)
      expect(RetryPolicy.invalidOptions(RetryPolicy.make({ maxRetries: 3 }))).toEqual(Option.none())
    }))
})

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const pool: ReadonlyArray<OpenAiError.OpenAiError> = [
  ...never,
  ...always,
  new OpenAiError.UnprocessableEntity({ message: "field required" }),
  rateLimited({ retryAfter: Option.some(Duration.millis(1574)), retryAfterSource: Option.some("message") }),
  rateLimited({ retryAfter: Option.some(Duration.seconds(90)), retryAfterSource: Option.some("retry-after") }),
  serverError({ shouldRetry: Option.some(false) }),
  new OpenAiError.QuotaExceeded({ message: "quota", shouldRetry: Option.some(true) })
]

describe("RetryPolicy properties", () => {
  it.effect.prop(
    "whatever fails, the limits hold: attempts, hints, caps, deadline",
    [
      FastCheck.array(FastCheck.integer({ min: 0, max: pool.length - 1 }), { maxLength: 12 }),
      FastCheck.record({
        maxRetries: FastCheck.integer({ min: 0, max: 8 }),
        base: FastCheck.integer({ min: 0, max: 2_000 }),
        factor: FastCheck.double({ min: 1, max: 4, noNaN: true }),
        maxDelay: FastCheck.integer({ min: 0, max: 20_000 }),
        deadline: FastCheck.integer({ min: 0, max: 120_000 }),
        maxServerDelay: FastCheck.integer({ min: 0, max: 60_000 }),
        onLongServerDelay: FastCheck.constantFrom("fail" as const, "cap" as const)
      }),
      FastCheck.array(FastCheck.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 5 }),
      // Per-tag and per-category Schedules are bounded by the same limits.
      FastCheck.constantFrom<Pick<RetryPolicy.Options, "perTag" | "perCategory">>(
        {},
        { perTag: { RateLimitReached: Schedule.spaced("45 seconds"), ServerError: Schedule.recurs(2) } },
        { perCategory: { InternalServerError: Schedule.exponential("300 millis"), RateLimitError: Schedule.fibonacci("1 second") } },
        { perTag: { QuotaExceeded: Schedule.spaced("1 second") }, perCategory: { APIConnectionError: { times: 1 } } }
      )
    ],
    ([indices, options, random, rules]) =>
      Effect.gen(function*() {
        const errors = indices.flatMap((i) => pool[i] === undefined ? [] : [pool[i]])
        const { call, calls } = yield* failingThen(errors)
        const policy = RetryPolicy.make({ ...options, ...rules, budget: false })
        const { decisions, exit } = yield* run(call, policy, { random, advance: Duration.hours(2) })
        const attempts = (yield* calls).length
        expect(attempts).toBeLessThanOrEqual(options.maxRetries + 1)
        expect(decisions).toHaveLength(Exit.isSuccess(exit) ? attempts - 1 : attempts)
        decisions.forEach((d, i) => {
          const error = errors[i]
          expect(d.tag).toBe(error?._tag)
          expect(d.attempt).toBe(i + 1)
          if (d._tag === "Retry") {
            const delay = Duration.toMillis(d.delay)
            const hint = Option.map(d.hint, Duration.toMillis)
            if (d.capped) expect(delay).toBeGreaterThanOrEqual(options.maxServerDelay)
            else if (Option.isSome(hint)) expect(delay).toBeGreaterThanOrEqual(hint.value)
            expect(delay).toBeLessThanOrEqual(Math.max(options.maxDelay, options.maxServerDelay))
            expect(Duration.toMillis(d.elapsed) + delay).toBeLessThanOrEqual(options.deadline)
            expect(error?.shouldRetry).not.toEqual(Option.some(false))
          }
        })
        // The error that stopped the policy is the one that comes out.
        if (Exit.isFailure(exit)) expect(Cause.failureOption(exit.cause)).toEqual(Option.some(errors[attempts - 1]))
      }),
    { fastCheck: { numRuns: 60 } }
  )
})

// ---------------------------------------------------------------------------------------------
// Observability
// ---------------------------------------------------------------------------------------------

describe("RetryPolicy observability", () => {
  it.effect("each retry logs at debug, adds a span event, and counts by tag; attempts are readable", () =>
    Effect.gen(function*() {
      const lines = yield* Ref.make<ReadonlyArray<string>>([])
      const logger = Logger.make(({ logLevel, message }) => {
        Effect.runSync(Ref.update(lines, (a) => [...a, `${logLevel.label} ${String(Arr.ensure(message)[0])}`]))
      })
      const counter = RetryPolicy.retriesTotal.pipe(
        Metric.tagged("error_tag", "EngineOverloaded"),
        Metric.tagged("source", "backoff")
      )
      const before = (yield* Metric.value(counter)).count
      const overloaded = new OpenAiError.EngineOverloaded({ message: "overloaded", status: Option.some(503) })
      const { call } = yield* failingThen([overloaded, overloaded])
      const fiber = yield* Effect.gen(function*() {
        const value = yield* RetryPolicy.retry(call, RetryPolicy.default)
        const span = yield* Effect.currentSpan
        return { value, attempts: yield* FiberRef.get(RetryPolicy.lastAttempts), span }
      }).pipe(
        Effect.withSpan("chat"),
        Effect.withRandom(Random.fixed([1])),
        Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
        Logger.withMinimumLogLevel(LogLevel.Debug),
        Effect.fork
      )
      yield* TestClock.adjust("1 minute")
      const { attempts, span, value } = yield* Fiber.join(fiber)
      expect(value).toBe("ok")
      expect(attempts).toBe(3)
      expect((yield* Metric.value(counter)).count - before).toBe(2)
      expect(yield* Ref.get(lines)).toEqual([
        "DEBUG EngineOverloaded on attempt 1; retrying in 500ms (backoff)",
        "DEBUG EngineOverloaded on attempt 2; retrying in 1s (backoff)"
      ])
      // Log lines become span events too; keep the policy's own.
      const events = ("events" in span && Array.isArray(span.events) ? span.events : []).filter(
        (e: ReadonlyArray<unknown>) => typeof e[0] === "string" && e[0].startsWith("openai.")
      )
      expect(events.map((e: ReadonlyArray<unknown>) => e[0])).toEqual(["openai.retry", "openai.retry"])
      expect(events[0]?.[2]).toMatchObject({
        "openai.retry.error_tag": "EngineOverloaded",
        "openai.retry.attempt": 1,
        "openai.retry.rule": "default",
        "openai.retry.delay_ms": 500
      })
      expect(span.attributes.get("openai.retry.attempts")).toBe(3)
    }))

  it.effect("lastAttempts is set on failure too; the stop is counted by reason", () =>
    Effect.gen(function*() {
      const counter = RetryPolicy.stopsTotal.pipe(
        Metric.tagged("error_tag", "QuotaExceeded"),
        Metric.tagged("reason", "not-retryable")
      )
      const before = (yield* Metric.value(counter)).count
      const { call } = yield* alwaysFailing(new OpenAiError.QuotaExceeded({ message: "quota" }))
      const error = yield* Effect.flip(RetryPolicy.retry(call, RetryPolicy.default))
      expect(error._tag).toBe("QuotaExceeded")
      expect(yield* FiberRef.get(RetryPolicy.lastAttempts)).toBe(1)
      expect((yield* Metric.value(counter)).count - before).toBe(1)
    }))

  it.effect("Effect.retryOrElse receives the final decision", () =>
    Effect.gen(function*() {
      const { call } = yield* alwaysFailing(serverError())
      const fiber = yield* Effect.retryOrElse(call, RetryPolicy.make({ maxRetries: 1 }), (_, decision) =>
        Effect.succeed(decision)).pipe(Effect.fork)
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.join(fiber)).toMatchObject({ _tag: "Stop", reason: "max-retries", attempt: 2 })
    }))
})

// ---------------------------------------------------------------------------------------------
// The official SDK baseline
// ---------------------------------------------------------------------------------------------

describe("RetryPolicy.officialSdk", () => {
  it.effect("2 retries, min(0.5 * 2^n, 8) s minus up to 25% jitter", () =>
    Effect.gen(function*() {
      const { call, calls } = yield* alwaysFailing(serverError())
      const { decisions } = yield* run(call, RetryPolicy.officialSdk, { random: [1] })
      expect(delays(decisions)).toEqual([375, 750])
      expect((yield* calls).length).toBe(3)
    }))

  it.effect("retries a quota 429 like any 429, but not a status-less stream error", () =>
    Effect.gen(function*() {
      const quota = yield* alwaysFailing(new OpenAiError.QuotaExceeded({ message: "quota", status: Option.some(429) }))
      yield* run(quota.call, RetryPolicy.officialSdk)
      expect((yield* quota.calls).length).toBe(3)
      const stream = yield* alwaysFailing(new OpenAiError.ServerError({ message: "stream error" }))
      yield* run(stream.call, RetryPolicy.officialSdk)
      expect((yield* stream.calls).length).toBe(1)
    }))

  it.effect("honours retry-after below 60 s, falls back to backoff above, ignores message hints", () =>
    Effect.gen(function*() {
      const short = rateLimited({ retryAfter: Option.some(Duration.seconds(20)), retryAfterSource: Option.some("retry-after") })
      const long = rateLimited({ retryAfter: Option.some(Duration.seconds(90)), retryAfterSource: Option.some("retry-after") })
      const message = rateLimited({ retryAfter: Option.some(Duration.seconds(5)), retryAfterSource: Option.some("message") })
      const { call } = yield* failingThen([short, long])
      const a = yield* run(call, RetryPolicy.officialSdk, { random: [0] })
      expect(delays(a.decisions)).toEqual([20_000, 1000])
      const other = yield* failingThen([message])
      const b = yield* run(other.call, RetryPolicy.officialSdk, { random: [0] })
      expect(delays(b.decisions)).toEqual([500])
    }))
})

// ---------------------------------------------------------------------------------------------
// Recorded errors
// ---------------------------------------------------------------------------------------------

describe.skipIf(!Fixtures.fixturesAvailable)("RetryPolicy on recorded errors (../shared/fixtures/openai/errors)", () => {
  // Attempts each policy makes against an upstream that keeps sending the recorded response, and
  // the first wait (with Random.fixed([1])).
  const expected: Record<string, { readonly attempts: number; readonly sdkAttempts: number; readonly firstWait?: number }> = {
    "401_invalid_api_key.json": { attempts: 1, sdkAttempts: 1 },
    "401_no_organization.json": { attempts: 1, sdkAttempts: 1 },
    "403_unsupported_country_region_territory.json": { attempts: 1, sdkAttempts: 1 },
    // The SDK retries an exhausted quota like any 429; waiting never adds credit.
    "429_insufficient_quota.json": { attempts: 1, sdkAttempts: 3 },
    // "Please try again in 20s": the hint replaces the backoff, plus at most 250 ms of jitter.
    "429_rate_limit_requests_rpm.json": { attempts: 6, sdkAttempts: 3, firstWait: 20_250 },
    "500_server_error.json": { attempts: 6, sdkAttempts: 3, firstWait: 500 },
    "503_model_overloaded.json": { attempts: 6, sdkAttempts: 3, firstWait: 500 }
  }
  const files = Fixtures.list("openai/errors").filter((f) => f.endsWith(".json"))

  it.effect("has fixtures to check", () => Effect.sync(() => expect(files.length).toBeGreaterThan(0)))

  it.effect.each(files)("%s", (file) =>
    Effect.gen(function*() {
      const fixture = Fixtures.readJson(`openai/errors/${file}`) as {
        readonly status: number
        readonly headers: Record<string, string>
        readonly body: unknown
      }
      const error = Classify.classifyResponse({
        status: fixture.status,
        headers: fixture.headers,
        body: JSON.stringify(fixture.body),
        now: 0
      })
      const want = expected[file]
      const ours = yield* alwaysFailing(error)
      const a = yield* run(ours.call, RetryPolicy.default, { random: [1], advance: Duration.minutes(10) })
      const sdk = yield* alwaysFailing(error)
      yield* run(sdk.call, RetryPolicy.officialSdk, { random: [1], advance: Duration.minutes(10) })
      expect(a.exit).toEqual(Exit.fail(error))
      // A recording without an expectation still must not be retried past the limits.
      expect((yield* ours.calls).length).toBeLessThanOrEqual(6)
      if (want === undefined) return
      expect((yield* ours.calls).length).toBe(want.attempts)
      expect((yield* sdk.calls).length).toBe(want.sdkAttempts)
      if (want.firstWait !== undefined) expect(delays(a.decisions)[0]).toBe(want.firstWait)
    }))
})

// ---------------------------------------------------------------------------------------------
// docs/examples/retries.ts
// ---------------------------------------------------------------------------------------------

describe("docs/examples/retries.ts", () => {
  it.effect("exact waits under TestClock", () => Examples.checkExactWaits)
  it.effect("server hints", () => Examples.checkServerHints)
  it.effect("the usage examples run", () =>
    Effect.gen(function*() {
      expect(yield* Examples.simplest).toBe("Hello!")
      expect(yield* Examples.withBudget).toBe("Hello!")
      expect(yield* Examples.explained).toBe("Hello!")
      expect(yield* Examples.counted).toEqual({ text: "Hello!", attempts: 1 })
      expect(Examples.tuned.options.maxRetries).toBe(6)
    }))
})

// ---------------------------------------------------------------------------------------------
// A Schedule per tag or category
// ---------------------------------------------------------------------------------------------

const exponential3 = Schedule.exponential("200 millis").pipe(Schedule.intersect(Schedule.recurs(3)))

const hinted = (ms: number, input: Partial<OpenAiError.Input> = {}) =>
  rateLimited({ retryAfter: Option.some(Duration.millis(ms)), retryAfterSource: Option.some("retry-after-ms"), ...input })

describe("RetryPolicy per-tag and per-category Schedules", () => {
  it.effect("a per-tag Schedule sets the delays and the number of retries, and the Decision names it", () =>
    Effect.gen(function*() {
      const { call, calls } = yield* alwaysFailing(serverError())
      const policy = RetryPolicy.make({ perTag: { ServerError: exponential3 } })
      const { decisions } = yield* run(call, policy)
      expect(delays(decisions)).toEqual([200, 400, 800])
      expect(yield* calls).toEqual([0, 200, 600, 1400])
      expect(decisions.map((d) => [d._tag, d.rule, d._tag === "Retry" ? d.source : d.reason])).toEqual([
        ["Retry", "perTag.ServerError", "schedule"],
        ["Retry", "perTag.ServerError", "schedule"],
        ["Retry", "perTag.ServerError", "schedule"],
        ["Stop", "perTag.ServerError", "schedule-done"]
      ])
    }))

  it.effect("other tags keep the default rule beside a per-tag Schedule", () =>
    Effect.gen(function*() {
      const { call } = yield* failingThen([serverError(), rateLimited()])
      const policy = RetryPolicy.make({ jitter: "none", perTag: { ServerError: exponential3 } })
      const { decisions } = yield* run(call, policy)
      expect(decisions.map((d) => d.rule)).toEqual(["perTag.ServerError", "default"])
      // The default's backoff counts retries over all tags: the second retry's ceiling is 1 s.
      expect(delays(decisions)).toEqual([200, 1000])
    }))

  it.effect("a hint longer than the Schedule's delay wins (plus its bounded jitter)", () =>
    Effect.gen(function*() {
      const { call, calls } = yield* failingThen([hinted(1_000)])
      const policy = RetryPolicy.make({ perTag: { RateLimitReached: exponential3 } })
      const { decisions } = yield* run(call, policy, { random: [0] })
      expect(yield* calls).toEqual([0, 1_000])
      expect(decisions[0]).toMatchObject({ source: "retry-after-ms", rule: "perTag.RateLimitReached", backoff: Duration.millis(200) })
    }))

  it.effect("a Schedule's delay longer than the hint wins: it is what the user asked for", () =>
    Effect.gen(function*() {
      const { call, calls } = yield* failingThen([hinted(50)])
      const policy = RetryPolicy.make({ perTag: { RateLimitReached: Schedule.spaced("2 seconds") } })
      const { decisions } = yield* run(call, policy, { random: [1] })
      expect(yield* calls).toEqual([0, 2_000])
      expect(decisions[0]).toMatchObject({ source: "schedule" })
    }))

  it.effect("a hint above maxServerDelay stops (fail) or waits the cap (cap), with a Schedule too", () =>
    Effect.gen(function*() {
      const long = hinted(90_000)
      const failing = yield* alwaysFailing(long)
      const a = yield* run(failing.call, RetryPolicy.make({ perTag: { RateLimitReached: exponential3 } }))
      expect(a.decisions).toEqual([
        expect.objectContaining({ _tag: "Stop", reason: "hint-above-cap", rule: "perTag.RateLimitReached" })
      ])
      const capping = yield* failingThen([long])
      const policy = RetryPolicy.make({
        maxServerDelay: "30 seconds",
        onLongServerDelay: "cap",
        perTag: { RateLimitReached: exponential3 }
      })
      const b = yield* run(capping.call, policy)
      const [sent = 0, resent = 0] = yield* capping.calls
      expect(resent - sent).toBe(30_000)
      expect(b.decisions[0]).toMatchObject({ capped: true, source: "retry-after-ms" })
    }))

  it.effect("maxDelay bounds a Schedule's delay as it bounds the backoff", () =>
    Effect.gen(function*() {
      const { call, calls } = yield* failingThen([serverError()])
      const policy = RetryPolicy.make({ maxDelay: "3 seconds", perTag: { ServerError: Schedule.spaced("1 minute") } })
      yield* run(call, policy)
      expect(yield* calls).toEqual([0, 3_000])
    }))

  it.effect("the deadline and maxRetries still bound a Schedule that would go on", () =>
    Effect.gen(function*() {
      const forever = Schedule.spaced("1 second")
      const a = yield* alwaysFailing(serverError())
      const byDeadline = yield* run(a.call, RetryPolicy.make({ deadline: "3500 millis", perTag: { ServerError: forever } }))
      expect(yield* a.calls).toEqual([0, 1_000, 2_000, 3_000])
      expect(lastDecision(byDeadline.decisions)).toMatchObject({ reason: "deadline", rule: "perTag.ServerError" })
      const b = yield* alwaysFailing(serverError())
      const byCount = yield* run(b.call, RetryPolicy.make({ maxRetries: 2, perTag: { ServerError: forever } }))
      expect((yield* b.calls).length).toBe(3)
      expect(lastDecision(byCount.decisions)).toMatchObject({ reason: "max-retries" })
    }))

  it.effect("the budget still gates a Schedule's retries", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make({ capacity: 10, retryCost: 5 })
      const { call, calls } = yield* alwaysFailing(serverError())
      const policy = RetryPolicy.make({ budget: true, perTag: { ServerError: Schedule.spaced("1 second") } })
      const { decisions } = yield* run(call, policy).pipe(Effect.provideService(RetryBudget.RetryBudget, budget))
      expect((yield* calls).length).toBe(3)
      expect(lastDecision(decisions)).toMatchObject({ reason: "budget", rule: "perTag.ServerError" })
    }))

  it.effect("x-should-retry: false still stops a Schedule; a Schedule retries a tag the default would not", () =>
    Effect.gen(function*() {
      const refused = yield* alwaysFailing(serverError({ shouldRetry: Option.some(false) }))
      const a = yield* run(refused.call, RetryPolicy.make({ perTag: { ServerError: exponential3 } }))
      expect(a.decisions).toEqual([expect.objectContaining({ reason: "server-refused", rule: "perTag.ServerError" })])
      const bad = yield* alwaysFailing(new OpenAiError.BadRequest({ message: "flaky proxy" }))
      yield* run(bad.call, RetryPolicy.make({ perTag: { BadRequest: Schedule.recurs(1) } }))
      const [sent = 0, resent = 0] = yield* bad.calls
      expect(resent - sent).toBe(0) // recurs alone has no delay
      expect((yield* bad.calls).length).toBe(2)
    }))

  it.effect("a Schedule can read the error: longer waits for token limits than for request limits", () =>
    Effect.gen(function*() {
      const byScope = Schedule.identity<OpenAiError.RateLimitReached>().pipe(
        Schedule.addDelay((e) => e.scope === "tokens" ? Duration.seconds(5) : Duration.seconds(1)),
        Schedule.intersect(Schedule.recurs(5))
      )
      const tokens = new OpenAiError.RateLimitReached({
        message: "Rate limit reached on tokens per min (TPM)",
        scope: "tokens",
        limit: Option.none(),
        used: Option.none(),
        requested: Option.none()
      })
      const { call, calls } = yield* failingThen([tokens, rateLimited()])
      yield* run(call, RetryPolicy.make({ perTag: { RateLimitReached: byScope } }))
      expect(yield* calls).toEqual([0, 5_000, 6_000])
    }))

  it.effect("a per-category Schedule applies to every tag of the category; a per-tag rule wins over it", () =>
    Effect.gen(function*() {
      const overloaded = new OpenAiError.EngineOverloaded({ message: "overloaded", status: Option.some(503) })
      const { call, calls } = yield* alwaysFailing(serverError())
      const policy = RetryPolicy.make({ perCategory: { InternalServerError: Schedule.spaced("3 seconds").pipe(Schedule.intersect(Schedule.recurs(1))) } })
      const a = yield* run(call, policy)
      expect(yield* calls).toEqual([0, 3_000])
      expect(a.decisions.map((d) => d.rule)).toEqual(["perCategory.InternalServerError", "perCategory.InternalServerError"])
      // One Schedule for the whole category: its recurrences are shared between the tags.
      const mixed = yield* failingThen([serverError(), overloaded, serverError()])
      const b = yield* run(mixed.call, policy)
      expect(lastDecision(b.decisions)).toMatchObject({ tag: "EngineOverloaded", reason: "schedule-done" })
      const both = yield* alwaysFailing(overloaded)
      const c = yield* run(
        both.call,
        RetryPolicy.make({ perCategory: policy.options.perCategory, perTag: { EngineOverloaded: { times: 0 } } })
      )
      expect(c.decisions).toEqual([expect.objectContaining({ reason: "not-retryable", rule: "perTag.EngineOverloaded" })])
    }))

  it.effect("every error's category can carry a rule", () =>
    Effect.gen(function*() {
      for (const error of [...always, ...never, new OpenAiError.UnprocessableEntity({ message: "field required" })]) {
        const { call } = yield* alwaysFailing(error)
        const { decisions } = yield* run(call, RetryPolicy.make({ perCategory: { [error.category]: { times: 0 } } }))
        expect(decisions[0]).toMatchObject({ reason: "not-retryable", rule: `perCategory.${error.category}` })
      }
    }))

  it.effect("a per-category times counts the category's retries together", () =>
    Effect.gen(function*() {
      const overloaded = new OpenAiError.EngineOverloaded({ message: "overloaded", status: Option.some(503) })
      const { call, calls } = yield* alwaysFailing(serverError())
      yield* run(call, RetryPolicy.make({ perCategory: { InternalServerError: { times: 1 } } }))
      expect((yield* calls).length).toBe(2)
      const mixed = yield* failingThen([serverError(), overloaded])
      const { decisions } = yield* run(mixed.call, RetryPolicy.make({ perCategory: { InternalServerError: { times: 1 } } }))
      expect(lastDecision(decisions)).toMatchObject({ tag: "EngineOverloaded", reason: "tag-limit" })
    }))

  it.effect("the category is the error's own: an EngineOverloaded sent as a 429 is a RateLimitError", () =>
    Effect.gen(function*() {
      const as429 = new OpenAiError.EngineOverloaded({ message: "overloaded", status: Option.some(429) })
      const { call } = yield* alwaysFailing(as429)
      const { decisions } = yield* run(call, RetryPolicy.make({ perCategory: { RateLimitError: { times: 0 } } }))
      expect(decisions).toEqual([expect.objectContaining({ reason: "not-retryable", rule: "perCategory.RateLimitError" })])
    }))

  it.effect("a per-tag Schedule's state is per call: a second call starts it afresh", () =>
    Effect.gen(function*() {
      const policy = RetryPolicy.make({ perTag: { ServerError: exponential3 } })
      for (let i = 0; i < 2; i++) {
        const { call } = yield* alwaysFailing(serverError())
        const { decisions } = yield* run(call, policy)
        expect(delays(decisions)).toEqual([200, 400, 800])
      }
    }))

  it.effect("the rule is in the debug log line", () =>
    Effect.gen(function*() {
      const lines = yield* Ref.make<ReadonlyArray<string>>([])
      const logger = Logger.make(({ message }) => Effect.runSync(Ref.update(lines, (a) => [...a, String(message)])))
      const { call } = yield* failingThen([serverError()])
      yield* run(call, RetryPolicy.make({ perTag: { ServerError: exponential3 } })).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
        Logger.withMinimumLogLevel(LogLevel.Debug)
      )
      expect(yield* Ref.get(lines)).toContainEqual(
        expect.stringContaining("ServerError on attempt 1; retrying in 200ms (schedule, perTag.ServerError)")
      )
    }))
})

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

// Checked by tsc, never run.
export const typeLevel = (
  call: Effect.Effect<string, OpenAiError.RateLimitReached | OpenAiError.ServerError>,
  needsService: Schedule.Schedule<unknown, unknown, RetryBudget.RetryBudget>
) => {
  // The default policy needs nothing and accepts any subset of the errors.
  const a: Effect.Effect<string, OpenAiError.RateLimitReached | OpenAiError.ServerError> = Effect.retry(
    call,
    RetryPolicy.default
  )
  const b: Schedule.Schedule<RetryPolicy.Decision, OpenAiError.OpenAiError> = RetryPolicy.make({ maxRetries: 1 })
  // @ts-expect-error a budget policy needs the RetryBudget service
  const c: Schedule.Schedule<RetryPolicy.Decision, OpenAiError.OpenAiError> = RetryPolicy.make({ budget: true })
  const d: Effect.Effect<string, unknown, RetryBudget.RetryBudget> = Effect.retry(call, RetryPolicy.make({ budget: true }))
  // @ts-expect-error errors that are not classified cannot be retried by a policy
  const e = Effect.retry(Effect.fail(new Error("raw")), RetryPolicy.default)
  // A per-tag Schedule's input is that tag's class: it may read the tag's own fields...
  const f = RetryPolicy.make({
    perTag: {
      RateLimitReached: Schedule.identity<OpenAiError.RateLimitReached>().pipe(
        Schedule.addDelay((e) => e.scope === "tokens" ? "5 seconds" : "1 second")
      ),
      ServerError: Schedule.exponential("200 millis").pipe(Schedule.intersect(Schedule.recurs(3))),
      QuotaExceeded: { times: 0 }
    },
    perCategory: {
      APIConnectionError: Schedule.identity<OpenAiError.ConnectionError>().pipe(
        Schedule.addDelay((e) => Option.contains(e.errorCode, "ECONNREFUSED") ? "5 seconds" : "1 second")
      )
    }
  })
  const g = RetryPolicy.make({
    // @ts-expect-error ...and a Schedule over another tag's errors does not fit
    perTag: { ServerError: Schedule.identity<OpenAiError.RateLimitReached>() }
  })
  const h = RetryPolicy.make({
    // @ts-expect-error a per-category Schedule must accept every error of its category
    perCategory: { RateLimitError: Schedule.identity<OpenAiError.RateLimitReached>() }
  })
  // A Schedule that needs a service is not a rule (a policy's requirements are its budget only).
  // @ts-expect-error a rule's Schedule needs no service
  const i = RetryPolicy.make({ perTag: { ServerError: needsService } })
  const decision = (d: RetryPolicy.Decision): RetryPolicy.RuleName => d.rule
  return [a, b, c, d, e, f, g, h, i, decision]
}
