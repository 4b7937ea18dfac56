/**
 * A {@link Checkpoint.Service} in Redis, so that several workers (processes, machines) share one
 * batch and each request is done by exactly one of them: a worker claims a request with a lease
 * (`SET NX PX`, renewed while the request runs), records its result once (`HSETNX` into the
 * batch's hash of results) and frees the lease. A worker that dies loses its leases when they
 * expire; another then takes its requests. The results are in the hash
 * `<prefix><batch>:results`, id to JSON record (`{"id", "ok", ...}`).
 *
 * Needs `ioredis` (an optional peer dependency); import it from `effect-openai-resilience/redis`.
 *
 * @since 0.2.0
 */
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { RedisOptions } from "ioredis"
import * as Checkpoint from "./Checkpoint.js"
import * as internal from "./internal/checkpointRedis.js"

/**
 * Where the batch lives in Redis.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** The batch's name: workers with the same name (and prefix) share it. */
  readonly batch: string
  /** `redis://[:password@]host:port/db`. Default: ioredis's `127.0.0.1:6379`. */
  readonly url?: Redacted.Redacted<string> | string | undefined
  /** Further ioredis options. */
  readonly redis?: RedisOptions | undefined
  /** Prefix of every key. Default `"openai-batch:"`. */
  readonly prefix?: string | undefined
  /** How long a claim lasts without renewal (a dead worker's requests wait this long). Default 1 minute. */
  readonly lease?: Duration.DurationInput | undefined
  /** This worker's name in its leases. Default: random. */
  readonly worker?: string | undefined
}

/**
 * The store, connected for as long as the scope.
 *
 * @example
 * ```ts
 * import { CheckpointRedis } from "effect-openai-resilience/redis"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const checkpoint = yield* CheckpointRedis.make({ batch: "corpus-2026-12", url: "redis://127.0.0.1:6379" })
 *   return yield* checkpoint.done
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Checkpoint.Service, never, Scope.Scope> =>
  internal.make({
    batch: options.batch,
    url: options.url === undefined ? undefined : Redacted.isRedacted(options.url) ? Redacted.value(options.url) : options.url,
    redis: options.redis,
    prefix: options.prefix ?? "openai-batch:",
    leaseMillis: Math.max(100, Math.ceil(Duration.toMillis(Duration.decode(options.lease ?? Duration.minutes(1))))),
    worker: options.worker ?? `${process.pid}-${Math.random().toString(36).slice(2, 10)}`
  })

/**
 * {@link make} as the `Checkpoint` layer.
 *
 * @example
 * ```ts
 * import { CheckpointRedis } from "effect-openai-resilience/redis"
 *
 * const CheckpointLive = CheckpointRedis.layer({ batch: "corpus-2026-12", url: "redis://127.0.0.1:6379" })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Checkpoint.Checkpoint> =>
  Layer.scoped(Checkpoint.Checkpoint, make(options))
