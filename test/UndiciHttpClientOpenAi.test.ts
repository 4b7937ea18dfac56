/**
 * `OpenAiClient` over `UndiciHttpClient.layer` against the package's `MockServer` (real sockets on
 * 127.0.0.1, port 0), beside the same calls over `NodeHttpClient.layerUndici`: each fault gives the
 * same typed error after the same number of attempts (the mock's log), and streams arrive whole or
 * fail with the typed error. Real time, short delays, as the other over-the-wire tests do.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as OpenAiClient from "../src/OpenAiClient.js"
import type * as OpenAiError from "../src/OpenAiError.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import type * as Faults from "../src/testing/Faults.js"
import * as MockApi from "../src/testing/MockApi.js"
import * as MockServer from "../src/testing/MockServer.js"
import * as UndiciHttpClient from "../src/UndiciHttpClient.js"
import { chatRequest } from "./support/client.js"
import { type RecordedSpan, recordingTracer } from "./support/tracer.js"

const API_KEY = "sk-proj-UNDICILEANKEY0123456789abcdefghij"

const layers = [["lean", UndiciHttpClient.layer], ["platform", NodeHttpClient.layerUndici]] as const

// One call through the client over `http`, against a mock serving `scenario` (one fault per
// attempt, then normal answers): the call's exit and the attempts the server saw.
const overWire = <A>(
  scenario: ReadonlyArray<Faults.FaultName | "ok">,
  http: Layer.Layer<HttpClient.HttpClient>,
  use: (openai: OpenAiClient.Service) => Effect.Effect<A, OpenAiError.OpenAiError>,
  { maxRetries = 1, timeout = "10 seconds" }: { readonly timeout?: Duration.DurationInput; readonly maxRetries?: number } = {}
) =>
  Effect.gen(function*() {
    const server = yield* MockServer.MockServer
    const openai = yield* OpenAiClient.make({
      apiKey: Redacted.make(API_KEY),
      baseUrl: server.url,
      resilience: {
        timeout,
        retryPolicy: RetryPolicy.make({ maxRetries, base: "20 millis", jitter: "none", maxServerDelay: "1 second" })
      },
      transformClient: (client) =>
        client.pipe(HttpClient.mapRequest((request) =>
          request.pipe(
            HttpClientRequest.setHeader("x-mock-retry-after-ms", "30"),
            HttpClientRequest.setHeader("x-mock-delay-ms", "5000")
          )
        ))
    })
    const result = yield* Effect.either(use(openai))
    const log = yield* Effect.flatMap(MockApi.MockApi, (mock) => mock.log)
    return { result, attempts: log.length }
  }).pipe(
    Effect.provide(Layer.merge(MockServer.layer({ scenario, chunkDelay: "1 millis" }), http)),
    Effect.scoped
  )

// What a typed error says, without what differs from run to run (ports, ids, timings).
const summary = (e: OpenAiError.OpenAiError) => ({
  _tag: e._tag,
  status: e.status,
  code: e.code,
  type: e.type,
  retryable: e.retryable,
  retryAfter: Option.map(e.retryAfter, Duration.toMillis),
  ...(e._tag === "TimeoutError" ? { phase: e.phase, timeout: Duration.toMillis(e.timeout) } : {}),
  ...(e._tag === "ConnectionError" ? { received: Option.isSome(e.received) } : {})
})

const create = (openai: OpenAiClient.Service) => Effect.map(openai.chat.completions.create(chatRequest), ({ data }) => data.choices[0]?.message.content)

const faults: ReadonlyArray<{
  readonly scenario: ReadonlyArray<Faults.FaultName | "ok">
  readonly tag: OpenAiError.OpenAiError["_tag"]
  readonly attempts: number
  readonly timeout?: Duration.DurationInput
  readonly check?: (e: ReturnType<typeof summary>) => void
}> = [
  {
    scenario: ["rate_limit_requests", "rate_limit_requests"],
    tag: "RateLimitReached",
    attempts: 2,
    check: (e) => expect(e.retryAfter).toEqual(Option.some(30))
  },
  { scenario: ["insufficient_quota"], tag: "QuotaExceeded", attempts: 1 },
  { scenario: ["server_error", "server_error"], tag: "ServerError", attempts: 2 },
  { scenario: ["connection_reset", "connection_reset"], tag: "ConnectionError", attempts: 2 },
  { scenario: ["body_cut", "body_cut"], tag: "ConnectionError", attempts: 2 },
  {
    scenario: ["slow_headers", "slow_headers"],
    tag: "TimeoutError",
    attempts: 2,
    timeout: "250 millis",
    check: (e) => expect([e.phase, e.timeout]).toEqual(["headers", 250])
  }
]

describe("OpenAiClient over UndiciHttpClient.layer: the same typed errors and attempts as over layerUndici", () => {
  for (const f of faults) {
    it.live(`${f.scenario.join(", ")}: ${f.tag} after ${f.attempts} attempt(s)`, () =>
      Effect.gen(function*() {
        const [ours, theirs] = yield* Effect.forEach(layers, ([, http]) => overWire(f.scenario, http, create, f.timeout === undefined ? {} : { timeout: f.timeout }))
        if (ours === undefined || theirs === undefined) return expect.unreachable()
        expect(ours.attempts).toBe(f.attempts)
        expect(ours.result._tag).toBe("Left")
        if (ours.result._tag === "Right" || theirs.result._tag === "Right") return expect.unreachable()
        const e = summary(ours.result.left)
        expect(e._tag).toBe(f.tag)
        f.check?.(e)
        expect([e, ours.attempts]).toEqual([summary(theirs.result.left), theirs.attempts])
        expect(JSON.stringify(ours.result.left)).not.toContain(API_KEY)
      }))
  }

  for (const [name, http] of layers) {
    it.live(`${name}: a reset then a 429 with retry-after-ms are retried, and the completion arrives`, () =>
      Effect.gen(function*() {
        const { attempts, result } = yield* overWire(["connection_reset", "rate_limit_requests"], http, (openai) =>
          openai.chat.completions.create(chatRequest), { maxRetries: 2 })
        if (result._tag === "Left") return expect.unreachable(result.left.message)
        expect(attempts).toBe(3)
        expect(Option.isSome(result.right.requestId)).toBe(true)
        expect(result.right.data.choices[0]?.message.content).toBeTruthy()
      }))
  }
})

describe("streams over UndiciHttpClient.layer", () => {
  const streamed = (openai: OpenAiClient.Service) =>
    Effect.map(
      Stream.runCollect(openai.chat.completions.stream(chatRequest)),
      (chunks) => Chunk.toArray(chunks).map((c) => c.choices[0]?.delta.content ?? "").join("")
    )

  it.live("the chunks arrive, as over layerUndici", () =>
    Effect.gen(function*() {
      const [ours, theirs] = yield* Effect.forEach(layers, ([, http]) => overWire(["ok"], http, streamed))
      if (ours === undefined || theirs === undefined) return expect.unreachable()
      expect(ours.result._tag === "Right" && ours.result.right.length).toBeGreaterThan(0)
      expect(ours).toEqual(theirs)
    }))

  it.live("a stream cut after data is a ConnectionError with what was received, sent once", () =>
    Effect.gen(function*() {
      const [ours, theirs] = yield* Effect.forEach(layers, ([, http]) => overWire(["stream_cut"], http, streamed))
      if (ours === undefined || theirs === undefined) return expect.unreachable()
      expect(ours.attempts).toBe(1)
      if (ours.result._tag === "Right" || theirs.result._tag === "Right") return expect.unreachable()
      const e = ours.result.left
      expect(e._tag).toBe("ConnectionError")
      expect(e._tag === "ConnectionError" && Option.isSome(e.received) && e.received.value.bytes > 0).toBe(true)
      expect(summary(e)).toEqual(summary(theirs.result.left))
      expect(JSON.stringify(e)).not.toContain(API_KEY)
    }))

  it.live("a mid-stream error event is the typed error, as over layerUndici", () =>
    Effect.gen(function*() {
      const [ours, theirs] = yield* Effect.forEach(layers, ([, http]) => overWire(["stream_error"], http, streamed))
      if (ours === undefined || theirs === undefined) return expect.unreachable()
      if (ours.result._tag === "Right" || theirs.result._tag === "Right") return expect.unreachable()
      expect(ours.result.left._tag).not.toBe("ConnectionError")
      expect([summary(ours.result.left), ours.attempts]).toEqual([summary(theirs.result.left), theirs.attempts])
    }))
})

// docs/observability.md "By HTTP layer": what a recording Tracer sees and what the server is sent.
describe("spans and trace headers by HTTP layer", () => {
  const traced = (http: Layer.Layer<HttpClient.HttpClient>) =>
    Effect.gen(function*() {
      const spans: Array<RecordedSpan> = []
      const server = yield* MockServer.MockServer
      const openai = yield* OpenAiClient.make({ apiKey: Redacted.make(API_KEY), baseUrl: server.url })
      yield* openai.chat.completions.create(chatRequest).pipe(Effect.withTracer(recordingTracer(spans)))
      const log = yield* Effect.flatMap(MockApi.MockApi, (mock) => mock.log)
      return { names: spans.map((span) => span.name), headers: log.map((entry) => entry.headers) }
    }).pipe(Effect.provide(Layer.merge(MockServer.layer(), http)), Effect.scoped)

  it.live("UndiciHttpClient: the call's span and one openai.attempt, no http.client span, no traceparent nor b3", () =>
    Effect.gen(function*() {
      const { headers, names } = yield* traced(UndiciHttpClient.layer)
      expect(names).toEqual([`chat ${chatRequest.model}`, "openai.attempt"])
      expect(headers).toHaveLength(1)
      expect(headers[0]?.traceparent).toBeUndefined()
      expect(headers[0]?.b3).toBeUndefined()
    }))

  it.live("NodeHttpClient.layerUndici: those and an http.client span beneath the attempt, with traceparent and b3 sent", () =>
    Effect.gen(function*() {
      const { headers, names } = yield* traced(NodeHttpClient.layerUndici)
      expect(names.slice(0, 2)).toEqual([`chat ${chatRequest.model}`, "openai.attempt"])
      expect(names.filter((name) => name.startsWith("http.client"))).toHaveLength(1)
      expect(headers[0]?.traceparent).toBeDefined()
      expect(headers[0]?.b3).toBeDefined()
    }))
})
