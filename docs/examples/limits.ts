/**
 * Examples for docs/limits.md: staying inside the rate limits, not hammering a broken upstream,
 * bounding concurrency.
 *
 * In your project, import from the package instead of these relative paths:
 *   import { Bulkhead, CircuitBreaker, RateLimiter, Resilience, RetryPolicy } from "effect-openai-resilience"
 */
import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { Duration, Effect, Layer, Option, Redacted, Stream } from "effect"
import * as Bulkhead from "../../src/Bulkhead.js"
import * as CircuitBreaker from "../../src/CircuitBreaker.js"
import * as HttpMiddleware from "../../src/HttpMiddleware.js"
import type * as OpenAiError from "../../src/OpenAiError.js"
import * as RateLimiter from "../../src/RateLimiter.js"
import * as Resilience from "../../src/Resilience.js"
import * as RetryPolicy from "../../src/RetryPolicy.js"
import * as TokenEstimate from "../../src/TokenEstimate.js"

const apiKey = Redacted.make("sk-...")

const withApi = HttpClient.mapRequest((request) =>
  request.pipe(
    HttpClientRequest.prependUrl("https://api.openai.com/v1"),
    HttpClientRequest.bearerToken(apiKey),
    HttpClientRequest.acceptJson
  )
)

// ---------------------------------------------------------------------------------------------
// 1. The default stack, in one call
// ---------------------------------------------------------------------------------------------

/** A client that paces itself, stops calling a broken upstream and bounds its concurrency. */
export const makeClient = Effect.gen(function*() {
  const limiter = yield* RateLimiter.RateLimiter
  const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 5, openDuration: "5 seconds" })
  const bulkhead = yield* Bulkhead.make({ maxConcurrent: 32, maxQueue: 1_000 })
  return (yield* HttpClient.HttpClient).pipe(
    withApi,
    Resilience.middleware({ limiter, breaker, bulkhead, retryPolicy: RetryPolicy.default, secrets: [apiKey] })
  )
})

/** One chat completion through it. Every failure is typed. */
export const hello = Effect.gen(function*() {
  const client = yield* makeClient
  const response = yield* client.execute(
    HttpClientRequest.post("/chat/completions").pipe(
      HttpClientRequest.bodyUnsafeJson({
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "Say hello" }],
        max_tokens: 20
      })
    )
  )
  return yield* response.json
}).pipe(
  Effect.catchTags({
    BulkheadFull: () => Effect.succeed("too busy: shed this request"),
    CircuitOpen: (e) => Effect.succeed(`upstream down, try again in ${Duration.format(e.retryAfter)}`)
  }),
  Effect.scoped,
  // No limits configured: the limiter learns them from the x-ratelimit-* headers.
  Effect.provide(Layer.mergeAll(RateLimiter.layerMemory(), FetchHttpClient.layer))
)

// ---------------------------------------------------------------------------------------------
// 2. The same stack by hand, when you need a different order or extra middleware
// ---------------------------------------------------------------------------------------------

export const byHand = Effect.gen(function*() {
  const limiter = yield* RateLimiter.RateLimiter
  const breaker = yield* CircuitBreaker.make()
  return (yield* HttpClient.HttpClient).pipe(
    withApi,
    HttpMiddleware.classify, // typed errors first, so everything above sees them
    HttpMiddleware.timeout("60 seconds"), // per attempt; waiting in the limiter does not count
    RateLimiter.middleware(limiter), // every attempt is paced and reports its headers
    CircuitBreaker.middleware(breaker) // an open circuit refuses before the limiter
    // ...then a retry that lets CircuitOpen through, then a bulkhead: what Resilience.middleware does.
  )
}).pipe(Effect.provide(RateLimiter.layerMemory({ requestsPerMinute: 500, tokensPerMinute: 30_000 })))

// ---------------------------------------------------------------------------------------------
// 3. The limiter around any effect (an SDK call, a batch job)
// ---------------------------------------------------------------------------------------------

declare const summarize: (text: string) => Effect.Effect<string, OpenAiError.OpenAiError>

export const summarizeAll = (texts: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const limiter = yield* RateLimiter.RateLimiter
    const key = RateLimiter.keyFor({ apiKey, model: "gpt-4o-mini" })
    return yield* Effect.forEach(
      texts,
      (text) => {
        const tokens = TokenEstimate.fromBody({
          model: "gpt-4o-mini",
          messages: [{ role: "user", content: text }],
          max_tokens: 200
        }).total
        // A RateLimitReached from the call pauses the key for its retryAfter.
        return summarize(text).pipe(limiter.limit({ key, tokens }))
      },
      { concurrency: 20 }
    )
  }).pipe(Effect.provide(RateLimiter.layerMemory({ requestsPerMinute: 500, tokensPerMinute: 30_000 })))

// ---------------------------------------------------------------------------------------------
// 4. Watching the breaker and the limiter
// ---------------------------------------------------------------------------------------------

export const watch = Effect.gen(function*() {
  const breaker = yield* CircuitBreaker.make({ failureRatio: { threshold: 0.5, window: "30 seconds", minimumCalls: 10 } })
  // Every state change, e.g. to a metric or an alert.
  yield* breaker.changes.pipe(
    Stream.runForEach((state) => Effect.logInfo(`breaker is ${state._tag}`)),
    Effect.forkScoped
  )
  const limiter = yield* RateLimiter.RateLimiter
  const snapshot = yield* limiter.snapshot(RateLimiter.keyFor({ apiKey, model: "gpt-4o-mini" }))
  yield* Option.match(snapshot, {
    onNone: () => Effect.logInfo("no request sent yet"),
    onSome: (s) => Effect.logInfo(`tokens left: ${Option.getOrElse(s.remainingTokens, () => -1)}`)
  })
}).pipe(Effect.scoped, Effect.provide(RateLimiter.layerMemory()))
