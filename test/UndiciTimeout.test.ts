/**
 * undici's own timeouts against the client's. Node's global fetch (so `FetchHttpClient`) cuts a call
 * after 300 s without headers, or 300 s between two body chunks, although the client allows each
 * attempt 10 minutes: such a cut must read as a timeout that says so and how to fix it, and the
 * recommended layer (`NodeHttpClient.layerUndici`) must leave the waits to the client.
 *
 * The 300 s are never waited for: the stubs reject as undici does, and the loopback tests give the
 * dispatcher a 100 ms timeout (undici's coarse timers fire it within about a second).
 */
import { FetchHttpClient, type HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import * as Undici from "@effect/platform-node/Undici"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Option, Redacted, Schedule, TestClock } from "effect"
import type * as http from "node:http"
import { FetchUntimed } from "../docs/examples/client.js"
import * as Classify from "../src/Classify.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import * as UndiciHttpClient from "../src/UndiciHttpClient.js"
import { chatRequest, completion } from "./support/client.js"
import { serve } from "./support/httpServer.js"

const apiKey = Redacted.make("sk-proj-undiciTimeoutCanary0000")

// What undici's fetch rejects with when its own timer fires.
const undiciError = (code: "UND_ERR_HEADERS_TIMEOUT" | "UND_ERR_BODY_TIMEOUT") =>
  Object.assign(new Error(code === "UND_ERR_HEADERS_TIMEOUT" ? "Headers Timeout Error" : "Body Timeout Error"), {
    name: code === "UND_ERR_HEADERS_TIMEOUT" ? "HeadersTimeoutError" : "BodyTimeoutError",
    code
  })

const expectUndiciAdvice = (message: string, option: string) => {
  expect(message).toContain(`undici's own ${option}`)
  expect(message).toContain("300 s")
  expect(message).toContain("not this client's timeout")
  expect(message).toContain("NodeHttpClient.layerUndici")
  expect(message).not.toContain("per-attempt timeout")
}

describe("a cut by undici's own timeout", () => {
  it.each([
    ["UND_ERR_HEADERS_TIMEOUT", "headers", "headersTimeout"],
    ["UND_ERR_BODY_TIMEOUT", "idle", "bodyTimeout"]
  ] as const)("fetch rejecting with %s is a retryable TimeoutError (phase %s) that names undici, not the client", (code, phase, option) => {
    const e = Classify.classifyTransportError(new TypeError("fetch failed", { cause: undiciError(code) }))
    expect(e._tag).toBe("TimeoutError")
    if (e._tag !== "TimeoutError") return
    expect([e.phase, e.retryable, e.code]).toEqual([phase, true, Option.some(code)])
    expectUndiciAdvice(e.message, option)
  })

  it("names the client's own timeout when given it", () => {
    const e = Classify.classifyTransportError(new TypeError("fetch failed", { cause: undiciError("UND_ERR_HEADERS_TIMEOUT") }), {
      timeout: "10 minutes"
    })
    expect(e.message).toContain("not this client's timeout of 10m")
  })

  it("inside a stream that had begun, the cut is a ConnectionError that still says why", () => {
    const e = Classify.classifyTransportError(new TypeError("terminated", { cause: undiciError("UND_ERR_BODY_TIMEOUT") }), {
      received: { events: 3, bytes: 120 }
    })
    expect(e._tag).toBe("ConnectionError")
    expectUndiciAdvice(e.message, "bodyTimeout")
  })

  it("a timeout of the client's own says so, without undici's advice", () => {
    const e = Classify.classifyTransportError(Object.assign(new Error("connect ETIMEDOUT"), { code: "ETIMEDOUT" }))
    expect(e._tag).toBe("TimeoutError")
    expect(e.message).not.toContain("undici")
  })
})

// The client over FetchHttpClient with a stubbed fetch; `calls` counts the attempts.
const fetchClient = (fetch: typeof globalThis.fetch) =>
  OpenAiClient.layer({
    apiKey,
    baseUrl: "http://127.0.0.1:9/v1",
    resilience: { retryPolicy: RetryPolicy.make({ maxRetries: 2 }) }
  }).pipe(Layer.provide(FetchHttpClient.layer), Layer.provide(Layer.succeed(FetchHttpClient.Fetch, fetch)))

const createChat = Effect.flatMap(OpenAiClient.OpenAiClient, (openai) => openai.chat.completions.create(chatRequest))

describe("through the client over FetchHttpClient (a stubbed fetch)", () => {
  it.effect("fetch rejecting with UND_ERR_HEADERS_TIMEOUT is retried as a timeout, and the last error explains the cut", () =>
    Effect.gen(function*() {
      let calls = 0
      const fetch: typeof globalThis.fetch = () => {
        calls++
        return Promise.reject(new TypeError("fetch failed", { cause: undiciError("UND_ERR_HEADERS_TIMEOUT") }))
      }
      const fiber = yield* Effect.fork(Effect.flip(createChat.pipe(Effect.provide(fetchClient(fetch)))))
      yield* TestClock.adjust("1 minute")
      const e = yield* Fiber.join(fiber)
      expect(calls).toBe(3)
      expect(e._tag).toBe("TimeoutError")
      expectUndiciAdvice(e.message, "headersTimeout")
      expect(JSON.stringify(e)).not.toContain(Redacted.value(apiKey))
    }))

  it.effect("a body cut by UND_ERR_BODY_TIMEOUT is retried as a timeout of phase idle", () =>
    Effect.gen(function*() {
      let calls = 0
      const fetch: typeof globalThis.fetch = () => {
        calls++
        let sent = false
        const body = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (sent) return controller.error(new TypeError("terminated", { cause: undiciError("UND_ERR_BODY_TIMEOUT") }))
            sent = true
            controller.enqueue(new TextEncoder().encode("{\"id\": \"chatcmpl-1\", "))
          }
        })
        return Promise.resolve(new Response(body, { status: 200, headers: { "content-type": "application/json" } }))
      }
      const fiber = yield* Effect.fork(Effect.flip(createChat.pipe(Effect.provide(fetchClient(fetch)))))
      yield* TestClock.adjust("1 minute")
      const e = yield* Fiber.join(fiber)
      expect(calls).toBe(3)
      expect(e._tag === "TimeoutError" && e.phase).toBe("idle")
      expectUndiciAdvice(e.message, "bodyTimeout")
    }))
})

// A server on 127.0.0.1 that holds every request until told to answer it.
const holdingServer = Effect.gen(function*() {
  const held: Array<http.ServerResponse> = []
  let released = false
  let requests = 0
  const answer = (res: http.ServerResponse) => {
    res.writeHead(200, { "content-type": "application/json", "x-request-id": "req_held" })
    res.end(JSON.stringify(completion))
  }
  const { origin } = yield* serve((req, res) => {
    requests++
    req.resume()
    if (released) answer(res)
    else held.push(res)
  })
  return {
    url: origin,
    release: () => {
      released = true
      held.splice(0).forEach(answer)
    },
    requests: () => requests
  }
})

// A dispatcher whose own timeouts are short, standing for the global one's 300 s.
const shortDispatcher = Effect.acquireRelease(
  Effect.sync(() => new Undici.Agent({ headersTimeout: 100, bodyTimeout: 100 })),
  (agent) => Effect.promise(() => agent.destroy())
)

// The clients over undici that leave the waits to the client: the platform's and this package's.
const undiciLayers = [
  [
    "NodeHttpClient.layerUndici",
    (agent: Undici.Dispatcher) =>
      NodeHttpClient.layerUndiciWithoutDispatcher.pipe(Layer.provide(Layer.succeed(NodeHttpClient.Dispatcher, agent)))
  ],
  ["UndiciHttpClient.layerDispatcher", (agent: Undici.Dispatcher) => UndiciHttpClient.layerDispatcher(agent)]
] as const

// The held server, the short dispatcher, and a client over undici over that dispatcher.
const overUndici = (layer: (agent: Undici.Dispatcher) => Layer.Layer<HttpClient.HttpClient>) =>
  Effect.gen(function*() {
    const server = yield* holdingServer
    const agent = yield* shortDispatcher
    return { agent, http: layer(agent), server }
  })

const realClient = (url: string, timeout: Duration.DurationInput) =>
  OpenAiClient.layer({ apiKey, baseUrl: `${url}/v1`, resilience: { timeout, retryPolicy: Schedule.stop } })

describe("on loopback, with a dispatcher whose own timeouts are 100 ms", () => {
  it.live("fetch over it is cut by undici: a TimeoutError that explains the cut", () =>
    Effect.gen(function*() {
      const server = yield* holdingServer
      const agent = yield* shortDispatcher
      const fetch: typeof globalThis.fetch = (input, init) =>
        globalThis.fetch(input, { ...init, dispatcher: agent } as RequestInit)
      const http = Layer.provide(FetchHttpClient.layer, Layer.succeed(FetchHttpClient.Fetch, fetch))
      const e = yield* Effect.flip(createChat.pipe(Effect.provide(realClient(server.url, "30 seconds").pipe(Layer.provide(http)))))
      expect(e._tag).toBe("TimeoutError")
      expect(e._tag === "TimeoutError" && e.code).toEqual(Option.some("UND_ERR_HEADERS_TIMEOUT"))
      expectUndiciAdvice(e.message, "headersTimeout")
    }).pipe(Effect.scoped))

  for (const [name, layer] of undiciLayers) {
    it.live(`${name} over the same dispatcher outlives its cut and answers`, () =>
      Effect.gen(function*() {
        const { agent, http, server } = yield* overUndici(layer)
        const call = yield* Effect.fork(createChat.pipe(Effect.provide(realClient(server.url, "30 seconds").pipe(Layer.provide(http)))))
        // A plain request through the same dispatcher is cut by its 100 ms timeout; only then does
        // the server answer the client's call, which must still be waiting.
        const probe = yield* Effect.flip(Effect.tryPromise(() => agent.request({ origin: server.url, path: "/probe", method: "GET" })))
        expect((probe.error as { readonly code?: unknown }).code).toBe("UND_ERR_HEADERS_TIMEOUT")
        expect(Option.isNone(yield* Fiber.poll(call))).toBe(true)
        server.release()
        const { data, requestId } = yield* Fiber.join(call)
        expect(data.choices[0]?.message.content).toBe("Hi!")
        expect(requestId).toEqual(Option.some("req_held"))
      }).pipe(Effect.scoped))

    it.live(`${name} honours a short client timeout: the client's TimeoutError, not undici's`, () =>
      Effect.gen(function*() {
        const { http, server } = yield* overUndici(layer)
        // 250 ms: long enough for the request to reach the server on a loaded machine (at 50 ms the
        // full suite on 2 busy cores timed out before it was sent).
        const e = yield* Effect.flip(createChat.pipe(Effect.provide(realClient(server.url, "250 millis").pipe(Layer.provide(http)))))
        expect(e._tag === "TimeoutError" && [e.phase, Duration.toMillis(e.timeout)]).toEqual(["headers", 250])
        expect(e.message).toContain("per-attempt timeout")
        expect(e.message).not.toContain("undici")
        expect(server.requests()).toBe(1)
      }).pipe(Effect.scoped))
  }
})

describe("docs/client.md's fetch recipe", () => {
  it.live("FetchUntimed sends through its own dispatcher and answers", () =>
    Effect.gen(function*() {
      const server = yield* holdingServer
      server.release()
      const { data } = yield* createChat.pipe(Effect.provide(realClient(server.url, "30 seconds").pipe(Layer.provide(FetchUntimed))))
      expect(data.choices[0]?.message.content).toBe("Hi!")
      expect(server.requests()).toBe(1)
    }).pipe(Effect.scoped))
})
