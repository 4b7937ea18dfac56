import { HttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Redacted, Stream } from "effect"
import { Redis } from "ioredis"
import * as Batch from "../src/Batch.js"
import * as CheckpointRedis from "../src/CheckpointRedis.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import { MockApi, MockHttpClient } from "../src/testing/index.js"
import * as RedisServer from "./utils/redisServer.js"

const requests = Array.from({ length: 300 }, (_, i): Batch.Request => ({
  id: `q${i}`,
  endpoint: "/chat/completions",
  body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `item ${i}` }], max_tokens: 5 }
}))

describe("CheckpointRedis", () => {
  it.scopedLive("two workers share one batch: every id done once, none sent twice", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.start
      const mock = yield* MockApi.make()
      const http = yield* MockHttpClient.make.pipe(Effect.provideService(MockApi.MockApi, mock))
      const openai = yield* OpenAiClient.make({
        apiKey: Redacted.make("sk-batch-redis-000000000000"),
        baseUrl: MockHttpClient.baseUrl
      }).pipe(Effect.provideService(HttpClient.HttpClient, http))
      const worker = (name: string) =>
        Batch.runDurable(Stream.fromIterable(requests), { send: Batch.send(openai), concurrency: 8 }).pipe(
          Stream.runCollect,
          Effect.map(Chunk.toReadonlyArray),
          Effect.provide(CheckpointRedis.layer({ batch: "shared", url: server.url, worker: name }))
        )
      const [a, b] = yield* Effect.all([worker("a"), worker("b")], { concurrency: 2 })
      const ids = [...a, ...b].map((r) => r.id)
      assert.strictEqual(ids.length, requests.length)
      assert.strictEqual(new Set(ids).size, requests.length)
      // Both took part (neither ran the whole batch alone).
      assert.isAbove(a.length, 0)
      assert.isAbove(b.length, 0)
      const log = yield* mock.log
      assert.strictEqual(log.length, requests.length)
      const redis = new Redis(server.url)
      const stored = yield* Effect.promise(() => redis.hgetall("openai-batch:shared:results"))
      const leases = yield* Effect.promise(() => redis.keys("openai-batch:shared:claim:*"))
      redis.disconnect()
      assert.strictEqual(Object.keys(stored).length, requests.length)
      assert.deepStrictEqual(leases, [])
      // A third worker started afterwards finds nothing left to do.
      assert.deepStrictEqual(yield* worker("c"), [])
      assert.strictEqual((yield* mock.log).length, requests.length)
    }))

  it.scopedLive("a dead worker's lease expires and another worker takes its request", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer.start
      const redis = new Redis(server.url)
      // A worker that claimed q0 and died: its lease is there, unrenewed (no expiry yet, so that a
      // slow start under load cannot see it gone before the first run).
      yield* Effect.promise(() => redis.set("openai-batch:lease:claim:q0", "dead"))
      const first = requests.slice(0, 1)
      const run = Batch.runDurable(Stream.fromIterable(first), { send: () => Effect.succeed(1) }).pipe(
        Stream.runCollect,
        Effect.provide(CheckpointRedis.layer({ batch: "lease", url: server.url, lease: "300 millis" }))
      )
      assert.strictEqual((yield* run).length, 0)
      yield* Effect.promise(() => redis.pexpire("openai-batch:lease:claim:q0", 50))
      // Redis expires the lease itself (its own clock): wait for the key to go, not a fixed time.
      yield* Effect.promise(() => redis.exists("openai-batch:lease:claim:q0")).pipe(
        Effect.repeat({ until: (n) => n === 0 })
      )
      assert.strictEqual((yield* run).length, 1)
      redis.disconnect()
    }))
})
