/**
 * Examples for docs/client.md: the OpenAI client service.
 *
 * In your project, import from the package instead of these relative paths:
 *   import { OpenAiClient, OpenAiError, RetryPolicy } from "effect-openai-resilience"
 */
import { FetchHttpClient, HttpClient, HttpClientResponse } from "@effect/platform"
import { Undici } from "@effect/platform-node"
import { Console, Effect, Layer, Option, Redacted, Schedule, Stream } from "effect"
import * as OpenAiClient from "../../src/OpenAiClient.js"
import * as OpenAiError from "../../src/OpenAiError.js"
import * as RetryPolicy from "../../src/RetryPolicy.js"
import * as UndiciHttpClient from "../../src/UndiciHttpClient.js"

// ---------------------------------------------------------------------------------------------
// Providing the client
// ---------------------------------------------------------------------------------------------

/** From the environment: OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_ORG_ID, OPENAI_PROJECT_ID, ... */
export const OpenAiFromEnv = OpenAiClient.layerConfig.pipe(Layer.provide(FetchHttpClient.layer))

/** From options, over this library's undici client, against an OpenAI-compatible server. */
export const OpenAiLocal = OpenAiClient.layer({
  apiKey: Redacted.make("sk-local"),
  baseUrl: "http://localhost:8000/v1",
  idleTimeout: "30 seconds",
  resilience: { timeout: "60 seconds", deadline: "3 minutes", retryPolicy: RetryPolicy.make({ maxRetries: 3 }) }
}).pipe(Layer.provide(UndiciHttpClient.layer))

/**
 * `fetch` under Node without undici's own 300 s timers (off: `0`), so that the client's `timeout`
 * and `idleTimeout` decide; one dispatcher for the layer's lifetime. `UndiciHttpClient.layer`
 * needs none of this.
 */
export const FetchUntimed = Layer.unwrapScoped(
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => new Undici.Agent({ headersTimeout: 0, bodyTimeout: 0 })),
      (dispatcher) => Effect.promise(() => dispatcher.close())
    ),
    (dispatcher) => Layer.provide(FetchHttpClient.layer, Layer.succeed(FetchHttpClient.RequestInit, { dispatcher } as RequestInit))
  )
)

// ---------------------------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------------------------

/** A chat completion, with the request id and the remaining request budget. */
export const chat = Effect.gen(function*() {
  const openai = yield* OpenAiClient.OpenAiClient
  const { data, rateLimit, requestId } = yield* openai.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Say hi in French" }]
  })
  yield* Effect.log(`request ${Option.getOrElse(requestId, () => "?")}`)
  yield* Effect.log(`remaining requests: ${Option.getOrUndefined(Option.flatMap(rateLimit, (r) => r.remainingRequests))}`)
  return data.choices[0]?.message.content ?? ""
})

/** Every failure is typed: handle the ones you can, let the rest through. */
export const chatOrExplain = chat.pipe(
  Effect.catchTags({
    QuotaExceeded: (e) => Effect.succeed(`Out of credit: ${e.solution}`),
    ContextLengthExceeded: () => Effect.succeed("Too long: shorten the conversation")
  }),
  Effect.tapError((e) =>
    Effect.logError(`${e._tag} (${e.category}), request ${Option.getOrElse(e.requestId, () => "?")}: ${e.message}`)
  )
)

/** A streamed completion: the text as it arrives. Retried only until the first chunk. */
export const streamed = Effect.gen(function*() {
  const openai = yield* OpenAiClient.OpenAiClient
  return yield* openai.chat.completions.stream({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Count to five" }],
    stream_options: { include_usage: true }
  }).pipe(
    Stream.map((chunk) => chunk.choices[0]?.delta.content ?? ""),
    Stream.runForEach((text) => Console.log(text))
  )
}).pipe(
  // A cut after data arrived says how much did; the caller decides whether to ask again.
  Effect.catchTag("ConnectionError", (e) =>
    Console.error(
      `cut after ${Option.match(e.received, { onNone: () => "nothing", onSome: (r) => `${r.events} events` })}`
    ))
)

/** Embeddings come back as Float32Array (base64 on the wire unless you ask for floats). */
export const embed = Effect.gen(function*() {
  const openai = yield* OpenAiClient.OpenAiClient
  const { data } = yield* openai.embeddings.create({
    model: "text-embedding-3-small",
    input: ["first text", "second text"]
  })
  return data.data.map((e) => e.embedding) // ReadonlyArray<Float32Array>
})

/** The Responses API, streamed: text deltas until `response.completed`. */
export const respond = Effect.gen(function*() {
  const openai = yield* OpenAiClient.OpenAiClient
  return yield* openai.responses.stream({ model: "gpt-4o-mini", input: "Write a haiku" }).pipe(
    Stream.filterMap((event) =>
      event.type === "response.output_text.delta" && "delta" in event && typeof event.delta === "string"
        ? Option.some(event.delta)
        : Option.none()
    ),
    Stream.mkString
  )
})

/** Models, and any other endpoint through the same resilient, authenticated HttpClient. */
export const other = Effect.gen(function*() {
  const openai = yield* OpenAiClient.OpenAiClient
  const models = yield* openai.models.list
  const files = yield* openai.httpClient.get("/files").pipe(Effect.flatMap((r) => r.json))
  return { models: models.data.data.map((m) => m.id), files }
})

export const main = Effect.all([chatOrExplain, embed]).pipe(Effect.provide(OpenAiFromEnv))

// ---------------------------------------------------------------------------------------------
// Testing code that uses the client
// ---------------------------------------------------------------------------------------------

/**
 * The client needs only an `HttpClient`: give it one that answers from memory. (The package's
 * `effect-openai-resilience/testing` has a full mock API with faults and rate limits.)
 */
export const fakeHttp = (status: number, body: unknown) =>
  Layer.succeed(
    HttpClient.HttpClient,
    HttpClient.make((request) =>
      Effect.succeed(
        HttpClientResponse.fromWeb(
          request,
          new Response(JSON.stringify(body), {
            status,
            headers: { "content-type": "application/json", "x-request-id": "req_test" }
          })
        )
      )
    )
  )

/** A 429 for quota is not retried: the test sees QuotaExceeded at once. */
export const quotaTest = chat.pipe(
  Effect.flip,
  Effect.provide(
    OpenAiClient.layer({ apiKey: Redacted.make("sk-test"), resilience: { retryPolicy: Schedule.stop } }).pipe(
      Layer.provide(
        fakeHttp(429, {
          error: { message: "You exceeded your current quota", type: "insufficient_quota", code: "insufficient_quota" }
        })
      )
    )
  ),
  Effect.map((error) => OpenAiError.isRateLimitError(error) && error._tag === "QuotaExceeded")
)
