import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Option, Scope } from "effect"
import * as http from "node:http"
import * as Examples from "../docs/examples/testing.js"
import * as Classify from "../src/Classify.js"
import { MockApi, MockServer } from "../src/testing/index.js"

// Real sockets and real time: these tests run with the live Clock (`it.live`).
const withServer = (options: MockServer.ServerOptions = {}) =>
  Effect.provide(Layer.merge(MockServer.layer(options), FetchHttpClient.layer))

const chat = (base: string, headers: Record<string, string> = {}, body: Record<string, unknown> = {}) =>
  HttpClientRequest.post(`${base}/chat/completions`).pipe(
    HttpClientRequest.bearerToken("sk-real-http-test-key-0123456789"),
    HttpClientRequest.setHeaders(headers),
    HttpClientRequest.bodyUnsafeJson({ model: "gpt-4o-mini", messages: [{ role: "user", content: "over the wire" }], ...body })
  )

const execText = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.flatMap(HttpClient.HttpClient, (c) => c.execute(request)).pipe(
    Effect.flatMap((res) => Effect.map(res.text, (text) => ({ res, text })))
  )

/** A raw node:http request, to see exactly what the socket does. */
const raw = (port: number, headers: Record<string, string>, body: string) =>
  Effect.async<{ status: number; received: string; error: (Error & { code?: string }) | undefined }>((resume) => {
    let received = ""
    let status = 0
    const req = http.request(
      { host: "127.0.0.1", port, path: "/v1/chat/completions", method: "POST", headers: { "content-type": "application/json", ...headers } },
      (res) => {
        status = res.statusCode ?? 0
        res.setEncoding("utf8")
        res.on("data", (d: string) => (received += d))
        res.on("end", () => resume(Effect.succeed({ status, received, error: undefined })))
        res.on("error", (error) => resume(Effect.succeed({ status, received, error })))
      }
    )
    req.on("error", (error) => resume(Effect.succeed({ status, received, error })))
    req.end(body)
  })

const streamBody = JSON.stringify({
  model: "gpt-4o-mini",
  stream: true,
  messages: [{ role: "user", content: "one two three four five" }]
})

describe("MockServer over real HTTP", () => {
  it.live("listens on 127.0.0.1 on a free port and serves chat completions", () =>
    Effect.gen(function*() {
      const server = yield* MockServer.MockServer
      expect(server.host).toBe("127.0.0.1")
      expect(server.port).toBeGreaterThan(0)
      expect(server.url).toBe(`http://127.0.0.1:${server.port}/v1`)
      const { res, text } = yield* execText(chat(server.url))
      expect(res.status).toBe(200)
      expect(JSON.parse(text).choices[0].message.content).toBe("over the wire")
      expect(res.headers["x-request-id"]).toMatch(/^req_/)
      expect(res.headers["x-ratelimit-remaining-requests"]).toBe("9999")
    }).pipe(withServer()))

  it.live("status faults arrive with their status, body and headers", () =>
    Effect.gen(function*() {
      const { url } = yield* MockServer.MockServer
      for (const [fault, status, tag] of [
        ["server_error", 500, "ServerError"],
        ["rate_limit_requests", 429, "RateLimitReached"],
        ["unsupported_region", 403, "UnsupportedRegion"],
        ["html_502", 502, "ServerError"]
      ] as const) {
        const { res, text } = yield* execText(chat(url, { "x-mock-fault": fault }))
        expect(res.status, fault).toBe(status)
        expect(Classify.classifyResponse({ status: res.status, headers: res.headers, body: text })._tag, fault).toBe(tag)
      }
      const limited = yield* execText(chat(url, { "x-mock-fault": "rate_limit_requests", "x-mock-retry-after-ms": "750" }))
      expect(limited.res.headers["retry-after-ms"]).toBe("750")
      expect(limited.res.headers["retry-after"]).toBe("1")
    }).pipe(withServer()))

  it.live("connection_reset resets the TCP connection: the client sees ECONNRESET", () =>
    Effect.gen(function*() {
      const { port, url } = yield* MockServer.MockServer
      const result = yield* raw(port, { "x-mock-fault": "connection_reset" }, streamBody)
      expect(result.status).toBe(0)
      expect(result.error?.code).toBe("ECONNRESET")
      const error = yield* Effect.flip(execText(chat(url, { "x-mock-fault": "connection_reset" })))
      expect(error._tag).toBe("RequestError")
      const classified = Classify.classifyTransportError(error)
      expect(classified._tag).toBe("ConnectionError")
      expect(Option.getOrUndefined(classified.code)).toBe("ECONNRESET")
      // The server is still up.
      expect((yield* execText(chat(url))).res.status).toBe(200)
    }).pipe(withServer()))

  it.live("stream_cut closes the connection after some events, without [DONE] or the final chunk", () =>
    Effect.gen(function*() {
      const { port, url } = yield* MockServer.MockServer
      const result = yield* raw(port, { "x-mock-fault": "stream_cut" }, streamBody)
      expect(result.status).toBe(200)
      expect(result.received).toContain("chat.completion.chunk")
      expect(result.received).not.toContain("[DONE]")
      expect(result.error).toBeDefined()
      const error = yield* Effect.flip(execText(chat(url, { "x-mock-fault": "stream_cut" }, { stream: true })))
      expect(error._tag).toBe("ResponseError")
      // Completed streams do end with [DONE].
      const whole = yield* raw(port, {}, streamBody)
      expect(whole.error).toBeUndefined()
      expect(whole.received.trimEnd().endsWith("data: [DONE]")).toBe(true)
    }).pipe(withServer()))

  it.live("stream_error sends an error frame over SSE", () =>
    Effect.gen(function*() {
      const { port } = yield* MockServer.MockServer
      const result = yield* raw(port, { "x-mock-fault": "stream_error" }, streamBody)
      expect(result.status).toBe(200)
      expect(result.error).toBeUndefined()
      expect(result.received).toContain("data: {\"error\":{\"message\":\"The server had an error")
    }).pipe(withServer()))

  it.live("slow_headers holds the headers for the delay asked", () =>
    Effect.gen(function*() {
      const { url } = yield* MockServer.MockServer
      const start = Date.now()
      const { res } = yield* execText(chat(url, { "x-mock-fault": "slow_headers", "x-mock-delay-ms": "300" }))
      expect(res.status).toBe(200)
      expect(Date.now() - start).toBeGreaterThanOrEqual(280)
      const timedOut = yield* Effect.exit(execText(chat(url, { "x-mock-fault": "slow_headers" })).pipe(Effect.timeout("100 millis")))
      expect(Exit.isFailure(timedOut)).toBe(true)
    }).pipe(withServer({ slowHeadersDelay: "2 seconds" })))

  it.live("rate limits, fail-N-times, bad JSON and the request log work over HTTP", () =>
    Effect.gen(function*() {
      const { port, url } = yield* MockServer.MockServer
      const statuses: Array<number> = []
      for (let i = 0; i < 3; i++) statuses.push((yield* execText(chat(url))).res.status)
      expect(statuses).toEqual([200, 200, 429])
      const flaky = (yield* Effect.forEach(
        [1, 2, 3],
        () => raw(port, { "x-mock-fault": "server_error", "x-mock-fault-times": "2", "x-mock-key": "job-1" }, streamBody)
      )).map((r) => r.status)
      // No bearer token: these count against the "anonymous" key, not the exhausted one.
      expect(flaky).toEqual([500, 500, 200])
      const broken = yield* raw(port, {}, "{not json")
      expect(broken.status).toBe(400)
      expect(JSON.parse(broken.received).error.type).toBe("invalid_request_error")
      const log = yield* Effect.flatMap(MockApi.MockApi, (m) => m.log)
      expect(log.map((e) => e.attempt).slice(3, 6)).toEqual([1, 2, 3])
      expect(log[0]?.headers["authorization"]).toBe("<redacted>")
      expect(JSON.stringify(log)).not.toContain("sk-real-http-test-key")
    }).pipe(withServer({ rpm: 2 })))
  it.live("closing the server does not wait for a request in flight", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(MockServer.layer(), scope)
      const { port } = Context.get(context, MockServer.MockServer)
      const pending = yield* Effect.fork(raw(port, { "x-mock-fault": "slow_headers" }, streamBody))
      yield* Effect.sleep("150 millis")
      const start = Date.now()
      yield* Scope.close(scope, Exit.void)
      expect(Date.now() - start).toBeLessThan(2000)
      const result = yield* Fiber.join(pending)
      expect(result.error).toBeDefined()
    }))
})

describe("MockServer standalone", () => {
  it.effect("serverOptions turns --fault and --fault-rate into fault rates", () =>
    Effect.gen(function*() {
      const options = yield* MockServer.serverOptions({ port: 0, rpm: 60, fault: "server_error", faultRate: 0.25, seed: 3 })
      expect(options).toEqual({ port: 0, rpm: 60, seed: 3, faultRates: { server_error: 0.25 } })
      expect((yield* MockServer.serverOptions({ fault: "stream_cut" })).faultRates).toEqual({ stream_cut: 1 })
    }))

  it.effect("serverOptions rejects bad options with a typed error", () =>
    Effect.gen(function*() {
      for (
        const [options, option] of [
          [{ fault: "nope" }, "fault"],
          [{ fault: "server_error", faultRate: 2 }, "fault-rate"],
          [{ faultRate: 0.5 }, "fault-rate"],
          [{ rpm: 0 }, "rpm"],
          [{ tpm: 1.5 }, "tpm"],
          [{ port: 70000 }, "port"]
        ] as const
      ) {
        const error = yield* Effect.flip(MockServer.serverOptions(options))
        expect(error._tag).toBe("MockServerOptionError")
        expect(error.option).toBe(option)
      }
      const runError = yield* Effect.flip(MockServer.run({ fault: "nope" }))
      expect(runError._tag).toBe("MockServerOptionError")
    }))

  it.live("run serves until interrupted", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(MockServer.run({ port: 0 }))
      yield* Effect.sleep("100 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
    }))
})

describe("docs/examples/testing.ts (real server)", () => {
  it.live("survives a connection reset", () => Examples.survivesAConnectionReset)
})
