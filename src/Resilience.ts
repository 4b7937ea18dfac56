/**
 * One resilient call: the one place that knows the order of the layers. Every other part of the
 * library (the client, the middleware for any `HttpClient`) is built on it.
 *
 * ```text
 * preflight ▸ bulkhead ▸ deadline ▸ idempotency scope ▸ retry (policy; CircuitOpen ends it)
 *   ▸ per attempt: breaker ▸ rate limiter ▸ timeout( send ▸ classify ▸ consume )
 * ```
 *
 * - The pre-flight check comes first: a request that cannot fit its model's context window fails
 *   with `ContextLengthExceeded` before it takes a bulkhead slot, a permit or a retry.
 * - The bulkhead is outermost of what runs: it bounds logical calls (their attempts and the waits between
 *   them), so a retry storm cannot take more slots than the calls that cause it.
 * - The deadline bounds every attempt and every wait between them together.
 * - One idempotency key per call, the same on every attempt, so a retried POST is not executed
 *   twice by the server.
 * - The retry policy reads typed errors (and the server's hints). An open circuit ends it at
 *   once: the breaker has said the upstream is down, and waiting out a backoff would not change it.
 * - Per attempt, the breaker comes before the limiter, so an open circuit refuses without
 *   waiting for a permit; the limiter paces every attempt (retries count at the server too) and
 *   reads every response's rate-limit headers and every typed 429.
 * - The per-attempt timeout covers sending, classifying and consuming, not the limiter's wait.
 * - An attempt is "send, classify, then consume the part of the response the caller needs" (the
 *   whole body, or a stream's first element): a body that fails to arrive, or that is an API
 *   error sent with a 200, is classified inside the attempt and retried like any other failure.
 *
 * Every layer is optional. The error channel says exactly what was configured: `OpenAiError`
 * alone, plus `CircuitOpen` with a breaker and `BulkheadFull` with a bulkhead.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Redacted from "effect/Redacted"
import type * as Schedule from "effect/Schedule"
import type * as Bulkhead from "./Bulkhead.js"
import type * as CircuitBreaker from "./CircuitBreaker.js"
import * as internal from "./internal/resilience.js"
import { validateResilience } from "./internal/resilienceOptions.js"
import type * as InvalidOptions from "./InvalidOptions.js"
import type * as OpenAiError from "./OpenAiError.js"
import type * as Preflight from "./Preflight.js"
import type * as RateLimiter from "./RateLimiter.js"

/**
 * The layers of a call. Each is optional; the defaults are those of the official SDKs where they
 * have one (a 10-minute per-attempt timeout) and of `RetryPolicy.default` otherwise.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<R = never> {
  /** The retry policy, a `Schedule` over the typed errors (default `RetryPolicy.default`). It may have requirements, such as `RetryBudget`. */
  readonly retryPolicy?: Schedule.Schedule<unknown, OpenAiError.OpenAiError, R> | undefined
  /** Per-attempt timeout: sending, classifying and consuming (default {@link DEFAULT_TIMEOUT}). `TimeoutError` with phase `"headers"`. */
  readonly timeout?: Duration.DurationInput | undefined
  /** A bound over all attempts and the waits between them (default none). `TimeoutError` with phase `"deadline"`. */
  readonly deadline?: Duration.DurationInput | undefined
  /** Send an `Idempotency-Key` on POSTs, the same on every attempt of a call (default `true`). */
  readonly idempotencyKey?: boolean | undefined
  /** The attempt-count header's name, or `false` for none (default `x-retry-attempt`). */
  readonly attemptHeader?: string | false | undefined
  /** Paces every attempt within the learned or configured RPM/TPM limits. */
  readonly limiter?: RateLimiter.Service | undefined
  /** Stops sending while the upstream is failing; `CircuitOpen` ends a call's retries. */
  readonly breaker?: CircuitBreaker.CircuitBreaker | undefined
  /** Bounds the calls in progress; `BulkheadFull` when its queue is full. */
  readonly bulkhead?: Bulkhead.Bulkhead | undefined
  /** Secrets (the API key in use) scrubbed from anything an error keeps. */
  readonly secrets?: ReadonlyArray<Redacted.Redacted<string> | string> | undefined
  /** The most bytes of an error body read (default 256 KiB). */
  readonly maxErrorBodyBytes?: number | undefined
  /**
   * The pre-flight check of a chat or Responses request against its model's context window
   * (default on, with `Preflight`'s defaults); `false` sends every request as it is.
   */
  readonly preflight?: Preflight.Options | boolean | undefined
}

/**
 * What a call configured with options `O` can fail with: every `OpenAiError`, plus `CircuitOpen`
 * when `O` has a breaker and `BulkheadFull` when it has a bulkhead.
 *
 * @example
 * ```ts
 * import type { CircuitBreaker, Resilience } from "effect-openai-resilience"
 *
 * type Plain = Resilience.Failure<{}> // OpenAiError
 * type Guarded = Resilience.Failure<{ breaker: CircuitBreaker.CircuitBreaker }> // OpenAiError | CircuitOpen
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Failure<O> =
  | OpenAiError.OpenAiError
  | (Configured<O, "breaker"> extends true ? CircuitBreaker.CircuitOpen : never)
  | (Configured<O, "bulkhead"> extends true ? Bulkhead.BulkheadFull : never)

// Whether options `O` may hold a value at `K`. Tested through `keyof`: an object type is not
// assignable to one whose properties are all optional and absent from it (a "weak type").
type Configured<O, K extends string> = K extends keyof O ? (O[K & keyof O] extends undefined ? false : true) : false

/**
 * What a call configured with options `O` requires: the retry policy's requirements (the
 * `RetryBudget` of a budgeted policy, say).
 *
 * @example
 * ```ts
 * import type { Resilience, RetryBudget, RetryPolicy } from "effect-openai-resilience"
 *
 * type Needs = Resilience.Requirements<{ retryPolicy: RetryPolicy.RetryPolicy<RetryBudget.RetryBudget> }>
 * // RetryBudget
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Requirements<O> = "retryPolicy" extends keyof O ? RequirementsOf<O["retryPolicy" & keyof O]> : never

type RequirementsOf<P> = P extends Schedule.Schedule<infer _Out, infer _In, infer R> ? R : never

/**
 * A client with the stack around it, in two forms of the same thing: {@link Resilient.run} for a
 * call that consumes its response inside the attempt, and {@link Resilient.httpClient} for code
 * that wants an `HttpClient`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Resilient<E, R> {
  /**
   * One logical call: attempts of "send `request`, classify the response, `consume` it", under the
   * whole stack. `consume` runs inside the attempt (and its timeout): read the body, or pull a
   * stream's first element. It fails with a typed error, or with the platform's own error for a
   * body that failed to arrive, which is classified (a `ConnectionError`); either is retried as
   * the policy says.
   */
  readonly run: <A>(
    request: HttpClientRequest.HttpClientRequest,
    consume: (
      response: HttpClientResponse.HttpClientResponse
    ) => Effect.Effect<A, OpenAiError.OpenAiError | HttpClientError.HttpClientError>
  ) => Effect.Effect<A, E, R>
  /** The same stack as an `HttpClient` whose attempts end at the response headers. */
  readonly httpClient: HttpClient.HttpClient.With<E, R>
}

/**
 * The default per-attempt timeout: 10 minutes, as the official SDKs.
 *
 * @example
 * ```ts
 * import { Resilience } from "effect-openai-resilience"
 * import { Duration } from "effect"
 *
 * console.log(Duration.format(Resilience.DEFAULT_TIMEOUT)) // "10m"
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_TIMEOUT: Duration.Duration = internal.DEFAULT_TIMEOUT

/**
 * Options that {@link validate} checked: {@link middleware} given them adds no `InvalidOptions` to
 * its error channel.
 *
 * @since 0.1.0
 * @category models
 */
export type Validated<O> = O & { readonly [ValidatedTypeId]: typeof ValidatedTypeId }

declare const ValidatedTypeId: unique symbol

// The fields whose values a type cannot vouch for: a number may be NaN, a duration negative, a
// header name empty, a policy one that `RetryPolicy.make` refused.
type Unchecked = "retryPolicy" | "timeout" | "deadline" | "attemptHeader" | "maxErrorBodyBytes" | "preflight"

/**
 * What {@link middleware} adds to the error channel for options `O`: `InvalidOptions` when they
 * hold a value only a check at run time can judge (a timeout, a deadline, a policy, a header name,
 * a body bound, pre-flight options) and did not come from {@link validate}, or when their type is
 * unknown (`never`, `any`: a JavaScript caller's); nothing otherwise.
 *
 * @example
 * ```ts
 * import type { Resilience } from "effect-openai-resilience"
 *
 * type None = Resilience.Invalid<{}> // never
 * type Some = Resilience.Invalid<{ timeout: "30 seconds" }> // InvalidOptions
 * type Checked = Resilience.Invalid<Resilience.Validated<{ timeout: "30 seconds" }>> // never
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Invalid<O> = [O] extends [never] ? InvalidOptions.InvalidOptions
  : 0 extends (1 & O) ? InvalidOptions.InvalidOptions
  : O extends { readonly [ValidatedTypeId]: typeof ValidatedTypeId } ? never
  : true extends { [K in Unchecked]: Configured<O, K> }[Unchecked] ? InvalidOptions.InvalidOptions
  : never

/**
 * Puts the stack around `client`, once its options are checked: a value no option accepts (a
 * JavaScript caller's `timeout: NaN`, `maxRetries: "banana"` in a policy) fails with
 * `InvalidOptions`, naming the field, the value and what is accepted. The client's own failures
 * (transport errors, non-2xx responses) are classified into typed errors on every attempt.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, Resilience } from "effect-openai-resilience"
 * import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make()
 *   const resilient = yield* Resilience.make(yield* HttpClient.HttpClient, { breaker, deadline: "2 minutes" })
 *   // Fails with OpenAiError | CircuitOpen: a body cut midway is retried like a reset.
 *   return yield* resilient.run(HttpClientRequest.get("https://api.openai.com/v1/models"), (r) => r.text)
 * }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E, R, O extends Options<unknown> = {}>(
  client: HttpClient.HttpClient.With<E, R>,
  options?: O
): Effect.Effect<Resilient<Failure<O>, R | Requirements<O>>, InvalidOptions.InvalidOptions> =>
  Effect.map(
    validateResilience(options ?? {}),
    () => internal.make(client, options ?? {}) as unknown as Resilient<Failure<O>, R | Requirements<O>>
  )

/**
 * The stack as `HttpClient -> HttpClient` middleware. Every attempt executes the inner client
 * anew, so middleware inside it (a base URL, auth, logging) runs on every attempt, and so does
 * the attempt header, whatever is wrapped around the result.
 *
 * The options are checked once, when the middleware is built. A plain function cannot fail, so
 * options no field accepts make every request fail with that `InvalidOptions` (never a throw, never
 * a defect); the error channel says so when the options could hold such a value ({@link Invalid}).
 * Options from {@link validate} are known good: nothing is added, and a bad value fails where
 * `validate` runs, once.
 *
 * @example
 * ```ts
 * import { Resilience } from "effect-openai-resilience"
 * import { FetchHttpClient, HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   // Checked once, here: a bad timeout fails this effect with InvalidOptions.
 *   const options = yield* Resilience.validate({ timeout: "60 seconds" })
 *   const client = (yield* HttpClient.HttpClient).pipe(Resilience.middleware(options))
 *   return yield* client.get("https://api.openai.com/v1/models") // fails with OpenAiError only
 * }).pipe(Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const middleware = <O extends Options<unknown> = {}>(options?: O) => {
  const checked = Effect.runSyncExit(validateResilience(options ?? {}))
  return <E, R>(
    client: HttpClient.HttpClient.With<E, R>
  ): HttpClient.HttpClient.With<Failure<O> | Invalid<O>, R | Requirements<O>> => {
    if (Exit.isSuccess(checked)) {
      return internal.make(client, options ?? {}).httpClient as unknown as HttpClient.HttpClient.With<
        Failure<O> | Invalid<O>,
        R | Requirements<O>
      >
    }
    const failure = Effect.failCause(checked.cause)
    return HttpClient.makeWith(
      (request) => Effect.zipRight(request, failure),
      Effect.succeed
    ) as HttpClient.HttpClient.With<Failure<O> | Invalid<O>, R | Requirements<O>>
  }
}

/**
 * Checks options once, as a JavaScript caller may pass anything: an unreadable duration, a
 * policy `RetryPolicy.make` refused, a non-positive body bound. {@link make} does it itself, and
 * `OpenAiClient.make` for its `resilience` option; options it returns are {@link Validated}, which
 * {@link middleware} takes without adding `InvalidOptions` to its error channel.
 *
 * @example
 * ```ts
 * import { Resilience } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * // Options read from a file or handed over by JavaScript code: typed, but not to be trusted.
 * declare const fromConfigFile: Resilience.Options
 * const checked = Resilience.validate(fromConfigFile).pipe(
 *   Effect.catchTag("InvalidOptions", (e) => Effect.logError(`${e.field}: ${e.message}`))
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const validate = <O extends Options<unknown>>(
  options: O
): Effect.Effect<Validated<O>, InvalidOptions.InvalidOptions> =>
  Effect.as(validateResilience(options), options as Validated<O>)
