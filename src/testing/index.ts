/**
 * The test kit: `effect-openai-resilience/testing`. A fault-injecting mock of the OpenAI API, served
 * in memory ({@link MockHttpClient}) or over real HTTP ({@link MockServer}), and a client that
 * answers from a script of exact responses ({@link ScriptedHttpClient}).
 *
 * @since 0.1.0
 */

/**
 * The faults the mock can serve, their names and what each looks like.
 *
 * @since 0.1.0
 */
export * as Faults from "./Faults.js"

/**
 * The mock API core: a plain request in, a plain response out, with its state in a `Ref`.
 *
 * @since 0.1.0
 */
export * as MockApi from "./MockApi.js"

/**
 * The mock's per-key rate limiter (requests and tokens per minute).
 *
 * @since 0.1.0
 */
export * as MockRateLimits from "./MockRateLimits.js"

/**
 * An in-memory `HttpClient` served by the mock, for tests under `TestClock`.
 *
 * @since 0.1.0
 */
export * as MockHttpClient from "./MockHttpClient.js"

/**
 * An in-memory `HttpClient` that answers from a script of steps, one per request, for tests of
 * exact wire behaviour under `TestClock`.
 *
 * @since 0.1.0
 */
export * as ScriptedHttpClient from "./ScriptedHttpClient.js"

/**
 * The mock over real HTTP (Node), as a scoped layer or standalone.
 *
 * @since 0.1.0
 */
export * as MockServer from "./MockServer.js"

/**
 * Discrete-event virtual time for simulations with many concurrent sleepers.
 * @since 0.1.0
 */
export * as Simulation from "./Simulation.js"
