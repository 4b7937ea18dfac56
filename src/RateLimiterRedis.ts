/**
 * One organisation's limits shared by every process: a {@link RateLimiter.Store} in Redis.
 *
 * OpenAI's limits belong to the organisation (per model), not to a process: replicas that each
 * pace themselves in memory each take the whole limit. With this store they share one record per
 * key, and every limiter decision (reserve on both dimensions at once, release with the
 * response's headers, pause after a 429, calibrate, adjust) is one Lua script: one atomic round
 * trip. A process whose request must wait sleeps until the instant the store computed, and wakes
 * earlier when another process frees room (Redis pub/sub): no polling.
 *
 * - Keys are `<prefix><hash of the API key>:<model>` (the API key itself is never sent to Redis)
 *   and expire `ttl` after their last write.
 * - Times are the callers' clocks: keep the machines' clocks in sync (NTP), as for any shared
 *   token bucket.
 * - If Redis is down, slow or restarted, the limiter's `onStoreFailure` option decides: pace
 *   locally (the default, with a warning and `RateLimiter.storeFailures`) or fail with
 *   `RateLimiterStoreError`. Commands fail at once while disconnected and reconnection is
 *   automatic, so pacing resumes when Redis returns.
 *
 * Import it from `effect-openai-resilience/redis`; it needs `ioredis` ^5 (an optional peer
 * dependency the main entry never loads).
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { RedisOptions } from "ioredis"
import type * as CircuitBreaker from "./CircuitBreaker.js"
import * as sharedRedis from "./internal/sharedRedis.js"
import * as internal from "./internal/rateLimiterRedis.js"
import * as RateLimiter from "./RateLimiter.js"
import type * as RetryBudget from "./RetryBudget.js"

/**
 * Options of the Redis store.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** `redis://[:password@]host:port/db` (or `rediss://`). Default: ioredis's `127.0.0.1:6379`. */
  readonly url?: Redacted.Redacted<string> | string | undefined
  /** Further ioredis options (TLS, username, sentinels...). */
  readonly redis?: RedisOptions | undefined
  /** Prefix of every key and of the wake-up channel. Default `"openai-ratelimit:"`. */
  readonly prefix?: string | undefined
  /** How long a key lives after its last write. Default 1 hour (learned limits survive idle spells). */
  readonly ttl?: Duration.DurationInput | undefined
  /** How long to wait for the first connection before starting anyway. Default 5 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
}

/**
 * Connects to Redis and returns the store; disconnects when the scope closes. Construction never
 * fails: an unreachable Redis reads as a failing store, which the limiter handles.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { RateLimiterRedis } from "effect-openai-resilience/redis"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* RateLimiterRedis.make({ url: "redis://127.0.0.1:6379" })
 *   const limiter = yield* RateLimiter.make({ tokensPerMinute: 30_000 }).pipe(
 *     Effect.provideService(RateLimiter.RateLimiterStore, store)
 *   )
 *   return yield* limiter.acquire({ key: "team-a:gpt-4o-mini", tokens: 1200 })
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<RateLimiter.Store, never, Scope.Scope> =>
  internal.make({
    url: options.url === undefined ? undefined : Redacted.isRedacted(options.url) ? Redacted.value(options.url) : options.url,
    redis: options.redis,
    prefix: options.prefix ?? "openai-ratelimit:",
    ttlMillis: Math.max(1000, Math.ceil(Duration.toMillis(Duration.decode(options.ttl ?? Duration.hours(1))))),
    connectTimeoutMillis: Math.max(
      1,
      Math.ceil(Duration.toMillis(Duration.decode(options.connectTimeout ?? Duration.seconds(5))))
    )
  })

const sharedOptions = (options: Omit<Options, "connectTimeout">, ttl: Duration.Duration): sharedRedis.Options => ({
  url: options.url === undefined ? undefined : Redacted.isRedacted(options.url) ? Redacted.value(options.url) : options.url,
  redis: options.redis,
  prefix: options.prefix ?? "openai-ratelimit:",
  ttlMillis: Math.max(1000, Math.ceil(Duration.toMillis(Duration.decode(options.ttl ?? ttl))))
})

/**
 * A {@link CircuitBreaker.SharedStore} on the same Redis: breakers of several replicas given it
 * (`CircuitBreaker.make({ shared: { store } })`) open together when one trips.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "effect-openai-resilience"
 * import { RateLimiterRedis } from "effect-openai-resilience/redis"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* RateLimiterRedis.makeBreakerStore({ url: "redis://127.0.0.1:6379" })
 *   return yield* CircuitBreaker.make({ name: "openai", shared: { store } })
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeBreakerStore = (
  options: Omit<Options, "connectTimeout"> = {}
): Effect.Effect<CircuitBreaker.SharedStore, never, Scope.Scope> =>
  // Kept 10 minutes after an open ends by default, so that the trips count survives a quick re-trip.
  sharedRedis.makeBreakerStore(sharedOptions(options, Duration.minutes(10)))

/**
 * A {@link RetryBudget.SharedStore} on the same Redis: budgets of several replicas given it
 * (`RetryBudget.make({ shared: { store } })`) draw on one bucket of retries.
 *
 * @example
 * ```ts
 * import { RetryBudget } from "effect-openai-resilience"
 * import { RateLimiterRedis } from "effect-openai-resilience/redis"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* RateLimiterRedis.makeBudgetStore({ url: "redis://127.0.0.1:6379" })
 *   return yield* RetryBudget.make({ capacity: 200, shared: { store } })
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeBudgetStore = (
  options: Omit<Options, "connectTimeout"> = {}
): Effect.Effect<RetryBudget.SharedStore, never, Scope.Scope> =>
  sharedRedis.makeBudgetStore(sharedOptions(options, Duration.hours(1)))

/**
 * The store as a layer.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { RateLimiterRedis } from "effect-openai-resilience/redis"
 * import { Layer } from "effect"
 *
 * const Live = RateLimiter.layer({ requestsPerMinute: 500, tokensPerMinute: 30_000 }).pipe(
 *   Layer.provide(RateLimiterRedis.layer({ url: "redis://127.0.0.1:6379", prefix: "my-app:" }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<RateLimiter.RateLimiterStore> =>
  Layer.scoped(RateLimiter.RateLimiterStore, make(options))

/**
 * The options read from configuration: `REDIS_URL` (redacted, required), `REDIS_KEY_PREFIX`,
 * `REDIS_KEY_TTL` and `REDIS_CONNECT_TIMEOUT` (durations such as `"1 hour"`).
 *
 * @example
 * ```ts
 * import { RateLimiterRedis } from "effect-openai-resilience/redis"
 * import { ConfigProvider, Effect } from "effect"
 *
 * const options = RateLimiterRedis.config.pipe(
 *   Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["REDIS_URL", "redis://127.0.0.1:6379"]])))
 * )
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Options> = Config.all({
  url: Config.redacted("REDIS_URL"),
  prefix: Config.string("REDIS_KEY_PREFIX").pipe(Config.option, Config.map(Option.getOrUndefined)),
  ttl: Config.duration("REDIS_KEY_TTL").pipe(Config.option, Config.map(Option.getOrUndefined)),
  connectTimeout: Config.duration("REDIS_CONNECT_TIMEOUT").pipe(Config.option, Config.map(Option.getOrUndefined))
})

/**
 * The store as a layer from {@link config}, with `overrides` (ioredis options, say) on top.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { RateLimiterRedis } from "effect-openai-resilience/redis"
 * import { Layer } from "effect"
 *
 * // REDIS_URL=redis://redis.internal:6379 in the environment
 * const Live = RateLimiter.layer().pipe(Layer.provide(RateLimiterRedis.layerConfig()))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  overrides: Options = {}
): Layer.Layer<RateLimiter.RateLimiterStore, ConfigError.ConfigError> =>
  Layer.scoped(
    RateLimiter.RateLimiterStore,
    Effect.flatMap(config, (options) => make({ ...options, ...overrides }))
  )

/**
 * Counts the round trips the Redis store made (one per limiter decision).
 *
 * @example
 * ```ts
 * import { RateLimiterRedis } from "effect-openai-resilience/redis"
 * import { Effect, Metric } from "effect"
 *
 * const roundTrips = Metric.value(RateLimiterRedis.commands).pipe(Effect.map((state) => state.count))
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const commands: Metric.Metric.Counter<number> = internal.commandsTotal
