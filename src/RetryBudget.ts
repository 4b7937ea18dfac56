/**
 * A retry budget: one token bucket shared by every call that uses the same budget, in the style
 * of the AWS SDKs' standard retry mode and gRPC's retry throttling. A retry spends tokens; a
 * success earns a fraction of a retry back. While the upstream is healthy the bucket stays full
 * and retries are free to happen; during a total outage nothing refills it, so after a bounded
 * number of retries every call fails after its first attempt, and the load the client sends stays
 * close to one request per logical call instead of `1 + maxRetries`.
 *
 * With the defaults (capacity 500, a retry costs 5, a connection error or timeout costs 10, a
 * success earns 1) a client can, over time, send at most one retry per five successes: at most
 * 1.2 requests per call.
 *
 * The budget is a service: provide one with {@link layer}, build a policy with
 * `RetryPolicy.make({ budget: true })`, and run calls with `RetryPolicy.retry` (or wrap each
 * attempt in {@link track}) so that successes are recorded.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as O from "./internal/options.js"
import * as sharedStore from "./internal/sharedStore.js"
import type { InvalidOptions } from "./InvalidOptions.js"
import type * as OpenAiError from "./OpenAiError.js"
import type * as RateLimiter from "./RateLimiter.js"

/**
 * How the bucket is sized and what retries cost.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Tokens in a full bucket; the bucket starts full. Default 500. */
  readonly capacity?: number | undefined
  /** Tokens a retry after an HTTP error costs. Default 5. */
  readonly retryCost?: number | undefined
  /**
   * Tokens a retry after a `ConnectionError` or `TimeoutError` costs: these usually mean the
   * upstream is unreachable, where retrying helps least. Default 10.
   */
  readonly transportRetryCost?: number | undefined
  /** Tokens a successful call earns back (never above the capacity). Default 1. */
  readonly successRefund?: number | undefined
  /**
   * Share the budget with other processes through a {@link SharedStore} under `key` (default
   * `"openai"`): retries drained by one replica are drained for all. A failing store is warned
   * about, and this process's own bucket answers until it is back.
   */
  readonly shared?: { readonly store: SharedStore; readonly key?: string | undefined } | undefined
}

/**
 * Where budgets of several processes share their tokens, one round trip per operation (a
 * missing key is a full budget). A failure is a `RateLimiterStoreError`, never surfaced by the
 * budget. Made by {@link makeSharedStoreMemory} or `RateLimiterRedis.makeBudgetStore`.
 *
 * @since 0.1.0
 * @category shared
 */
export interface SharedStore {
  /** Takes `cost` tokens if there are that many. */
  readonly take: (key: string, cost: number, capacity: number) => Effect.Effect<boolean, RateLimiter.RateLimiterStoreError>
  /** Gives back `amount` tokens, never above `capacity`. */
  readonly refund: (key: string, amount: number, capacity: number) => Effect.Effect<void, RateLimiter.RateLimiterStoreError>
  /** The tokens left. */
  readonly tokens: (key: string, capacity: number) => Effect.Effect<number, RateLimiter.RateLimiterStoreError>
}

/**
 * A {@link SharedStore} in this process's memory: budgets made in one process share it.
 *
 * @example
 * ```ts
 * import { RetryBudget } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const store = RetryBudget.makeSharedStoreMemory()
 * const program = Effect.all([
 *   RetryBudget.make({ capacity: 50, shared: { store } }),
 *   RetryBudget.make({ capacity: 50, shared: { store } })
 * ])
 * ```
 *
 * @since 0.1.0
 * @category shared
 */
export const makeSharedStoreMemory = (): SharedStore => {
  const levels = new Map<string, number>()
  return {
    take: (key, cost, capacity) =>
      Effect.sync(() => {
        const tokens = levels.get(key) ?? capacity
        if (tokens < cost) return false
        levels.set(key, tokens - cost)
        return true
      }),
    refund: (key, amount, capacity) =>
      Effect.sync(() => {
        levels.set(key, Math.min(capacity, (levels.get(key) ?? capacity) + amount))
      }),
    tokens: (key, capacity) => Effect.sync(() => levels.get(key) ?? capacity)
  }
}

/**
 * The resolved settings of a budget.
 *
 * @since 0.1.0
 * @category models
 */
export interface Settings {
  readonly capacity: number
  readonly retryCost: number
  readonly transportRetryCost: number
  readonly successRefund: number
}

/**
 * The service: a shared token bucket.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly settings: Settings
  /** Tokens left now. */
  readonly tokens: Effect.Effect<number>
  /** What a retry after this error costs. */
  readonly costOf: (error: OpenAiError.OpenAiError) => number
  /**
   * Spends the cost of a retry after `error` if the bucket holds enough, and says whether it did.
   * Atomic: concurrent callers never overspend.
   */
  readonly tryAcquire: (error: OpenAiError.OpenAiError) => Effect.Effect<boolean>
  /** Earns back {@link Settings.successRefund} tokens. */
  readonly recordSuccess: Effect.Effect<void>
}

/**
 * The retry budget service tag.
 *
 * @example
 * ```ts
 * import { RetryBudget } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const tokensLeft = Effect.flatMap(RetryBudget.RetryBudget, (budget) => budget.tokens)
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class RetryBudget extends Context.Tag("effect-openai-resilience/RetryBudget")<RetryBudget, Service>() {}

/**
 * The default settings.
 *
 * @example
 * ```ts
 * import { RetryBudget } from "effect-openai-resilience"
 *
 * console.log(RetryBudget.defaults.capacity) // 500
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults: Settings = {
  capacity: 500,
  retryCost: 5,
  transportRetryCost: 10,
  successRefund: 1
}

// A bad number (negative, NaN) falls back to the default rather than making a budget that can
// never or always retry by accident.
const positive = (value: number | undefined, fallback: number): number =>
  value !== undefined && Number.isFinite(value) && value >= 0 ? value : fallback

/**
 * Resolves options against {@link defaults}. Negative or non-finite numbers read as the default.
 *
 * @example
 * ```ts
 * import { RetryBudget } from "effect-openai-resilience"
 *
 * RetryBudget.settings({ capacity: 50 }) // { capacity: 50, retryCost: 5, ... }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const settings = (options: Options = {}): Settings => ({
  capacity: positive(options.capacity, defaults.capacity),
  retryCost: positive(options.retryCost, defaults.retryCost),
  transportRetryCost: positive(options.transportRetryCost, defaults.transportRetryCost),
  successRefund: positive(options.successRefund, defaults.successRefund)
})

/**
 * Creates a budget (a fresh, full bucket).
 *
 * @example
 * ```ts
 * import { RetryBudget } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const budget = yield* RetryBudget.make({ capacity: 10 })
 *   return yield* budget.tokens // 10
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service, InvalidOptions> =>
  Effect.flatMap(O.validate("RetryBudget", OptionsSchema, options), (valid) => {
    const resolved = settings(valid)
    return Effect.map(Ref.make(resolved.capacity), (ref) => service(resolved, ref, valid.shared))
  })

// Zero is meaningful everywhere: an empty budget allows no retry, a free retry costs nothing.
const OptionsSchema = Schema.Struct({
  capacity: O.optional(O.number(0)),
  retryCost: O.optional(O.number(0)),
  transportRetryCost: O.optional(O.number(0)),
  successRefund: O.optional(O.number(0)),
  shared: O.optional(Schema.Struct({
    store: O.methods<SharedStore>("a RetryBudget.SharedStore (take, refund, tokens)", "take", "refund", "tokens"),
    key: O.optional(O.string)
  }))
})

const service = (resolved: Settings, ref: Ref.Ref<number>, shared: Options["shared"]): Service => {
  const costOf = (error: OpenAiError.OpenAiError): number =>
    error._tag === "ConnectionError" || error._tag === "TimeoutError"
      ? resolved.transportRetryCost
      : resolved.retryCost
  const take = (cost: number) => Ref.modify(ref, (tokens) => tokens >= cost ? [true, tokens - cost] : [false, tokens])
  const refund = Ref.update(ref, (tokens) => Math.min(resolved.capacity, tokens + resolved.successRefund))
  if (shared === undefined) {
    return { settings: resolved, tokens: Ref.get(ref), costOf, tryAcquire: (error) => take(costOf(error)), recordSuccess: refund }
  }
  // This process's own bucket answers while the store fails.
  const run = sharedStore.guard("retry budget")
  const key = shared.key ?? "openai"
  return {
    settings: resolved,
    tokens: run(shared.store.tokens(key, resolved.capacity), Ref.get(ref)),
    costOf,
    tryAcquire: (error) => {
      const cost = costOf(error)
      return run(shared.store.take(key, cost, resolved.capacity), take(cost))
    },
    recordSuccess: run(shared.store.refund(key, resolved.successRefund, resolved.capacity), refund)
  }
}

/**
 * A layer providing one budget shared by everything that runs under it.
 *
 * @example
 * ```ts
 * import { type OpenAiError, RetryBudget, RetryPolicy } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * declare const call: Effect.Effect<string, OpenAiError.OpenAiError>
 * const program = RetryPolicy.retry(call, RetryPolicy.make({ budget: true })).pipe(
 *   Effect.provide(RetryBudget.layer({ capacity: 100 }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<RetryBudget, InvalidOptions> =>
  Layer.effect(RetryBudget, make(options))

/**
 * Records a success in the budget when `effect` succeeds, if a budget is provided (otherwise it
 * does nothing). Wrap each attempt, inside the retry: `Effect.retry(RetryBudget.track(call),
 * policy)`. `RetryPolicy.retry` does this for you.
 *
 * @example
 * ```ts
 * import { type OpenAiError, RetryBudget, RetryPolicy } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * declare const call: Effect.Effect<string, OpenAiError.OpenAiError>
 * const program = Effect.retry(RetryBudget.track(call), RetryPolicy.make({ budget: true }))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const track = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.tap(effect, () =>
    Effect.flatMap(Effect.serviceOption(RetryBudget), (budget) =>
      budget._tag === "Some" ? budget.value.recordSuccess : Effect.void))
