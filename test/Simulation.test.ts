import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Exit, Redacted } from "effect"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import * as MockHttpClient from "../src/testing/MockHttpClient.js"
import * as Simulation from "../src/testing/Simulation.js"

describe("Simulation", () => {
  it("runs ten thousand concurrent sleepers through a virtual minute at once", async () => {
    const sim = Simulation.make()
    const exit = await sim.run(
      Effect.forEach(Array.from({ length: 10_000 }, (_, i) => i), (i) => Effect.sleep(`${1 + (i % 60)} seconds`), {
        concurrency: "unbounded",
        discard: true
      })
    )
    expect(Exit.isSuccess(exit)).toBe(true)
    expect(sim.now()).toBe(60_000)
    expect(sim.steps()).toBe(60)
  })

  it("reads the same time inside every fiber and keeps order of wake-ups", async () => {
    const sim = Simulation.make({ start: 1_000 })
    const seen: Array<string> = []
    const exit = await sim.run(
      Effect.all([
        Effect.zipRight(Effect.sleep("2 seconds"), Effect.map(Clock.currentTimeMillis, (t) => seen.push(`b@${t}`))),
        Effect.zipRight(Effect.sleep("1 second"), Effect.map(Clock.currentTimeMillis, (t) => seen.push(`a@${t}`)))
      ], { concurrency: "unbounded" })
    )
    expect(Exit.isSuccess(exit)).toBe(true)
    expect(seen).toEqual(["a@2000", "b@3000"])
  })

  it("stops at a given time and goes on from there", async () => {
    const sim = Simulation.make()
    const fiber = sim.fork(Effect.sleep("10 minutes"))
    await sim.runUntil(60_000)
    expect(sim.now()).toBe(60_000)
    expect(fiber.unsafePoll()).toBeNull()
    await sim.runUntil(600_000)
    expect(fiber.unsafePoll()).not.toBeNull()
  })

  it("drives the client and the in-memory mock: server hints waited in virtual time", async () => {
    const sim = Simulation.make()
    const program = Effect.gen(function*() {
      const client = yield* OpenAiClient.OpenAiClient
      const start = yield* Clock.currentTimeMillis
      yield* client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })
      return (yield* Clock.currentTimeMillis) - start
    }).pipe(
      Effect.provide(
        OpenAiClient.layer({
          apiKey: Redacted.make("sk-sim"),
          baseUrl: MockHttpClient.baseUrl,
          resilience: { retryPolicy: RetryPolicy.make({ jitter: "none" }) }
        })
      ),
      Effect.provide(MockHttpClient.layer({ scenario: ["rate_limit_requests", "rate_limit_requests"], retryAfter: "20 seconds" }))
    )
    const exit = await sim.run(program)
    // Two 429s asking for 20 s each: the policy waited at least 40 virtual seconds.
    expect(Exit.isSuccess(exit)).toBe(true)
    if (Exit.isSuccess(exit)) expect(exit.value).toBeGreaterThanOrEqual(40_000)
  })
})
