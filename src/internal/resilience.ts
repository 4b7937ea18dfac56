/**
 * The implementation behind `Resilience`: the one place that knows the order of the layers.
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Headers from "@effect/platform/Headers"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import type * as Schedule from "effect/Schedule"
import type * as Bulkhead from "../Bulkhead.js"
import type * as CircuitBreaker from "../CircuitBreaker.js"
import * as OpenAiError from "../OpenAiError.js"
import { checkParsed as preflightCheck } from "./preflight.js"
import * as TokenEstimate from "../TokenEstimate.js"
import * as RateLimiter from "../RateLimiter.js"
import type * as Resilience from "../Resilience.js"
import * as RetryBudget from "../RetryBudget.js"
import * as RetryPolicy from "../RetryPolicy.js"
import { cooperates } from "./attemptTimer.js"
import { withRequestId } from "./consume.js"
import * as middleware from "./httpMiddleware.js"
import { acquireUnder } from "./rateLimiterService.js"
import * as retryPolicy from "./retryPolicy.js"
import { secretHeaderNames, withScrubbedSpans } from "./secrets.js"
import * as telemetry from "./telemetry.js"
import * as timeouts from "./timeout.js"

type Failure = OpenAiError.OpenAiError
type Guarded = Failure | CircuitBreaker.CircuitOpen | Bulkhead.BulkheadFull

type Consume<A> = (
  response: HttpClientResponse.HttpClientResponse
) => Effect.Effect<A, Failure | HttpClientError.HttpClientError>

// A body that failed to arrive is a transport failure, quoted with the response's request id.
const classifyConsumed = <A>(
  effect: Effect.Effect<A, Failure | HttpClientError.HttpClientError>,
  response: HttpClientResponse.HttpClientResponse
): Effect.Effect<A, Failure> =>
  Effect.mapError(effect, (e) =>
    OpenAiError.isOpenAiError(e) ? e : withRequestId(middleware.transportError(e), middleware.requestId(response)))

/** @internal */
export const DEFAULT_TIMEOUT: Duration.Duration = Duration.minutes(10)

/** @internal */
export interface Resilient {
  readonly run: <A>(
    request: HttpClientRequest.HttpClientRequest,
    consume: Consume<A>,
    body?: unknown,
    annotate?: telemetry.Annotate<A>
  ) => Effect.Effect<A, Guarded, unknown>
  readonly httpClient: HttpClient.HttpClient.With<Guarded, unknown>
}

// What the limiter learns from one attempt: the typed 429 (its hint pauses the key), else the
// response's headers when one came back (a body that failed after them still tells the levels),
// else what the typed error carries.
const outcomeOf = (
  exit: Exit.Exit<unknown, Failure>,
  response: HttpClientResponse.HttpClientResponse | undefined,
  now: number
): RateLimiter.Outcome => {
  if (Exit.isFailure(exit)) {
    const outcome = RateLimiter.outcomeOfExit(exit)
    return response === undefined || outcome.rateLimited ? outcome : RateLimiter.outcomeOfResponse(response, now)
  }
  return response === undefined ? RateLimiter.outcomeOfExit(exit) : RateLimiter.outcomeOfResponse(response, now)
}

const paced = <A>(
  limiter: RateLimiter.Service,
  demand: RateLimiter.Demand,
  attempt: (seen: (response: HttpClientResponse.HttpClientResponse) => void) => Effect.Effect<A, Failure, unknown>,
  probe: telemetry.Probe | undefined,
  clock: Clock.Clock
): Effect.Effect<A, Failure, unknown> =>
  Effect.uninterruptibleMask((restore) => {
    // The queue is what waits in `acquire`: counted around it, whatever ends the wait. Only the
    // wait is in `restore`: a permit taken reaches the release below with nothing interruptible
    // in between.
    const acquire = probe === undefined ? acquireUnder(limiter, demand, restore) : Effect.suspend(() => {
      probe.queued(1)
      return Effect.ensuring(acquireUnder(limiter, demand, restore), Effect.sync(() => probe.queued(-1)))
    })
    return Effect.flatMap(acquire, (permit) => {
      probe?.permit(Duration.toMillis(permit.waited))
      let response: HttpClientResponse.HttpClientResponse | undefined
      const release = (exit: Exit.Exit<A, Failure>): Effect.Effect<A, Failure> => {
        const outcome = outcomeOf(exit, response, clock.unsafeCurrentTimeMillis())
        if (outcome.rateLimited) probe?.rateLimited()
        return Effect.zipRight(limiter.release(permit, outcome), exit)
      }
      // Already masked: a match (no second mask, as `onExit` would take) releases the permit
      // whatever ends the attempt, an interruption included.
      return Effect.matchCauseEffect(
        restore(attempt((r) => {
          response = r
        })),
        { onFailure: (cause) => release(Exit.failCause(cause)), onSuccess: (a) => release(Exit.succeed(a)) }
      )
    })
  })

// Whether `consume` is the identity: the `httpClient` form, whose attempts end at the headers.
const asResponse = <A>(response: HttpClientResponse.HttpClientResponse) => Effect.succeed(response as A)

type Attempt<A> = Effect.Effect<A, Failure | CircuitBreaker.CircuitOpen, unknown>

// Attempt `n` reads its number from `currentAttempt`; set only when it differs (the first attempt
// of an outermost call already reads 0), as a write is an acquire/release.
const numbered = <A>(fiber: Fiber.RuntimeFiber<unknown, unknown>, n: number, attempt: Attempt<A>): Attempt<A> =>
  fiber.getFiberRef(middleware.currentAttempt) === n ? attempt : Effect.locally(attempt, middleware.currentAttempt, n)

const isCircuitOpen = (e: Failure | CircuitBreaker.CircuitOpen): e is CircuitBreaker.CircuitOpen => e._tag === "CircuitOpen"

/**
 * The retry driver of one call: its first attempt runs as it is (no schedule driver, no
 * bookkeeping effect), as almost every call succeeds at once; after a first failure the policy
 * takes over, as under `RetryPolicy.retry`. The policy reads typed OpenAI errors only: an open
 * circuit steps around it (as a success of the attempt) and ends the call at once, since the
 * breaker has said the upstream is down. `count` is told of every attempt.
 */
const retrying = <A>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  attempt: (n: number) => Attempt<A>,
  policy: Schedule.Schedule<unknown, Failure, unknown>,
  count: () => number,
  breaker: boolean
): Attempt<A> => {
  const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
  const budgeted = Option.isSome(Context.getOption(fiber.currentContext, RetryBudget.RetryBudget))
  return Effect.suspend(() => {
    // The policy's deadline counts from the first attempt (after any bulkhead queue).
    const start = clock.unsafeCurrentTimeMillis()
    const first = retryPolicy.isolateOn(fiber, numbered(fiber, count(), attempt(0)))
    return Effect.catchAll(budgeted ? RetryBudget.track(first) : first, (error) => {
      if (isCircuitOpen(error)) return Effect.fail(error)
      const next = Effect.withFiberRuntime<A, Failure | CircuitBreaker.CircuitOpen, unknown>((current) => {
        const n = count()
        return RetryBudget.track(numbered(current, n, attempt(n)))
      })
      if (!breaker) return retryPolicy.retryAfter(error, next as Effect.Effect<A, Failure, unknown>, policy, start)
      const either = Effect.catchIf(Effect.map(next, Either.right), isCircuitOpen, (open) => Effect.succeed(Either.left(open)))
      return Effect.flatMap(
        retryPolicy.retryAfter(error, either, policy, start),
        (result) => Either.isLeft(result) ? Effect.fail(result.left) : Effect.succeed(result.right)
      )
    })
  })
}

/** @internal */
export const make = (
  sender: HttpClient.HttpClient.With<unknown, unknown>,
  options: Resilience.Options<unknown>
): Resilient => {
  // The platform's `http.client` span would record the URL's credentials and echoed keys: with a
  // tracer that records spans, the sender's spans are scrubbed; without one, the redacted header
  // names are set once per call (below) rather than once per attempt.
  const scrubbed = withScrubbedSpans(sender, options.secrets)
  // A transport of this library's own ends its waits when the attempt's timer fires: no fiber
  // per attempt for the timeout (./attemptTimer.ts).
  const cooperative = cooperates(sender)
  const policy: Schedule.Schedule<unknown, Failure, unknown> = options.retryPolicy ?? RetryPolicy.default
  // Decoded once; options that were never checked (an internal caller's) and do not decode keep
  // failing as they did, at the attempt.
  const timeout = Option.getOrUndefined(Duration.decodeUnknown(options.timeout ?? DEFAULT_TIMEOUT))
  const onTimeout = () => timeouts.timeoutError("headers", timeout ?? Duration.infinity)
  const classifyOptions: middleware.ClassifyOptions = {
    maxBodyBytes: options.maxErrorBodyBytes,
    secrets: options.secrets
  }
  const header = options.attemptHeader === false ? undefined : options.attemptHeader ?? middleware.ATTEMPT_HEADER
  const idempotent = options.idempotencyKey !== false
  const { breaker, bulkhead, deadline, limiter } = options
  const preflight = options.preflight === false
    ? undefined
    : options.preflight === true || options.preflight === undefined
    ? {}
    : options.preflight

  // The request of attempt `n`: its attempt number and the call's one idempotency key, set in
  // one copy of the request. `undefined` when the key must first be drawn from a Random of the
  // caller's own (a test's fixed one).
  const prepare = (
    request: HttpClientRequest.HttpClientRequest,
    n: number,
    cell: middleware.KeyCell | undefined,
    random: Random.Random
  ): HttpClientRequest.HttpClientRequest | undefined => {
    const keyed = cell !== undefined && middleware.needsKey(request)
    const key = keyed ? middleware.keyNow(cell, random) : undefined
    if (keyed && key === undefined) return undefined
    if (header === undefined && key === undefined) return request
    const headers: Record<string, string> = {}
    if (header !== undefined) headers[header] = String(n)
    if (key !== undefined) headers[middleware.IDEMPOTENCY_HEADER] = key
    return HttpClientRequest.setHeaders(request, headers)
  }

  const run = <A>(
    request: HttpClientRequest.HttpClientRequest,
    consume: Consume<A>,
    body?: unknown,
    annotate?: telemetry.Annotate<A>
  ): Effect.Effect<A, Guarded, unknown> =>
    Effect.withFiberRuntime((fiber) => {
      // Once per call, not per attempt: the body is parsed (unless the caller gave it) and the
      // key hashed once.
      const json = body === undefined && (limiter !== undefined || preflight !== undefined)
        ? TokenEstimate.bodyJson(request)
        : body
      const demand = limiter === undefined ? undefined : RateLimiter.demandOf(request, limiter.estimate, json ?? null)
      const call = telemetry.begin(fiber, request, json, annotate, demand?.tokens ?? 0)
      const tracing = call !== undefined && call.tracing
      const client = tracing ? scrubbed : sender
      const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
      const live = timeouts.isLiveClock(clock)
      const random = Context.get(fiber.currentDefaultServices, Random.Random)
      // One key cell per call (the enclosing scope's, if any), read by every attempt.
      const outer = idempotent ? fiber.getFiberRef(middleware.currentKeyCell) : Option.none()
      const cell = !idempotent ? undefined : Option.isSome(outer) ? outer.value : { key: undefined }
      let attempts = 0

      // send ▸ classify ▸ consume, within the per-attempt timeout. The limiter's wait is outside it.
      const send = (r: HttpClientRequest.HttpClientRequest, n: number) =>
      (seen: (response: HttpClientResponse.HttpClientResponse) => void) => {
        const exchange = Effect.flatMap(middleware.classifyEffect(client.execute(r), classifyOptions), (response) => {
          seen(response)
          call?.response(response)
          return consume === asResponse ? Effect.succeed(response as A) : classifyConsumed(consume(response), response)
        })
        const sent = timeout === undefined
          ? timeouts.timeoutEffect(exchange, "headers", options.timeout as Duration.DurationInput, cooperative)
          : timeouts.timeoutOn(exchange, timeout, onTimeout, live, cooperative)
        return call === undefined ? sent : call.attempt(n, sent)
      }
      const sendPrepared = (r: HttpClientRequest.HttpClientRequest, n: number): Attempt<A> => {
        const sent = limiter === undefined || demand === undefined
          ? send(r, n)(ignore)
          : paced(limiter, demand, send(r, n), call, clock)
        // The breaker sits outside the limiter: an open circuit refuses without waiting for a permit.
        return breaker === undefined ? sent : breaker.protect(sent)
      }
      const attempt = (n: number): Attempt<A> => {
        const r = prepare(request, n, cell, random)
        return r !== undefined || cell === undefined
          ? sendPrepared(r ?? request, n)
          : Effect.flatMap(middleware.addIdempotencyKeyFrom(cell, request), (keyed) =>
            sendPrepared(prepare(keyed, n, undefined, random) ?? keyed, n))
      }
      const retried = retrying(fiber, attempt, policy, () => attempts++, breaker !== undefined)
      const bounded = deadline === undefined ? retried : timeouts.timeoutEffect(retried, "deadline", deadline)
      const guarded = bulkhead === undefined ? bounded : bulkhead(bounded)
      // First of all: a request that cannot fit takes no slot, no permit and no retry.
      const checked = preflight === undefined ? Effect.void : preflightCheck(request, json, preflight)
      const program = checked === Effect.void ? guarded : Effect.zipRight(checked, guarded)

      // One frame per call: the redacted header names set (when the request carries a secret
      // header they do not hide), and at the end restored, the
      // attempts recorded and the call's metrics, in one mask rather than one per concern.
      const framed = Effect.uninterruptibleMask((restore) => {
        const names = fiber.getFiberRef(Headers.currentRedactedNames)
        // Over a transport of this library's own, the headers sent are the request's; a client of
        // the user's may add more (an Azure `api-key` in a transformClient), so there the names are
        // widened unless they hide every secret header already.
        const widen = cooperative ? carriesUncovered(request.headers, names) : !coversSecrets(names)
        const redacted = widen ? [...names, ...secretHeaderNames] : undefined
        const end = (exit: Exit.Exit<A, Guarded>): Effect.Effect<A, Guarded> => {
          let after: Effect.Effect<A, Guarded> = exit
          const then = (step: Effect.Effect<void>) => {
            if (step !== Effect.void) after = Effect.zipRight(step, after)
          }
          if (call !== undefined && !tracing) then(call.finish(exit, undefined))
          then(retryPolicy.recordAttempts(fiber, attempts))
          if (redacted !== undefined) then(FiberRef.set(Headers.currentRedactedNames, names))
          return after
        }
        const inner = redacted === undefined
          ? restore(program)
          : Effect.zipRight(FiberRef.set(Headers.currentRedactedNames, redacted), restore(program))
        return Effect.matchCauseEffect(inner, {
          onFailure: (cause) => end(Exit.failCause(cause)),
          onSuccess: (a) => end(Exit.succeed(a))
        })
      })
      return tracing ? call.traced(framed) : framed
    })

  const httpClient = HttpClient.makeWith(
    (request: Effect.Effect<HttpClientRequest.HttpClientRequest>) =>
      Effect.flatMap(request, (r) => run(r, asResponse<HttpClientResponse.HttpClientResponse>)),
    Effect.succeed
  )
  return { run, httpClient }
}

const ignore = () => {}

// Whether the redacted header names hold every secret header already (an enclosing call set them).
const coversSecrets = (names: ReadonlyArray<string | RegExp>): boolean =>
  secretHeaderNames.every((name) => names.includes(name))

// Whether the request carries a secret header that the redacted names do not hide yet (an
// enclosing call may have set them; the platform's defaults hide `authorization`, OpenAI's own).
// Only then are the names widened for the call: each write of a FiberRef copies them all.
const carriesUncovered = (headers: Headers.Headers, names: ReadonlyArray<string | RegExp>): boolean => {
  for (const name of secretHeaderNames) {
    if (headers[name] !== undefined && !names.includes(name)) return true
  }
  return false
}
