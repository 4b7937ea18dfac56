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

/**
 * A `Checkpoint` store in Redis: several workers share one batch, each request done by one.
 *
 * @since 0.2.0
 */
export * as CheckpointRedis from "./CheckpointRedis.js"
