/**
 * An in-memory `HttpClient` that serves the mock OpenAI API ({@link MockApi}) without sockets, for
 * fast tests in virtual time: under `TestClock`, `slow_headers` waits until the clock is moved,
 * rate limits refill as the clock moves, and SSE events arrive with their delays.
 *
 * Transport faults fail the way `@effect/platform-node`'s client does: `connection_reset` with an
 * `HttpClientError.RequestError` (reason `"Transport"`) whose cause is a Node `ECONNRESET` error;
 * `stream_cut` and `body_cut` fail the body part-way with an `HttpClientError.ResponseError` whose
 * cause is Node's `aborted` (`ECONNRESET`) error (the errors of
 * `ScriptedHttpClient.connectionResetCause` and `ScriptedHttpClient.streamCutCause`).
 *
 * To answer from a fixed list of responses instead of the mock, see `ScriptedHttpClient`.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { InvalidOptions } from "../InvalidOptions.js"
import * as internal from "./internal/mockHttpClient.js"
import * as MockApi from "./MockApi.js"

/**
 * A base URL for requests to the in-memory client. Any absolute URL works: only its path is read.
 *
 * @example
 * ```ts
 * import { MockHttpClient } from "effect-openai-resilience/testing"
 * import { HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const models = Effect.flatMap(HttpClient.HttpClient, (client) => client.get(`${MockHttpClient.baseUrl}/models`))
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const baseUrl = "http://mock.openai.local/v1"

/**
 * An `HttpClient` that serves every request from the {@link MockApi.MockApi} in context.
 *
 * @example
 * ```ts
 * import { MockApi, MockHttpClient } from "effect-openai-resilience/testing"
 * import { Effect } from "effect"
 *
 * const client = MockHttpClient.make.pipe(Effect.provide(MockApi.layer()))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<HttpClient.HttpClient, never, MockApi.MockApi> = internal.make

/**
 * `HttpClient` served by the {@link MockApi.MockApi} the layer is given.
 *
 * @example
 * ```ts
 * import { MockApi, MockHttpClient } from "effect-openai-resilience/testing"
 * import { Layer } from "effect"
 *
 * const TestLayer = MockHttpClient.layerFromMock.pipe(Layer.provideMerge(MockApi.layer({ rpm: 3 })))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromMock: Layer.Layer<HttpClient.HttpClient, never, MockApi.MockApi> = Layer.effect(
  HttpClient.HttpClient,
  make
)

/**
 * A fresh mock and an `HttpClient` served by it: the one-line setup for a test. The mock is in
 * context too, to read its request log.
 *
 * @example
 * ```ts
 * import { MockHttpClient } from "effect-openai-resilience/testing"
 *
 * const TestLayer = MockHttpClient.layer({ scenario: ["server_error", "server_error"] })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: MockApi.MockOptions = {}
): Layer.Layer<HttpClient.HttpClient | MockApi.MockApi, InvalidOptions> =>
  layerFromMock.pipe(Layer.provideMerge(MockApi.layer(options)))
