import { assert, describe, it, layer } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Either, FastCheck, Fiber, Layer, Logger, Metric, Option, Redacted, Runtime } from "effect"
import { Redis } from "ioredis"
import * as internal from "../src/internal/rateLimiter.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as RateLimiterRedis from "../src/RateLimiterRedis.js"
import * as RateLimitHeaders from "../src/RateLimitHeaders.js"
import { storeSuite } from "./support/RateLimiterStoreSuite.js"
import * as RedisServer from "./utils/redisServer.js"

const storeOnServer = Layer.unwrapScoped(
  Effect.map(RedisServer.start, (server) => RateLimiterRedis.layer({ url: server.url, prefix: "suite:" }))
)

storeSuite("redis", storeOnServer)

// ---------------------------------------------------------------------------------------------
// Redis and memory run the same arithmetic
// ---------------------------------------------------------------------------------------------

type Op =
  | {
    readonly _tag: "reserve"
    readonly dt: number
    readonly tokens: number
    readonly skew: number
    readonly lane: internal.LaneInput | null
  }
  | {
    readonly _tag: "release"
    readonly pick: number
    readonly dt: number
    readonly headers: { lr?: number; lt?: number; rr?: number; rt?: number } | null
    readonly answered: boolean
    readonly pause: number | null
    readonly requested: number | null
  }
  | { readonly _tag: "pause"; readonly d: number }
  | { readonly _tag: "adjust"; readonly tokens: number }

const opArb: FastCheck.Arbitrary<Op> = FastCheck.oneof(
  FastCheck.record({
    _tag: FastCheck.constant("reserve" as const),
    dt: FastCheck.integer({ min: 0, max: 20_000 }),
    tokens: FastCheck.oneof(FastCheck.integer({ min: 0, max: 3_000 }), FastCheck.integer({ min: 0, max: 50_000 })),
    skew: FastCheck.constantFrom(0, 50, 333.5),
    // Lanes with and without a background share, so that the debt and its wake-up are compared too.
    lane: FastCheck.option(FastCheck.record({
      floor: FastCheck.constantFrom(0, 0.025, 0.05),
      background: FastCheck.boolean(),
      share: FastCheck.constantFrom(0, 0.1, 0.3),
      yieldFloor: FastCheck.constant(0.05)
    }))
  }),
  FastCheck.record({
    _tag: FastCheck.constant("release" as const),
    pick: FastCheck.nat(),
    dt: FastCheck.integer({ min: 0, max: 5_000 }),
    headers: FastCheck.option(
      FastCheck.record({
        lr: FastCheck.integer({ min: 1, max: 500 }),
        lt: FastCheck.integer({ min: 1, max: 40_000 }),
        rr: FastCheck.integer({ min: 0, max: 500 }),
        rt: FastCheck.integer({ min: 0, max: 40_000 })
      }, { requiredKeys: [] })
    ),
    answered: FastCheck.boolean(),
    pause: FastCheck.option(FastCheck.integer({ min: 0, max: 10_000 })),
    requested: FastCheck.option(FastCheck.integer({ min: 1, max: 20_000 }))
  }),
  FastCheck.record({ _tag: FastCheck.constant("pause" as const), d: FastCheck.integer({ min: 0, max: 5_000 }) }),
  FastCheck.record({ _tag: FastCheck.constant("adjust" as const), tokens: FastCheck.integer({ min: -5_000, max: 5_000 }) })
)

const fixedArb = FastCheck.record({
  requests: FastCheck.option(FastCheck.constantFrom(3, 60, 500), { nil: undefined }),
  tokens: FastCheck.option(FastCheck.constantFrom(1_000, 30_000), { nil: undefined })
})

const sameOn = (stores: ReadonlyArray<RateLimiter.Store>, fixed: internal.Fixed, ops: ReadonlyArray<Op>) =>
  Effect.gen(function*() {
    const key = `prop-${Math.random().toString(36).slice(2)}:m`
    let now = 1_700_000_000_000 + Math.floor(Math.random() * 1000) + 0.5
    const permits: Array<{ r: RateLimiter.Reservation; at: number; tokens: number }> = []
    const all = <A>(f: (store: RateLimiter.Store) => Effect.Effect<A, RateLimiter.RateLimiterStoreError>) =>
      Effect.forEach(stores, f)
    for (const op of ops) {
      switch (op._tag) {
        case "reserve": {
          now += op.dt
          const input = { now, tokens: op.tokens, fixed, burst: 0.9, headroom: 0.05, probeLease: 30_000, skew: op.skew,
            lane: op.lane ?? undefined }
          const [a, b] = yield* all((s) => s.reserve(key, input))
          assert.deepStrictEqual(b, a)
          if (a !== undefined && a._tag === "Granted") permits.push({ r: a, at: now, tokens: op.tokens })
          break
        }
        case "release": {
          const permit = permits[op.pick % Math.max(1, permits.length)]
          if (permit === undefined || permit.r._tag !== "Granted") break
          now += op.dt
          const h = op.headers
          const input: RateLimiter.ReleaseInput = {
            now,
            fixed,
            sentAt: permit.at,
            seq: permit.r.seq,
            tokensThrough: permit.r.tokensThrough,
            tokens: permit.tokens,
            charged: permit.r.charged,
            probe: permit.r.probe,
            headers: h === null ? undefined : {
              limitRequests: h.lr,
              limitTokens: h.lt,
              remainingRequests: h.rr,
              remainingTokens: h.rt
            },
            answered: op.answered,
            pauseUntil: op.pause === null ? undefined : now + op.pause,
            requestedTokens: op.requested ?? undefined
          }
          yield* all((s) => s.release(key, input))
          break
        }
        case "pause":
          yield* all((s) => s.pause(key, now + op.d))
          break
        case "adjust":
          yield* all((s) => s.adjust(key, op.tokens, now))
          break
      }
    }
    const [a, b] = yield* all((s) => s.snapshot(key))
    const orInitial = (o: Option.Option<RateLimiter.KeyState> | undefined) =>
      Option.getOrElse(o ?? Option.none(), () => internal.initial)
    assert.deepStrictEqual(orInitial(b), orInitial(a))
  })

layer(storeOnServer, {
  excludeTestServices: true
})("Redis store: the same arithmetic as memory", (it) => {
  it.effect("any sequence of operations gives the same answers and the same state, to the bit", () =>
    Effect.gen(function*() {
      const redis = yield* RateLimiter.RateLimiterStore
      const runtime = yield* Effect.runtime<never>()
      yield* Effect.promise(() =>
        FastCheck.assert(
          FastCheck.asyncProperty(fixedArb, FastCheck.array(opArb, { minLength: 1, maxLength: 40 }), (fixed, ops) =>
            Runtime.runPromise(runtime)(
              Effect.flatMap(RateLimiter.makeStoreMemory, (memory) => sameOn([memory, redis], fixed, ops))
            )),
          { numRuns: 150 }
        )
      )
    }))
})

const make = (options: RateLimiter.Options) => RateLimiter.make(options).pipe(Effect.provide(RateLimiter.layerStoreMemory))

// ---------------------------------------------------------------------------------------------
// Processes sharing one limit; faults of the store
// ---------------------------------------------------------------------------------------------

/** A limiter with a Redis store of its own (its own connections), as one process would have. */
const limiterOn = (url: string, options: RateLimiter.Options = {}) =>
  Effect.gen(function*() {
    const store = yield* RateLimiterRedis.make({ url, prefix: "proc:" })
    return yield* RateLimiter.make(options as RateLimiter.Options).pipe(
      Effect.provideService(RateLimiter.RateLimiterStore, store)
    )
  })

const grantedWithin = (limiter: RateLimiter.Service, key: string, attempts: number, within: Duration.DurationInput) =>
  Effect.gen(function*() {
    let granted = 0
    const fibers = yield* Effect.forEach(
      Array.from({ length: attempts }),
      () => Effect.fork(Effect.tap(limiter.acquire({ key, tokens: 0 }), () => Effect.sync(() => granted++))),
      { concurrency: "unbounded" }
    )
    yield* Effect.sleep(within)
    yield* Effect.forEach(fibers, Fiber.interrupt)
    return granted
  })

describe("Redis store shared by several processes", () => {
  it.scopedLive("three limiters against 10 requests a minute are granted 10 together, not 30", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.start
      const key = RateLimiter.keyFor({ apiKey: "sk-shared", model: "gpt-4o-mini" })
      const shared = yield* Effect.forEach([1, 2, 3], () => limiterOn(server.url, { requestsPerMinute: 10 }))
      const counts = yield* Effect.forEach(shared, (l) => grantedWithin(l, key, 10, "300 millis"), { concurrency: "unbounded" })
      assert.strictEqual(counts.reduce((a, b) => a + b, 0), 10)
      // The memory store, for contrast: each process takes the whole limit.
      const alone = yield* Effect.forEach([1, 2, 3], () => make({ requestsPerMinute: 10 }))
      const separate = yield* Effect.forEach(alone, (l) => grantedWithin(l, key, 10, "100 millis"))
      assert.strictEqual(separate.reduce((a, b) => a + b, 0), 30)
    }))

  it.scopedLive("a request waiting in one process wakes when another process's answer frees the key", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.start
      const a = yield* limiterOn(server.url)
      const b = yield* limiterOn(server.url)
      const key = "team:gpt-4o-mini"
      const probe = yield* a.acquire({ key, tokens: 10 })
      assert.isTrue(probe.probe)
      // The limits are unknown until the probe's answer: b waits (the lease is 30 s)...
      const waiting = yield* Effect.fork(b.acquire({ key, tokens: 10 }))
      yield* Effect.sleep("200 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(waiting)))
      // ...and is woken by a's release, through pub/sub, long before the lease ends.
      const start = Date.now()
      yield* a.release(probe, {
        status: Option.some(200),
        rateLimit: RateLimitHeaders.fromHeaders({
          "x-ratelimit-limit-requests": "500",
          "x-ratelimit-remaining-requests": "499",
          "x-ratelimit-limit-tokens": "30000",
          "x-ratelimit-remaining-tokens": "29990"
        }),
        rateLimited: false,
        retryAfter: Option.none()
      })
      const permit = yield* Fiber.join(waiting)
      assert.isBelow(Date.now() - start, 1_000)
      assert.isFalse(permit.local)
      assert.deepStrictEqual(Option.getOrThrow(yield* b.snapshot(key)).limitTokens, Option.some(30_000))
    }))

  it.scopedLive("a 429 seen by one process pauses the key for all", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.start
      const a = yield* limiterOn(server.url, { requestsPerMinute: 6000 })
      const b = yield* limiterOn(server.url, { requestsPerMinute: 6000 })
      const permit = yield* a.acquire({ key: "k", tokens: 0 })
      yield* a.release(permit, {
        status: Option.some(429),
        rateLimit: Option.none(),
        rateLimited: true,
        retryAfter: Option.some(Duration.millis(600))
      })
      const start = Date.now()
      yield* b.acquire({ key: "k", tokens: 0 })
      assert.isAtLeast(Date.now() - start, 450)
    }))

  it.scopedLive("the layer from Config reads REDIS_URL (redacted), the prefix and the TTL", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.start
      const provider = ConfigProvider.fromMap(
        new Map([["REDIS_URL", server.url], ["REDIS_KEY_PREFIX", "cfg:"], ["REDIS_KEY_TTL", "2 minutes"]])
      )
      const options = yield* RateLimiterRedis.config.pipe(Effect.withConfigProvider(provider))
      assert.isTrue(Redacted.isRedacted(options.url))
      assert.notInclude(String(options.url), "127.0.0.1")
      const permit = yield* Effect.flatMap(RateLimiter.RateLimiter, (limiter) => limiter.acquire({ key: "k", tokens: 0 })).pipe(
        Effect.provide(RateLimiter.layer({ requestsPerMinute: 60 }).pipe(Layer.provide(RateLimiterRedis.layerConfig()))),
        Effect.withConfigProvider(provider)
      )
      assert.isFalse(permit.local)
      const client = yield* Effect.acquireRelease(Effect.sync(() => new Redis(server.url)), (c) => Effect.promise(() => c.quit()))
      const ttl = yield* Effect.promise(() => client.pttl("cfg:k"))
      assert.isAbove(ttl, 60_000)
      assert.isAtMost(ttl, 120_000)
      const missing = yield* Effect.either(
        RateLimiterRedis.config.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map())))
      )
      assert.isTrue(Either.isLeft(missing))
    }))

  it.scopedLive("keys carry the prefix and a TTL, and never the API key", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.start
      const store = yield* RateLimiterRedis.make({ url: server.url, prefix: "app1:", ttl: "10 minutes" })
      const limiter = yield* RateLimiter.make().pipe(Effect.provideService(RateLimiter.RateLimiterStore, store))
      const key = RateLimiter.keyFor({ apiKey: Redacted.make("sk-proj-canary-0123456789"), model: "gpt-4o" })
      yield* limiter.acquire({ key, tokens: 5 })
      const client = yield* Effect.acquireRelease(
        Effect.sync(() => new Redis(server.url)),
        (c) => Effect.promise(() => c.quit())
      )
      const keys = yield* Effect.promise(() => client.keys("*"))
      assert.deepStrictEqual(keys, [`app1:${key}`])
      const values = yield* Effect.promise(() => client.hgetall(keys[0] ?? ""))
      assert.notInclude(JSON.stringify([keys, values]), "canary")
      const ttl = yield* Effect.promise(() => client.pttl(keys[0] ?? ""))
      assert.isAbove(ttl, 9 * 60_000)
      assert.isAtMost(ttl, 10 * 60_000)
    }))
})

const logs: Array<{ readonly level: string; readonly message: string }> = []
const capture = Logger.make(({ logLevel, message }) => {
  logs.push({ level: logLevel.label, message: Array.isArray(message) ? message.join(" ") : String(message) })
})

describe("Redis store faults", () => {
  const fast = { requestsPerMinute: 6000, storeTimeout: "200 millis", storeRetryAfter: "300 millis" } as const

  it.scopedLive("Redis down: requests go on, paced locally, counted; pacing through Redis resumes after a restart", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.start
      const limiter = yield* limiterOn(server.url, fast)
      assert.isFalse((yield* limiter.acquire({ key: "k", tokens: 0 })).local)
      const before = (yield* Metric.value(RateLimiter.storeFailures)).count
      yield* server.stop
      const start = Date.now()
      const during = yield* limiter.acquire({ key: "k", tokens: 0 })
      assert.isTrue(during.local)
      assert.isBelow(Date.now() - start, 1_000)
      // The local fallback still paces: its own bucket of 6000 a minute holds.
      yield* limiter.release(during, { status: Option.some(200), rateLimit: Option.none(), rateLimited: false, retryAfter: Option.none() })
      assert.isAtLeast((yield* Metric.value(RateLimiter.storeFailures)).count - before, 1)
      // One warning for the outage, not one per request.
      yield* limiter.acquire({ key: "k", tokens: 0 })
      const warnings = logs.filter((l) => l.level === "WARN")
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0]?.message ?? "", "pacing in this process only")
      yield* server.start
      // ioredis reconnects by itself; after storeRetryAfter the limiter asks Redis again.
      const back = yield* limiter.acquire({ key: "k", tokens: 0 }).pipe(
        Effect.tap(() => Effect.sleep("100 millis")),
        Effect.repeat({ until: (p) => !p.local, times: 60 })
      )
      assert.isFalse(back.local)
      // The restarted server starts empty: the key's state is Redis's again.
      const state = Option.getOrThrow(yield* limiter.snapshot("k"))
      assert.isTrue(Option.isSome(state.remainingRequests))
      assert.isTrue(logs.some((l) => l.level === "INFO" && l.message.includes("answers again")))
    }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture))))

  it.scopedLive("Redis frozen (slow): each decision waits at most storeTimeout, then goes local", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.start
      const limiter = yield* limiterOn(server.url, fast)
      yield* limiter.acquire({ key: "k", tokens: 0 })
      yield* server.freeze
      const start = Date.now()
      const permit = yield* limiter.acquire({ key: "k", tokens: 0 })
      const took = Date.now() - start
      assert.isTrue(permit.local)
      assert.isAtLeast(took, 150)
      assert.isBelow(took, 1_000)
      // Within storeRetryAfter no decision waits for the frozen server.
      const next = Date.now()
      yield* limiter.acquire({ key: "k", tokens: 0 })
      assert.isBelow(Date.now() - next, 100)
      yield* server.thaw
    }))

  it.scopedLive("fail closed: a typed RateLimiterStoreError at once, never a hang", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.start
      const store = yield* RateLimiterRedis.make({ url: server.url })
      const limiter = yield* RateLimiter.make({ ...fast, onStoreFailure: "fail" }).pipe(
        Effect.provideService(RateLimiter.RateLimiterStore, store)
      )
      yield* limiter.acquire({ key: "k", tokens: 0 })
      yield* server.stop
      const start = Date.now()
      const result = yield* Effect.either(limiter.acquire({ key: "k", tokens: 0 }))
      assert.isTrue(Either.isLeft(result) && result.left._tag === "RateLimiterStoreError")
      assert.isBelow(Date.now() - start, 1_000)
      yield* server.start
      const back = yield* Effect.either(limiter.acquire({ key: "k", tokens: 0 })).pipe(
        Effect.tap(() => Effect.sleep("100 millis")),
        Effect.repeat({ until: Either.isRight, times: 60 })
      )
      assert.isTrue(Either.isRight(back))
    }))

  it.scopedLive("Redis unreachable from the start: the store is still made, and the limiter paces locally", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.start
      yield* server.stop
      const store = yield* RateLimiterRedis.make({ url: server.url, connectTimeout: "200 millis" })
      const limiter = yield* RateLimiter.make(fast).pipe(Effect.provideService(RateLimiter.RateLimiterStore, store))
      assert.isTrue((yield* limiter.acquire({ key: "k", tokens: 0 })).local)
    }))
})
