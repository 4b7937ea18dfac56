/**
 * The Redis store of the rate limiter: `effect-openai-resilience/redis`. A separate entry so that
 * the main one never loads `ioredis` (an optional peer dependency).
 *
 * @since 0.1.0
 */

/**
 * A `RateLimiter.Store` in Redis, shared by every process of an organisation.
 *
 * @since 0.1.0
 */
export * as RateLimiterRedis from "./RateLimiterRedis.js"
