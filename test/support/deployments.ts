/**
 * Deployments over in-memory mocks, one mock per deployment, for the fallback tests.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as Deployment from "../../src/Deployment.js"
import type * as Resilience from "../../src/Resilience.js"
import * as RetryPolicy from "../../src/RetryPolicy.js"
import { MockApi, MockHttpClient } from "../../src/testing/index.js"

// One retry, 100 ms apart, no jitter (on the backoff or the server's hint): a deployment's own retries are
// visible and exact.
export const policy = RetryPolicy.make({ maxRetries: 1, base: "100 millis", factor: 1, jitter: "none", hintJitter: { ratio: 0 } })

export const chatRequest = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "Say hi" }] }

export interface MockDeploymentOptions {
  readonly mock?: MockApi.MockOptions
  readonly key?: string
  readonly contextWindow?: number
  readonly model?: string
  readonly resilience?: Resilience.Options<never>
}

/** A deployment over a fresh mock of its own, and that mock (to read its log). */
export const mockDeployment = (name: string, options: MockDeploymentOptions = {}) =>
  Effect.gen(function*() {
    const mock = yield* MockApi.make(options.mock)
    const client = yield* MockHttpClient.make.pipe(Effect.provideService(MockApi.MockApi, mock))
    const deployment = yield* Deployment.compatible({
      name,
      baseUrl: MockHttpClient.baseUrl,
      apiKey: Redacted.make(options.key ?? `sk-${name}-0123456789`),
      model: options.model,
      contextWindow: options.contextWindow,
      resilience: { retryPolicy: policy, ...options.resilience }
    }).pipe(Effect.provideService(HttpClient.HttpClient, client))
    return { deployment, mock }
  })

/** How many requests a mock has served. */
export const served = (mock: MockApi.MockApiService) => Effect.map(mock.log, (log) => log.length)

/** Runs `effect` in a fiber while virtual time moves on by `by`, then joins it. */
export const inVirtualTime = <A, E>(effect: Effect.Effect<A, E>, by: Duration.DurationInput = "10 minutes") =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    yield* TestClock.adjust(by)
    return yield* Fiber.join(fiber)
  })
