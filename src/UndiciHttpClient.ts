/**
 * A lean `HttpClient` for Node: each request is one call of undici's `Dispatcher.request`, with
 * nothing per request but what sending it needs. Import it from
 * `effect-openai-resilience/undici`; it needs `undici` ^7.10 and `@effect/platform-node` (optional
 * peer dependencies the main entry never loads).
 *
 * It behaves as `NodeHttpClient.layerUndici` (from `@effect/platform-node`) does, and the tests
 * run the same requests through both and compare: the status; the headers, lowercased, a repeated
 * header joined with `", "`, `set-cookie` parsed into `cookies`; `text`, `json` (an empty body is
 * `null`), `arrayBuffer`, `urlParamsBody` and `stream`; request bodies of every kind (empty, bytes,
 * raw, `FormData`, a `Stream`); URL parameters and hash (an invalid URL is a `RequestError` with
 * reason `"InvalidUrl"`); the per-request undici options of `NodeHttpClient.UndiciRequestOptions`
 * in context; and undici's own timers set aside (`headersTimeout` 1 hour, `bodyTimeout` off on
 * every request), so that the client's timeouts decide. A refused or reset connection is a
 * `RequestError` with reason `"Transport"` and undici's error as its `cause`; a body cut part-way
 * is a `ResponseError` with reason `"Decode"`. Nothing is a defect.
 *
 * What it does differently:
 *
 * - It opens no `http.client` span and sends no `traceparent`/`b3` header: `HttpClient.make`'s
 *   per-request span machinery is skipped (`HttpClient.withTracerDisabledWhen`,
 *   `withTracerPropagation` and `withSpanNameGenerator` have no effect on it). With a Tracer that
 *   records spans, `OpenAiClient` and `ResilientFetch` still open a span per logical call
 *   (`{operation} {model}`, such as `chat gpt-4o-mini`) and an `openai.attempt` span per attempt
 *   beneath it (see docs/observability.md); only the platform's `http.client` span under each
 *   attempt is missing. To have it, use `NodeHttpClient.layerUndici`.
 * - By default it sends through undici's global dispatcher, looked up on each request (as Node's
 *   `fetch` does), so `setGlobalDispatcher` (a proxy agent, say) applies to it; `layerUndici`
 *   makes a connection pool of its own, closed with its layer.
 * - The headers are read once per response (a plain field), and each body read is one promise:
 *   a second read of the same kind (`text` then `json`) shares it, a read of another kind
 *   (`text` then `stream`) fails with a `ResponseError` rather than hanging or returning nothing.
 * - `formData` parses the body (undici's own `formData()` is not implemented, so the platform's
 *   always fails).
 * - `HttpClient.withScope` has no effect: interrupting a send or a body read already aborts the
 *   request, and so does a stream that ends or is interrupted, and a response dropped unread
 *   (when it is garbage-collected).
 * - The stack's per-attempt timeout (`resilience.timeout`) aborts the request in flight when it
 *   fires, so an attempt over this client needs no fiber of its own for it (one over
 *   `layerUndici` does). A `transformClient` of yours turns this off: its waits may be anything.
 *
 * @since 0.2.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Layer from "effect/Layer"
import type { Dispatcher } from "undici"
import * as internal from "./internal/undiciHttpClient.js"

/**
 * An `HttpClient` over `dispatcher`, by default undici's global dispatcher (looked up on each
 * request, so `setGlobalDispatcher` applies).
 *
 * @example
 * ```ts
 * import { OpenAiClient } from "effect-openai-resilience"
 * import { UndiciHttpClient } from "effect-openai-resilience/undici"
 * import { HttpClient } from "@effect/platform"
 * import { Layer, Redacted } from "effect"
 *
 * const Http = Layer.succeed(HttpClient.HttpClient, UndiciHttpClient.make())
 *
 * const OpenAiLive = OpenAiClient.layer({ apiKey: Redacted.make("sk-...") }).pipe(Layer.provide(Http))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: (dispatcher?: Dispatcher) => HttpClient.HttpClient = internal.make

/**
 * The client over undici's global dispatcher: what to provide on Node.
 *
 * @example
 * ```ts
 * import { OpenAiClient } from "effect-openai-resilience"
 * import { UndiciHttpClient } from "effect-openai-resilience/undici"
 * import { Layer } from "effect"
 * import { ProxyAgent, setGlobalDispatcher } from "undici"
 *
 * // Optional: every request of this process (fetch's too) through a proxy.
 * setGlobalDispatcher(new ProxyAgent("http://proxy.internal:3128"))
 *
 * // OPENAI_API_KEY, OPENAI_BASE_URL, ...
 * const OpenAiLive = OpenAiClient.layerConfig.pipe(Layer.provide(UndiciHttpClient.layer))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<HttpClient.HttpClient> = internal.layer

/**
 * The client over a dispatcher of your own. The layer does not close it; to have a connection
 * pool that lives and closes with the layer, acquire it in a scope, as below.
 *
 * @example
 * ```ts
 * import { OpenAiClient } from "effect-openai-resilience"
 * import { UndiciHttpClient } from "effect-openai-resilience/undici"
 * import { Effect, Layer } from "effect"
 * import { Agent } from "undici"
 *
 * // One pool of at most 16 connections per origin, closed with the layer.
 * const Http = Layer.unwrapScoped(
 *   Effect.map(
 *     Effect.acquireRelease(
 *       Effect.sync(() => new Agent({ connections: 16 })),
 *       (agent) => Effect.promise(() => agent.close())
 *     ),
 *     UndiciHttpClient.layerDispatcher
 *   )
 * )
 *
 * const OpenAiLive = OpenAiClient.layerConfig.pipe(Layer.provide(Http))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerDispatcher: (dispatcher: Dispatcher) => Layer.Layer<HttpClient.HttpClient> = internal.layerDispatcher
