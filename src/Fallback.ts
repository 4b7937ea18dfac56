/**
 * A fallback plan over {@link Deployment}s, whose every move is decided by the typed error of the
 * deployment it leaves. Other clients fall back on "any error"; this one knows why a call failed:
 *
 * | the deployment failed with | the plan |
 * | --- | --- |
 * | `EngineOverloaded` | leaves it at once (no retries there) for the next one |
 * | `ServerError`, `ConnectionError`, `TimeoutError` (after the deployment's own retries), `CircuitOpen`, `BulkheadFull` | the next deployment |
 * | `RateLimitReached` asking to wait longer than `maxRateLimitWait` | the next deployment now, instead of waiting |
 * | `RateLimitReached` after the deployment's retries | the next deployment |
 * | `QuotaExceeded` | a deployment with other credentials; this credential is not used again by the plan |
 * | `ContextLengthExceeded` | a deployment with a larger `contextWindow`, if there is one |
 * | `BadRequest`, `UnprocessableEntity`, authentication and permission errors | stop (see `stopOn`) |
 * | anything else (`NotFound`, `RequestTooLarge`, `ResponseDecodeError`, ...) | the next deployment |
 *
 * Every move is recorded: the result's `route` names the deployment that served and, in order,
 * each one left and why (its error, a skip, or a hedge that lost the race); the `Fallback.run`
 * span gets one event per move. When the plan runs out, it fails with the error that ended it,
 * unchanged, so it can still be matched exhaustively.
 *
 * Streams fall back only before their first element: once a deployment has delivered one, the
 * stream is its, and a later failure is the caller's.
 *
 * With `hedge`, a call still unanswered after a delay (fixed, or the p95 latency the plan has
 * observed on that deployment) is also sent to the next deployment; the first success wins and
 * the other is interrupted. Each hedge spends from the retry budget and may run in a bulkhead of
 * its own, so hedging cannot multiply the load in an outage.
 *
 * Why not effect's `ExecutionPlan` underneath: an `ExecutionPlan` step sees the error alone and
 * runs one step at a time; here a move depends on which deployment failed (its context window,
 * its credential) and a hedge runs two deployments at once. Where an `ExecutionPlan` is what you
 * have (layers of `OpenAiClient`, say), {@link whileMoveOn} gives its steps the same stop-or-next
 * rule.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as Bulkhead from "./Bulkhead.js"
import type * as Deployment from "./Deployment.js"
import * as internal from "./internal/fallback.js"
import type * as OpenAiClient from "./OpenAiClient.js"
import type * as OpenAiError from "./OpenAiError.js"
import type * as RetryBudget from "./RetryBudget.js"
import type * as ChatCompletion from "./Schemas/ChatCompletion.js"
import type * as ChatCompletionChunk from "./Schemas/ChatCompletionChunk.js"
import type * as Embeddings from "./Schemas/Embeddings.js"
import type * as Responses from "./Schemas/Responses.js"

/**
 * The tag of anything a deployment can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type Reason = Deployment.Failure["_tag"]

/**
 * Hedging: send the same request to the next deployment when the current one is slow.
 *
 * @since 0.1.0
 * @category models
 */
export interface HedgeOptions {
  /** A fixed delay, or `"p95"`: the 95th percentile of the deployment's observed latency. */
  readonly after: Duration.DurationInput | "p95"
  /** With `"p95"`, the delay until `minSamples` successes were observed (default 2 seconds). */
  readonly initialDelay?: Duration.DurationInput | undefined
  /** With `"p95"`, successes observed before their p95 is used (default 20). */
  readonly minSamples?: number | undefined
  /**
   * The budget each hedge spends from, as a retry after a timeout would (default: the
   * `RetryBudget` service where the call runs, if any). An empty budget sends no hedge.
   */
  readonly budget?: RetryBudget.Service | undefined
  /** Hedges run inside it; when it is full, no hedge is sent. */
  readonly bulkhead?: Bulkhead.Bulkhead | undefined
}

/**
 * Options of {@link make}. Every field has a default.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** A `RateLimitReached` asking to wait longer than this moves on at once (default 10 seconds). */
  readonly maxRateLimitWait?: Duration.DurationInput | undefined
  /**
   * Errors that end the plan instead of moving on (default `BadRequest`, `UnprocessableEntity`,
   * `InvalidAuthentication`, `IncorrectApiKey`, `NoOrganization`, `PermissionDenied`,
   * `UnsupportedRegion`). Give `[]` to move on after any error, say when deployments hold
   * different keys and one may be revoked.
   */
  readonly stopOn?: ReadonlyArray<Reason> | undefined
  /**
   * Errors on which a deployment is left without its own retries while another deployment can
   * take over (default `EngineOverloaded`). The last usable deployment always retries.
   */
  readonly leaveAtOnce?: ReadonlyArray<OpenAiError.Tag> | undefined
  /** How long a credential that answered `QuotaExceeded` stays out of the plan (default: for good). */
  readonly quotaCooldown?: Duration.DurationInput | undefined
  /** Send a slow call to the next deployment too; the first success wins. Off by default. */
  readonly hedge?: HedgeOptions | undefined
}

/**
 * Why a deployment was left: it failed (with its error and how long it took), it was skipped
 * (its credential's quota is spent, its context window is not larger), or a hedge beat it and
 * it was interrupted.
 *
 * @since 0.1.0
 * @category models
 */
export type Left<E> =
  | {
    readonly _tag: "Failed"
    readonly deployment: string
    readonly error: E
    readonly elapsed: Duration.Duration
  }
  | {
    readonly _tag: "Skipped"
    readonly deployment: string
    readonly reason: "credential-spent" | "context-window"
  }
  | {
    readonly _tag: "Outrun"
    readonly deployment: string
    readonly elapsed: Duration.Duration
  }

/**
 * The moves of one call: the deployment that served it, those left on the way, in order, and
 * whether a hedge was sent.
 *
 * @since 0.1.0
 * @category models
 */
export interface Route<E> {
  readonly served: string
  readonly left: ReadonlyArray<Left<E>>
  readonly hedged: boolean
}

/**
 * A value and the route that produced it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Served<A, E> {
  readonly value: A
  readonly route: Route<E>
}

/**
 * A decoded response (see `OpenAiClient.Decoded`) and the route that produced it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Decoded<A, E> extends OpenAiClient.Decoded<A> {
  readonly route: Route<E>
}

/**
 * A plan: the client's operations, each served by the first deployment that can, and
 * {@link Fallback.run} for anything else.
 *
 * @since 0.1.0
 * @category models
 */
export interface Fallback<E> {
  /** The deployments, in the order they are tried. */
  readonly deployments: ReadonlyArray<Deployment.Deployment<E>>
  /** Runs `f` on the first deployment that succeeds, moving on as the typed error says. */
  readonly run: <A>(f: (deployment: Deployment.Deployment<E>) => Effect.Effect<A, E>) => Effect.Effect<Served<A, E>, E>
  /** {@link Fallback.run} for effects that open resources: each attempt gets its own scope. */
  readonly runScoped: <A>(
    f: (deployment: Deployment.Deployment<E>) => Effect.Effect<A, E, Scope.Scope>
  ) => Effect.Effect<Served<A, E>, E, Scope.Scope>
  readonly chat: {
    readonly completions: {
      /** `POST /chat/completions` on the first deployment that answers; `model` is the deployment's. */
      readonly create: (
        request: ChatCompletion.ChatCompletionRequest
      ) => Effect.Effect<Decoded<ChatCompletion.ChatCompletion, E>, E>
      /** A stream that falls back until its first chunk, never after. */
      readonly stream: (
        request: ChatCompletion.ChatCompletionRequest
      ) => Stream.Stream<ChatCompletionChunk.ChatCompletionChunk, E>
      /** {@link Fallback.chat.completions.stream}, opened in the caller's scope, with its route. */
      readonly open: (
        request: ChatCompletion.ChatCompletionRequest
      ) => Effect.Effect<Decoded<Stream.Stream<ChatCompletionChunk.ChatCompletionChunk, E>, E>, E, Scope.Scope>
    }
  }
  readonly embeddings: {
    readonly create: (
      request: Embeddings.EmbeddingsRequest
    ) => Effect.Effect<Decoded<Embeddings.CreateEmbeddingResponseFloat32, E>, E>
  }
  readonly responses: {
    readonly create: (request: Responses.ResponsesRequest) => Effect.Effect<Decoded<Responses.Response, E>, E>
    readonly stream: (request: Responses.ResponsesRequest) => Stream.Stream<Responses.ResponseStreamEvent, E>
    readonly open: (
      request: Responses.ResponsesRequest
    ) => Effect.Effect<Decoded<Stream.Stream<Responses.ResponseStreamEvent, E>, E>, E, Scope.Scope>
  }
}

/**
 * Makes a plan over deployments, tried in the order given. The plan keeps what it learns across
 * calls: spent credentials, and (for hedging after the p95) each deployment's latencies.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, Deployment, Fallback } from "effect-openai-resilience"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect, Redacted } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const openai = yield* Deployment.openAi({
 *     name: "openai",
 *     apiKey: Redacted.make("sk-..."),
 *     model: "gpt-4o-mini",
 *     resilience: { breaker: yield* CircuitBreaker.make({ name: "openai" }) }
 *   })
 *   const azure = yield* Deployment.azure({
 *     name: "azure",
 *     endpoint: "https://my-resource.openai.azure.com",
 *     deployment: "gpt-4o-mini",
 *     auth: { apiKey: Redacted.make("azure-key") },
 *     resilience: { breaker: yield* CircuitBreaker.make({ name: "azure" }) }
 *   })
 *   const plan = yield* Fallback.make([openai, azure], { maxRateLimitWait: "5 seconds" })
 *   const { data, route } = yield* plan.chat.completions.create({
 *     model: "gpt-4o-mini",
 *     messages: [{ role: "user", content: "Say hi" }]
 *   })
 *   yield* Effect.log(`served by ${route.served}; left: ${route.left.map((l) => l.deployment).join(", ")}`)
 *   return data.choices[0]?.message.content
 * }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E extends Deployment.Failure>(
  deployments: readonly [Deployment.Deployment<E>, ...ReadonlyArray<Deployment.Deployment<E>>],
  options: Options = {}
): Effect.Effect<Fallback<E>> => Effect.sync(() => internal.make(deployments, options))

/**
 * What a plan does after a deployment failed with `error`, before context windows and spent
 * credentials pick the next one: `"stop"` for the tags in `stopOn` (default {@link defaultStopOn}),
 * `"next"` for everything else.
 *
 * @example
 * ```ts
 * import { Fallback, OpenAiError } from "effect-openai-resilience"
 *
 * Fallback.moveOn(new OpenAiError.ServerError({ message: "boom" })) // "next"
 * Fallback.moveOn(new OpenAiError.BadRequest({ message: "bad" })) // "stop"
 * ```
 *
 * @since 0.1.0
 * @category decisions
 */
export const moveOn = (error: Deployment.Failure, stopOn?: ReadonlyArray<Reason>): "next" | "stop" =>
  internal.moveOn(error, stopOn === undefined ? undefined : new Set(stopOn))

/**
 * The errors that end a plan by default: the request itself or its credentials are wrong, and
 * another deployment would say the same.
 *
 * @example
 * ```ts
 * import { Fallback } from "effect-openai-resilience"
 *
 * // Keep going after auth errors (each deployment has its own key), still stop on bad requests:
 * const stopOn = Fallback.defaultStopOn.filter((t) => t === "BadRequest" || t === "UnprocessableEntity")
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultStopOn: ReadonlyArray<Reason> = internal.DEFAULT_STOP_ON

/**
 * The plan's stop-or-next rule as the `while` of an effect `ExecutionPlan` step: `true` (try this
 * step) after an error the plan would move on from, `false` after one that stops it (and after
 * anything that is not this library's error). Context windows, spent credentials and hedging
 * need {@link make}.
 *
 * @example
 * ```ts
 * import { Fallback, OpenAiClient } from "effect-openai-resilience"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect, ExecutionPlan, Layer, Redacted } from "effect"
 *
 * const plan = ExecutionPlan.make(
 *   { provide: OpenAiClient.layer({ apiKey: Redacted.make("sk-...") }) },
 *   { provide: OpenAiClient.layer({ apiKey: Redacted.make("sk-..."), baseUrl: "http://localhost:8000/v1" }), while: Fallback.whileMoveOn() }
 * )
 * const chat = Effect.flatMap(OpenAiClient.OpenAiClient, (openai) =>
 *   openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] }))
 * const program = Effect.withExecutionPlan(chat, plan).pipe(Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category decisions
 */
export const whileMoveOn = (
  options: { readonly stopOn?: ReadonlyArray<Reason> | undefined } = {}
): (error: unknown) => Effect.Effect<boolean> => {
  const stopOn = new Set<string>(options.stopOn ?? internal.DEFAULT_STOP_ON)
  return (error) => Effect.succeed(internal.isFailure(error) && internal.moveOn(error, stopOn) === "next")
}
