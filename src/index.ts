/**
 * effect-openai-resilience: typed errors, server-aware retry schedules, rate limiting and a
 * fault-injecting mock server for OpenAI-compatible HTTP APIs, on Effect 3.
 *
 * @since 0.1.0
 */

/**
 * The typed errors of OpenAI's error guide, their categories, causes and solutions.
 * @since 0.1.0
 */
export * as OpenAiError from "./OpenAiError.js"

/**
 * Status, headers and body (or a transport failure, or a stream event) to a typed error.
 * @since 0.1.0
 */
export * as Classify from "./Classify.js"

/**
 * The server's delay hints and its `x-should-retry` verdict.
 * @since 0.1.0
 */
export * as RetryAfter from "./RetryAfter.js"

/**
 * The `x-ratelimit-*` headers.
 * @since 0.1.0
 */
export * as RateLimitHeaders from "./RateLimitHeaders.js"

/**
 * Go-style durations (`6m0s`) as used in the reset headers.
 * @since 0.1.0
 */
export * as GoDuration from "./GoDuration.js"

/**
 * Retry policies: `Schedule`s over the typed errors that read the server's hints.
 * @since 0.1.0
 */
export * as RetryPolicy from "./RetryPolicy.js"

/**
 * A retry budget shared by many calls, so that an outage does not multiply the load.
 * @since 0.1.0
 */
export * as RetryBudget from "./RetryBudget.js"

/**
 * One resilient call: the one place that knows the order of the layers (bulkhead, deadline,
 * idempotency, retry; per attempt breaker, limiter, timeout, classification, consumption).
 * @since 0.1.0
 */
export * as Resilience from "./Resilience.js"

/**
 * Resilience as `HttpClient -> HttpClient` middleware for any @effect/platform client.
 * @since 0.1.0
 */
export * as HttpMiddleware from "./HttpMiddleware.js"

/**
 * The OpenAI client service: schema-decoded responses and streams over the resilient middleware.
 * @since 0.1.0
 */
export * as OpenAiClient from "./OpenAiClient.js"

/**
 * A deployment: a base URL, credentials, a model and its own resilience, for OpenAI, Azure OpenAI
 * or any OpenAI-compatible server.
 * @since 0.1.0
 */
export * as Deployment from "./Deployment.js"

/**
 * A fallback plan over deployments, whose moves are decided by the typed error; hedging.
 * @since 0.1.0
 */
export * as Fallback from "./Fallback.js"

/**
 * Request and response schemas of the API, forward compatible.
 * @since 0.1.0
 */
export * as Schemas from "./Schemas/index.js"

/**
 * Server-sent events framing.
 * @since 0.1.0
 */
export * as Sse from "./Sse.js"

/**
 * Decoding of 2xx bodies into typed values, or a typed decode error with its path.
 * @since 0.1.0
 */
export * as Decode from "./Decode.js"

/**
 * Header-aware pacing on requests and tokens per minute.
 * @since 0.1.0
 */
export * as RateLimiter from "./RateLimiter.js"

/**
 * Token estimates of requests, as rate limits count them.
 * @since 0.1.0
 */
export * as TokenEstimate from "./TokenEstimate.js"

/**
 * An optional real BPE tokenizer (`gpt-tokenizer`), loaded on first use.
 * @since 0.2.0
 */
export * as Tokenizer from "./Tokenizer.js"

/**
 * Checks before sending: a request that cannot fit the model's context window is not sent.
 * @since 0.2.0
 */
export * as Preflight from "./Preflight.js"

/**
 * Spend from each response's usage and a price table: a metric and an optional budget per period.
 * @since 0.2.0
 */
export * as Spend from "./Spend.js"

/**
 * A circuit breaker that stops calling a broken upstream.
 * @since 0.1.0
 */
export * as CircuitBreaker from "./CircuitBreaker.js"

/**
 * The one error for bad configuration: the option, the value given, what is accepted.
 * @since 0.1.0
 */
export * as InvalidOptions from "./InvalidOptions.js"

/**
 * A concurrency limit with a bounded queue.
 * @since 0.1.0
 */
export * as Bulkhead from "./Bulkhead.js"

/**
 * The whole stack as a WHATWG `fetch`, for the official SDK, the Vercel AI SDK and LangChain.
 * @since 0.1.0
 */
export * as ResilientFetch from "./ResilientFetch.js"

/**
 * What to send support when an error persists, with every secret redacted.
 * @since 0.1.0
 */
export * as SupportReport from "./SupportReport.js"

/**
 * Metrics and spans for every layer, named after the OpenTelemetry GenAI conventions.
 * @since 0.1.0
 */
export * as Telemetry from "./Telemetry.js"

/**
 * A resumable batch runner over a `Stream` of requests.
 *
 * @since 0.2.0
 */
export * as Batch from "./Batch.js"

/**
 * Which requests of a batch are done: the checkpoint service and its memory store (the file store: `effect-openai-resilience/node`).
 *
 * @since 0.2.0
 */
export * as Checkpoint from "./Checkpoint.js"

export {
  /**
   * @since 0.1.0
   */
  classifyResponse,
  /**
   * @since 0.1.0
   */
  classifyStreamError,
  /**
   * @since 0.1.0
   */
  classifyTransportError
} from "./Classify.js"
