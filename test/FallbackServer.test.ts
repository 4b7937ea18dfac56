import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as Deployment from "../src/Deployment.js"
import * as Fallback from "../src/Fallback.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import { MockApi, MockServer } from "../src/testing/index.js"
import { chatRequest } from "./support/deployments.js"

// Real sockets and real time (`it.live`): each deployment is its own mock server on 127.0.0.1.
const quick = RetryPolicy.make({ maxRetries: 1, base: "10 millis", factor: 1, jitter: "none" })

const serverDeployment = (
  name: string,
  options: MockServer.ServerOptions = {},
  breaker?: CircuitBreaker.CircuitBreaker
) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(MockServer.layer(options))
    const { url } = Context.get(context, MockServer.MockServer)
    const deployment = yield* Deployment.compatible({
      name,
      baseUrl: url,
      apiKey: Redacted.make(`sk-${name}-over-http-0123456789`),
      resilience: { retryPolicy: quick, timeout: "5 seconds", breaker }
    })
    const log = Context.get(context, MockApi.MockApi).log
    return { deployment, served: Effect.map(log, (l) => l.length) }
  })

const live = <A, E>(effect: Effect.Effect<A, E, HttpClient.HttpClient | Scope.Scope>) =>
  effect.pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer))

describe("Fallback over real HTTP, one mock server per deployment", () => {
  it.live("a primary answering 500s: served by the secondary", () =>
    live(Effect.gen(function*() {
      const a = yield* serverDeployment("a", { scenario: ["server_error", "server_error"] })
      const b = yield* serverDeployment("b")
      const plan = yield* Fallback.make([a.deployment, b.deployment])
      const result = yield* plan.chat.completions.create(chatRequest)
      assert.strictEqual(result.route.served, "b")
      assert.deepStrictEqual(result.route.left.map((l) => l._tag === "Failed" ? l.error._tag : l._tag), ["ServerError"])
      assert.strictEqual(yield* a.served, 2)
      assert.strictEqual(yield* b.served, 1)
    })))

  it.live("a stream whose primary is overloaded starts on the secondary", () =>
    live(Effect.gen(function*() {
      const a = yield* serverDeployment("a", { scenario: ["engine_overloaded"] })
      const b = yield* serverDeployment("b")
      const plan = yield* Fallback.make([a.deployment, b.deployment])
      const chunks = yield* Stream.runCollect(plan.chat.completions.stream(chatRequest))
      assert.isAbove(Chunk.size(chunks), 1)
      assert.strictEqual(yield* a.served, 1)
      assert.strictEqual(yield* b.served, 1)
    })))

  it.live("a reset connection moves on; a hedge beats a slow server and the loser does not hold the call", () =>
    live(Effect.gen(function*() {
      const a = yield* serverDeployment("a", { scenario: ["connection_reset", "connection_reset"] })
      const slow = yield* serverDeployment("slow", { scenario: ["slow_headers"], slowHeadersDelay: "20 seconds" })
      const c = yield* serverDeployment("c")
      const reset = yield* Fallback.make([a.deployment, c.deployment])
      assert.strictEqual((yield* reset.chat.completions.create(chatRequest)).route.served, "c")
      const hedged = yield* Fallback.make([slow.deployment, c.deployment], { hedge: { after: "100 millis" } })
      const start = Date.now()
      const result = yield* hedged.chat.completions.create(chatRequest)
      assert.strictEqual(result.route.served, "c")
      assert.isTrue(result.route.hedged)
      assert.isBelow(Date.now() - start, 5_000) // not the slow server's 20 s
    })))

  it.live("a primary outage: the secondary serves while the breaker is open, the primary again once it is back", () =>
    live(Effect.gen(function*() {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2, openDuration: "200 millis", backoffFactor: 1 })
      // The first 6 requests that reach the primary fail: its outage.
      const a = yield* serverDeployment("a", { scenario: Array.from({ length: 6 }, () => "server_error" as const) }, breaker)
      const b = yield* serverDeployment("b")
      const plan = yield* Fallback.make([a.deployment, b.deployment])
      const servedBy: Array<string> = []
      for (let i = 0; i < 30; i++) {
        servedBy.push((yield* plan.chat.completions.create(chatRequest)).route.served)
        yield* Effect.sleep("50 millis")
      }
      assert.strictEqual(servedBy[0], "b")
      assert.includeMembers(servedBy.slice(-5), ["a"])
      assert.notInclude(servedBy.slice(-5), "b")
      assert.isBelow(yield* a.served, 30) // the open breaker kept calls off the primary
    }).pipe(Logger.withMinimumLogLevel(LogLevel.Warning))))
})
