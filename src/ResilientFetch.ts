/**
 * The whole {@link Resilience} stack as a WHATWG `fetch`, for the clients people already use:
 * the official `openai` package, the Vercel AI SDK, LangChain, or anything that takes a `fetch`.
 *
 * ```ts
 * import { ResilientFetch } from "effect-openai-resilience"
 * import OpenAI from "openai"
 *
 * const fetch = ResilientFetch.fromOptions({ limiter: { requestsPerMinute: 500 }, breaker: {} })
 * const openai = new OpenAI({ apiKey: "sk-...", fetch, maxRetries: 0 }) // its own retries off
 * ```
 *
 * What the client sees:
 *
 * - When retries run out on an HTTP error, the server's last response (status, headers, body), so
 *   the client raises its own error class (`OpenAI.RateLimitError`, Vercel's `APICallError`).
 * - A transport failure, a timeout, an open circuit or a full bulkhead: a `TypeError` as undici
 *   throws one (a timeout's message says "timed out"), so the client raises its connection or
 *   timeout error.
 * - A stream: retried until its first bytes arrive, then handed over untouched; an error event or
 *   a cut after that reaches the client exactly as the server sent it.
 *
 * In every case {@link explain} reads the typed error back from whatever the client raised, with
 * the attempts made and the policy's decisions.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Bulkhead from "./Bulkhead.js"
import type * as CircuitBreaker from "./CircuitBreaker.js"
import * as explainInternal from "./internal/explain.js"
import * as internal from "./internal/resilientFetch.js"
import type * as OpenAiError from "./OpenAiError.js"
import type * as RateLimiter from "./RateLimiter.js"
import type * as Resilience from "./Resilience.js"
import type * as RetryBudget from "./RetryBudget.js"
import type * as RetryPolicy from "./RetryPolicy.js"

/**
 * The shape of `fetch` that the clients take (`openai`'s `fetch` option, Vercel's
 * `FetchFunction`, LangChain's `configuration.fetch`).
 *
 * @since 0.1.0
 * @category models
 */
export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

/**
 * A `fetch` with the stack inside.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResilientFetch extends Fetch {}

/**
 * A {@link ResilientFetch} made by {@link fromOptions}, with `close` to stop it: calls still in
 * progress are interrupted and the breaker's timers end.
 *
 * @since 0.1.0
 * @category models
 */
export interface Closeable extends ResilientFetch {
  readonly close: () => Promise<void>
}

/**
 * The options of {@link make}: the stack's layers (as {@link Resilience.Options}), the fetch
 * underneath, and where warnings go.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<R = never> extends Resilience.Options<R> {
  /**
   * The fetch each attempt calls (directly, or through @effect/platform's `FetchHttpClient` when a
   * tracer records its `http.client` span). Without it, the `HttpClient` in context carries the
   * attempts (on Node, `UndiciHttpClient.layer` from `effect-openai-resilience/undici`), else the
   * `FetchHttpClient.Fetch` in context, else `globalThis.fetch` read at call time.
   */
  readonly fetch?: Fetch | undefined
  /** Where the one warning about a client retrying on its own goes (default `Effect.logWarning`). */
  readonly onWarning?: ((message: string) => void) | undefined
  /**
   * Called with every call's {@link Explanation} when its retries run out, whatever the client
   * then makes of it: for a client that drops what it was given (LangChain turns a timeout into a
   * bare `Error`), this is where the typed error can still be seen.
   */
  readonly onFailure?: ((explanation: Explanation) => void) | undefined
  /**
   * Whether requests open `@effect/platform`'s `http.client` span and send `traceparent` (as
   * `OpenAiClient`'s option): by default only when a Tracer other than Effect's default one is in
   * place.
   */
  readonly tracing?: boolean | undefined
}

/**
 * The options of {@link fromOptions}: plain values for code without Effect. Each layer is made
 * from its options (the limiter with an in-memory store); a budgeted policy gets a fresh
 * `RetryBudget` from `budget`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PlainOptions extends Omit<Options<never>, "retryPolicy" | "breaker" | "bulkhead" | "limiter"> {
  readonly retryPolicy?: Schedule.Schedule<unknown, OpenAiError.OpenAiError, RetryBudget.RetryBudget> | undefined
  readonly breaker?: CircuitBreaker.Options | undefined
  readonly bulkhead?: Bulkhead.Options | undefined
  readonly limiter?: RateLimiter.Options | undefined
  readonly budget?: RetryBudget.Options | undefined
  /**
   * The `HttpClient` that sends the attempts, in place of a `fetch` (giving both is refused with
   * `InvalidOptions`). On Node, `UndiciHttpClient.make()` from `effect-openai-resilience/undici`
   * is the quickest: it calls undici's dispatcher directly, without building a `Request` and a
   * `Response` per attempt.
   */
  readonly httpClient?: HttpClient.HttpClient | undefined
}

/**
 * What {@link explain} reads back: the typed error that ended the call, how many requests it sent
 * (attempts refused by an open circuit or the bulkhead send none) and each decision of the policy.
 * `attempts` is 0 for a typed error that did not come through an adapter.
 *
 * @since 0.1.0
 * @category models
 */
export interface Explanation {
  readonly error: OpenAiError.OpenAiError | CircuitBreaker.CircuitOpen | Bulkhead.BulkheadFull
  readonly attempts: number
  readonly decisions: ReadonlyArray<RetryPolicy.Decision>
}

/**
 * The response header that carries the id {@link explain} looks up, for clients that copy headers
 * into their own errors. The id is random and means nothing outside this process.
 *
 * @example
 * ```ts
 * import { ResilientFetch } from "effect-openai-resilience"
 *
 * console.log(ResilientFetch.EXPLAIN_HEADER) // "x-resilience-id"
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const EXPLAIN_HEADER: string = explainInternal.HEADER

/**
 * A resilient fetch built in Effect: the limiter's store, `Clock` and `Random` come from the
 * context (a test's `TestClock`, a Redis store), so does the `HttpClient` that sends the attempts
 * when no `fetch` is given, and the scope ends it (calls in progress are interrupted).
 *
 * @example
 * ```ts
 * import { CircuitBreaker, RateLimiter, ResilientFetch } from "effect-openai-resilience"
 * import { Effect } from "effect"
 * import OpenAI from "openai"
 *
 * const program = Effect.gen(function*() {
 *   const limiter = yield* RateLimiter.RateLimiter
 *   const breaker = yield* CircuitBreaker.make()
 *   const fetch = yield* ResilientFetch.make({ limiter, breaker, deadline: "2 minutes" })
 *   const openai = new OpenAI({ apiKey: "sk-...", fetch, maxRetries: 0 })
 *   return yield* Effect.promise(() => openai.models.list())
 * }).pipe(Effect.scoped, Effect.provide(RateLimiter.layerMemory()))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <O extends Options<unknown> = {}>(
  options?: O
): Effect.Effect<ResilientFetch, never, Scope.Scope | Resilience.Requirements<O>> =>
  internal.make(options ?? {}) as Effect.Effect<ResilientFetch, never, Scope.Scope | Resilience.Requirements<O>>

/**
 * A resilient fetch from plain options, for code without Effect. `close()` stops it.
 *
 * @example
 * ```ts
 * import { ResilientFetch, RetryPolicy } from "effect-openai-resilience"
 * import OpenAI from "openai"
 *
 * const fetch = ResilientFetch.fromOptions({
 *   retryPolicy: RetryPolicy.make({ maxRetries: 4, maxServerDelay: "20 seconds" }),
 *   limiter: { requestsPerMinute: 500, tokensPerMinute: 200_000 },
 *   breaker: { consecutiveFailures: 5 },
 *   bulkhead: { maxConcurrent: 16, maxQueue: 64 },
 *   secrets: [process.env.OPENAI_API_KEY ?? ""]
 * })
 * const openai = new OpenAI({ fetch, maxRetries: 0 })
 * // on shutdown: await fetch.close()
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromOptions: (options?: PlainOptions) => Closeable = (options = {}) => internal.fromOptions(options)

/**
 * The typed error behind whatever a client raised for a call through a resilient fetch: the
 * client's own error (openai-node's `APIError`, `APIConnectionError`, `APIConnectionTimeoutError`;
 * Vercel's `APICallError` or `RetryError`; LangChain's), the `Response` it was given, or an
 * @effect/ai `AiError`. `None` for anything else.
 *
 * @example
 * ```ts
 * import { ResilientFetch } from "effect-openai-resilience"
 * import { Option } from "effect"
 * import OpenAI from "openai"
 *
 * const openai = new OpenAI({ apiKey: "sk-...", fetch: ResilientFetch.fromOptions(), maxRetries: 0 })
 * try {
 *   await openai.models.list()
 * } catch (e) {
 *   if (e instanceof OpenAI.RateLimitError) {
 *     const explained = ResilientFetch.explain(e)
 *     if (Option.isSome(explained)) {
 *       const { attempts, error } = explained.value
 *       console.log(`${error._tag} after ${attempts} attempts`) // "QuotaExceeded after 1 attempts"
 *     }
 *   }
 * }
 * ```
 *
 * @since 0.1.0
 * @category explaining
 */
export const explain: (error: unknown) => Option.Option<Explanation> = explainInternal.explain
