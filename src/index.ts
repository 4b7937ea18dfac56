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
 * What to send support when an error persists, with every secret redacted.
 * @since 0.1.0
 */
export * as SupportReport from "./SupportReport.js"

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
