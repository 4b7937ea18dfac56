/**
 * The implementation behind `Fallback`: one call walks the deployments in order, each left for
 * the reason its typed error gives, optionally hedged; every move is recorded.
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Bulkhead from "../Bulkhead.js"
import * as CircuitBreaker from "../CircuitBreaker.js"
import type * as Deployment from "../Deployment.js"
import type * as Fallback from "../Fallback.js"
import * as OpenAiError from "../OpenAiError.js"
import * as RetryBudget from "../RetryBudget.js"
import { leaveEarly } from "./deployment.js"
import { millisOr } from "./retryPolicy.js"

type Failure = Deployment.Failure

/** @internal */
export const DEFAULT_MAX_RATE_LIMIT_WAIT: Duration.Duration = Duration.seconds(10)

/** @internal */
export const DEFAULT_STOP_ON: ReadonlyArray<Fallback.Reason> = [
  "BadRequest",
  "UnprocessableEntity",
  "InvalidAuthentication",
  "IncorrectApiKey",
  "NoOrganization",
  "PermissionDenied",
  "UnsupportedRegion"
]

/** @internal */
export const DEFAULT_LEAVE_AT_ONCE: ReadonlyArray<OpenAiError.Tag> = ["EngineOverloaded"]

/** @internal */
export const DEFAULT_HEDGE_INITIAL: Duration.Duration = Duration.seconds(2)

const SAMPLES = 200

interface Settings {
  readonly maxWaitMs: number
  readonly stopOn: ReadonlySet<string>
  readonly leaveAtOnce: ReadonlySet<string>
  readonly quotaCooldownMs: number
  readonly hedge: Fallback.HedgeOptions | undefined
}

// A duration that cannot be read reads as the default, as the retry policy's options do.
const resolve = (options: Fallback.Options): Settings => ({
  maxWaitMs: millisOr(options.maxRateLimitWait, Duration.toMillis(DEFAULT_MAX_RATE_LIMIT_WAIT)),
  stopOn: new Set(options.stopOn ?? DEFAULT_STOP_ON),
  leaveAtOnce: new Set(options.leaveAtOnce ?? DEFAULT_LEAVE_AT_ONCE),
  quotaCooldownMs: millisOr(options.quotaCooldown, Number.POSITIVE_INFINITY),
  hedge: options.hedge
})

/**
 * The one rule: what a plan does after a deployment failed with `error`. Context windows and
 * spent credentials then decide which deployment is next.
 * @internal
 */
export const moveOn = (error: Failure, stopOn: ReadonlySet<string> = new Set(DEFAULT_STOP_ON)): "next" | "stop" =>
  stopOn.has(error._tag) ? "stop" : "next"

/** @internal */
export const isFailure = (u: unknown): u is Failure =>
  OpenAiError.isOpenAiError(u) || u instanceof CircuitBreaker.CircuitOpen || u instanceof Bulkhead.BulkheadFull

// How long a rate limit asks to wait; unknown reads as short: the deployment's backoff handles it.
const waitOf = (error: OpenAiError.RateLimitReached): number =>
  Option.match(error.retryAfter, { onNone: () => 0, onSome: Duration.toMillis })

// The latencies of a deployment's successful calls, for a hedge after their p95.
class Window {
  private readonly samples: Array<number> = []
  private next = 0
  add(ms: number) {
    if (this.samples.length < SAMPLES) this.samples.push(ms)
    else this.samples[this.next] = ms
    this.next = (this.next + 1) % SAMPLES
  }
  p95(minSamples: number): number | undefined {
    if (this.samples.length < minSamples) return undefined
    const sorted = [...this.samples].sort((a, b) => a - b)
    return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]
  }
}

interface Spent<E> {
  readonly until: number
  readonly error: E
}

// The state of one call: what was left and why, and what it rules out for the rest.
interface Call<E> {
  readonly left: Array<Fallback.Left<E>>
  readonly spent: Set<string>
  contextAbove: number | undefined
  lastError: E | undefined
  hedged: boolean
}

type Skip = "credential-spent" | "context-window"

interface Won<A> {
  readonly value: A
  readonly index: number
}

const event = (name: string, attributes: Record<string, unknown>) =>
  Effect.flatMap(Effect.option(Effect.currentSpan), (span) =>
    Option.isNone(span)
      ? Effect.void
      : Effect.flatMap(Clock.currentTimeNanos, (now) => Effect.sync(() => span.value.event(name, now, attributes))))

const hedgeCost = new OpenAiError.TimeoutError({
  message: "Hedged: no answer within the hedge delay",
  phase: "headers",
  timeout: Duration.zero
})

type Attempt<A, E> = (d: Deployment.Deployment<E>) => Effect.Effect<A, E>

// A plan's state across calls (spent credentials, latencies) and the walk of one call over it.
class Planner<E extends Failure> {
  readonly settings: Settings
  readonly spent = new Map<string, Spent<E>>()
  readonly windows: ReadonlyArray<Window>
  constructor(readonly deployments: ReadonlyArray<Deployment.Deployment<E>>, options: Fallback.Options) {
    this.settings = resolve(options)
    this.windows = deployments.map(() => new Window())
  }

  skipOf(d: Deployment.Deployment<E>, call: Call<E>, now: number): Skip | undefined {
    const out = this.spent.get(d.credential)
    if (call.spent.has(d.credential) || (out !== undefined && out.until > now)) return "credential-spent"
    if (call.contextAbove !== undefined && !(d.contextWindow !== undefined && d.contextWindow > call.contextAbove)) {
      return "context-window"
    }
    return undefined
  }

  anotherAfter(j: number, call: Call<E>, now: number): boolean {
    for (let k = j + 1; k < this.deployments.length; k++) {
      const d = this.deployments[k]
      if (d !== undefined && this.skipOf(d, call, now) === undefined) return true
    }
    return false
  }

  // The deployment's own policy stops at once on these while another deployment can take over.
  readonly leave = (error: OpenAiError.OpenAiError): boolean =>
    this.settings.leaveAtOnce.has(error._tag) ||
    (error._tag === "RateLimitReached" && waitOf(error) > this.settings.maxWaitMs)

  // What a failure rules out for the rest of the call (and, for spent quota, of the plan).
  record(d: Deployment.Deployment<E>, call: Call<E>, error: E, elapsed: number, now: number): Effect.Effect<void> {
    call.left.push({ _tag: "Failed", deployment: d.name, error, elapsed: Duration.millis(elapsed) })
    call.lastError = error
    if (error._tag === "QuotaExceeded") {
      call.spent.add(d.credential)
      this.spent.set(d.credential, { until: now + this.settings.quotaCooldownMs, error })
    } else if (error._tag === "ContextLengthExceeded") {
      call.contextAbove = Math.max(call.contextAbove ?? 0, d.contextWindow ?? 0)
    }
    return event("fallback.left", { deployment: d.name, reason: error._tag, elapsed_ms: elapsed })
  }

  tryOne<A>(attempt: Attempt<A, E>, j: number, call: Call<E>): Effect.Effect<Won<A>, E> {
    return Effect.clockWith((clock) => {
      const d = this.deployments[j] as Deployment.Deployment<E>
      const start = clock.unsafeCurrentTimeMillis()
      const elapsed = () => clock.unsafeCurrentTimeMillis() - start
      return attempt(d).pipe(
        Effect.locally(leaveEarly, this.anotherAfter(j, call, start) ? this.leave : stay),
        Effect.tapBoth({
          onFailure: (error) => this.record(d, call, error, elapsed(), clock.unsafeCurrentTimeMillis()),
          onSuccess: () => Effect.sync(() => this.windows[j]?.add(elapsed()))
        }),
        Effect.onInterrupt(() =>
          Effect.zipRight(
            Effect.sync(() => call.left.push({ _tag: "Outrun", deployment: d.name, elapsed: Duration.millis(elapsed()) })),
            event("fallback.outrun", { deployment: d.name, elapsed_ms: elapsed() })
          )
        ),
        Effect.map((value): Won<A> => ({ value, index: j }))
      )
    })
  }

  // The first deployment at or after `i` that this call may use; those passed over are recorded.
  nextUsable(i: number, call: Call<E>, now: number): Effect.Effect<number> {
    const skipped: Array<Effect.Effect<void>> = []
    for (let k = i; k < this.deployments.length; k++) {
      const d = this.deployments[k] as Deployment.Deployment<E>
      const skip = this.skipOf(d, call, now)
      if (skip === undefined) return Effect.as(Effect.all(skipped, { discard: true }), k)
      call.left.push({ _tag: "Skipped", deployment: d.name, reason: skip })
      skipped.push(event("fallback.skipped", { deployment: d.name, reason: skip }))
    }
    return Effect.as(Effect.all(skipped, { discard: true }), -1)
  }

  // Nothing left: the error that ended the call, or (when every credential was spent before this
  // call began) the quota error that spent the first one.
  exhausted(call: Call<E>): Effect.Effect<never, E> {
    if (call.lastError !== undefined) return Effect.fail(call.lastError)
    for (const d of this.deployments) {
      const out = this.spent.get(d.credential)
      if (out !== undefined) return Effect.fail(out.error)
    }
    return Effect.dieMessage("Fallback: no deployment could be tried")
  }

  delayOf(j: number, h: Fallback.HedgeOptions): Duration.Duration {
    const initial = millisOr(h.initialDelay, Duration.toMillis(DEFAULT_HEDGE_INITIAL))
    if (h.after !== "p95") return Duration.millis(millisOr(h.after, initial))
    const p95 = this.windows[j]?.p95(h.minSamples ?? 20)
    return Duration.millis(p95 ?? initial)
  }

  from<A>(attempt: Attempt<A, E>, i: number, call: Call<E>): Effect.Effect<Won<A>, E> {
    return Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.flatMap(this.nextUsable(i, call, now), (j) => {
        if (j < 0) return this.exhausted(call)
        const primary = this.tryOne(attempt, j, call)
        const onFail = (error: E): Effect.Effect<Won<A>, E> =>
          moveOn(error, this.settings.stopOn) === "stop" ? Effect.fail(error) : this.from(attempt, j + 1, call)
        const hedge = this.settings.hedge
        if (hedge === undefined || !this.anotherAfter(j, call, now)) return Effect.catchAll(primary, onFail)
        return this.hedged(attempt, j, call, primary, onFail, hedge)
      }))
  }

  // The primary alone until the hedge delay; then, if the budget allows, the rest of the plan
  // beside it. The first success wins and the other is interrupted. A primary that fails while
  // the hedge runs either stops the call or leaves the hedge to finish it.
  hedged<A>(
    attempt: Attempt<A, E>,
    j: number,
    call: Call<E>,
    primary: Effect.Effect<Won<A>, E>,
    onFail: (error: E) => Effect.Effect<Won<A>, E>,
    h: Fallback.HedgeOptions
  ): Effect.Effect<Won<A>, E> {
    return Effect.raceWith(primary, Effect.sleep(this.delayOf(j, h)), {
      onSelfDone: (exit, timer) => Effect.zipRight(Fiber.interrupt(timer), Effect.catchAll(exit, onFail)),
      onOtherDone: (_, first) =>
        Effect.flatMap(hedgeAllowed(h), (allowed) => {
          if (!allowed) return Effect.catchAll(Fiber.join(first), onFail)
          // Marked once admitted: a hedge refused by the bulkhead was never sent.
          const rest = Effect.suspend(() => {
            call.hedged = true
            return Effect.zipRight(
              event("fallback.hedge", { after_ms: Duration.toMillis(this.delayOf(j, h)) }),
              this.from(attempt, j + 1, call)
            )
          })
          // The hedge's own failure never reaches the caller (the primary is still running), so a
          // full bulkhead just means no hedge.
          const second: Effect.Effect<Won<A>, unknown> = h.bulkhead === undefined ? rest : h.bulkhead(rest)
          return Effect.raceWith(Fiber.join(first), second, {
            onSelfDone: (exit, other) =>
              Exit.isSuccess(exit)
                ? Effect.zipRight(Fiber.interrupt(other), exit)
                : Effect.catchAll(exit, (error) =>
                  moveOn(error, this.settings.stopOn) === "stop"
                    ? Effect.zipRight(Fiber.interrupt(other), Effect.fail(error))
                    : Effect.catchAll(Fiber.join(other), () => this.exhausted(call))),
            // The rest of the plan ran out: only the primary is left.
            onOtherDone: (exit, joiner) =>
              Exit.isSuccess(exit)
                ? Effect.as(Effect.zipRight(Fiber.interrupt(first), Fiber.interrupt(joiner)), exit.value)
                : Fiber.join(joiner)
          }).pipe(Effect.onInterrupt(() => Fiber.interrupt(first)))
        })
    })
  }

  readonly run = <A>(attempt: Attempt<A, E>): Effect.Effect<Fallback.Served<A, E>, E> =>
    Effect.suspend(() => {
      const call: Call<E> = { left: [], spent: new Set(), contextAbove: undefined, lastError: undefined, hedged: false }
      return this.from(attempt, 0, call).pipe(
        Effect.tap(({ index }) => event("fallback.served", { deployment: this.deployments[index]?.name })),
        Effect.map(({ index, value }): Fallback.Served<A, E> => ({
          value,
          route: {
            served: (this.deployments[index] as Deployment.Deployment<E>).name,
            left: [...call.left],
            hedged: call.hedged
          }
        }))
      )
    }).pipe(Effect.withSpan("Fallback.run", { attributes: { deployments: this.deployments.map((d) => d.name) } }))

  // Each attempt opens in its own scope inside the caller's: a loser's (or a failure's) resources
  // are released at once, the winner's when the caller's scope closes.
  readonly runScoped = <A>(
    attempt: (d: Deployment.Deployment<E>) => Effect.Effect<A, E, Scope.Scope>
  ): Effect.Effect<Fallback.Served<A, E>, E, Scope.Scope> =>
    Effect.flatMap(Effect.scope, (outer) =>
      this.run((d) =>
        Effect.flatMap(Scope.fork(outer, ExecutionStrategy.sequential), (child) =>
          Effect.onExit(
            Scope.extend(attempt(d), child),
            (exit) => Exit.isSuccess(exit) ? Effect.void : Scope.close(child, exit)
          ))
      ))
}

const stay = () => false

// A hedge spends from the retry budget as a retry after a timeout would: in an outage the budget
// runs dry and hedging stops multiplying the load.
const hedgeAllowed = (h: Fallback.HedgeOptions): Effect.Effect<boolean> => {
  const budget = h.budget === undefined
    ? Effect.serviceOption(RetryBudget.RetryBudget)
    : Effect.succeed(Option.some(h.budget))
  return Effect.flatMap(budget, (b) => Option.isNone(b) ? Effect.succeed(true) : b.value.tryAcquire(hedgeCost))
}

const withModel = <T extends { readonly model?: string }>(request: T, d: { readonly model: string | undefined }): T =>
  d.model === undefined ? request : { ...request, model: d.model }

/** @internal */
export const make = <E extends Failure>(
  deployments: ReadonlyArray<Deployment.Deployment<E>>,
  options: Fallback.Options
): Fallback.Fallback<E> => {
  const { run, runScoped } = new Planner(deployments, options)

  const decoded = <A extends object>(served: Fallback.Served<A, E>): A & { readonly route: Fallback.Route<E> } => ({
    ...served.value,
    route: served.route
  })

  const service: Fallback.Fallback<E> = {
    deployments,
    run,
    runScoped,
    chat: {
      completions: {
        create: (request) =>
          Effect.map(run((d) => d.client.chat.completions.create(withModel(request, d))), decoded),
        open: (request) => Effect.map(runScoped((d) => d.client.chat.completions.open(withModel(request, d))), decoded),
        stream: (request) =>
          Stream.unwrapScoped(
            Effect.map(runScoped((d) => d.client.chat.completions.open(withModel(request, d))), (s) => s.value.data)
          )
      }
    },
    embeddings: {
      create: (request) => Effect.map(run((d) => d.client.embeddings.create(withModel(request, d))), decoded)
    },
    responses: {
      create: (request) => Effect.map(run((d) => d.client.responses.create(withModel(request, d))), decoded),
      open: (request) => Effect.map(runScoped((d) => d.client.responses.open(withModel(request, d))), decoded),
      stream: (request) =>
        Stream.unwrapScoped(
          Effect.map(runScoped((d) => d.client.responses.open(withModel(request, d))), (s) => s.value.data)
        )
    }
  }
  return service
}
