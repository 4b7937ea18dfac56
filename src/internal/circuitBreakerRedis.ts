/**
 * The circuit breaker's shared open state in Redis: one hash per key (`<prefix>breaker:<key>`),
 * each operation one Lua script (one atomic round trip), expiring a while after the open ends.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { Redis, type RedisOptions } from "ioredis"
import * as CircuitBreaker from "../CircuitBreaker.js"

/** `open`: KEYS[1]; ARGV retryAt, trips, ttl. The same rule as the memory store's `isLater`. */
const open = `
local v = redis.call("HMGET", KEYS[1], "r", "t")
local r, t = tonumber(v[1]), tonumber(v[2])
local retryAt, trips = tonumber(ARGV[1]), tonumber(ARGV[2])
if t == nil or trips > t or (trips == t and retryAt > r) then
  redis.call("HSET", KEYS[1], "r", ARGV[1], "t", ARGV[2])
  redis.call("PEXPIREAT", KEYS[1], math.floor(retryAt) + tonumber(ARGV[3]))
end
return 0
`

/** `close`: KEYS[1]; ARGV trips. */
const close = `
local t = tonumber(redis.call("HGET", KEYS[1], "t"))
if t ~= nil and t <= tonumber(ARGV[1]) then redis.call("DEL", KEYS[1]) end
return 0
`

interface RedisWithScripts extends Redis {
  eorBreakerOpen(key: string, ...args: Array<string>): Promise<number>
  eorBreakerClose(key: string, ...args: Array<string>): Promise<number>
}

/** @internal */
export interface Options {
  readonly url?: string | undefined
  readonly redis?: RedisOptions | undefined
  readonly prefix: string
  readonly ttlMillis: number
}

/** @internal */
export const make = (options: Options): Effect.Effect<CircuitBreaker.SharedStore, never, Scope.Scope> =>
  Effect.gen(function*() {
    // As the limiter's store: fail at once while disconnected, so the breaker decides locally.
    const base: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1, ...options.redis }
    const redis = yield* Effect.acquireRelease(
      Effect.sync(() => (options.url === undefined ? new Redis(base) : new Redis(options.url, base)) as RedisWithScripts),
      (client) => Effect.sync(() => client.disconnect())
    )
    redis.on("error", () => {})
    redis.defineCommand("eorBreakerOpen", { numberOfKeys: 1, lua: open })
    redis.defineCommand("eorBreakerClose", { numberOfKeys: 1, lua: close })
    yield* Effect.async<void>((resume) => {
      if (redis.status === "ready") return resume(Effect.void)
      const done = () => resume(Effect.void)
      redis.once("ready", done)
      return Effect.sync(() => redis.off("ready", done))
    }).pipe(Effect.timeout("5 seconds"), Effect.ignore)
    const command = <A>(name: string, run: () => Promise<A>) =>
      Effect.tryPromise({
        try: run,
        catch: (cause) =>
          new CircuitBreaker.SharedStoreError({
            message: `redis ${name}: ${cause instanceof Error ? cause.message : String(cause)}`,
            cause
          })
      })
    const full = (key: string) => `${options.prefix}breaker:${key}`
    return {
      read: (key, now) =>
        Effect.map(command("read", () => redis.hmget(full(key), "r", "t")), ([r, t]) => {
          const retryAt = Number(r)
          const trips = Number(t)
          return r != null && t != null && retryAt > now ? Option.some({ retryAt, trips }) : Option.none()
        }),
      open: (key, o) =>
        Effect.asVoid(
          command("open", () => redis.eorBreakerOpen(full(key), String(o.retryAt), String(o.trips), String(options.ttlMillis)))
        ),
      close: (key, trips) => Effect.asVoid(command("close", () => redis.eorBreakerClose(full(key), String(trips))))
    }
  })
