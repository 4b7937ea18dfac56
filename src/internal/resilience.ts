/**
 * The implementation behind `Resilience`: the one place that knows the order of the layers.
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import type * as Schedule from "effect/Schedule"
import type * as Bulkhead from "../Bulkhead.js"
import type * as CircuitBreaker from "../CircuitBreaker.js"
import * as OpenAiError from "../OpenAiError.js"
import { checkParsed as preflightCheck } from "./preflight.js"
import * as TokenEstimate from "../TokenEstimate.js"
import * as RateLimiter from "../RateLimiter.js"
import type * as Resilience from "../Resilience.js"
import * as RetryPolicy from "../RetryPolicy.js"
import { withRequestId } from "./consume.js"
import * as middleware from "./httpMiddleware.js"
import { withScrubbedSpans } from "./secrets.js"
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
  probe: telemetry.Probe | undefined
): Effect.Effect<A, Failure, unknown> =>
  Effect.uninterruptibleMask((restore) => {
    // The queue is what waits in `acquire`: counted around it, whatever ends the wait.
    const acquire = probe === undefined ? limiter.acquire(demand) : Effect.suspend(() => {
      probe.queued(1)
      return Effect.ensuring(limiter.acquire(demand), Effect.sync(() => probe.queued(-1)))
    })
    return Effect.flatMap(restore(acquire), (permit) => {
      probe?.permit(Duration.toMillis(permit.waited))
      let response: HttpClientResponse.HttpClientResponse | undefined
      return restore(attempt((r) => {
        response = r
      })).pipe(
        Effect.onExit((exit) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => {
            const outcome = outcomeOf(exit, response, now)
            if (outcome.rateLimited) probe?.rateLimited()
            return limiter.release(permit, outcome)
          })
        )
      )
    })
  })

// The policy reads typed OpenAI errors only: an open circuit steps around it (as a success of the
// attempt) and ends the call at once, since the breaker has said the upstream is down.
const retryUntilOpen = <A>(
  attempt: (n: number) => Effect.Effect<A, Failure | CircuitBreaker.CircuitOpen, unknown>,
  policy: Schedule.Schedule<unknown, Failure, unknown>
): Effect.Effect<A, Failure | CircuitBreaker.CircuitOpen, unknown> =>
  Effect.flatMap(
    middleware.retryNumbered(
      (n) =>
        Effect.catchIf(
          Effect.map(attempt(n), Either.right),
          (e): e is CircuitBreaker.CircuitOpen => e._tag === "CircuitOpen",
          (open) => Effect.succeed(Either.left(open))
        ),
      policy
    ),
    (either) => Either.isLeft(either) ? Effect.fail(either.left) : Effect.succeed(either.right)
  )

/** @internal */
export const make = (
  sender: HttpClient.HttpClient.With<unknown, unknown>,
  options: Resilience.Options<unknown>
): Resilient => {
  // The platform's `http.client` span would record the URL's credentials and echoed keys.
  const client = withScrubbedSpans(sender, options.secrets)
  const policy: Schedule.Schedule<unknown, Failure, unknown> = options.retryPolicy ?? RetryPolicy.default
  const timeout = options.timeout ?? DEFAULT_TIMEOUT
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

  // The request of attempt `n`: its attempt number, and the call's one idempotency key.
  const prepare = (request: HttpClientRequest.HttpClientRequest, n: number, cell: middleware.KeyCell | undefined) => {
    const numbered = header === undefined ? request : HttpClientRequest.setHeader(request, header, String(n))
    return cell === undefined ? Effect.succeed(numbered) : middleware.addIdempotencyKeyFrom(cell, numbered)
  }

  const run = <A>(
    request: HttpClientRequest.HttpClientRequest,
    consume: Consume<A>,
    body?: unknown,
    annotate?: telemetry.Annotate<A>
  ): Effect.Effect<A, Guarded, unknown> => {
    // Once per call, not per attempt: the body is parsed (unless the caller gave it) and the key
    // hashed once.
    const json = body === undefined && (limiter !== undefined || preflight !== undefined)
      ? TokenEstimate.bodyJson(request)
      : body
    const demand = limiter === undefined ? undefined : RateLimiter.demandOf(request, limiter.estimate, json ?? null)
    return telemetry.instrument(request, json, annotate, demand?.tokens ?? 0, (probe) => {
      // send ▸ classify ▸ consume, within the per-attempt timeout. The limiter's wait is outside it.
      const send = (r: HttpClientRequest.HttpClientRequest, n: number) =>
      (seen: (response: HttpClientResponse.HttpClientResponse) => void) => {
        const sent = timeouts.timeoutEffect(
          Effect.flatMap(middleware.classifyEffect(client.execute(r), classifyOptions), (response) => {
            seen(response)
            probe?.response(response)
            return classifyConsumed(consume(response), response)
          }),
          "headers",
          timeout
        )
        return probe === undefined ? sent : probe.attempt(n, sent)
      }
      // One key cell per call (the enclosing scope's, if any), read by every attempt.
      const retried = Effect.flatMap(idempotent ? middleware.ownKeyCell : noCell, (cell) => {
        const attempt = (n: number): Effect.Effect<A, Failure | CircuitBreaker.CircuitOpen, unknown> =>
          Effect.flatMap(prepare(request, n, cell), (r) => {
            const sent = limiter === undefined || demand === undefined
              ? send(r, n)(ignore)
              : paced(limiter, demand, send(r, n), probe)
            // The breaker sits outside the limiter: an open circuit refuses without waiting for a permit.
            return breaker === undefined ? sent : breaker.protect(sent)
          })
        return breaker === undefined ? middleware.retryNumbered(attempt, policy) : retryUntilOpen(attempt, policy)
      })
      const bounded = deadline === undefined ? retried : timeouts.timeoutEffect(retried, "deadline", deadline)
      const guarded = bulkhead === undefined ? bounded : bulkhead(bounded)
      // First of all: a request that cannot fit takes no slot, no permit and no retry.
      return preflight === undefined ? guarded : Effect.zipRight(preflightCheck(request, json, preflight), guarded)
    })
  }

  const httpClient = HttpClient.makeWith(
    (request: Effect.Effect<HttpClientRequest.HttpClientRequest>) =>
      Effect.flatMap(request, (r) => run(r, Effect.succeed)),
    Effect.succeed
  )
  return { run, httpClient }
}

const ignore = () => {}
const noCell: Effect.Effect<middleware.KeyCell | undefined> = Effect.succeed(undefined)
