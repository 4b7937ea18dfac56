import { HttpClient } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Chunk, Deferred, Duration, Effect, Exit, Fiber, FiberId, Layer, Option, Redacted, Stream, TestClock } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Batch from "../src/Batch.js"
import * as CheckpointFile from "../src/CheckpointFile.js"
import * as Line from "../src/internal/line.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import { MockApi, MockHttpClient, Simulation } from "../src/testing/index.js"

const chat = (i: number): Batch.Request => ({
  id: `q${i}`,
  endpoint: "/chat/completions",
  line: i,
  body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `item ${i} `.repeat(1 + (i % 7)) }], max_tokens: 20 }
})
const embedding = (i: number): Batch.Request => ({
  id: `e${i}`,
  endpoint: "/embeddings",
  body: { model: "text-embedding-3-small", input: `text ${i}` }
})

// A client over the mock, paced by a limiter, with the policy's default retries.
const clientOver = (mock: MockApi.MockApiService) =>
  Effect.gen(function*() {
    const limiter = yield* RateLimiter.make({}).pipe(Effect.provide(RateLimiter.layerStoreMemory))
    const http = yield* MockHttpClient.make.pipe(Effect.provideService(MockApi.MockApi, mock))
    return yield* OpenAiClient.make({
      apiKey: Redacted.make("sk-batch-test-0000000000000000"),
      baseUrl: MockHttpClient.baseUrl,
      resilience: { limiter, retryPolicy: RetryPolicy.make({ maxRetries: 5 }) }
    }).pipe(Effect.provideService(HttpClient.HttpClient, http))
  })

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "batch-test-"))
const linesOf = (file: string) =>
  fs.readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>)

describe("Batch.run", () => {
  it("answers every request once against a mock with faults and tight limits, in virtual time", async () => {
    const sim = Simulation.make()
    // One model: the mock limits per key, as the limiter learns per model.
    const requests = Array.from({ length: 200 }, (_, i) => chat(i))
    const exit = await sim.run(Effect.gen(function*() {
      const mock = yield* MockApi.make({
        rpm: 120,
        tpm: 20_000,
        seed: 7,
        faultRates: { server_error: 0.1, connection_reset: 0.05, rate_limit_requests: 0.05 }
      })
      const openai = yield* clientOver(mock)
      const results = yield* Stream.runCollect(Batch.run(Stream.fromIterable(requests), { send: Batch.send(openai) }))
      return { results: Chunk.toReadonlyArray(results), log: yield* mock.log }
    }))
    assert.isTrue(Exit.isSuccess(exit))
    if (!Exit.isSuccess(exit)) return
    const { log, results } = exit.value
    const ids = results.map((r) => r.id).sort()
    assert.deepStrictEqual(ids, requests.map((r) => r.id).sort())
    assert.deepStrictEqual(results.filter((r) => r._tag === "Failure").map((r) => Batch.encode(r)), [])
    // Faults were served and retried: more attempts than requests, one logical call each.
    assert.isAbove(log.length, requests.length)
    assert.strictEqual(new Set(log.map((e) => e.key)).size, requests.length)
    // Paced at the limit: the mock's bucket starts full (120), the other 80 come at 2 a second.
    assert.isAtLeast(sim.now(), 40_000)
  })

  it.effect("a failure for good is a typed Failure result; an invalid input is one too; the run goes on", () =>
    Effect.gen(function*() {
      const mock = yield* MockApi.make({ scenario: ["insufficient_quota"] })
      const openai = yield* clientOver(mock)
      const input: Array<Batch.Request | Batch.InvalidRequest> = [
        chat(1),
        new Batch.InvalidRequest({ id: "line:2", line: 2, message: "not JSON" }),
        chat(3)
      ]
      const results = Chunk.toReadonlyArray(
        yield* Stream.runCollect(Batch.run(Stream.fromIterable(input), { send: Batch.send(openai), concurrency: 1 }))
      )
      const byId = new Map(results.map((r) => [r.id, r]))
      const q1 = byId.get("q1")
      assert.strictEqual(q1?._tag, "Failure")
      if (q1?._tag === "Failure") assert.strictEqual((q1.error as { _tag: string })._tag, "QuotaExceeded")
      const bad = byId.get("line:2")
      assert.strictEqual(bad?._tag, "Failure")
      if (bad?._tag === "Failure") assert.deepStrictEqual(Batch.encode(bad).error, { _tag: "InvalidRequest", message: "not JSON", line: 2 })
      assert.strictEqual(byId.get("q3")?._tag, "Success")
    }))

  it("with pacing, requests in progress stay within half a minute of the limiter's limits", async () => {
    const sim = Simulation.make()
    const exit = await sim.run(Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ requestsPerMinute: 20 }).pipe(Effect.provide(RateLimiter.layerStoreMemory))
      let inProgress = 0
      let most = 0
      const send = (request: Batch.Request) =>
        Effect.acquireUseRelease(
          Effect.sync(() => {
            inProgress++
            most = Math.max(most, inProgress)
          }),
          () => limiter.limit({ key: "k", tokens: 1 })(Effect.zipRight(Effect.sleep("5 seconds"), Effect.succeed(request.id))),
          () => Effect.sync(() => inProgress--)
        )
      const results = yield* Stream.runCollect(Batch.run(Stream.fromIterable(Array.from({ length: 60 }, (_, i) => chat(i))), {
        send,
        pacing: { limiter, key: () => "k" }
      }))
      return { count: results.length, most }
    }))
    assert.isTrue(Exit.isSuccess(exit))
    if (Exit.isSuccess(exit)) {
      assert.strictEqual(exit.value.count, 60)
      // 20 a minute: 10 in progress at most (the first admitted before the limiter knew the key).
      assert.isAtMost(exit.value.most, 11)
      assert.isAtLeast(exit.value.most, 9)
    }
  })

  it("with pacing, requests waiting for room are sent in input order (each finish wakes the next in line)", async () => {
    const sim = Simulation.make()
    const exit = await sim.run(Effect.gen(function*() {
      const limiter = yield* RateLimiter.make({ requestsPerMinute: 10 }).pipe(Effect.provide(RateLimiter.layerStoreMemory))
      const started: Array<string> = []
      const send = (request: Batch.Request) =>
        Effect.zipRight(
          Effect.sync(() => started.push(request.id)),
          limiter.limit({ key: "k", tokens: 1 })(Effect.zipRight(Effect.sleep("2 seconds"), Effect.succeed(request.id)))
        )
      const requests = Array.from({ length: 20 }, (_, i) => chat(i))
      yield* Stream.runDrain(Batch.run(Stream.fromIterable(requests), { send, pacing: { limiter, key: () => "k" } }))
      return { started, expected: requests.map((r) => r.id) }
    }))
    assert.isTrue(Exit.isSuccess(exit))
    if (Exit.isSuccess(exit)) assert.deepStrictEqual(exit.value.started, exit.value.expected)
  })

  it.effect("the admission line: in arrival order; a caller interrupted in line or in its turn holds up nobody", () =>
    Effect.gen(function*() {
      const inTurn = Line.make()
      const order: Array<string> = []
      const look = (name: string, d: Duration.DurationInput) =>
        Effect.uninterruptibleMask((restore) =>
          inTurn(restore(Effect.zipRight(Effect.sleep(d), Effect.sync(() => order.push(name)))), restore))
      const a = yield* Effect.fork(look("a", "1 second"))
      const b = yield* Effect.fork(look("b", "1 second"))
      const c = yield* Effect.fork(look("c", "1 second"))
      const d = yield* Effect.fork(look("d", "1 second"))
      yield* TestClock.adjust("10 millis")
      // b leaves while in line, a while in its turn: c, then d, go on.
      yield* Fiber.interrupt(b)
      yield* Fiber.interrupt(a)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(c)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(d)
      assert.deepStrictEqual(order, ["c", "d"])
      // The line is free again: a newcomer looks at once.
      const e = yield* Effect.fork(look("e", "0 millis"))
      yield* Fiber.join(e)
      assert.deepStrictEqual(order, ["c", "d", "e"])
    }))

  it.effect("the admission line: a caller woken for its turn and interrupted before it resumes hands the turn on", () =>
    Effect.gen(function*() {
      const inTurn = Line.make()
      const order: Array<string> = []
      const look = (name: string, inTurnFor: Effect.Effect<void>) =>
        Effect.uninterruptibleMask((restore) =>
          inTurn(Effect.zipRight(Effect.sync(() => order.push(name)), restore(inTurnFor)), restore))
      const go = yield* Deferred.make<void>()
      let b: Fiber.RuntimeFiber<void> | undefined
      // a's turn ends, which wakes b; in the same step, before b has run, b is interrupted.
      const a = yield* Effect.fork(Effect.zipRight(
        look("a", Deferred.await(go)),
        Effect.sync(() => b?.unsafeInterruptAsFork(FiberId.none))
      ))
      yield* Effect.yieldNow()
      b = yield* Effect.fork(look("b", Effect.void))
      const c = yield* Effect.fork(look("c", Effect.void))
      yield* Effect.yieldNow()
      assert.deepStrictEqual(order, ["a"])
      yield* Deferred.succeed(go, undefined)
      yield* Fiber.join(a)
      assert.isTrue(Exit.isInterrupted(yield* Fiber.await(b)))
      yield* Fiber.join(c)
      assert.deepStrictEqual(order, ["a", "c"])
      // The line is free again: a newcomer looks at once.
      yield* look("d", Effect.void)
      assert.deepStrictEqual(order, ["a", "c", "d"])
    }))

  it.effect("a repeated id is sent once; embeddings are recorded as plain arrays", () =>
    Effect.gen(function*() {
      const mock = yield* MockApi.make()
      const openai = yield* clientOver(mock)
      const results = yield* Stream.runCollect(
        Batch.run(Stream.make(chat(1), chat(1), embedding(2)), { send: Batch.send(openai) })
      )
      assert.strictEqual(results.length, 2)
      assert.strictEqual((yield* mock.log).length, 2)
      const e2 = Chunk.findFirst(results, (r) => r.id === "e2").pipe(Option.getOrUndefined)
      assert.strictEqual(e2?._tag, "Success")
      if (e2?._tag === "Success") {
        const record = Batch.encode(e2) as { response: { data: { data: Array<{ embedding: unknown }> } } }
        assert.isTrue(Array.isArray(record.response.data.data[0]?.embedding))
      }
    }))

  it.effect("the send hook replaces the client (a fallback plan plugs in here)", () =>
    Effect.gen(function*() {
      const sent: Array<string> = []
      const results = yield* Stream.runCollect(Batch.run(Stream.make(chat(1), embedding(2)), {
        send: (request) => Effect.sync(() => sent.push(request.id)).pipe(Effect.as(request.endpoint))
      }))
      assert.deepStrictEqual(sent.sort(), ["e2", "q1"])
      assert.deepStrictEqual(Chunk.toReadonlyArray(results).map((r) => r._tag === "Success" ? r.value : "").sort(), [
        "/chat/completions",
        "/embeddings"
      ])
    }))
})

describe("CheckpointFile.layer", () => {
  it.effect("a second run sends only what has no result; a torn last line is cut off and re-sent", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const output = path.join(dir, "out.jsonl")
      const errors = path.join(dir, "errors.jsonl")
      const mock = yield* MockApi.make()
      const openai = yield* clientOver(mock)
      const requests = Array.from({ length: 10 }, (_, i) => chat(i))
      const runOn = (input: ReadonlyArray<Batch.Request>) =>
        Stream.runDrain(Batch.runDurable(Stream.fromIterable(input), { send: Batch.send(openai) })).pipe(
          Effect.provide(CheckpointFile.layer({ output, errors }))
        )
      yield* runOn(requests.slice(0, 6))
      assert.strictEqual(linesOf(output).length, 6)
      // A crash mid-write: half a line at the end.
      fs.appendFileSync(output, "{\"id\":\"q9\",\"respo")
      yield* runOn(requests)
      const lines = linesOf(output)
      assert.deepStrictEqual(lines.map((l) => l.id).sort(), requests.map((r) => r.id).sort())
      assert.strictEqual((yield* mock.log).length, 10)
      assert.isFalse(fs.existsSync(errors) && fs.readFileSync(errors, "utf8").length > 0)
      fs.rmSync(dir, { recursive: true })
    }))

  it.effect("results finishing together are written together: every line whole, each id once", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const output = path.join(dir, "out.jsonl")
      const requests = Array.from({ length: 300 }, (_, i) => chat(i))
      const layer = CheckpointFile.layer({ output })
      const once = Stream.runDrain(Batch.runDurable(Stream.fromIterable(requests), {
        send: (request) => Effect.succeed({ text: request.id.repeat(200) })
      }))
      yield* Effect.provide(once, layer)
      const lines = linesOf(output)
      assert.deepStrictEqual(lines.map((l) => l.id).sort(), requests.map((r) => r.id).sort())
      assert.isTrue(lines.every((l) => (l.response as { text: string }).text === String(l.id).repeat(200)))
      // All done: a second run sends nothing.
      let sent = 0
      yield* Effect.provide(
        Stream.runDrain(Batch.runDurable(Stream.fromIterable(requests), { send: () => Effect.sync(() => sent++) })),
        layer
      )
      assert.strictEqual(sent, 0)
      fs.rmSync(dir, { recursive: true })
    }))

  it.effect("failures go to the errors file, and count as done", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const output = path.join(dir, "out.jsonl")
      const errors = path.join(dir, "errors.jsonl")
      const mock = yield* MockApi.make({ scenario: ["incorrect_api_key"] })
      const openai = yield* clientOver(mock)
      const layer = CheckpointFile.layer({ output, errors })
      const once = Stream.runDrain(Batch.runDurable(Stream.make(chat(1), chat(2)), { send: Batch.send(openai), concurrency: 1 }))
      yield* Effect.provide(once, layer)
      yield* Effect.provide(once, layer)
      assert.deepStrictEqual(linesOf(output).map((l) => l.id), ["q2"])
      const failed = linesOf(errors)
      assert.strictEqual(failed.length, 1)
      assert.strictEqual((failed[0]?.error as { _tag: string })._tag, "IncorrectApiKey")
      assert.strictEqual((yield* mock.log).length, 2)
      fs.rmSync(dir, { recursive: true })
    }))

  it.effect("a full disk stops the run with CheckpointError", () =>
    Effect.gen(function*() {
      const exit = yield* Stream.runDrain(Batch.runDurable(Stream.make(chat(1)), { send: () => Effect.succeed(1) })).pipe(
        Effect.provide(CheckpointFile.layer({ output: "/dev/full" })),
        Effect.exit
      )
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const error = Option.getOrUndefined(Cause.failureOption(exit.cause))
        assert.strictEqual(error?._tag, "CheckpointError")
        assert.include(error?.message, "ENOSPC")
      }
    }))

  it.effect("an output that cannot be opened fails with CheckpointError naming it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Layer.build(CheckpointFile.layer({ output: "/nonexistent-dir/out.jsonl" })).pipe(Effect.scoped)
      )
      assert.strictEqual(error._tag, "CheckpointError")
      assert.strictEqual(error.path, "/nonexistent-dir/out.jsonl")
    }))
})
