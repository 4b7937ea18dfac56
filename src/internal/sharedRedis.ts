/**
 * State shared beside the limiter's, in Redis, each operation one Lua script (one atomic round
 * trip): the circuit breaker's open state (a hash per key, `<prefix>breaker:<key>`, expiring a
 * while after the open ends) and the retry budget's tokens (`<prefix>budget:<key>`).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { Redis, RedisOptions } from "ioredis"
import type * as CircuitBreaker from "../CircuitBreaker.js"
import * as RateLimiter from "../RateLimiter.js"
import type * as RetryBudget from "../RetryBudget.js"
import * as RedisConnection from "./redis.js"

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

/** `take`: KEYS[1]; ARGV cost, capacity, ttl. Returns 1 when taken. A missing key is a full budget. */
const take = `
local tokens = tonumber(redis.call("GET", KEYS[1])) or tonumber(ARGV[2])
local cost = tonumber(ARGV[1])
if tokens < cost then return 0 end
redis.call("SET", KEYS[1], string.format("%.17g", tokens - cost), "PX", ARGV[3])
return 1
`

/** `refund`: KEYS[1]; ARGV amount, capacity, ttl. */
const refund = `
local capacity = tonumber(ARGV[2])
local tokens = tonumber(redis.call("GET", KEYS[1])) or capacity
redis.call("SET", KEYS[1], string.format("%.17g", math.min(capacity, tokens + tonumber(ARGV[1]))), "PX", ARGV[3])
return 0
`

interface RedisWithScripts extends Redis {
  eorBreakerOpen(key: string, ...args: Array<string>): Promise<number>
  eorBreakerClose(key: string, ...args: Array<string>): Promise<number>
  eorBudgetTake(key: string, ...args: Array<string>): Promise<number>
  eorBudgetRefund(key: string, ...args: Array<string>): Promise<number>
}

/** @internal */
export interface Options {
  readonly url?: string | undefined
  readonly redis?: RedisOptions | undefined
  readonly prefix: string
  readonly ttlMillis: number
}

const connect = (options: Options) =>
  Effect.gen(function*() {
    // As the limiter's store: fail at once while disconnected, so the breaker decides locally.
    const redis = yield* RedisConnection.connect<RedisWithScripts>({
      url: options.url,
      redis: options.redis,
      defaults: { enableOfflineQueue: false, maxRetriesPerRequest: 1 },
      scripts: {
        eorBreakerOpen: { keys: 1, lua: open },
        eorBreakerClose: { keys: 1, lua: close },
        eorBudgetTake: { keys: 1, lua: take },
        eorBudgetRefund: { keys: 1, lua: refund }
      },
      readyWithin: "5 seconds"
    })
    const command = <A>(name: string, run: () => Promise<A>) =>
      Effect.tryPromise({
        try: run,
        catch: (cause) => new RateLimiter.RateLimiterStoreError({ message: `redis ${name}: ${RedisConnection.describe(cause)}`, cause })
      })
    return { redis, command }
  })

/** @internal */
export const makeBreakerStore = (options: Options): Effect.Effect<CircuitBreaker.SharedStore, never, Scope.Scope> =>
  Effect.map(connect(options), ({ command, redis }): CircuitBreaker.SharedStore => {
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

/** @internal */
export const makeBudgetStore = (options: Options): Effect.Effect<RetryBudget.SharedStore, never, Scope.Scope> =>
  Effect.map(connect(options), ({ command, redis }): RetryBudget.SharedStore => {
    const full = (key: string) => `${options.prefix}budget:${key}`
    const ttl = String(options.ttlMillis)
    return {
      take: (key, cost, capacity) =>
        Effect.map(
          command("take", () => redis.eorBudgetTake(full(key), String(cost), String(capacity), ttl)),
          (taken) => taken === 1
        ),
      refund: (key, amount, capacity) =>
        Effect.asVoid(command("refund", () => redis.eorBudgetRefund(full(key), String(amount), String(capacity), ttl))),
      tokens: (key, capacity) =>
        Effect.map(command("tokens", () => redis.get(full(key))), (v) => v === null ? capacity : Number(v))
    }
  })
