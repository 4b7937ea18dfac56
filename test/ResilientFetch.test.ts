/**
 * The official `openai` package over a ResilientFetch, against the mock server on real sockets:
 * the attempts the mock saw, the class the SDK raised, and the typed error read back.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Scope, Supervisor } from "effect"
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai"
import { CircuitBreaker, ResilientFetch, RetryPolicy } from "../src/index.js"
import { MockApi, MockServer } from "../src/testing/index.js"
import { serve } from "./support/httpServer.js"
import { type RecordedSpan, recordingTracer } from "./support/tracer.js"

const API_KEY = "sk-resilient-fetch-test-0123456789abcdef"
// Waits of a millisecond or two: what is tested here is who retries what, not how long it waits.
const policy = RetryPolicy.make({ maxRetries: 2, base: "1 millis", maxDelay: "2 millis" })
const hint = { "x-mock-retry-after-ms": "5" }
const completionBody = {
  id: "chatcmpl-slow-body",
  object: "chat.completion",
  created: 1727346142,
  model: "gpt-4o-mini",
  choices: [{ index: 0, message: { role: "assistant", content: "Hello", refusal: null }, logprobs: null, finish_reason: "stop" }]
}
const chatParams = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "Hello through ResilientFetch" }] }

interface Env {
  readonly sdk: (fetch: ResilientFetch.Fetch, options?: Partial<ConstructorParameters<typeof OpenAI>[0]>) => OpenAI
  readonly fetch: (options?: ResilientFetch.Options<never>) => Effect.Effect<ResilientFetch.ResilientFetch, never, Scope.Scope>
  readonly log: () => Effect.Effect<ReadonlyArray<MockApi.LogEntry>>
  readonly url: string
}

const withSdk = <A>(f: (env: Env) => Effect.Effect<A, unknown, Scope.Scope>, options: MockServer.ServerOptions = {}) =>
  Effect.gen(function*() {
    const { url } = yield* MockServer.MockServer
    const mock = yield* MockApi.MockApi
    const env: Env = {
      sdk: (fetch, o = {}) => new OpenAI({ apiKey: API_KEY, baseURL: url, maxRetries: 0, fetch, ...o }),
      fetch: (o = {}) => ResilientFetch.make({ retryPolicy: policy, secrets: [API_KEY], ...o }),
      log: () => mock.log,
      url
    }
    return yield* f(env)
  }).pipe(Effect.scoped, Effect.provide(MockServer.layer(options)))

const failure = (p: () => Promise<unknown>) => Effect.promise(() => p().then(() => undefined, (e: unknown) => e))

const explained = (e: unknown) => {
  const x = ResilientFetch.explain(e)
  expect(Option.isSome(x), `no explanation for ${String(e)}`).toBe(true)
  return Option.getOrThrow(x)
}

describe("ResilientFetch with the official openai package", () => {
  it.live("rides out 429s with hints and a 500: one logical request, the same idempotency key, the SDK sees a success", () =>
    withSdk(({ fetch, log, sdk }) =>
      Effect.gen(function*() {
        const openai = sdk(yield* fetch())
        const result = yield* Effect.promise(() =>
          openai.chat.completions.create(chatParams, {
            headers: { "x-mock-fault": "rate_limit_requests", "x-mock-fault-times": "2", ...hint }
          })
        )
        expect(result.choices[0]?.message.content).toBe("Hello through ResilientFetch")
        const entries = yield* log()
        expect(entries.map((e) => e.attempt)).toEqual([1, 2, 3])
        expect(new Set(entries.map((e) => e.headers["idempotency-key"])).size).toBe(1)
        expect(entries.map((e) => e.headers["x-retry-attempt"])).toEqual(["0", "1", "2"])
        const server = yield* Effect.promise(() =>
          openai.chat.completions.create(chatParams, { headers: { "x-mock-fault": "server_error", "x-mock-fault-times": "1" } })
        )
        expect(server.choices[0]?.message.content).toBe("Hello through ResilientFetch")
        expect((yield* log()).length).toBe(5)
      })
    ))

  it.live("when retries run out on a 429, the SDK raises its own RateLimitError from the last response; explain gives the typed error, attempts and decisions", () =>
    withSdk(({ fetch, log, sdk }) =>
      Effect.gen(function*() {
        const openai = sdk(yield* fetch())
        const error = yield* failure(() =>
          openai.chat.completions.create(chatParams, { headers: { "x-mock-fault": "rate_limit_tokens", ...hint } })
        )
        expect(error).toBeInstanceOf(OpenAI.RateLimitError)
        const e = error as InstanceType<typeof OpenAI.RateLimitError>
        expect(e.status).toBe(429)
        expect(e.code).toBe("rate_limit_exceeded")
        const entries = yield* log()
        expect(entries).toHaveLength(3)
        expect(e.requestID).toBe(entries[2]?.requestId)
        const { attempts, decisions, error: typed } = explained(error)
        expect(typed._tag).toBe("RateLimitReached")
        expect(attempts).toBe(3)
        expect(decisions.map((d) => d._tag)).toEqual(["Retry", "Retry", "Stop"])
        expect(decisions[0]?._tag === "Retry" && decisions[0].source).toBe("retry-after-ms")
        expect(String(e.message)).not.toContain(API_KEY)
      })
    ))

  it.live("a 429 without hints waits the policy's backoff; a body cut part-way is retried inside the attempt", () =>
    withSdk(({ fetch, log, sdk }) =>
      Effect.gen(function*() {
        const openai = sdk(yield* fetch())
        const error = yield* failure(() =>
          openai.chat.completions.create(chatParams, { headers: { "x-mock-fault": "rate_limit_headerless", "x-mock-hints": "none" } })
        )
        expect(error).toBeInstanceOf(OpenAI.RateLimitError)
        const x = explained(error)
        expect(x.error._tag).toBe("RateLimitReached")
        expect(x.attempts).toBe(3)
        expect(x.decisions[0]?._tag === "Retry" && x.decisions[0].source).not.toBe("retry-after-ms")
        expect(x.decisions[0]?._tag === "Retry" && x.decisions[0].source).not.toBe("retry-after")
        // openai-node alone raises a TypeError for this one (test/OfficialSdk): here it never sees it.
        const result = yield* Effect.promise(() =>
          openai.chat.completions.create(chatParams, { headers: { "x-mock-fault": "body_cut", "x-mock-fault-times": "1" } })
        )
        expect(result.choices[0]?.message.content).toBe("Hello through ResilientFetch")
        expect(yield* log()).toHaveLength(5)
      })
    ))

  it.live("quota, 500 and 503: the SDK's class, the attempts the policy allows, the typed error", () =>
    withSdk(({ fetch, log, sdk }) =>
      Effect.gen(function*() {
        const openai = sdk(yield* fetch())
        const cases = [
          { fault: "insufficient_quota", sdkClass: OpenAI.RateLimitError, tag: "QuotaExceeded", attempts: 1 },
          { fault: "server_error", sdkClass: OpenAI.InternalServerError, tag: "ServerError", attempts: 3 },
          { fault: "engine_overloaded", sdkClass: OpenAI.InternalServerError, tag: "EngineOverloaded", attempts: 3 }
        ] as const
        let seen = 0
        for (const c of cases) {
          const error = yield* failure(() => openai.chat.completions.create(chatParams, { headers: { "x-mock-fault": c.fault } }))
          expect(error, c.fault).toBeInstanceOf(c.sdkClass)
          const entries = yield* log()
          expect(entries.length - seen, c.fault).toBe(c.attempts)
          seen = entries.length
          const x = explained(error)
          expect(x.error._tag, c.fault).toBe(c.tag)
          expect(x.attempts, c.fault).toBe(c.attempts)
        }
      })
    ))

  it.live("a reset is retried, then an APIConnectionError (explained); a slow server is an APIConnectionTimeoutError (seen by onFailure)", () =>
    withSdk(({ fetch, log, sdk }) =>
      Effect.gen(function*() {
        const failures: Array<ResilientFetch.Explanation> = []
        const openai = sdk(yield* fetch({ retryPolicy: policy, timeout: "500 millis", onFailure: (x) => failures.push(x) }))
        const reset = yield* failure(() => openai.models.list({ headers: { "x-mock-fault": "connection_reset" } }))
        expect(reset).toBeInstanceOf(APIConnectionError)
        expect(reset).not.toBeInstanceOf(APIConnectionTimeoutError)
        expect(yield* log()).toHaveLength(3)
        expect(explained(reset).error._tag).toBe("ConnectionError")
        const slow = yield* failure(() =>
          openai.chat.completions.create(chatParams, { headers: { "x-mock-fault": "slow_headers", "x-mock-delay-ms": "5000" } })
        )
        expect(slow).toBeInstanceOf(APIConnectionTimeoutError)
        expect(yield* log()).toHaveLength(6)
        // openai 6.x raises a timeout without its cause (`new APIConnectionTimeoutError()`), so
        // nothing leads back from it to the call: onFailure saw it.
        expect(Option.isNone(ResilientFetch.explain(slow))).toBe(true)
        const x = failures.at(-1)
        expect(x?.error._tag === "TimeoutError" && x.error.phase).toBe("headers")
        expect(x?.attempts).toBe(3)
      })
    ))

  it.live("streams: a stream that starts is never replayed; its error event or cut reaches the SDK as sent", () =>
    withSdk(({ fetch, log, sdk }) =>
      Effect.gen(function*() {
        const openai = sdk(yield* fetch())
        const consume = (fault?: string) => async () => {
          const stream = await openai.chat.completions.create({ ...chatParams, stream: true }, {
            headers: fault === undefined ? {} : { "x-mock-fault": fault }
          })
          let text = ""
          for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ""
          return text
        }
        expect(yield* Effect.promise(consume())).toBe("Hello through ResilientFetch")
        const streamError = yield* failure(consume("stream_error"))
        expect(streamError).toBeInstanceOf(APIError)
        expect((streamError as APIError).type).toBe("server_error")
        expect(yield* log()).toHaveLength(2)
        const cut = yield* failure(consume("stream_cut"))
        expect(cut).toBeInstanceOf(TypeError)
        expect((cut as TypeError).message).toBe("terminated")
        expect(yield* log()).toHaveLength(3)
        // A stream refused before it starts is retried like any call.
        const retried = yield* Effect.promise(() =>
          openai.chat.completions.create({ ...chatParams, stream: true }, {
            headers: { "x-mock-fault": "rate_limit_requests", "x-mock-fault-times": "1", ...hint }
          }).then(async (s) => {
            let n = 0
            for await (const _ of s) n++
            return n
          })
        )
        expect(retried).toBeGreaterThan(0)
        expect(yield* log()).toHaveLength(5)
      })
    ))

  it.live("an open circuit reaches the SDK as an APIConnectionError without a request; explain gives CircuitOpen", () =>
    withSdk(({ fetch, log, sdk }) =>
      Effect.gen(function*() {
        const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2, openDuration: "1 minute" })
        const openai = sdk(yield* fetch({ retryPolicy: policy, breaker }))
        yield* failure(() => openai.models.list({ headers: { "x-mock-fault": "server_error" } }))
        const sent = (yield* log()).length
        expect(sent).toBe(2)
        const refused = yield* failure(() => openai.models.list())
        expect(refused).toBeInstanceOf(APIConnectionError)
        expect(yield* log()).toHaveLength(sent)
        const x = explained(refused)
        expect(x.error._tag).toBe("CircuitOpen")
        expect(x.attempts).toBe(0)
      })
    ))

  it.live("the SDK's abort interrupts the call: the promise rejects at once, the socket is aborted, no fiber is left", () =>
    withSdk(({ fetch, sdk }) =>
      Effect.gen(function*() {
        const supervisor = yield* Supervisor.track
        let seenSignal: AbortSignal | undefined
        let sent!: () => void
        const reached = new Promise<void>((resolve) => (sent = resolve))
        const underlying: ResilientFetch.Fetch = (input, init) => {
          seenSignal = init?.signal ?? undefined
          sent()
          return globalThis.fetch(input, init)
        }
        const resilient = yield* fetch({ retryPolicy: policy, fetch: underlying }).pipe(Effect.supervised(supervisor))
        const openai = sdk(resilient)
        const controller = new AbortController()
        const pending = openai.chat.completions.create(chatParams, {
          signal: controller.signal,
          headers: { "x-mock-fault": "slow_headers", "x-mock-delay-ms": "30000" }
        }).then(() => undefined, (e: unknown) => e)
        yield* Effect.promise(() => reached)
        const running = yield* supervisor.value
        expect(running.length).toBeGreaterThan(0)
        controller.abort()
        const error = yield* Effect.promise(() => pending)
        expect(error).toBeInstanceOf(APIUserAbortError)
        for (const fiber of running) expect(Exit.isInterrupted(yield* Fiber.await(fiber))).toBe(true)
        expect(yield* supervisor.value).toHaveLength(0)
        expect(seenSignal?.aborted).toBe(true)
      })
    ))

  it.live("an SDK that still retries is warned about once", () =>
    withSdk(({ fetch, log, sdk }) =>
      Effect.gen(function*() {
        const warnings: Array<string> = []
        const noRetry = RetryPolicy.make({ maxRetries: 0 })
        const openai = sdk(yield* fetch({ retryPolicy: noRetry, onWarning: (m) => warnings.push(m) }), { maxRetries: 1 })
        const headers = { "x-mock-fault": "server_error", "x-mock-should-retry": "true", "x-mock-retry-after-ms": "1" }
        yield* failure(() => openai.models.list({ headers }))
        yield* failure(() => openai.models.list({ headers }))
        expect(yield* log()).toHaveLength(4)
        expect(warnings).toHaveLength(1)
        expect(warnings[0]).toContain("maxRetries: 0")
      })
    ))

  it.live("a Request or a stream body is read once and sent whole on every attempt", () =>
    withSdk(({ fetch, log, url }) =>
      Effect.gen(function*() {
        const resilient = yield* fetch()
        const payload = JSON.stringify(chatParams)
        const headers = { "content-type": "application/json", authorization: `Bearer ${API_KEY}`, "x-mock-fault": "server_error", "x-mock-fault-times": "1" }
        const asRequest = yield* Effect.promise(() =>
          resilient(new Request(`${url}/chat/completions`, { method: "POST", headers, body: payload }))
        )
        expect(asRequest.status).toBe(200)
        const stream = new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(new TextEncoder().encode(payload))
            c.close()
          }
        })
        const asStream = yield* Effect.promise(() =>
          resilient(`${url}/chat/completions`, { method: "POST", headers: { ...headers, "x-mock-key": "stream-body" }, body: stream })
        )
        expect(asStream.status).toBe(200)
        const entries = yield* log()
        expect(entries.map((e) => e.attempt)).toEqual([1, 2, 1, 2])
        expect(yield* Effect.promise(() => asStream.json())).toMatchObject({ object: "chat.completion" })
      })
    ))

  it.live("over the HttpClient in context (NodeHttpClient's undici): the same answers, attempts and errors", () =>
    withSdk(({ fetch, log, sdk }) =>
      Effect.gen(function*() {
        const openai = sdk(yield* fetch())
        const ok = yield* Effect.promise(() =>
          openai.chat.completions.create(chatParams, {
            headers: { "x-mock-fault": "rate_limit_requests", "x-mock-fault-times": "1", ...hint }
          })
        )
        expect(ok.choices[0]?.message.content).toBe("Hello through ResilientFetch")
        const quota = yield* failure(() =>
          openai.chat.completions.create(chatParams, { headers: { "x-mock-fault": "insufficient_quota" } })
        )
        expect(quota).toBeInstanceOf(OpenAI.RateLimitError)
        expect(explained(quota).error._tag).toBe("QuotaExceeded")
        const cut = yield* failure(async () => {
          const stream = await openai.chat.completions.create({ ...chatParams, stream: true }, {
            headers: { "x-mock-fault": "stream_cut" }
          })
          for await (const _ of stream) {
            // drain
          }
        })
        expect(cut).toBeInstanceOf(Error)
        expect(yield* log()).toHaveLength(4)
      }).pipe(Effect.provide(NodeHttpClient.layerUndici))
    ))

  it.live("a per-attempt timeout while the body arrives aborts that request and retries; the SDK sees the answer", () =>
    Effect.gen(function*() {
      let requests = 0
      // Headers and half a body, then nothing, for the first request; the whole answer after.
      const { origin } = yield* serve((req, res) => {
        req.resume()
        req.on("end", () => {
          res.writeHead(200, { "content-type": "application/json" })
          const body = JSON.stringify(completionBody)
          if (++requests === 1) res.write(body.slice(0, 20))
          else res.end(body)
        })
      })
      const url = `${origin}/v1`
      const signals: Array<AbortSignal> = []
      const underlying: ResilientFetch.Fetch = (input, init) => {
        if (init?.signal) signals.push(init.signal)
        return globalThis.fetch(input, init)
      }
      const resilient = yield* ResilientFetch.make({ fetch: underlying, retryPolicy: policy, timeout: "300 millis" })
      const openai = new OpenAI({ apiKey: API_KEY, baseURL: url, maxRetries: 0, fetch: resilient })
      const ok = yield* Effect.promise(() => openai.chat.completions.create(chatParams))
      expect(ok.id).toBe(completionBody.id)
      expect(requests).toBe(2)
      expect(signals.map((s) => s.aborted)).toEqual([true, false])
    }).pipe(Effect.scoped))

  it.live("with a tracer that records spans, every attempt opens the platform's http.client span, without the key", () =>
    withSdk(({ fetch, sdk }) =>
      Effect.gen(function*() {
        const spans: Array<RecordedSpan> = []
        const tracer = recordingTracer(spans)
        const openai = sdk(yield* fetch().pipe(Effect.withTracer(tracer)))
        yield* Effect.promise(() =>
          openai.chat.completions.create(chatParams, { headers: { "x-mock-fault": "server_error", "x-mock-fault-times": "1" } })
        )
        const attempts = spans.filter((span) => span.name.startsWith("http.client"))
        expect(attempts).toHaveLength(2)
        expect(attempts[0]?.attributes.has("http.request.header.authorization")).toBe(true)
        for (const span of spans) expect(JSON.stringify([...span.attributes])).not.toContain(API_KEY)
      })
    ))

  it.live("fromOptions over an HttpClient given as an option: it sends every attempt; with a fetch as well, refused", () =>
    withSdk(({ log, sdk }) =>
      Effect.gen(function*() {
        const sent: Array<string> = []
        const under = yield* HttpClient.HttpClient
        const httpClient = HttpClient.tapRequest(under, (request) => Effect.sync(() => sent.push(request.url)))
        const fetch = ResilientFetch.fromOptions({ retryPolicy: policy, httpClient })
        const completion = yield* Effect.promise(() =>
          sdk(fetch).chat.completions.create(chatParams, { headers: { "x-mock-fault": "server_error", "x-mock-fault-times": "1" } })
        )
        expect(completion.object).toBe("chat.completion")
        expect(sent).toHaveLength(2)
        expect(yield* log()).toHaveLength(2)
        yield* Effect.promise(() => fetch.close())
        expect(() => ResilientFetch.fromOptions({ httpClient, fetch: globalThis.fetch })).toThrow(
          /ResilientFetch: option httpClient is .*; expected either fetch or httpClient, not both/
        )
      }).pipe(Effect.provide(NodeHttpClient.layerUndici))
    ))

  it.live("fromOptions: plain options, no Effect, close() ends it", () =>
    withSdk(({ log, sdk }) =>
      Effect.gen(function*() {
        const fetch = ResilientFetch.fromOptions({ retryPolicy: policy, breaker: {}, bulkhead: { maxConcurrent: 4 } })
        const openai = sdk(fetch)
        const error = yield* failure(() =>
          openai.chat.completions.create(chatParams, { headers: { "x-mock-fault": "server_error", "x-mock-fault-times": "5" } })
        )
        expect(error).toBeInstanceOf(OpenAI.InternalServerError)
        expect(yield* log()).toHaveLength(3)
        yield* Effect.promise(() => fetch.close())
      })
    ))
})
