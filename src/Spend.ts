/**
 * Spend accounting: each response's `usage` times a price table, counted in a metric, and an
 * optional budget per period that stops a client with a typed error once it is spent.
 *
 * The prices are the published list prices (US dollars per million tokens) of current OpenAI
 * models at the time of writing ({@link prices}); your contract, a Batch discount or a newer price
 * list is not known here: override them. A model without a price is not counted.
 *
 * ```ts
 * import { Spend } from "effect-openai-resilience"
 * import { HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const spend = yield* Spend.make({ limit: 50, period: "1 day" })
 *   const client = (yield* HttpClient.HttpClient).pipe(Spend.middleware(spend))
 *   return client
 * })
 * ```
 *
 * @since 0.2.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Metric from "effect/Metric"
import type * as Option from "effect/Option"
import * as internal from "./internal/spend.js"

/**
 * A model's prices in US dollars per million tokens: input, cached input (defaults to input),
 * output.
 *
 * @since 0.2.0
 * @category models
 */
export interface Price {
  readonly input: number
  readonly cachedInput?: number | undefined
  readonly output: number
}

/**
 * Options of a spend account.
 *
 * - `prices`: merged over {@link prices}; a name covers its dated snapshots.
 * - `limit`: US dollars per period; when the period's spend reaches it, {@link Service.check}
 *   (and so the middleware) fails with {@link SpendLimitReached} until the period ends. No
 *   limit: only counted.
 * - `period`: default 1 day; periods are fixed windows from the epoch (a day starts at 00:00 UTC).
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  readonly prices?: Readonly<Record<string, Price>> | undefined
  readonly limit?: number | undefined
  readonly period?: Duration.DurationInput | undefined
}

/**
 * A spend account. One per client or per organisation, as you want the budget shared.
 *
 * @since 0.2.0
 * @category models
 */
export interface Service {
  /** Fails when this period's spend has reached the limit. */
  readonly check: Effect.Effect<void, SpendLimitReached>
  /** Adds a response's cost (from its `usage`); gives the cost, 0 for a model without a price. */
  readonly record: (model: string, usage: unknown) => Effect.Effect<number>
  /** This period's spend so far. */
  readonly spent: Effect.Effect<number>
}

/**
 * The service tag, for an account shared through a Layer.
 *
 * @example
 * ```ts
 * import { Spend } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const today = Effect.flatMap(Spend.Spend, (spend) => spend.spent).pipe(
 *   Effect.provide(Spend.layer({ limit: 20 }))
 * )
 * ```
 *
 * @since 0.2.0
 * @category tags
 */
export class Spend extends Context.Tag("effect-openai-resilience/Spend")<Spend, Service>() {}

/**
 * The period's spend reached the limit; no request was sent. `retryAfter` is the time until the
 * period ends.
 *
 * @example
 * ```ts
 * import { Spend } from "effect-openai-resilience"
 * import { Duration } from "effect"
 *
 * const e = new Spend.SpendLimitReached({
 *   limit: 50, spent: 50.2, period: Duration.days(1), retryAfter: Duration.hours(3)
 * })
 * console.log(e.message) // Spend limit reached: $50.2000 of $50 in this period of 1d; it resets in 3h
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export const SpendLimitReached: typeof internal.SpendLimitReached = internal.SpendLimitReached

/**
 * An instance of {@link SpendLimitReached}.
 *
 * @since 0.2.0
 * @category errors
 */
export type SpendLimitReached = internal.SpendLimitReached

/**
 * List prices of current OpenAI models, US dollars per million tokens.
 *
 * @example
 * ```ts
 * import { Spend } from "effect-openai-resilience"
 *
 * Spend.prices["gpt-4o-mini"] // { input: 0.15, cachedInput: 0.075, output: 0.6 }
 * ```
 *
 * @since 0.2.0
 * @category constants
 */
export const prices: Readonly<Record<string, Price>> = internal.prices

/**
 * The cost in US dollars of one response's `usage` (chat, embeddings or Responses shape; cached
 * input tokens at the cached price), or `None` when the model has no price or there is no usage.
 *
 * @example
 * ```ts
 * import { Spend } from "effect-openai-resilience"
 *
 * Spend.costOf("gpt-4o-mini-2024-07-18", { prompt_tokens: 1_000_000, completion_tokens: 0 }) // Some(0.15)
 * ```
 *
 * @since 0.2.0
 * @category accounting
 */
export const costOf: (
  model: string,
  usage: unknown,
  overrides?: Readonly<Record<string, Price>> | undefined
) => Option.Option<number> = internal.costOf

/**
 * Counter `openai_spend_usd_total`: US dollars recorded, tagged `model` (as the response names it).
 *
 * @example
 * ```ts
 * import { Spend } from "effect-openai-resilience"
 * import { Metric } from "effect"
 *
 * const miniSpend = Metric.value(Spend.spentTotal.pipe(Metric.tagged("model", "gpt-4o-mini-2024-07-18")))
 * ```
 *
 * @since 0.2.0
 * @category metrics
 */
export const spentTotal: Metric.Metric.Counter<number> = internal.spentTotal

/**
 * A spend account, in memory (per process).
 *
 * @example
 * ```ts
 * import { Spend } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const spend = yield* Spend.make({ limit: 5, period: "1 hour" })
 *   yield* spend.record("gpt-4o-mini", { prompt_tokens: 1200, completion_tokens: 300 })
 *   yield* spend.check // fails with SpendLimitReached once 5 dollars are spent this hour
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<Service> = internal.make

/**
 * A Layer of one shared account.
 *
 * @example
 * ```ts
 * import { Spend } from "effect-openai-resilience"
 *
 * const SpendLive = Spend.layer({ limit: 100, period: "1 day" })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const layer = (options: Options = {}): Layer.Layer<Spend> => Layer.effect(Spend, make(options))

/**
 * `HttpClient` middleware: each request first checks the account (failing with
 * {@link SpendLimitReached} once the period's limit is spent), and each 2xx JSON response is
 * recorded from its `model` and `usage` (its body is read here; the platform caches it for the
 * caller). A streamed response is not recorded: call {@link Service.record} with the usage of its
 * last event (`stream_options: { include_usage: true }`).
 *
 * @example
 * ```ts
 * import { Spend } from "effect-openai-resilience"
 * import { HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const spend = yield* Spend.Spend
 *   return (yield* HttpClient.HttpClient).pipe(Spend.middleware(spend))
 * })
 * ```
 *
 * @since 0.2.0
 * @category middleware
 */
export const middleware: (
  service: Service
) => <E, R>(client: HttpClient.HttpClient.With<E, R>) => HttpClient.HttpClient.With<E | SpendLimitReached, R> =
  internal.middleware
