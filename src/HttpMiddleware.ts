/**
 * Resilience for any `@effect/platform` `HttpClient`, as `HttpClient -> HttpClient` functions that
 * compose with `pipe`: classification of every failure into a typed {@link OpenAiError.OpenAiError},
 * retries driven by a {@link RetryPolicy} (a `Schedule` over the typed errors), a per-attempt
 * timeout, a deadline over all attempts, an `Idempotency-Key` shared by every attempt of a POST and
 * an attempt-count header.
 *
 * Order matters: {@link resilient} is `Resilience.middleware`, which owns it (see `Resilience` for
 * the order and why). The single pieces are here for code that composes its own.
 *
 * Not `HttpClient.retryTransient`: with neither `schedule` nor `times` it retries forever, its
 * counters nest, and it never reads `Retry-After`.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as FiberRef from "effect/FiberRef"
import type * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Bulkhead from "./Bulkhead.js"
import type * as CircuitBreaker from "./CircuitBreaker.js"
import * as internal from "./internal/httpMiddleware.js"
import type * as InvalidOptions from "./InvalidOptions.js"
import type * as OpenAiError from "./OpenAiError.js"
import * as Resilience from "./Resilience.js"

/**
 * The header that tells the server which attempt this is: `0` on the first, `1` on the first
 * retry, and so on (the count of retries before it, as `x-stainless-retry-count` does).
 *
 * @example
 * ```ts
 * import { HttpMiddleware } from "effect-openai-resilience"
 *
 * console.log(HttpMiddleware.ATTEMPT_HEADER) // "x-retry-attempt"
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const ATTEMPT_HEADER: string = internal.ATTEMPT_HEADER

/**
 * The idempotency header set on POSTs (lower-cased, as `@effect/platform` stores header names).
 *
 * @example
 * ```ts
 * import { HttpMiddleware } from "effect-openai-resilience"
 *
 * console.log(HttpMiddleware.IDEMPOTENCY_HEADER) // "idempotency-key"
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const IDEMPOTENCY_HEADER: string = internal.IDEMPOTENCY_HEADER

/**
 * The header OpenAI identifies a request by: quote it to support.
 *
 * @example
 * ```ts
 * import { HttpMiddleware } from "effect-openai-resilience"
 *
 * console.log(HttpMiddleware.REQUEST_ID_HEADER) // "x-request-id"
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const REQUEST_ID_HEADER: string = internal.REQUEST_ID_HEADER

/**
 * The most bytes of an error body {@link classify} reads (256 KiB). The rest is never downloaded.
 *
 * @example
 * ```ts
 * import { HttpMiddleware } from "effect-openai-resilience"
 *
 * console.log(HttpMiddleware.MAX_ERROR_BODY_BYTES) // 262144
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_ERROR_BODY_BYTES: number = internal.MAX_ERROR_BODY_BYTES

/**
 * The retry count of the attempt running in this fiber (0 on the first attempt). Set by
 * {@link retry}; read by {@link attemptHeader}.
 *
 * @example
 * ```ts
 * import { HttpMiddleware } from "effect-openai-resilience"
 * import { Effect, FiberRef } from "effect"
 *
 * const logAttempt = Effect.flatMap(FiberRef.get(HttpMiddleware.currentAttempt), (n) => Effect.log(`attempt ${n}`))
 * ```
 *
 * @since 0.1.0
 * @category fiber refs
 */
export const currentAttempt: FiberRef.FiberRef<number> = internal.currentAttempt

/**
 * Options of {@link classifyWith}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClassifyOptions {
  /** The most bytes of an error body read (default {@link MAX_ERROR_BODY_BYTES}). */
  readonly maxBodyBytes?: number | undefined
  /** Secrets (the API key in use) scrubbed from anything an error keeps. */
  readonly secrets?: ReadonlyArray<Redacted.Redacted<string> | string> | undefined
}

/**
 * {@link classify} with options: a bound on the error body and secrets to scrub.
 *
 * @example
 * ```ts
 * import { HttpMiddleware } from "effect-openai-resilience"
 * import { FetchHttpClient, HttpClient } from "@effect/platform"
 * import { Effect, Redacted } from "effect"
 *
 * const apiKey = Redacted.make("sk-example")
 * const program = Effect.gen(function*() {
 *   const client = (yield* HttpClient.HttpClient).pipe(
 *     HttpMiddleware.classifyWith({ maxBodyBytes: 64 * 1024, secrets: [apiKey] })
 *   )
 *   return yield* client.get("https://api.openai.com/v1/models")
 * }).pipe(Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const classifyWith: (
  options?: ClassifyOptions
) => <E, R>(self: HttpClient.HttpClient.With<E, R>) => HttpClient.HttpClient.With<OpenAiError.OpenAiError, R> =
  internal.classify

/**
 * Turns every non-2xx response into the typed error it stands for (via
 * {@link Classify.classifyResponse}: the body read once, at most {@link MAX_ERROR_BODY_BYTES}, the
 * time for an HTTP-date `retry-after` read from `Clock`), and every transport failure into a
 * `ConnectionError` or `TimeoutError` that keeps its cause. 2xx responses pass untouched, body
 * unread. Typed errors from inner middleware pass through.
 *
 * @example
 * ```ts
 * import { HttpMiddleware } from "effect-openai-resilience"
 * import { FetchHttpClient, HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const client = (yield* HttpClient.HttpClient).pipe(HttpMiddleware.classify)
 *   return yield* client.get("https://api.openai.com/v1/models")
 * }).pipe(
 *   Effect.catchTag("InvalidAuthentication", (e) => Effect.logError(e.solution)),
 *   Effect.provide(FetchHttpClient.layer)
 * )
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const classify: <E, R>(
  self: HttpClient.HttpClient.With<E, R>
) => HttpClient.HttpClient.With<OpenAiError.OpenAiError, R> = internal.classify()

/**
 * Retries typed errors with a policy: a `Schedule` whose input is the error, such as
 * `RetryPolicy.default` (which reads the server's `retry-after-ms`, `retry-after`,
 * `x-should-retry` and reset headers). Each attempt runs with {@link currentAttempt} set, so an
 * {@link attemptHeader} anywhere in the stack reports it, and all attempts share one idempotency
 * key. Put it outside {@link classify} and {@link timeout}.
 *
 * @example
 * ```ts
 * import { HttpMiddleware, RetryPolicy } from "effect-openai-resilience"
 * import { FetchHttpClient, HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const client = (yield* HttpClient.HttpClient).pipe(
 *     HttpMiddleware.classify,
 *     HttpMiddleware.retry(RetryPolicy.default)
 *   )
 *   return yield* client.get("https://api.openai.com/v1/models")
 * }).pipe(Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const retry: <Out, R2>(
  policy: Schedule.Schedule<Out, OpenAiError.OpenAiError, R2>
) => <E extends OpenAiError.OpenAiError, R>(
  self: HttpClient.HttpClient.With<E, R>
) => HttpClient.HttpClient.With<E, R | R2> = internal.retry

/**
 * Bounds each attempt's wait for response headers (and, for a non-2xx, the read of the error body
 * by {@link classify} inside it). Fails with `TimeoutError` (phase `"headers"`), which the default
 * policy retries. A streamed body is not covered: the client bounds it with an idle timeout.
 *
 * @example
 * ```ts
 * import { HttpMiddleware } from "effect-openai-resilience"
 * import { FetchHttpClient, HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const client = (yield* HttpClient.HttpClient).pipe(HttpMiddleware.classify, HttpMiddleware.timeout("30 seconds"))
 *   return yield* client.get("https://api.openai.com/v1/models")
 * }).pipe(Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const timeout: (
  duration: Duration.DurationInput
) => <E, R>(
  self: HttpClient.HttpClient.With<E, R>
) => HttpClient.HttpClient.With<E | OpenAiError.TimeoutError, R> = internal.timeout

/**
 * Bounds a request over all of its attempts and the waits between them. Fails with `TimeoutError`
 * (phase `"deadline"`). Put it outside {@link retry}.
 *
 * @example
 * ```ts
 * import { HttpMiddleware, RetryPolicy } from "effect-openai-resilience"
 * import { FetchHttpClient, HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const client = (yield* HttpClient.HttpClient).pipe(
 *     HttpMiddleware.classify,
 *     HttpMiddleware.retry(RetryPolicy.default),
 *     HttpMiddleware.deadline("2 minutes")
 *   )
 *   return yield* client.get("https://api.openai.com/v1/models")
 * }).pipe(Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const deadline: (
  duration: Duration.DurationInput
) => <E, R>(
  self: HttpClient.HttpClient.With<E, R>
) => HttpClient.HttpClient.With<E | OpenAiError.TimeoutError, R> = internal.deadline

/**
 * Sets an `Idempotency-Key` (a UUID v4 drawn from Effect's `Random`) on every POST that has none,
 * the same key on every attempt of one call, so that a server that honours it never runs a
 * retried POST twice. Other methods are idempotent already and are left alone.
 *
 * @example
 * ```ts
 * import { HttpMiddleware, RetryPolicy } from "effect-openai-resilience"
 * import { FetchHttpClient, HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const client = (yield* HttpClient.HttpClient).pipe(
 *     HttpMiddleware.classify,
 *     HttpMiddleware.retry(RetryPolicy.default),
 *     HttpMiddleware.idempotencyKey
 *   )
 *   return yield* client.post("https://api.openai.com/v1/embeddings")
 * }).pipe(Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const idempotencyKey: <E, R>(self: HttpClient.HttpClient.With<E, R>) => HttpClient.HttpClient.With<E, R> =
  internal.idempotencyKey

/**
 * Sets {@link ATTEMPT_HEADER} (or the header you name) to the retry count of the attempt.
 *
 * @example
 * ```ts
 * import { HttpMiddleware, RetryPolicy } from "effect-openai-resilience"
 * import { FetchHttpClient, HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const client = (yield* HttpClient.HttpClient).pipe(
 *     HttpMiddleware.classify,
 *     HttpMiddleware.attemptHeader(),
 *     HttpMiddleware.retry(RetryPolicy.default)
 *   )
 *   return yield* client.get("https://api.openai.com/v1/models")
 * }).pipe(Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const attemptHeader: (
  name?: string
) => <E, R>(self: HttpClient.HttpClient.With<E, R>) => HttpClient.HttpClient.With<E, R> = internal.attemptHeader

/**
 * Options of {@link resilient}: those of `Resilience`.
 *
 * @since 0.1.0
 * @category models
 */
export type ResilientOptions<R = never> = Resilience.Options<R>

/**
 * The default per-attempt timeout of {@link resilient}: 10 minutes, as the official SDKs.
 *
 * @example
 * ```ts
 * import { HttpMiddleware } from "effect-openai-resilience"
 * import { Duration } from "effect"
 *
 * console.log(Duration.format(HttpMiddleware.DEFAULT_TIMEOUT)) // "10m"
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_TIMEOUT: Duration.Duration = Resilience.DEFAULT_TIMEOUT

/**
 * The whole stack on any `HttpClient`, in the order `Resilience` keeps: bulkhead, deadline,
 * idempotency key, retry, and per attempt breaker, limiter, timeout and classification. The
 * result fails only with typed errors (plus `CircuitOpen` / `BulkheadFull` when configured). The
 * options are checked once, as `Resilience.middleware` says: a bad one fails every request with
 * `InvalidOptions` (in the type when the options could hold one; never with `Resilience.validate`'s).
 *
 * @example
 * ```ts
 * import { HttpMiddleware } from "effect-openai-resilience"
 * import { FetchHttpClient, HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const client = (yield* HttpClient.HttpClient).pipe(
 *     HttpMiddleware.resilient({ timeout: "60 seconds", deadline: "3 minutes" })
 *   )
 *   const response = yield* client.get("https://api.openai.com/v1/models")
 *   return HttpMiddleware.requestId(response)
 * }).pipe(Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const resilient: <O extends Resilience.Options<unknown> = {}>(
  options?: O
) => <E, R>(
  self: HttpClient.HttpClient.With<E, R>
) => HttpClient.HttpClient.With<Resilience.Failure<O> | Resilience.Invalid<O>, R | Resilience.Requirements<O>> =
  Resilience.middleware

/**
 * The id the server gave a response (`x-request-id`, else Azure's `apim-request-id` or
 * `x-ms-request-id`), if it sent one. Errors carry theirs in `requestId`, read the same way.
 *
 * @example
 * ```ts
 * import { HttpMiddleware } from "effect-openai-resilience"
 * import { HttpClientResponse, HttpClientRequest } from "@effect/platform"
 *
 * const response = HttpClientResponse.fromWeb(
 *   HttpClientRequest.get("https://api.openai.com/v1/models"),
 *   new Response("{}", { headers: { "x-request-id": "req_123" } })
 * )
 * HttpMiddleware.requestId(response) // Option.some("req_123")
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const requestId: (response: HttpClientResponse.HttpClientResponse) => Option.Option<string> =
  internal.requestId

/**
 * Wraps each typed error back into an `HttpClientError` (a `RequestError` whose `cause` is the
 * typed error), so a resilient client fits where a plain `HttpClient` is required, such as
 * `@effect/ai-openai`'s `transformClient`. {@link fromHttpClientError} gets the typed error back.
 *
 * @example
 * ```ts
 * import { HttpMiddleware } from "effect-openai-resilience"
 * import type { HttpClient } from "@effect/platform"
 *
 * // The shape @effect/ai-openai's `transformClient` option takes.
 * const transformClient = (client: HttpClient.HttpClient): HttpClient.HttpClient =>
 *   client.pipe(HttpMiddleware.resilient(), HttpMiddleware.toHttpClientError)
 * ```
 *
 * @since 0.1.0
 * @category interop
 */
export const toHttpClientError: <R>(
  self: HttpClient.HttpClient.With<
    OpenAiError.OpenAiError | CircuitBreaker.CircuitOpen | Bulkhead.BulkheadFull | InvalidOptions.InvalidOptions,
    R
  >
) => HttpClient.HttpClient.With<HttpClientError.HttpClientError, R> = internal.toHttpClientError

/**
 * The typed error inside an `HttpClientError` made by {@link toHttpClientError} (or the error
 * itself when it is typed already), found at any depth of a `cause` chain: an @effect/ai
 * `HttpRequestError` holds the platform error, which holds the typed one.
 *
 * @example
 * ```ts
 * import { HttpMiddleware } from "effect-openai-resilience"
 * import { Effect, Option } from "effect"
 *
 * const explain = (error: unknown) =>
 *   Option.match(HttpMiddleware.fromHttpClientError(error), {
 *     onNone: () => Effect.logError("not an OpenAI error"),
 *     onSome: (e) => Effect.logError(`${e._tag}: ${e.solution}`)
 *   })
 * ```
 *
 * @since 0.1.0
 * @category interop
 */
export const fromHttpClientError: (error: unknown) => Option.Option<OpenAiError.OpenAiError> =
  internal.fromHttpClientError

/**
 * Effect-level forms of the middleware, for code that wraps more than one HTTP call in one
 * logical request (the client retries "send + read the first stream event" as a unit).
 *
 * @example
 * ```ts
 * import { HttpMiddleware, RetryPolicy } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * declare const attempt: Effect.Effect<string, import("effect-openai-resilience").OpenAiError.OpenAiError>
 * const retried = HttpMiddleware.retryEffect(attempt, RetryPolicy.default)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const retryEffect: <A, E extends OpenAiError.OpenAiError, R, Out, R2>(
  effect: Effect.Effect<A, E, R>,
  policy: Schedule.Schedule<Out, OpenAiError.OpenAiError, R2>
) => Effect.Effect<A, E, R | R2> = internal.retryEffect

/**
 * A policy that never retries: handy for {@link ResilientOptions.retryPolicy} in tests.
 *
 * @example
 * ```ts
 * import { HttpMiddleware } from "effect-openai-resilience"
 *
 * const options = { retryPolicy: HttpMiddleware.noRetry }
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const noRetry: Schedule.Schedule<unknown, OpenAiError.OpenAiError> = Schedule.stop
