import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as OpenAiError from "../src/OpenAiError.js"
import * as Faults from "../src/testing/Faults.js"
import * as MockApi from "../src/testing/MockApi.js"
import * as MockServer from "../src/testing/MockServer.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import { setupWith } from "./support/client.js"
import * as S from "../src/testing/ScriptedHttpClient.js"
import { fixturesAvailable, list, read, skipReason } from "./utils/fixtures.js"

const API_KEY = "sk-proj-STREAMKEY0123456789abcdefghijklmnop"
const policy = RetryPolicy.make({ maxRetries: 2, base: "1 second", factor: 1, jitter: "none" })

const setup = setupWith({
  apiKey: Redacted.make(API_KEY),
  baseUrl: "https://api.example.test/v1",
  idleTimeout: "30 seconds",
  resilience: { retryPolicy: policy }
})

const chunk = (content: string, finish: string | null = null) => ({
  id: "chatcmpl-s",
  object: "chat.completion.chunk",
  created: 1,
  model: "gpt-4o-mini",
  choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: finish }]
})

const request = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "Count" }] }

const texts = (chunks: Chunk.Chunk<{ readonly choices: ReadonlyArray<{ readonly delta: { readonly content?: string | null | undefined } }> }>) =>
  Chunk.toReadonlyArray(chunks).map((c) => c.choices[0]?.delta.content ?? "")

const rateLimitFrame = S.data({
  error: { message: "Rate limit reached for gpt-4o-mini on tokens per min (TPM)", type: "tokens", code: "rate_limit_exceeded", param: null }
})

describe("OpenAiClient chat stream", () => {
  it.effect("frames, skips comments, decodes chunk by chunk and ends at [DONE]", () =>
    Effect.gen(function*() {
      const { openai, scripted } = yield* setup([
        S.sse([": keep-alive\n\n", S.data(chunk("1")), S.data(chunk("2")), "data: " + JSON.stringify(chunk("3", "stop")).slice(0, 20), JSON.stringify(chunk("3", "stop")).slice(20) + "\n\n", S.data("[DONE]"), S.data(chunk("never"))], {
          "x-request-id": "req_s"
        })
      ])
      const out = yield* Stream.runCollect(openai.chat.completions.stream(request))
      assert.deepStrictEqual(texts(out), ["1", "2", "3"])
      const sent = scripted.requests[0]
      assert.strictEqual(sent?.headers["accept"], "text/event-stream")
      const body = sent?.body._tag === "Uint8Array" ? JSON.parse(new TextDecoder().decode(sent.body.body)) : undefined
      assert.strictEqual(body.stream, true)
    }))

  it.scoped("open gives the stream's request id and headers beside the chunks, after retrying the opening", () =>
    Effect.gen(function*() {
      const { openai, scripted } = yield* setup([
        S.fail(),
        S.sse([S.data(chunk("1")), S.data(chunk("2")), S.data("[DONE]")], {
          "x-request-id": "req_open",
          "x-ratelimit-remaining-tokens": "12345"
        })
      ])
      const fiber = yield* Effect.fork(openai.chat.completions.open(request))
      yield* TestClock.adjust(Duration.seconds(5))
      const opened = yield* Fiber.join(fiber)
      assert.deepStrictEqual(opened.requestId, Option.some("req_open"))
      assert.strictEqual(opened.status, 200)
      assert.isTrue(Option.isSome(opened.rateLimit))
      assert.deepStrictEqual(texts(yield* Stream.runCollect(opened.data)), ["1", "2"])
      assert.strictEqual(scripted.requests.length, 2)
    }))

  it.effect("an error frame after chunks is the typed error (RateLimitReached, as a 429), never replayed", () =>
    Effect.gen(function*() {
      const { openai, scripted } = yield* setup([
        S.sse([S.data(chunk("1")), rateLimitFrame], { "x-request-id": "req_mid" })
      ])
      const seen: Array<string> = []
      const error = yield* openai.chat.completions.stream(request).pipe(
        Stream.runForEach((c) => Effect.sync(() => seen.push(c.choices[0]?.delta.content ?? ""))),
        Effect.flip
      )
      assert.deepStrictEqual(seen, ["1"])
      assert.strictEqual(error._tag, "RateLimitReached")
      assert.deepStrictEqual(error.requestId, Option.some("req_mid"))
      assert.strictEqual(scripted.requests.length, 1)
    }))

  it.effect("an `event: error` frame is the typed error", () =>
    Effect.gen(function*() {
      const { openai } = yield* setup([
        S.sse([
          S.data(chunk("1")),
          `event: error\ndata: ${JSON.stringify({ error: { message: "You exceeded your current quota", type: "insufficient_quota", code: "insufficient_quota" } })}\n\n`
        ])
      ])
      const error = yield* Effect.flip(Stream.runDrain(openai.chat.completions.stream(request)))
      assert.strictEqual(error._tag, "QuotaExceeded")
    }))

  it.effect("an error frame before the first chunk is retried with the same idempotency key", () =>
    Effect.gen(function*() {
      const { openai, scripted } = yield* setup([
        S.sse([": processing\n\n", rateLimitFrame]),
        S.sse([S.data(chunk("ok")), S.data("[DONE]")])
      ])
      const fiber = yield* Effect.fork(Stream.runCollect(openai.chat.completions.stream(request)))
      yield* TestClock.adjust(Duration.seconds(5))
      const out = yield* Fiber.join(fiber)
      assert.deepStrictEqual(texts(out), ["ok"])
      assert.strictEqual(scripted.requests.length, 2)
      assert.strictEqual(S.header(scripted, 0, "idempotency-key"), S.header(scripted, 1, "idempotency-key"))
      assert.deepStrictEqual([S.header(scripted, 0, "x-retry-attempt"), S.header(scripted, 1, "x-retry-attempt")], ["0", "1"])
    }))

  it.effect("a 429 before the stream opens is retried too", () =>
    Effect.gen(function*() {
      const { openai, scripted } = yield* setup([
        S.json(429, S.errorBody("Rate limit reached", "requests", "rate_limit_exceeded"), { "retry-after-ms": "2500" }),
        S.sse([S.data(chunk("ok")), S.data("[DONE]")])
      ])
      const fiber = yield* Effect.fork(Stream.runCollect(openai.chat.completions.stream(request)))
      yield* TestClock.adjust(Duration.millis(2499))
      assert.strictEqual(scripted.requests.length, 1)
      // The hint plus its bounded jitter: at most 250 ms more (RetryPolicy's hintJitter).
      yield* TestClock.adjust(Duration.millis(251))
      assert.deepStrictEqual(texts(yield* Fiber.join(fiber)), ["ok"])
    }))

  it.effect("a cut after data is a ConnectionError saying how much arrived, and is not replayed", () =>
    Effect.gen(function*() {
      const first = S.data(chunk("1"))
      const second = S.data(chunk("2"))
      const { openai, scripted } = yield* setup([
        S.sse([first, second, "data: {\"id\": \"chatc", S.cut()], { "x-request-id": "req_cut" }),
        S.sse([S.data(chunk("replayed")), S.data("[DONE]")])
      ])
      const seen: Array<string> = []
      const fiber = yield* Effect.fork(
        openai.chat.completions.stream(request).pipe(
          Stream.runForEach((c) => Effect.sync(() => seen.push(c.choices[0]?.delta.content ?? ""))),
          Effect.flip
        )
      )
      yield* TestClock.adjust(Duration.seconds(10))
      const error = yield* Fiber.join(fiber)
      assert.deepStrictEqual(seen, ["1", "2"])
      assert.strictEqual(error._tag, "ConnectionError")
      if (error._tag === "ConnectionError") {
        const received = Option.getOrThrow(error.received)
        assert.strictEqual(received.events, 2)
        assert.strictEqual(received.bytes, new TextEncoder().encode(first + second + "data: {\"id\": \"chatc").length)
        assert.deepStrictEqual(error.errorCode, Option.some("ECONNRESET"))
        assert.deepStrictEqual(error.requestId, Option.some("req_cut"))
        assert.include(error.message, "2 event(s)")
      }
      assert.strictEqual(scripted.requests.length, 1)
    }))

  it.effect("a cut before the first chunk is retried", () =>
    Effect.gen(function*() {
      const { openai, scripted } = yield* setup([
        S.sse([": hello\n\n", S.cut()]),
        S.sse([S.data(chunk("ok")), S.data("[DONE]")])
      ])
      const fiber = yield* Effect.fork(Stream.runCollect(openai.chat.completions.stream(request)))
      yield* TestClock.adjust(Duration.seconds(5))
      assert.deepStrictEqual(texts(yield* Fiber.join(fiber)), ["ok"])
      assert.strictEqual(scripted.requests.length, 2)
    }))

  it.effect("a clean close before [DONE] is a cut, not a silent truncation", () =>
    Effect.gen(function*() {
      const { openai } = yield* setup([S.sse([S.data(chunk("1"))])])
      const error = yield* Effect.flip(Stream.runDrain(openai.chat.completions.stream(request)))
      assert.strictEqual(error._tag, "ConnectionError")
      if (error._tag === "ConnectionError") assert.strictEqual(Option.getOrThrow(error.received).events, 1)
    }))

  it.effect("a clean close in the middle of an event is a cut (ConnectionError), not a decode error", () =>
    Effect.gen(function*() {
      const half = "data: " + JSON.stringify(chunk("2")).slice(0, 30)
      for (const body of [[S.data(chunk("1")), half], [S.data(chunk("1")), half + "\n"]]) {
        const { openai, scripted } = yield* setup([S.sse(body)])
        const error = yield* Effect.flip(Stream.runDrain(openai.chat.completions.stream(request)))
        assert.strictEqual(error._tag, "ConnectionError")
        assert.strictEqual(scripted.requests.length, 1)
      }
    }))

  it.effect("a clean close in the middle of the first event is retried like any other cut", () =>
    Effect.gen(function*() {
      const { openai, scripted } = yield* setup([
        S.sse(["data: " + JSON.stringify(chunk("1")).slice(0, 30)]),
        S.sse([S.data(chunk("ok")), S.data("[DONE]")])
      ])
      const fiber = yield* Effect.fork(Stream.runCollect(openai.chat.completions.stream(request)))
      yield* TestClock.adjust(Duration.seconds(5))
      assert.deepStrictEqual(texts(yield* Fiber.join(fiber)), ["ok"])
      assert.strictEqual(scripted.requests.length, 2)
    }))

  it.effect("a whole last event without its blank line is still read", () =>
    Effect.gen(function*() {
      const { openai } = yield* setup([S.sse([S.data(chunk("1")), "data: [DONE]"])])
      assert.deepStrictEqual(texts(yield* Stream.runCollect(openai.chat.completions.stream(request))), ["1"])
    }))

  it.effect("the idle timeout fires between chunks (phase idle), and is not replayed", () =>
    Effect.gen(function*() {
      const { openai, scripted } = yield* setup([
        S.sse([S.data(chunk("1")), S.pause("31 seconds"), S.data(chunk("late")), S.data("[DONE]")])
      ])
      const seen: Array<string> = []
      const fiber = yield* Effect.fork(
        openai.chat.completions.stream(request).pipe(
          Stream.runForEach((c) => Effect.sync(() => seen.push(c.choices[0]?.delta.content ?? ""))),
          Effect.flip
        )
      )
      yield* TestClock.adjust(Duration.seconds(29))
      assert.isNull(yield* Fiber.poll(fiber).pipe(Effect.map(Option.getOrNull)))
      yield* TestClock.adjust(Duration.seconds(1))
      const error = yield* Fiber.join(fiber)
      assert.deepStrictEqual(seen, ["1"])
      assert.isTrue(error._tag === "TimeoutError" && error.phase === "idle")
      assert.strictEqual(scripted.requests.length, 1)
    }))

  it.effect("the idle timeout resets on every chunk", () =>
    Effect.gen(function*() {
      const { openai } = yield* setup([
        S.sse([
          S.data(chunk("1")),
          S.pause("20 seconds"),
          S.data(chunk("2")),
          S.pause("20 seconds"),
          S.data(chunk("3")),
          S.pause("20 seconds"),
          S.data("[DONE]")
        ])
      ])
      const fiber = yield* Effect.fork(Stream.runCollect(openai.chat.completions.stream(request)))
      yield* TestClock.adjust(Duration.seconds(60))
      assert.deepStrictEqual(texts(yield* Fiber.join(fiber)), ["1", "2", "3"])
    }))

  it.effect("an idle server before the first chunk is retried", () =>
    Effect.gen(function*() {
      const { openai, scripted } = yield* setup([
        S.sse([S.pause("1 hour")]),
        S.sse([S.data(chunk("ok")), S.data("[DONE]")])
      ])
      const fiber = yield* Effect.fork(Stream.runCollect(openai.chat.completions.stream(request)))
      yield* TestClock.adjust(Duration.seconds(30))
      yield* TestClock.adjust(Duration.seconds(5))
      assert.deepStrictEqual(texts(yield* Fiber.join(fiber)), ["ok"])
      assert.strictEqual(scripted.requests.length, 2)
    }))

  it.effect("a 200 JSON error where a stream was asked for is the typed error; other JSON a decode error", () =>
    Effect.gen(function*() {
      const { openai, scripted } = yield* setup([
        S.json(200, S.errorBody("You exceeded your current quota", "insufficient_quota", "insufficient_quota"), {
          "x-request-id": "req_json"
        }),
        S.json(200, { id: "chatcmpl-1", object: "chat.completion", choices: [] })
      ])
      const quota = yield* Effect.flip(Stream.runDrain(openai.chat.completions.stream(request)))
      assert.strictEqual(quota._tag, "QuotaExceeded")
      assert.deepStrictEqual(quota.requestId, Option.some("req_json"))
      const other = yield* Effect.flip(Stream.runDrain(openai.chat.completions.stream(request)))
      assert.strictEqual(other._tag, "ResponseDecodeError")
      assert.strictEqual(scripted.requests.length, 2)
    }))

  it.effect("a chunk that does not decode is a ResponseDecodeError with its path", () =>
    Effect.gen(function*() {
      const { openai } = yield* setup([S.sse([S.data(chunk("1")), S.data({ id: 1, choices: "no" }), S.data("[DONE]")])])
      const error = yield* Effect.flip(Stream.runDrain(openai.chat.completions.stream(request)))
      assert.strictEqual(error._tag, "ResponseDecodeError")
    }))

  it.effect("a stream the caller stops early closes cleanly", () =>
    Effect.gen(function*() {
      const { openai } = yield* setup([S.sse([S.data(chunk("1")), S.data(chunk("2")), S.pause("1 hour"), S.data("[DONE]")])])
      const out = yield* Stream.runCollect(Stream.take(openai.chat.completions.stream(request), 2))
      assert.deepStrictEqual(texts(out), ["1", "2"])
    }))
})

describe("OpenAiClient responses stream", () => {
  const created = { type: "response.created", sequence_number: 0, response: { id: "resp_1", object: "response", created_at: 1, status: "in_progress", model: "gpt-4o-mini", output: [] } }
  const delta = { type: "response.output_text.delta", sequence_number: 1, item_id: "msg_1", output_index: 0, content_index: 0, delta: "Hi" }
  const completed = { ...created, type: "response.completed", sequence_number: 2, response: { ...created.response, status: "completed" } }
  const frame = (e: { readonly type: string }) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`

  it.effect("decodes events and ends after response.completed", () =>
    Effect.gen(function*() {
      const { openai } = yield* setup([S.sse([frame(created), frame(delta), frame(completed), frame(delta)])])
      const out = yield* Stream.runCollect(openai.responses.stream({ model: "gpt-4o-mini", input: "Hi" }))
      assert.deepStrictEqual(Chunk.toReadonlyArray(out).map((e) => e.type), ["response.created", "response.output_text.delta", "response.completed"])
    }))

  it.effect("a `type: error` event is the typed error", () =>
    Effect.gen(function*() {
      const { openai } = yield* setup([
        S.sse([frame(created), frame({ type: "error", code: "rate_limit_exceeded", message: "Rate limit reached", param: null, sequence_number: 1 } as { type: string })])
      ])
      const error = yield* Effect.flip(Stream.runDrain(openai.responses.stream({ model: "gpt-4o-mini", input: "Hi" })))
      assert.strictEqual(error._tag, "RateLimitReached")
    }))

  it.effect("response.failed is the typed error", () =>
    Effect.gen(function*() {
      const failed = { ...created, type: "response.failed", response: { ...created.response, status: "failed", error: { code: "server_error", message: "The model failed to generate a response." } } }
      const { openai } = yield* setup([S.sse([frame(created), frame(failed)])])
      const error = yield* Effect.flip(Stream.runDrain(openai.responses.stream({ model: "gpt-4o-mini", input: "Hi" })))
      assert.strictEqual(error._tag, "ServerError")
    }))

  it.effect("an event the schema decoder would throw on is a ResponseDecodeError, not a defect", () =>
    Effect.gen(function*() {
      const { openai } = yield* setup([S.sse([frame(created), `data: {"type":{"toString":[]}}\n\n`])])
      const error = yield* Effect.flip(Stream.runDrain(openai.responses.stream({ model: "gpt-4o-mini", input: "Hi" })))
      assert.strictEqual(error._tag, "ResponseDecodeError")
    }))

  it.effect("response.incomplete ends the stream normally", () =>
    Effect.gen(function*() {
      const incomplete = { ...created, type: "response.incomplete", response: { ...created.response, status: "incomplete" } }
      const { openai } = yield* setup([S.sse([frame(created), frame(incomplete)])])
      const out = yield* Stream.runCollect(openai.responses.stream({ model: "gpt-4o-mini", input: "Hi" }))
      assert.strictEqual(Chunk.size(out), 2)
    }))
})

// Skipped only when ../shared/fixtures is absent (a user's clone): `skipReason` says why.
describe.skipIf(!fixturesAvailable)("recorded streams through the client", () => {
  it("has recordings to replay", () => {
    assert.isAbove(list("openai/responses").filter((f) => f.endsWith(".sse")).length, 10, skipReason)
  })
  const files = list("openai/responses").filter((f) => f.endsWith(".sse"))
  for (const file of files) {
    it.effect(file, () =>
      Effect.gen(function*() {
        const text = read(`openai/responses/${file}`)
        // Split the recording at arbitrary points, as a network would.
        const parts = text.match(/[\s\S]{1,97}/g) ?? []
        const { openai } = yield* setup([S.sse(parts)])
        const events = (text.match(/^data: /gm) ?? []).length
        if (file.startsWith("responses_")) {
          const out = yield* Stream.runCollect(openai.responses.stream({ model: "m", input: "x" }))
          assert.strictEqual(Chunk.size(out), events)
        } else {
          const out = yield* Stream.runCollect(openai.chat.completions.stream(request))
          assert.strictEqual(Chunk.size(out), events - 1) // all but [DONE]
        }
      }))
  }
})

// Over real sockets: the package's mock server on 127.0.0.1 (port 0), the client over
// FetchHttpClient and over Node's undici client, in real time (short delays).
describe("OpenAiClient over the wire (MockServer, real sockets)", () => {
  const overWire = <A, E>(
    scenario: ReadonlyArray<Faults.FaultName | "ok">,
    httpLayer: Layer.Layer<HttpClient.HttpClient>,
    use: (openai: OpenAiClient.Service) => Effect.Effect<A, E>
  ) =>
    Effect.gen(function*() {
      const server = yield* MockServer.MockServer
      const openai = yield* OpenAiClient.make({
        apiKey: Redacted.make(API_KEY),
        baseUrl: server.url,
        retryPolicy: RetryPolicy.make({ maxRetries: 2, base: "20 millis", jitter: "none", maxServerDelay: "1 second" }),
        transformClient: (client) =>
          client.pipe(HttpClient.mapRequest(HttpClientRequest.setHeader("x-mock-retry-after-ms", "30")))
      })
      const result = yield* use(openai)
      const log = yield* Effect.flatMap(MockApi.MockApi, (mock) => mock.log)
      return { result, log }
    }).pipe(
      // The HTTP layer lives as long as the test: undici's dispatcher is closed with its layer.
      Effect.provide(Layer.merge(MockServer.layer({ scenario, chunkDelay: "2 millis" }), httpLayer)),
      Effect.scoped
    )

  for (const [name, httpLayer] of [["fetch", FetchHttpClient.layer], ["undici", NodeHttpClient.layerUndici]] as const) {
    it.live(`${name}: a reset and a 429 are retried, the completion arrives with its request id`, () =>
      Effect.gen(function*() {
        const { log, result } = yield* overWire(["connection_reset", "rate_limit_requests"], httpLayer, (openai) =>
          openai.chat.completions.create(request))
        assert.isTrue(Option.isSome(result.requestId))
        assert.strictEqual(log.length, 3)
        const keys = log.map((e) => e.headers["idempotency-key"])
        assert.isDefined(keys[0])
        assert.deepStrictEqual(keys, [keys[0], keys[0], keys[0]])
      }))

    it.live(`${name}: a stream cut after data is a ConnectionError with what was received, not replayed`, () =>
      Effect.gen(function*() {
        const { log, result } = yield* overWire(["stream_cut"], httpLayer, (openai) =>
          openai.chat.completions.stream(request).pipe(Stream.runCount, Effect.flip))
        assert.strictEqual(result._tag, "ConnectionError")
        if (result._tag === "ConnectionError") {
          assert.isTrue(Option.isSome(result.received) && result.received.value.bytes > 0)
          assert.notInclude(JSON.stringify(result), "STREAMKEY0123456789")
        }
        assert.strictEqual(log.length, 1)
      }))

    it.live(`${name}: a mid-stream error event is the typed error`, () =>
      Effect.gen(function*() {
        const { result } = yield* overWire(["stream_error"], httpLayer, (openai) =>
          openai.chat.completions.stream(request).pipe(Stream.runDrain, Effect.flip))
        assert.isTrue(OpenAiError.isOpenAiError(result))
        assert.notStrictEqual(result._tag, "ConnectionError")
      }))
  }
})
