/**
 * The one way the Redis-backed stores (rate limiter, shared breaker and budget, batch checkpoint)
 * open a connection: scoped, quiet, with their Lua scripts defined.
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { Redis, type RedisOptions } from "ioredis"

/** A Lua script and how many of its arguments are keys. @internal */
export interface Script {
  readonly keys: number
  readonly lua: string
}

/** @internal */
export interface ConnectOptions {
  readonly url?: string | undefined
  /** The caller's own options, over `defaults`. */
  readonly redis?: RedisOptions | undefined
  /** The store's defaults (how it behaves while disconnected). */
  readonly defaults: RedisOptions
  readonly scripts?: Readonly<Record<string, Script>> | undefined
  /** Wait at most this long for the first connection, so that the first commands need not fail. */
  readonly readyWithin?: Duration.DurationInput | undefined
}

/**
 * A client disconnected when the scope closes. Its `error` events are ignored: errors reach the
 * caller through the commands, and the events would only print.
 * @internal
 */
export const connect = <R extends Redis = Redis>(options: ConnectOptions): Effect.Effect<R, never, Scope.Scope> =>
  Effect.gen(function*() {
    const settings: RedisOptions = { ...options.defaults, ...options.redis }
    const redis = yield* Effect.acquireRelease(
      Effect.sync(() => (options.url === undefined ? new Redis(settings) : new Redis(options.url, settings)) as R),
      (client) => Effect.sync(() => client.disconnect())
    )
    redis.on("error", () => {})
    for (const [name, script] of Object.entries(options.scripts ?? {})) {
      redis.defineCommand(name, { numberOfKeys: script.keys, lua: script.lua })
    }
    if (options.readyWithin !== undefined) yield* ready(redis, options.readyWithin)
    return redis
  })

/** Waits (at most `within`) for the client's first connection. @internal */
export const ready = (redis: Redis, within: Duration.DurationInput): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (redis.status === "ready") return resume(Effect.void)
    const done = () => resume(Effect.void)
    redis.once("ready", done)
    return Effect.sync(() => redis.off("ready", done))
  }).pipe(Effect.timeout(within), Effect.ignore)

/** The message of a command's failure. @internal */
export const describe = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)
