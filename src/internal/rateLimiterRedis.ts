/**
 * The Redis store: the arithmetic of `./rateLimiter.ts`, line for line, as Lua scripts, so that
 * each limiter decision is one atomic round trip. Numbers travel as `%.17g` strings (exact for
 * doubles) so that Redis and memory agree to the bit; a property test checks it.
 *
 * Layout: one hash per key (`<prefix><key>`), expiring `ttl` after its last write; one channel
 * (`<prefix>wake`) on which a change that may let a waiter through publishes the key.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type { Redis, RedisOptions } from "ioredis"
import * as RateLimiter from "../RateLimiter.js"
import type * as internal from "./rateLimiter.js"
import { BACKGROUND_LEASE, OWED_CAP, TRANSIT_MILLIS, WAKE_MILLIS } from "./rateLimiter.js"
import { makeWakeups } from "./rateLimiterService.js"
import * as RedisConnection from "./redis.js"

/** @internal */
export const commandsTotal = Metric.counter("openai_rate_limiter_redis_commands_total", {
  description: "Round trips the Redis rate limiter store made",
  incremental: true
})

const prelude = `
local function num(x) return string.format("%.17g", x) end
local function load(key)
  local v = redis.call("HMGET", key, "lr", "lt", "fr", "ft", "pu", "ob", "ts", "g", "tt", "sy", "pr", "or", "ot", "ow", "bu")
  return {
    lr = tonumber(v[1]), lt = tonumber(v[2]),
    fr = tonumber(v[3]) or 0, ft = tonumber(v[4]) or 0, pu = tonumber(v[5]) or 0,
    ob = v[6] == "1", ts = tonumber(v[7]) or 1,
    g = tonumber(v[8]) or 0, tt = tonumber(v[9]) or 0, sy = tonumber(v[10]) or 0, pr = tonumber(v[11]) or 0,
    orq = tonumber(v[12]) or 0, ot = tonumber(v[13]) or 0, ow = tonumber(v[14]) or 0, bu = tonumber(v[15]) or 0
  }
end
local function save(key, s, ttl)
  local a = { "fr", num(s.fr), "ft", num(s.ft), "pu", num(s.pu), "ob", s.ob and "1" or "0", "ts", num(s.ts),
    "g", num(s.g), "tt", num(s.tt), "sy", num(s.sy), "pr", num(s.pr), "or", num(s.orq), "ot", num(s.ot),
    "ow", num(s.ow), "bu", num(s.bu) }
  if s.lr then a[#a + 1] = "lr"; a[#a + 1] = num(s.lr) end
  if s.lt then a[#a + 1] = "lt"; a[#a + 1] = num(s.lt) end
  redis.call("HSET", key, unpack(a))
  redis.call("PEXPIRE", key, ttl)
end
local function fixed(s, requests, tokens)
  if requests then s.lr = requests end
  if tokens then s.lt = tokens end
end
local MINUTE = 60000
`

/**
 * `reserve`: KEYS[1] state; ARGV now, tokens, fixedRequests, fixedTokens, burst, headroom,
 * probeLease, ttl, skew, then the lane (empty when none): floor, background, share, yieldFloor,
 * and channel, backgroundLease, owedCap. Publishes a wake-up when the background lane becomes owed.
 */
const reserve = `${prelude}
local key = KEYS[1]
local now, tokens = tonumber(ARGV[1]), tonumber(ARGV[2])
local burst, headroom, lease, ttl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local at = now - tonumber(ARGV[9])
local floor, background, share, yieldFloor = tonumber(ARGV[10]), ARGV[11] == "1", tonumber(ARGV[12]), tonumber(ARGV[13])
local channel, backgroundLease, owedCap = ARGV[14], tonumber(ARGV[15]), tonumber(ARGV[16])
local s = load(key)
fixed(s, tonumber(ARGV[3]), tonumber(ARGV[4]))
if s.lt and tokens > s.lt then
  save(key, s, ttl)
  return { "TooLarge", num(s.lt), num(tokens) }
end
local owedBefore = s.ow
local charged = 0
if tokens > 0 then charged = math.ceil(tokens * s.ts) end
charged = math.min(charged, s.lt or 9007199254740991)
local function grant(probe)
  s.g = s.g + 1
  s.tt = s.tt + charged
  s.orq = s.orq + 1
  s.ot = s.ot + charged
  save(key, s, ttl)
  return { "Granted", num(charged), num(s.g), num(s.tt), probe and "1" or "0", owedBefore < 1 and s.ow >= 1 and "1" or "0" }
end
if not s.lr and not s.lt and not s.ob then
  if now < s.pr then
    save(key, s, ttl)
    return { "Wait", num(math.ceil(s.pr - now)) }
  end
  s.pr = now + lease
  return grant(true)
end
if floor then
  local f = floor
  if share > 0 and s.ow >= 1 then
    if background then f = 0 elseif s.bu > now then f = math.max(floor, yieldFloor) end
  end
  headroom = math.min(0.99, headroom + f)
end
local function waitFor(full, limit, n)
  local rate = limit / MINUTE
  local capacity = limit * burst * (1 - headroom)
  local need = math.min(n, capacity)
  local earliest = full + (need - capacity) / rate
  return math.max(0, earliest - at)
end
local wait = 0
if s.pu > 0 then wait = s.pu - at end
if s.lr then wait = math.max(wait, waitFor(s.fr, s.lr, 1)) end
if s.lt and charged > 0 then wait = math.max(wait, waitFor(s.ft, s.lt, charged)) end
if wait > 0 then
  local millis = math.ceil(wait)
  if floor and background and share > 0 then s.bu = math.max(s.bu, now + millis + backgroundLease) end
  save(key, s, ttl)
  return { "Wait", num(millis) }
end
if floor and share > 0 then
  if background then
    s.ow = math.max(0, s.ow - 1)
  elseif s.bu > now then
    s.ow = math.min(owedCap, s.ow + share / (1 - share))
  end
end
if owedBefore < 1 and s.ow >= 1 then redis.call("PUBLISH", channel, key) end
if s.lr then s.fr = math.max(s.fr, now) + 1 / (s.lr / MINUTE) end
if s.lt and charged > 0 then s.ft = math.max(s.ft, now) + charged / (s.lt / MINUTE) end
return grant(false)
`

/**
 * `release`: KEYS[1] state; ARGV now, fixedRequests, fixedTokens, sentAt, seq, tokensThrough,
 * tokens, probe, hasHeaders, limitRequests, limitTokens, remainingRequests, remainingTokens,
 * answered, pauseUntil, requestedTokens, ttl, channel, wakeMillis, transitMillis, charged.
 * Returns 1 when it woke waiters.
 */
const release = `${prelude}
local key = KEYS[1]
local now = tonumber(ARGV[1])
local sentAt, seq, through, tokens = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local ttl, channel, wakeMillis, transitMillis = tonumber(ARGV[17]), ARGV[18], tonumber(ARGV[19]), tonumber(ARGV[20])
local charged = tonumber(ARGV[21])
local s = load(key)
local fixedRequests, fixedTokens = tonumber(ARGV[2]), tonumber(ARGV[3])
fixed(s, fixedRequests, fixedTokens)
local wake = false
if ARGV[8] == "1" and s.pr > 0 then
  s.pr = 0
  wake = true
end
local function fullFromServer(limit, remaining, unseen)
  local rate = limit / MINUTE
  local debtAtCount = math.max(0, limit - remaining)
  local countedAt = math.min(now, sentAt + transitMillis)
  local debtNow = math.max(0, debtAtCount - (now - countedAt) * rate) + unseen
  return now + debtNow / rate
end
local function rebase(own, limit, remaining, unseen, outstanding)
  local low = fullFromServer(limit, remaining, unseen)
  if own == nil then return low end
  local high = fullFromServer(limit, remaining, unseen + math.max(0, outstanding))
  return math.min(math.max(own, now, low), high)
end
local function freed(before, after)
  return math.max(before, now) - math.max(after, now) > wakeMillis
end
if ARGV[9] == "1" then
  local lr = fixedRequests or tonumber(ARGV[10]) or s.lr
  local lt = fixedTokens or tonumber(ARGV[11]) or s.lt
  local remainingRequests, remainingTokens = tonumber(ARGV[12]), tonumber(ARGV[13])
  local fr, ft, sy = s.fr, s.ft, s.sy
  if seq > s.sy then
    sy = seq
    local ownRequests, ownTokens = nil, nil
    if s.lr then ownRequests = s.fr end
    if s.lt then ownTokens = s.ft end
    if lr and remainingRequests then fr = rebase(ownRequests, lr, remainingRequests, s.g - seq, s.orq - 1) end
    if lt and remainingTokens then ft = rebase(ownTokens, lt, remainingTokens, s.tt - through, s.ot - charged) end
  end
  wake = wake or (not s.ob) or freed(s.fr, fr) or freed(s.ft, ft)
  s.lr, s.lt, s.fr, s.ft, s.sy, s.ob = lr, lt, fr, ft, sy, true
elseif ARGV[14] == "1" and not s.ob then
  s.ob = true
  wake = true
end
local pauseUntil = tonumber(ARGV[15])
if pauseUntil then
  s.pu = math.max(s.pu, pauseUntil)
  s.ob = true
end
local requested = tonumber(ARGV[16])
if requested and tokens > 0 and requested > 0 then
  local ratio = math.min(8, math.max(0.25, requested / tokens))
  if ratio > s.ts then s.ts = ratio else s.ts = s.ts + 0.1 * (ratio - s.ts) end
end
s.orq = math.max(0, s.orq - 1)
s.ot = math.max(0, s.ot - charged)
save(key, s, ttl)
if wake then
  redis.call("PUBLISH", channel, key)
  return 1
end
return 0
`

/** `pause`: KEYS[1] state; ARGV until, ttl. */
const pause = `${prelude}
local s = load(KEYS[1])
s.pu = math.max(s.pu, tonumber(ARGV[1]))
s.ob = true
save(KEYS[1], s, tonumber(ARGV[2]))
return 0
`

/** `adjust`: KEYS[1] state; ARGV tokens, now, ttl, channel. Returns 1 when it woke waiters. */
const adjust = `${prelude}
local tokens, now = tonumber(ARGV[1]), tonumber(ARGV[2])
local s = load(KEYS[1])
if not s.lt or tokens == 0 then return 0 end
local rate = s.lt / MINUTE
if tokens > 0 then
  s.ft = math.max(now, s.ft) + tokens / rate
else
  s.ft = math.max(now, s.ft + tokens / rate)
end
save(KEYS[1], s, tonumber(ARGV[3]))
if tokens < 0 then
  redis.call("PUBLISH", ARGV[4], KEYS[1])
  return 1
end
return 0
`

type Arg = string | number

interface RedisWithScripts extends Redis {
  eorReserve(key: string, ...args: Array<Arg>): Promise<Array<string>>
  eorRelease(key: string, ...args: Array<Arg>): Promise<number>
  eorPause(key: string, ...args: Array<Arg>): Promise<number>
  eorAdjust(key: string, ...args: Array<Arg>): Promise<number>
}

/** Options of {@link make}. @internal */
export interface Options {
  readonly url?: string | undefined
  readonly redis?: RedisOptions | undefined
  readonly prefix: string
  readonly ttlMillis: number
  readonly connectTimeoutMillis: number
}

const opt = (n: number | undefined): string => n === undefined || !Number.isFinite(n) ? "" : String(n)
const flag = (b: boolean): string => b ? "1" : "0"

const parseReservation = (reply: ReadonlyArray<string>): internal.Reservation => {
  const n = (i: number) => Number(reply[i])
  switch (reply[0]) {
    case "Granted":
      return { _tag: "Granted", charged: n(1), seq: n(2), tokensThrough: n(3), probe: reply[4] === "1" }
    case "TooLarge":
      return { _tag: "TooLarge", limit: n(1), requested: n(2) }
    default:
      return { _tag: "Wait", millis: n(1) }
  }
}

const parseState = (hash: Record<string, string>): Option.Option<internal.KeyState> => {
  if (hash["g"] === undefined) return Option.none()
  const n = (field: string, fallback: number) => {
    const value = hash[field]
    return value === undefined ? fallback : Number(value)
  }
  return Option.some({
    limitRequests: hash["lr"] === undefined ? undefined : Number(hash["lr"]),
    limitTokens: hash["lt"] === undefined ? undefined : Number(hash["lt"]),
    fullRequests: n("fr", 0),
    fullTokens: n("ft", 0),
    pausedUntil: n("pu", 0),
    observed: hash["ob"] === "1",
    tokenScale: n("ts", 1),
    granted: n("g", 0),
    tokensThrough: n("tt", 0),
    synced: n("sy", 0),
    probeUntil: n("pr", 0),
    outstandingRequests: n("or", 0),
    outstandingTokens: n("ot", 0),
    owed: n("ow", 0),
    backgroundUntil: n("bu", 0)
  })
}

/** @internal */
export const make = (options: Options): Effect.Effect<RateLimiter.Store, never, Scope.Scope> =>
  Effect.gen(function*() {
    // Commands fail at once while disconnected (no offline queue, one attempt), so that the
    // limiter falls back instead of waiting for a server that is down; ioredis reconnects by itself.
    const defaults: RedisOptions = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: options.connectTimeoutMillis
    }
    const redis = yield* RedisConnection.connect<RedisWithScripts>({
      url: options.url,
      redis: options.redis,
      defaults,
      scripts: {
        eorReserve: { keys: 1, lua: reserve },
        eorRelease: { keys: 1, lua: release },
        eorPause: { keys: 1, lua: pause },
        eorAdjust: { keys: 1, lua: adjust }
      }
    })
    // The subscriber queues its SUBSCRIBE until connected and re-subscribes after a reconnect.
    const subscriber = yield* RedisConnection.connect({
      url: options.url,
      redis: { ...options.redis, enableOfflineQueue: true, maxRetriesPerRequest: null },
      defaults
    })

    const channel = `${options.prefix}wake`
    const wakeups = makeWakeups()
    subscriber.on("message", (from: string, message: string) => {
      if (from === channel && message.startsWith(options.prefix)) wakeups.wake(message.slice(options.prefix.length))
    })
    subscriber.subscribe(channel).catch(() => {})
    // Wait (boundedly) for the first connection, so that the first requests need not fall back.
    yield* RedisConnection.ready(redis, options.connectTimeoutMillis)

    const command = <A>(name: string, run: () => Promise<A>): Effect.Effect<A, RateLimiter.RateLimiterStoreError> =>
      Effect.zipRight(
        Metric.increment(commandsTotal),
        Effect.tryPromise({
          try: run,
          catch: (cause) => new RateLimiter.RateLimiterStoreError({ message: `redis ${name}: ${RedisConnection.describe(cause)}`, cause })
        })
      )
    const full = (key: string) => `${options.prefix}${key}`
    const ttl = String(options.ttlMillis)

    const store: RateLimiter.Store = {
      reserve: (key, input) =>
        Effect.map(
          command("reserve", () =>
            redis.eorReserve(
              full(key),
              String(input.now),
              String(input.tokens),
              opt(input.fixed.requests),
              opt(input.fixed.tokens),
              String(input.burst),
              String(input.headroom),
              String(input.probeLease),
              ttl,
              String(input.skew),
              opt(input.lane?.floor),
              flag(input.lane?.background === true),
              String(input.lane?.share ?? 0),
              String(input.lane?.yieldFloor ?? 0),
              channel,
              String(BACKGROUND_LEASE),
              String(OWED_CAP)
            )),
          (reply) => {
            // Our own background waiters need not wait for the message to come back.
            if (reply[5] === "1") wakeups.wake(key)
            return parseReservation(reply)
          }
        ),
      release: (key, input) => {
        const h = input.headers
        return Effect.map(
          command("release", () =>
            redis.eorRelease(
              full(key),
              String(input.now),
              opt(input.fixed.requests),
              opt(input.fixed.tokens),
              String(input.sentAt),
              String(input.seq),
              String(input.tokensThrough),
              String(input.tokens),
              flag(input.probe),
              flag(h !== undefined),
              opt(h?.limitRequests),
              opt(h?.limitTokens),
              opt(h?.remainingRequests),
              opt(h?.remainingTokens),
              flag(input.answered),
              opt(input.pauseUntil),
              opt(input.requestedTokens),
              ttl,
              channel,
              String(WAKE_MILLIS),
              String(TRANSIT_MILLIS),
              String(input.charged)
            )),
          (woke) => {
            // Our own waiters need not wait for the message to come back from the server.
            if (woke === 1) wakeups.wake(key)
          }
        )
      },
      pause: (key, until) => Effect.asVoid(command("pause", () => redis.eorPause(full(key), opt(until), ttl))),
      adjust: (key, tokens, now) =>
        Effect.map(command("adjust", () => redis.eorAdjust(full(key), String(tokens), String(now), ttl, channel)), (woke) => {
          if (woke === 1) wakeups.wake(key)
        }),
      snapshot: (key) => Effect.map(command("snapshot", () => redis.hgetall(full(key))), parseState),
      watch: wakeups.watch
    }
    return store
  })
