/**
 * The whole {@link Resilience} stack for `@effect/ai-openai`, through its `transformClient` option,
 * keeping what @effect/ai expects of a client:
 *
 * - an HTTP error whose retries ran out is the server's last response, so @effect/ai makes its
 *   `HttpResponseError` with that status and body;
 * - a transport failure, a timeout, an open circuit or a full bulkhead is a transport error
 *   (`HttpRequestError` with reason `"Transport"`);
 * - a stream is retried until its first event (a cut or an error event before it is classified and
 *   retried); after it, an error event or a cut fails the stream with the typed error (never an
 *   error part in a stream that then succeeds).
 *
 * {@link explain} (or {@link typedErrors}) reads the typed `OpenAiError` back from any `AiError`
 * this produced. A separate entry point, `effect-openai-resilience/effect-ai`, so that the main
 * one never loads @effect/ai.
 *
 * @since 0.1.0
 */
import * as OpenAiClient from "@effect/ai-openai/OpenAiClient"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import type * as Bulkhead from "./Bulkhead.js"
import type * as CircuitBreaker from "./CircuitBreaker.js"
import * as internal from "./internal/effectAi.js"
import * as explainInternal from "./internal/explain.js"
import type * as OpenAiError from "./OpenAiError.js"
import type * as Resilience from "./Resilience.js"
import type * as ResilientFetch from "./ResilientFetch.js"

/**
 * The stack as `HttpClient -> HttpClient`, failing only with the platform's errors. With a policy
 * that needs no service (the default), it is `transformClient` as it stands; otherwise see
 * {@link transformClient}.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-openai-resilience"
 * import { EffectAi } from "effect-openai-resilience/effect-ai"
 * import { OpenAiClient } from "@effect/ai-openai"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect, Layer, Redacted } from "effect"
 *
 * const OpenAiLive = Layer.unwrapScoped(Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make()
 *   return OpenAiClient.layer({
 *     apiKey: Redacted.make("sk-..."),
 *     transformClient: EffectAi.resilient({ breaker, timeout: "60 seconds" })
 *   })
 * })).pipe(Layer.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const resilient = <O extends Resilience.Options<unknown> = {}>(options?: O) =>
(
  client: HttpClient.HttpClient
): HttpClient.HttpClient.With<HttpClientError.HttpClientError, Resilience.Requirements<O>> =>
  internal.resilient(options ?? {})(client) as HttpClient.HttpClient.With<
    HttpClientError.HttpClientError,
    Resilience.Requirements<O>
  >

/**
 * {@link resilient} with the policy's requirements (a `RetryBudget`) taken from the context, as
 * the plain `HttpClient -> HttpClient` that `transformClient` takes.
 *
 * @example
 * ```ts
 * import { RetryBudget, RetryPolicy } from "effect-openai-resilience"
 * import { EffectAi } from "effect-openai-resilience/effect-ai"
 * import { OpenAiClient } from "@effect/ai-openai"
 * import { Effect, Layer } from "effect"
 *
 * const OpenAiLive = Layer.unwrapEffect(
 *   Effect.map(
 *     EffectAi.transformClient({ retryPolicy: RetryPolicy.withBudget(RetryPolicy.default) }),
 *     (transformClient) => OpenAiClient.layer({ transformClient })
 *   )
 * ).pipe(Layer.provide(RetryBudget.layer()))
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const transformClient = <O extends Resilience.Options<unknown> = {}>(
  options?: O
): Effect.Effect<(client: HttpClient.HttpClient) => HttpClient.HttpClient, never, Resilience.Requirements<O>> =>
  Effect.map(
    Effect.context<Resilience.Requirements<O>>(),
    (context) => (client: HttpClient.HttpClient): HttpClient.HttpClient =>
      HttpClient.transformResponse(
        internal.resilient(options ?? {})(client),
        (effect) => Effect.provide(effect, context as Context.Context<unknown>)
      ) as HttpClient.HttpClient
  )

/**
 * The options of {@link layer}: @effect/ai-openai's own, and the stack's.
 *
 * @since 0.1.0
 * @category models
 */
export interface LayerOptions<O> {
  readonly apiKey?: Redacted.Redacted | undefined
  readonly apiUrl?: string | undefined
  readonly organizationId?: Redacted.Redacted | undefined
  readonly projectId?: Redacted.Redacted | undefined
  readonly resilience?: O | undefined
}

/**
 * @effect/ai-openai's `OpenAiClient` with the stack inside.
 *
 * @example
 * ```ts
 * import { EffectAi } from "effect-openai-resilience/effect-ai"
 * import { OpenAiLanguageModel } from "@effect/ai-openai"
 * import { LanguageModel } from "@effect/ai"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect, Layer, Redacted } from "effect"
 *
 * const OpenAiLive = EffectAi.layer({
 *   apiKey: Redacted.make("sk-..."),
 *   resilience: { deadline: "2 minutes" }
 * }).pipe(Layer.provide(FetchHttpClient.layer))
 *
 * const program = LanguageModel.generateText({ prompt: "Say hi" }).pipe(
 *   Effect.provide(OpenAiLanguageModel.model("gpt-4o-mini")),
 *   Effect.provide(OpenAiLive)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <O extends Resilience.Options<unknown> = {}>(
  options: LayerOptions<O>
): Layer.Layer<OpenAiClient.OpenAiClient, never, HttpClient.HttpClient | Resilience.Requirements<O>> => {
  const { resilience, ...client } = options
  return Layer.unwrapEffect(
    Effect.map(transformClient(resilience), (transform) => OpenAiClient.layer({ ...client, transformClient: transform }))
  )
}

/**
 * What {@link explain} reads back (the same as `ResilientFetch.Explanation`).
 *
 * @since 0.1.0
 * @category models
 */
export type Explanation = ResilientFetch.Explanation

/**
 * The typed error behind an `AiError` (an `HttpResponseError` through the response's id header,
 * an `HttpRequestError` through its `cause`), with the attempts made and the policy's decisions.
 * `None` for an error that did not come through the stack.
 *
 * @example
 * ```ts
 * import { EffectAi } from "effect-openai-resilience/effect-ai"
 * import { LanguageModel } from "@effect/ai"
 * import { Effect, Option } from "effect"
 *
 * const program = LanguageModel.generateText({ prompt: "Say hi" }).pipe(
 *   Effect.tapError((e) =>
 *     Option.match(EffectAi.explain(e), {
 *       onNone: () => Effect.void,
 *       onSome: ({ attempts, error }) => Effect.logError(`${error._tag} after ${attempts} attempts`)
 *     })
 *   )
 * )
 * ```
 *
 * @since 0.1.0
 * @category explaining
 */
export const explain: (error: unknown) => Option.Option<Explanation> = explainInternal.explain

/**
 * Replaces every error that came through the stack with its typed error, so that
 * `Effect.catchTag("QuotaExceeded", ...)` and `Match` work on an @effect/ai call. Other errors
 * (a `MalformedOutput`, say) stay as they are.
 *
 * @example
 * ```ts
 * import { EffectAi } from "effect-openai-resilience/effect-ai"
 * import { LanguageModel } from "@effect/ai"
 * import { Effect } from "effect"
 *
 * const program = LanguageModel.generateText({ prompt: "Say hi" }).pipe(
 *   EffectAi.typedErrors,
 *   Effect.catchTag("QuotaExceeded", (e) => Effect.logError(e.solution).pipe(Effect.as(undefined)))
 * )
 * ```
 *
 * @since 0.1.0
 * @category explaining
 */
export const typedErrors = <A, E, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E | OpenAiError.OpenAiError | CircuitBreaker.CircuitOpen | Bulkhead.BulkheadFull, R> =>
  Effect.mapError(self, (e) => Option.match(explain(e), { onNone: () => e, onSome: (x) => x.error }))
