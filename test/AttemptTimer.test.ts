/**
 * The per-attempt timeout over a transport that ends its own waits (./src/internal/attemptTimer.ts):
 * no fiber per attempt, the request in flight aborted when the time is up, the failure reported as
 * the timeout. The timer only exists on the live clock (under TestClock the stack races a virtual
 * sleep instead), so these tests use short real timeouts, as the undici timeout tests do.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Supervisor } from "effect"
import { HttpMiddleware, OpenAiError, ResilientFetch, RetryPolicy } from "../src/index.js"
import * as attemptTimer from "../src/internal/attemptTimer.js"

const request = HttpClientRequest.post("http://127.0.0.1:9/v1/chat/completions")
const json = (r: HttpClientRequest.HttpClientRequest) =>
  HttpClientResponse.fromWeb(r, new Response('{"ok":true}', { status: 200, headers: { "content-type": "application/json" } }))

/** A transport whose request hangs until aborted (when `hang`), else answers at once. */
const transport = (hang: (n: number) => boolean, cooperative: boolean) => {
  const aborted: Array<number> = []
  let sent = 0
  const client = HttpClient.makeWith(
    (effect: Effect.Effect<HttpClientRequest.HttpClientRequest>) =>
      Effect.flatMap(effect, (r) =>
        Effect.withFiberRuntime<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError>((fiber) => {
          const n = sent++
          if (!hang(n)) return Effect.succeed(json(r))
          return Effect.async<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError>((resume) => {
            if (cooperative) {
              attemptTimer.register(fiber, () => {
                aborted.push(n)
                resume(Effect.fail(new HttpClientError.RequestError({ request: r, reason: "Transport", cause: new Error("aborted") })))
              })
            }
          })
        })),
    Effect.succeed
  )
  return { client: cooperative ? attemptTimer.cooperating(client) : client, aborted, sent: () => sent }
}

class Forks extends Supervisor.AbstractSupervisor<number> {
  count = 0
  value = Effect.sync(() => this.count)
  override onStart() {
    this.count++
  }
}

const policy = RetryPolicy.make({ maxRetries: 1, base: "1 millis", maxDelay: "1 millis" })

describe("the per-attempt timer over a cooperating transport", () => {
  it.live("a hung request is aborted when the time is up, reported as the per-attempt timeout, and retried", () =>
    Effect.gen(function*() {
      const t = transport((n) => n === 0, true)
      const client = t.client.pipe(HttpMiddleware.resilient({ timeout: "40 millis", retryPolicy: policy }))
      const response = yield* client.execute(request)
      expect(response.status).toBe(200)
      expect(t.aborted).toEqual([0])
      expect(t.sent()).toBe(2)
      const alone = transport(() => true, true)
      const error = yield* Effect.flip(
        alone.client.pipe(HttpMiddleware.resilient({ timeout: "40 millis", retryPolicy: RetryPolicy.make({ maxRetries: 0 }) })).execute(request)
      )
      expect(OpenAiError.isOpenAiError(error) && error._tag).toBe("TimeoutError")
      expect("phase" in error && error.phase).toBe("headers")
      expect(alone.aborted).toEqual([0])
    }))

  it.live("forks no fiber for the timeout, where a transport that does not cooperate needs one per attempt", () =>
    Effect.gen(function*() {
      const forks = (cooperative: boolean) =>
        Effect.gen(function*() {
          const supervisor = new Forks()
          const t = transport(() => false, cooperative)
          const client = t.client.pipe(HttpMiddleware.resilient({ timeout: "1 minute" }))
          yield* Effect.supervised(Effect.repeatN(client.execute(request), 9), supervisor)
          return supervisor.count
        })
      expect(yield* forks(true)).toBe(0)
      expect(yield* forks(false)).toBeGreaterThanOrEqual(10)
    }))

  it.live("HttpMiddleware.timeout alone: the same, without a fiber, over a cooperating transport", () =>
    Effect.gen(function*() {
      const hung = transport(() => true, true)
      const error = yield* Effect.flip(hung.client.pipe(HttpMiddleware.timeout("30 millis")).execute(request))
      expect(error._tag).toBe("TimeoutError")
      expect(hung.aborted).toEqual([0])
      const supervisor = new Forks()
      const quick = transport(() => false, true)
      yield* Effect.supervised(Effect.repeatN(quick.client.pipe(HttpMiddleware.timeout("1 minute")).execute(request), 4), supervisor)
      expect(supervisor.count).toBe(0)
    }))

  it.live("a request answered in time aborts nothing, and the attempt's timer is gone from the fiber afterwards", () =>
    Effect.gen(function*() {
      const t = transport(() => false, true)
      const client = t.client.pipe(HttpMiddleware.resilient({ timeout: "20 millis" }))
      yield* Effect.repeatN(client.execute(request), 4)
      expect(yield* Effect.withFiberRuntime((fiber) => Effect.succeed(attemptTimer.current(fiber)))).toBeUndefined()
      expect(t.aborted).toEqual([])
    }))

  it.live("an interrupted attempt ends its request through interruption, not as a timeout", () =>
    Effect.gen(function*() {
      const t = transport(() => true, true)
      const client = t.client.pipe(HttpMiddleware.resilient({ timeout: "1 minute" }))
      const error = yield* Effect.flip(Effect.timeout(client.execute(request), "20 millis"))
      expect(error._tag).toBe("TimeoutException")
      expect(t.aborted).toEqual([])
      expect(yield* Effect.withFiberRuntime((fiber) => Effect.succeed(attemptTimer.current(fiber)))).toBeUndefined()
    }))

  it("a timer that has fired runs a late registration at once", () => {
    const timer = new attemptTimer.Timer(0)
    timer.clear()
    let ran = 0
    timer.onFire(() => ran++)
    expect(ran).toBe(0)
    ;(timer as unknown as { fire: () => void }).fire()
    timer.onFire(() => ran++)
    expect(ran).toBe(2)
  })
})

describe("the per-attempt timer over a fetch that does not heed its signal", () => {
  const call = (fetch: ResilientFetch.Fetch) =>
    Effect.promise(async () => {
      const resilient = ResilientFetch.fromOptions({ fetch, timeout: "50 millis", retryPolicy: RetryPolicy.make({ maxRetries: 0 }) })
      const outcome = await resilient("http://127.0.0.1:9/v1/chat/completions", { method: "POST", body: "{}" }).then(
        (response) => response.text(),
        (error: unknown) => error
      )
      await resilient.close()
      return outcome
    })
  const isTimeout = (outcome: unknown) =>
    outcome instanceof TypeError && OpenAiError.isOpenAiError(outcome.cause) && outcome.cause._tag === "TimeoutError"

  it.live("a send that never settles ends with the timeout", () =>
    Effect.gen(function*() {
      expect(isTimeout(yield* call(() => new Promise<Response>(() => {})))).toBe(true)
    }))

  it.live("a body that never arrives ends with the timeout", () =>
    Effect.gen(function*() {
      const stalled = () => Promise.resolve(new Response(new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}) })))
      expect(isTimeout(yield* call(stalled))).toBe(true)
    }))

  it.live("an answer that ignores the abort and comes later is not waited for", () =>
    Effect.gen(function*() {
      const late = () => new Promise<Response>((resolve) => setTimeout(() => resolve(new Response("late")), 2_000).unref())
      const started = Date.now()
      expect(isTimeout(yield* call(late))).toBe(true)
      expect(Date.now() - started).toBeLessThan(1_500)
    }))
})

describe("a per-attempt timeout longer than a timer can hold", () => {
  it.live("is no timeout at all, not one that fires at once", () =>
    Effect.gen(function*() {
      for (const cooperative of [true, false]) {
        const t = transport(() => false, cooperative)
        const slow = HttpClient.transformResponse(t.client, (effect) => Effect.delay(effect, "30 millis"))
        const client = (cooperative ? attemptTimer.cooperating(slow) : slow).pipe(
          HttpMiddleware.resilient({ timeout: "30 days", retryPolicy: RetryPolicy.make({ maxRetries: 0 }) })
        )
        const response = yield* client.execute(request)
        expect(response.status).toBe(200)
      }
    }))
})
