/**
 * A permit the store has taken is released, whatever interrupts the request and wherever: while
 * the store's reply is in flight, at any step between the take and the release, in line. Through
 * each way in: the limiter's `limit`, `RateLimiter.middleware`, and the Resilience stack.
 */
import { HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option } from "effect"
import * as RateLimiter from "../src/RateLimiter.js"
import * as Resilience from "../src/Resilience.js"
import { everyStep } from "./support/interruptAt.js"

const chat = HttpClientRequest.post("https://api.example.test/v1/chat/completions").pipe(
  HttpClientRequest.bearerToken("sk-test-key"),
  HttpClientRequest.bodyUnsafeJson({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], max_tokens: 5 })
)
const key = RateLimiter.keyOfRequest(chat)

// A server that answers every request at once, without rate-limit headers.
const client = HttpClient.make((request) =>
  Effect.succeed(HttpClientResponse.fromWeb(request, new Response("{}", { status: 200 })))
)

interface Entry {
  readonly name: string
  readonly call: (limiter: RateLimiter.Service) => Effect.Effect<unknown, unknown>
}

const entries: ReadonlyArray<Entry> = [
  { name: "limit", call: (limiter) => limiter.limit({ key, tokens: 10 })(Effect.void) },
  { name: "RateLimiter.middleware", call: (limiter) => RateLimiter.middleware(limiter)(client).execute(chat) },
  { name: "Resilience", call: (limiter) => Resilience.middleware({ limiter })(client).execute(chat) }
]

/** What the store holds for the key: permits in flight, their tokens, a probe's lease. */
const held = (store: RateLimiter.Store) =>
  Effect.map(store.snapshot(key), (state) =>
    Option.match(state, {
      onNone: () => ({ requests: 0, tokens: 0, probeUntil: 0 }),
      onSome: (s) => ({ requests: s.outstandingRequests, tokens: s.outstandingTokens, probeUntil: s.probeUntil })
    }))

const nothingHeld = { requests: 0, tokens: 0, probeUntil: 0 }

/** Whether a request for the key gets its permit with no time passing. */
const grantedAtOnce = (limiter: RateLimiter.Service) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(limiter.acquire({ key, tokens: 10 }))
    yield* Effect.repeatN(Effect.yieldNow(), 19)
    const done = yield* Fiber.poll(fiber)
    yield* Fiber.interrupt(fiber)
    return Option.isSome(done) && Exit.isSuccess(done.value)
  })

/**
 * A shared store (any store that is not the memory store itself) whose first reservation is
 * recorded and then answered only when the test says: the reply is in flight meanwhile.
 */
const stalling = (inner: RateLimiter.Store) =>
  Effect.map(Deferred.make<void>(), (reply) => {
    let recorded = false
    const store: RateLimiter.Store = {
      ...inner,
      reserve: (k, input) =>
        Effect.flatMap(inner.reserve(k, input), (reservation) => {
          if (recorded) return Effect.succeed(reservation)
          recorded = true
          return Effect.as(Deferred.await(reply), reservation)
        })
    }
    return { store, reply, recorded: () => recorded }
  })

const limiterOver = (store: RateLimiter.Store, options: RateLimiter.Options = {}) =>
  RateLimiter.make(options).pipe(Effect.provideService(RateLimiter.RateLimiterStore, store), Effect.orDie)

describe("RateLimiter: a permit taken is released, whatever interrupts", () => {
  for (const entry of entries) {
    it.effect(`${entry.name}: interrupted while the store's reply is in flight, the permit it recorded is given back`, () =>
      Effect.gen(function*() {
        const inner = yield* RateLimiter.makeStoreMemory
        const { recorded, reply, store } = yield* stalling(inner)
        const limiter = yield* limiterOver(store)
        const fiber = yield* Effect.fork(entry.call(limiter))
        while (!recorded()) yield* Effect.yieldNow()
        // The store took the permit (here: the probe that learns the limits); its reply is on
        // the way when the caller is interrupted, and then arrives.
        assert.strictEqual((yield* held(inner)).requests, 1)
        yield* Fiber.interruptFork(fiber)
        yield* Effect.yieldNow()
        yield* Deferred.succeed(reply, undefined)
        const exit = yield* Fiber.await(fiber)
        assert.isTrue(Exit.isInterrupted(exit))
        assert.deepStrictEqual(yield* held(inner), nothingHeld)
        assert.isTrue(yield* grantedAtOnce(limiter), "a new request waits for a permit nobody holds")
      }))

    // (The Resilience stack is stepped through by the property test's virtual-time interruptions
    // instead: stepped at every step, one of its runs leaves the test unable to finish.)
    if (entry.name === "Resilience") continue
    it.effect(`${entry.name}: interrupted at any step from its start to its end, it holds nothing after`, () =>
      Effect.gen(function*() {
        const { hung, steps } = yield* everyStep(Effect.gen(function*() {
          const store = yield* RateLimiter.makeStoreMemory
          const limiter = yield* limiterOver(store)
          return {
            run: entry.call(limiter),
            check: (step: number) =>
              Effect.gen(function*() {
                assert.deepStrictEqual(yield* held(store), nothingHeld, `interrupted at step ${step}`)
                assert.isTrue(yield* grantedAtOnce(limiter), `interrupted at step ${step}`)
              })
          }
        }))
        assert.isAbove(steps, 10)
        // Only a few steps (those of `raceFibersWith`, see everyStep) leave the run hanging.
        assert.isAtMost(hung.length, 4, `hung at ${hung.join(", ")}`)
      }))
  }
})

describe("a limiter of the user's that wraps this library's", () => {
  // Written before `acquire` took `restore`: it forwards the demand only.
  const wrapped = (limiter: RateLimiter.Service): RateLimiter.Service => ({
    ...limiter,
    acquire: (demand) => limiter.acquire(demand)
  })

  for (const entry of entries.filter((e) => e.name !== "limit")) {
    it.effect(`${entry.name}: its wait for a permit stays interruptible`, () =>
      Effect.gen(function*() {
        const limiter = yield* RateLimiter.make({ requestsPerMinute: 1 })
        yield* entry.call(wrapped(limiter))
        // The second request waits a minute for its permit; the caller gives up long before.
        const fiber = yield* Effect.fork(entry.call(wrapped(limiter)))
        yield* Effect.repeatN(Effect.yieldNow(), 19)
        yield* Fiber.interrupt(fiber)
        const exit = yield* Fiber.await(fiber)
        assert.isTrue(Exit.isInterrupted(exit))
      }).pipe(Effect.provide(RateLimiter.layerStoreMemory)))
  }
})
