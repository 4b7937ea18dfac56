/**
 * Examples for docs/middleware.md: resilience for any @effect/platform HttpClient.
 *
 * In your project, import from the package instead of these relative paths:
 *   import { HttpMiddleware, RetryPolicy } from "effect-openai-resilience"
 */
import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { Effect, Option, Redacted } from "effect"
import * as HttpMiddleware from "../../src/HttpMiddleware.js"
import * as RetryPolicy from "../../src/RetryPolicy.js"

const apiKey = Redacted.make("sk-...")

// ---------------------------------------------------------------------------------------------
// The recommended stack on a plain HttpClient
// ---------------------------------------------------------------------------------------------

/** Your own client for an OpenAI-compatible API: base URL and key, then the resilient stack. */
export const makeClient = Effect.map(HttpClient.HttpClient, (client) =>
  client.pipe(
    HttpClient.mapRequest((request) =>
      request.pipe(
        HttpClientRequest.prependUrl("https://api.openai.com/v1"),
        HttpClientRequest.bearerToken(apiKey),
        HttpClientRequest.acceptJson
      )
    ),
    HttpMiddleware.resilient({
      timeout: "60 seconds", // each attempt, to response headers
      deadline: "3 minutes", // all attempts and the waits between them
      secrets: [apiKey] // scrubbed from anything an error keeps
    })
  ))

/** Requests fail only with typed errors; successes keep their x-request-id. */
export const listModels = Effect.gen(function*() {
  const client = yield* makeClient
  const response = yield* client.get("/models")
  yield* Effect.log(`request id: ${Option.getOrElse(HttpMiddleware.requestId(response), () => "none")}`)
  return yield* Effect.orDie(response.json)
}).pipe(
  Effect.catchTag("RateLimitReached", (e) =>
    Effect.logWarning(`still rate limited after retries; request ${Option.getOrElse(e.requestId, () => "?")}`)),
  Effect.provide(FetchHttpClient.layer)
)

// ---------------------------------------------------------------------------------------------
// The pieces, composed by hand (inner first)
// ---------------------------------------------------------------------------------------------

/**
 * The same order `resilient` uses: classify inside retry (the policy reads typed errors), the
 * per-attempt timeout inside retry (a slow attempt is retried), the deadline outside.
 */
export const byHand = (client: HttpClient.HttpClient) =>
  client.pipe(
    HttpMiddleware.classifyWith({ secrets: [apiKey] }),
    HttpMiddleware.timeout("30 seconds"),
    HttpMiddleware.attemptHeader(),
    HttpMiddleware.retry(RetryPolicy.make({ maxRetries: 4, maxServerDelay: "20 seconds" })),
    HttpMiddleware.idempotencyKey,
    HttpMiddleware.deadline("2 minutes")
  )

/** Only classification, to handle errors yourself. */
export const classifiedOnly = (client: HttpClient.HttpClient) => client.pipe(HttpMiddleware.classify)

/** No idempotency key, no attempt header (a server that rejects unknown headers). */
export const minimal = (client: HttpClient.HttpClient) =>
  client.pipe(HttpMiddleware.resilient({ idempotencyKey: false, attemptHeader: false }))

// ---------------------------------------------------------------------------------------------
// Where a plain HttpClient -> HttpClient is required
// ---------------------------------------------------------------------------------------------

/**
 * `@effect/ai-openai`'s `transformClient` takes `(client: HttpClient) => HttpClient`: wrap the
 * typed errors back into `HttpClientError`s, and get them out again with `fromHttpClientError`.
 *
 *   OpenAiClient.layer({ apiKey, transformClient })   // @effect/ai-openai
 */
export const transformClient = (client: HttpClient.HttpClient): HttpClient.HttpClient =>
  client.pipe(HttpMiddleware.resilient(), HttpMiddleware.toHttpClientError)

export const explain = (error: unknown) =>
  Option.match(HttpMiddleware.fromHttpClientError(error), {
    onNone: () => "not an OpenAI error",
    onSome: (e) => `${e._tag}: ${e.probableCause} ${e.solution}`
  })
