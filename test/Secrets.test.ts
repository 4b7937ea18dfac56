/**
 * The secrets scan: every error path we can reach, driven with canary secrets (an `sk-proj-` key,
 * URL user-info, an `?api-key=` query value, a key echoed by the server in headers, messages, HTML
 * titles and stream events), and everything a user can see scanned for them: Effect's loggers at
 * Debug, `util.inspect`, `String(e)`, `e.stack`, `JSON.stringify`, `Cause.pretty`, every span's
 * name, attributes, events and exit under a recording tracer, and support reports.
 *
 * To cover a new path, add a row to `scenarios`: a name and an effect (which may fail or die);
 * `client(...)`, `middleware(...)` and the canaries below build the usual ones.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Effect, Exit, Fiber, Layer, Logger, LogLevel, Option, Redacted, Stream, TestClock } from "effect"
import { inspect } from "node:util"
import * as Classify from "../src/Classify.js"
import * as HttpMiddleware from "../src/HttpMiddleware.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as OpenAiError from "../src/OpenAiError.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import * as Sse from "../src/Sse.js"
import * as SupportReport from "../src/SupportReport.js"
import * as Faults from "../src/testing/Faults.js"
import * as MockHttpClient from "../src/testing/MockHttpClient.js"
import * as S from "../src/testing/ScriptedHttpClient.js"
import { type RecordedSpan as Recorded, recordingTracer } from "./support/tracer.js"

// ---------------------------------------------------------------------------------------------
// Canaries: none of these strings may appear anywhere a user can see.
// ---------------------------------------------------------------------------------------------

const KEY_BODY = "CanaryKey0123456789abcdefghij0123456789ABCDEFGHIJ"
const API_KEY = `sk-proj-${KEY_BODY}Zq9x`
const USER = "canaryuser"
const PASSWORD = "canarypass7g3h"
const QUERY_KEY = "azc4a9e1f0b2d3c4e5f60718293a4b5c6d"
const canaries = [API_KEY, KEY_BODY, USER, PASSWORD, QUERY_KEY]

const credentialed = (base: string) => base.replace("://", `://${USER}:${PASSWORD}@`)
const PROXY = credentialed("https://proxy.example.test/v1")
const withQueryKey = (client: HttpClient.HttpClient): HttpClient.HttpClient =>
  HttpClient.mapRequest(client, HttpClientRequest.setUrlParam("api-key", QUERY_KEY))

// What a hostile or careless server echoes back.
const echoHeaders = {
  "x-request-id": `req_${API_KEY}`,
  "x-echo-authorization": `Bearer ${API_KEY}`,
  "x-echo-api-key": QUERY_KEY
}
const keyMessage = `Incorrect API key provided: ${API_KEY} (via ${PROXY}?api-key=${QUERY_KEY})`
const fetchCredentialsError = () =>
  new TypeError(`Request cannot be constructed from a URL that includes credentials: ${PROXY}/chat/completions?api-key=${QUERY_KEY}`)

const chat = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "hi" }] }
const noRetries = RetryPolicy.make({ maxRetries: 0 })
const fastRetries = RetryPolicy.make({ maxRetries: 2, base: "1 millis", jitter: "none" })

// ---------------------------------------------------------------------------------------------
// Ways in
// ---------------------------------------------------------------------------------------------

type Call = (openai: OpenAiClient.Service) => Effect.Effect<unknown, unknown>
const create: Call = (openai) => openai.chat.completions.create(chat)
const stream: Call = (openai) => Stream.runDrain(openai.chat.completions.stream(chat))
const responsesStream: Call = (openai) => Stream.runDrain(openai.responses.stream({ model: "gpt-4o-mini", input: "hi" }))

/** `OpenAiClient` over a scripted hostile server, through a credentialed proxy URL. */
const client = (steps: ReadonlyArray<S.Step>, call: Call, options: Partial<OpenAiClient.LayerOptions> = {}) =>
  Effect.gen(function*() {
    const scripted = S.make(steps)
    const openai = yield* OpenAiClient.make({
      apiKey: Redacted.make(API_KEY),
      baseUrl: PROXY,
      transformClient: withQueryKey,
      resilience: { retryPolicy: fastRetries, timeout: "30 seconds" },
      ...options
    }).pipe(Effect.provideService(HttpClient.HttpClient, scripted.client))
    return yield* call(openai)
  })

/** `OpenAiClient` over the public test kit: the mock API serving a fault on every attempt. */
const mockFault = (fault: Faults.FaultName) =>
  Effect.gen(function*() {
    const openai = yield* OpenAiClient.make({
      apiKey: Redacted.make(API_KEY),
      baseUrl: credentialed(MockHttpClient.baseUrl),
      transformClient: withQueryKey,
      resilience: { retryPolicy: fastRetries, timeout: "10 seconds" }
    })
    const kind = Faults.descriptions[fault].kind
    return yield* (kind === "stream" ? stream : create)(openai)
  }).pipe(Effect.provide(MockHttpClient.layer({ scenario: [fault, fault, fault], requireApiKey: true })))

/** `HttpMiddleware.resilient()` on the test kit's client, a request with every kind of secret. */
const middleware = (fault: Faults.FaultName, foreign: boolean) =>
  Effect.gen(function*() {
    const base = yield* HttpClient.HttpClient
    const resilient = base.pipe(HttpMiddleware.resilient({ retryPolicy: fastRetries, secrets: [API_KEY] }))
    const request = HttpClientRequest.post(`${credentialed(MockHttpClient.baseUrl)}/chat/completions`).pipe(
      HttpClientRequest.setUrlParam("api-key", QUERY_KEY),
      HttpClientRequest.bearerToken(API_KEY),
      HttpClientRequest.bodyUnsafeJson(chat)
    )
    return yield* foreign
      ? HttpMiddleware.toHttpClientError(resilient).execute(request)
      : resilient.execute(request)
  }).pipe(Effect.provide(MockHttpClient.layer({ scenario: [fault, fault, fault] })))

const html = (title: string) => `<html><head><title>${title}</title></head><body>${title}</body></html>`

// ---------------------------------------------------------------------------------------------
// The scenarios
// ---------------------------------------------------------------------------------------------

interface Scenario {
  readonly name: string
  readonly run: Effect.Effect<unknown, unknown>
}

const scenarios: ReadonlyArray<Scenario> = [
  // Errors with a status, the key echoed in the body and headers.
  { name: "401 echoing the key", run: client([S.json(401, S.errorBody(keyMessage, "invalid_request_error", "invalid_api_key"), echoHeaders)], create) },
  { name: "429 quota echoing the key", run: client([S.json(429, S.errorBody(keyMessage, "insufficient_quota", "insufficient_quota"), echoHeaders)], create) },
  {
    name: "500 retried, echoing the key",
    run: client(Array.from({ length: 3 }, () => S.json(500, S.errorBody(keyMessage, "server_error", null), echoHeaders)), create)
  },
  { name: "502 HTML page titled with the key", run: client([S.text(502, html(keyMessage), echoHeaders)], create, { resilience: { retryPolicy: noRetries } }) },
  { name: "400 with the key as param and code", run: client([S.json(400, S.errorBody(keyMessage, API_KEY, API_KEY, API_KEY), echoHeaders)], create) },
  // The 2xx path: decode errors, an error inside a 200.
  { name: "200 with broken JSON", run: client([S.text(200, `{"id": "${API_KEY}", "choices": [`, echoHeaders)], create) },
  { name: "200 with the wrong shape", run: client([S.json(200, { id: API_KEY, object: keyMessage }, echoHeaders)], create) },
  { name: "200 carrying an API error", run: client([S.json(200, S.errorBody(keyMessage, "server_error", null), echoHeaders)], create, { resilience: { retryPolicy: noRetries } }) },
  // Streams.
  { name: "stream: an HTML page titled with the key", run: client([S.text(200, html(keyMessage), { ...echoHeaders, "content-type": "text/html" })], stream) },
  { name: "stream: a JSON body where a stream was asked for", run: client([S.json(200, { note: keyMessage }, echoHeaders)], stream) },
  { name: "stream: an error event", run: client([S.sse([S.data(S.errorBody(keyMessage, "invalid_request_error", "invalid_api_key"))], echoHeaders)], stream) },
  {
    name: "stream: an `event: error` frame",
    run: client([S.sse([`event: error\ndata: ${keyMessage}\n\n`], echoHeaders)], stream, { resilience: { retryPolicy: noRetries } })
  },
  { name: "stream: a chunk that is not JSON", run: client([S.sse([S.data(`{"id": "${API_KEY}"`)], echoHeaders)], stream) },
  { name: "stream: a chunk of the wrong shape", run: client([S.sse([S.data({ id: API_KEY, choices: keyMessage })], echoHeaders)], stream) },
  {
    name: "stream: cut after the first chunk, the cause quoting the URL",
    run: client([
      S.sse([
        S.data({ id: "c", object: "chat.completion.chunk", created: 0, model: "m", choices: [] }),
        S.cut(Object.assign(new Error(`socket closed: ${PROXY}?api-key=${QUERY_KEY} ${API_KEY}`), { code: "UND_ERR_SOCKET" }))
      ], echoHeaders)
    ], stream)
  },
  {
    name: "stream: idle timeout",
    run: client([S.sse([S.pause("10 minutes")], echoHeaders)], stream, { idleTimeout: "1 second", resilience: { retryPolicy: noRetries } })
  },
  {
    name: "responses stream: response.failed",
    run: client([
      S.sse([S.data({ type: "response.failed", response: { error: { message: keyMessage, code: "server_error" } } })], echoHeaders)
    ], responsesStream, { resilience: { retryPolicy: noRetries } })
  },
  // Transport failures, their causes quoting what they failed on.
  { name: "fetch refusing a credentialed URL (scripted)", run: client([S.fail(fetchCredentialsError())], create, { resilience: { retryPolicy: noRetries } }) },
  {
    name: "a transport cause holding the request's headers",
    run: client([
      S.fail(Object.assign(new Error("connect ECONNREFUSED"), {
        code: "ECONNREFUSED",
        config: { url: `${PROXY}?api-key=${QUERY_KEY}`, headers: { authorization: `Bearer ${API_KEY}` } }
      }))
    ], create, { resilience: { retryPolicy: noRetries } })
  },
  { name: "headers timeout", run: client([S.hang], create, { resilience: { retryPolicy: noRetries, timeout: "1 second" } }) },
  {
    name: "FetchHttpClient refusing a credentialed URL (real fetch, nothing sent)",
    run: Effect.gen(function*() {
      const openai = yield* OpenAiClient.make({
        apiKey: Redacted.make(API_KEY),
        // Port 9 on loopback: fetch refuses the URL before any connection is tried.
        baseUrl: credentialed("http://127.0.0.1:9/v1"),
        transformClient: withQueryKey,
        resilience: { retryPolicy: noRetries }
      })
      return yield* create(openai)
    }).pipe(Effect.provide(FetchHttpClient.layer))
  },
  // The public test kit: every fault, through the client and through the middleware.
  ...Faults.names.map((fault): Scenario => ({ name: `mock fault ${fault}`, run: mockFault(fault) })),
  ...(["server_error", "connection_reset", "html_502", "incorrect_api_key"] as const).flatMap((fault): Array<Scenario> => [
    { name: `HttpMiddleware.resilient: ${fault}`, run: middleware(fault, false) },
    { name: `HttpMiddleware.toHttpClientError: ${fault}`, run: middleware(fault, true) }
  ]),
  // Direct calls.
  {
    name: "Sse: an oversized event holding an Azure-style key",
    run: Sse.parseAll(`data: {"api-key": "${QUERY_KEY}", "k": "${API_KEY}", "pad": "${"x".repeat(4096)}"}\n\n`, { maxEventSize: 1024 })
  },
  { name: "classifyTransportError on fetch's refusal", run: Effect.fail(Classify.classifyTransportError(fetchCredentialsError())) }
]

// ---------------------------------------------------------------------------------------------
// What a user can see
// ---------------------------------------------------------------------------------------------

// Every way Effect's loggers print a log line, the default one first.
const recordingLogger = (lines: Array<string>) =>
  Logger.make((options) => {
    lines.push(Logger.stringLogger.log(options))
    lines.push(Logger.logfmtLogger.log(options))
    lines.push(JSON.stringify(Logger.structuredLogger.log(options)))
    lines.push(inspect(Logger.structuredLogger.log(options), { depth: 20 }))
  })

const printError = (e: unknown): Array<string> => {
  const out = [inspect(e, { depth: 20 }), inspect(e, { depth: 20, showHidden: true })]
  if (e instanceof Error) out.push(String(e), e.stack ?? "", e.message)
  try {
    out.push(JSON.stringify(e) ?? "")
  } catch (thrown) {
    out.push(`JSON.stringify threw: ${String(thrown)}`)
  }
  if (OpenAiError.isOpenAiError(e)) {
    const report = SupportReport.make(e, 0, {
      secrets: [Redacted.make(API_KEY)],
      request: {
        method: "POST",
        url: `${PROXY}/chat/completions?api-key=${QUERY_KEY}`,
        headers: { authorization: `Bearer ${API_KEY}`, "api-key": QUERY_KEY },
        body: JSON.stringify({ ...chat, user: API_KEY })
      },
      attempts: [{ attempt: 1, outcome: e.message, requestId: Option.getOrUndefined(e.requestId) }]
    })
    out.push(JSON.stringify(report), SupportReport.toText(report))
  }
  return out
}

const printCause = (cause: Cause.Cause<unknown>): Array<string> => [
  Cause.pretty(cause),
  Cause.pretty(cause, { renderErrorCause: true }),
  inspect(cause, { depth: 20 }),
  ...[...Chunk.toReadonlyArray(Cause.failures(cause)), ...Chunk.toReadonlyArray(Cause.defects(cause))].flatMap(printError)
]

const printSpan = (span: Recorded): Array<string> => [
  span.name,
  ...[...span.attributes].map(([k, v]) => `${k}=${typeof v === "string" ? v : inspect(v, { depth: 20 })}`),
  ...span.events.map(([name, attributes]) => `${name} ${inspect(attributes, { depth: 20 })}`),
  ...(span.exit !== undefined && Exit.isFailure(span.exit) ? printCause(span.exit.cause) : [])
]

// Runs a scenario under the recording logger (at Debug) and tracer, the clock moved on far enough
// for every retry and timeout; then logs its failure the ways a program would.
const observe = (run: Effect.Effect<unknown, unknown>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const spans: Array<Recorded> = []
    const observed = <A, E>(effect: Effect.Effect<A, E>) =>
      effect.pipe(
        Effect.withTracer(recordingTracer(spans)),
        Effect.provide(Logger.replace(Logger.defaultLogger, recordingLogger(lines))),
        Logger.withMinimumLogLevel(LogLevel.Debug)
      )
    const fiber = yield* Effect.fork(observed(Effect.withSpan(run, "scenario")))
    yield* TestClock.adjust("1 hour")
    const exit = yield* Fiber.await(fiber)
    if (Exit.isFailure(exit)) {
      yield* observed(Effect.logError("the call failed", exit.cause))
      yield* observed(Effect.logDebug(Cause.squash(exit.cause)))
    }
    return [
      ...lines,
      ...spans.flatMap(printSpan),
      inspect(exit, { depth: 20 }),
      ...(Exit.isFailure(exit) ? printCause(exit.cause) : [])
    ]
  })

const leaksIn = (texts: ReadonlyArray<string>) =>
  texts.flatMap((text) =>
    canaries.filter((c) => text.includes(c)).map((c) => {
      const at = text.indexOf(c)
      return `${c}: …${text.slice(Math.max(0, at - 120), at + c.length + 40)}…`
    })
  )

describe("no secret anywhere a user can see", () => {
  for (const scenario of scenarios) {
    it.effect(scenario.name, () =>
      Effect.gen(function*() {
        const texts = yield* observe(scenario.run)
        // The scan looked at something (a scenario that printed nothing would pass vacuously).
        expect(texts.join("\n").length).toBeGreaterThan(0)
        expect(leaksIn(texts)).toEqual([])
      }).pipe(Effect.provide(Layer.empty)))
  }

  it("the canaries are found when they are there (the scan can fail)", () => {
    expect(leaksIn([`x ${API_KEY} y`, `${PROXY}`, `?api-key=${QUERY_KEY}`]).length).toBeGreaterThanOrEqual(4)
  })
})

describe("a secret header added below the stack", () => {
  it.effect("is hidden when the request is logged inside the call (an Azure api-key set by transformClient)", () =>
    Effect.gen(function*() {
      const AZURE_KEY = "azure-canary-5f1c2a9e0d7b"
      const lines: Array<string> = []
      const logger = Logger.make(({ message }) => {
        lines.push(inspect(message, { depth: 8 }), JSON.stringify(message))
      })
      const completion = { id: "c", object: "chat.completion", created: 0, model: "m", choices: [] }
      const scripted = S.make([S.json(200, completion)])
      const openai = yield* OpenAiClient.make({
        apiKey: Redacted.make(API_KEY),
        baseUrl: "https://example.openai.azure.com/openai/v1",
        transformClient: (c) =>
          c.pipe(
            HttpClient.mapRequest(HttpClientRequest.setHeader("api-key", AZURE_KEY)),
            HttpClient.tapRequest((request) => Effect.logInfo(request))
          )
      }).pipe(Effect.provideService(HttpClient.HttpClient, scripted.client))
      yield* openai.chat.completions.create(chat).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      const text = lines.join("\n")
      expect(text).toContain("api-key")
      expect(text).not.toContain(AZURE_KEY)
    }))
})
