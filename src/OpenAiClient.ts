/**
 * The OpenAI client: chat completions, embeddings, models and the Responses API, each call
 * decoded with `effect/Schema` and failing only with a typed {@link OpenAiError.OpenAiError}.
 * Every call runs through the resilient stack of {@link HttpMiddleware} (classification,
 * per-attempt timeout, retries by a {@link RetryPolicy}, one idempotency key per call, an optional
 * deadline); streams add an idle timeout between chunks and turn error frames into typed errors.
 *
 * The HTTP client is its own layer: `FetchHttpClient.layer`, `NodeHttpClient.layerUndici`, or a
 * scripted one in tests.
 *
 * @since 0.1.0
 */
import type * as Headers from "@effect/platform/Headers"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/openAiClient.js"
import type * as OpenAiError from "./OpenAiError.js"
import type * as RateLimitHeaders from "./RateLimitHeaders.js"
import * as RetryPolicy from "./RetryPolicy.js"
import type * as ChatCompletion from "./Schemas/ChatCompletion.js"
import type * as ChatCompletionChunk from "./Schemas/ChatCompletionChunk.js"
import type * as Embeddings from "./Schemas/Embeddings.js"
import type * as Models from "./Schemas/Models.js"
import type * as Responses from "./Schemas/Responses.js"

/**
 * The official API root, used when no `baseUrl` (or `OPENAI_BASE_URL`) is given.
 *
 * @example
 * ```ts
 * import { OpenAiClient } from "effect-openai-resilience"
 *
 * console.log(OpenAiClient.DEFAULT_BASE_URL) // "https://api.openai.com/v1"
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_BASE_URL: string = internal.DEFAULT_BASE_URL

/**
 * The default per-attempt timeout: 10 minutes, as the official SDKs. It bounds the wait for
 * response headers, and for a non-streaming call the whole body too.
 *
 * @example
 * ```ts
 * import { OpenAiClient } from "effect-openai-resilience"
 * import { Duration } from "effect"
 *
 * console.log(Duration.toMinutes(OpenAiClient.DEFAULT_TIMEOUT)) // 10
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_TIMEOUT: Duration.Duration = internal.DEFAULT_TIMEOUT

/**
 * The default idle timeout of streams: 5 minutes without a byte.
 *
 * @example
 * ```ts
 * import { OpenAiClient } from "effect-openai-resilience"
 * import { Duration } from "effect"
 *
 * console.log(Duration.toMinutes(OpenAiClient.DEFAULT_IDLE_TIMEOUT)) // 5
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_IDLE_TIMEOUT: Duration.Duration = internal.DEFAULT_IDLE_TIMEOUT

/**
 * How to reach the API and how hard to try.
 *
 * @example
 * ```ts
 * import { OpenAiClient, RetryPolicy } from "effect-openai-resilience"
 * import { Redacted } from "effect"
 *
 * const options: OpenAiClient.Options = {
 *   apiKey: Redacted.make("sk-..."),
 *   organization: "org-123",
 *   timeout: "60 seconds",
 *   idleTimeout: "30 seconds",
 *   deadline: "3 minutes",
 *   retryPolicy: RetryPolicy.make({ maxRetries: 3 })
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The API key. It stays `Redacted`: it is only revealed into the `Authorization` header. */
  readonly apiKey: Redacted.Redacted<string>
  /** The API root (default {@link DEFAULT_BASE_URL}); any OpenAI-compatible server works. */
  readonly baseUrl?: string | undefined
  /** Sent as `OpenAI-Organization`. */
  readonly organization?: string | undefined
  /** Sent as `OpenAI-Project`. */
  readonly project?: string | undefined
  /**
   * Per-attempt timeout (default {@link DEFAULT_TIMEOUT}): to the response headers, and for a
   * non-streaming call to the end of its body. `TimeoutError` with phase `"headers"`.
   */
  readonly timeout?: Duration.DurationInput | undefined
  /** The longest silence within a stream (default {@link DEFAULT_IDLE_TIMEOUT}); phase `"idle"`. */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /** A bound over all attempts of a call (for a stream: until its first chunk). Default none. */
  readonly deadline?: Duration.DurationInput | undefined
  /** The retry policy (default `RetryPolicy.default`). */
  readonly retryPolicy?: Schedule.Schedule<unknown, OpenAiError.OpenAiError> | undefined
  /** Send an `Idempotency-Key` on POSTs, the same on every attempt (default `true`). */
  readonly idempotencyKey?: boolean | undefined
  /** The attempt-count header's name, or `false` for none (default `x-retry-attempt`). */
  readonly attemptHeader?: string | false | undefined
  /**
   * Whether requests open `@effect/platform`'s `http.client` span and send `traceparent`.
   * Default: yes when a Tracer other than Effect's default one (which exports nothing) is in place
   * when the client is built, e.g. `@effect/opentelemetry`; no otherwise, which saves the span's
   * cost on every call.
   */
  readonly tracing?: boolean | undefined
  /** Extra middleware for each attempt (logging, a rate limiter, a circuit breaker...). */
  readonly transformClient?:
    | ((client: HttpClient.HttpClient.With<OpenAiError.OpenAiError>) => HttpClient.HttpClient.With<OpenAiError.OpenAiError>)
    | undefined
}

/**
 * A decoded response and what the server said about it: the request id to quote to support, the
 * status, the headers and the rate-limit headers.
 *
 * @example
 * ```ts
 * import { OpenAiClient } from "effect-openai-resilience"
 * import { Effect, Option } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const openai = yield* OpenAiClient.OpenAiClient
 *   const { data, requestId } = yield* openai.models.list
 *   yield* Effect.log(`${data.data.length} models (request ${Option.getOrElse(requestId, () => "?")})`)
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Decoded<A> {
  /** The decoded body. */
  readonly data: A
  /** `x-request-id`. */
  readonly requestId: Option.Option<string>
  /** The HTTP status (2xx). */
  readonly status: number
  /** The response headers. */
  readonly headers: Headers.Headers
  /** The `x-ratelimit-*` headers, parsed. */
  readonly rateLimit: Option.Option<RateLimitHeaders.RateLimitHeaders>
}

/**
 * The client's operations. Each effect fails only with `OpenAiError`; each stream too.
 *
 * @example
 * ```ts
 * import { OpenAiClient } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const chat = (openai: OpenAiClient.Service) =>
 *   openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The resilient HTTP client the operations use (base URL and auth applied), for other endpoints. */
  readonly httpClient: HttpClient.HttpClient.With<OpenAiError.OpenAiError>
  readonly chat: {
    readonly completions: {
      /** `POST /chat/completions`. */
      readonly create: (
        request: ChatCompletion.ChatCompletionRequest
      ) => Effect.Effect<Decoded<ChatCompletion.ChatCompletion>, OpenAiError.OpenAiError>
      /**
       * `POST /chat/completions` with `stream: true`: the decoded chunks, ending at `[DONE]`. Retried
       * until the first chunk; never replayed after.
       */
      readonly stream: (
        request: ChatCompletion.ChatCompletionRequest
      ) => Stream.Stream<ChatCompletionChunk.ChatCompletionChunk, OpenAiError.OpenAiError>
      /**
       * {@link Service.chat.completions.stream}, opened in the caller's scope: the request id,
       * status and headers of the stream's response beside the stream of chunks. Fails (after the
       * policy's retries) if the stream cannot deliver its first chunk.
       */
      readonly open: (
        request: ChatCompletion.ChatCompletionRequest
      ) => Effect.Effect<
        Decoded<Stream.Stream<ChatCompletionChunk.ChatCompletionChunk, OpenAiError.OpenAiError>>,
        OpenAiError.OpenAiError,
        Scope.Scope
      >
    }
  }
  readonly embeddings: {
    /**
     * `POST /embeddings`. Asks for base64 unless `encoding_format` says otherwise (4x smaller on
     * the wire and far cheaper to decode); either way every vector is a `Float32Array`.
     */
    readonly create: (
      request: Embeddings.EmbeddingsRequest
    ) => Effect.Effect<Decoded<Embeddings.CreateEmbeddingResponseFloat32>, OpenAiError.OpenAiError>
  }
  readonly models: {
    /** `GET /models`. */
    readonly list: Effect.Effect<Decoded<Models.ModelsList>, OpenAiError.OpenAiError>
    /** `GET /models/{model}`. */
    readonly retrieve: (model: string) => Effect.Effect<Decoded<Models.Model>, OpenAiError.OpenAiError>
  }
  readonly responses: {
    /** `POST /responses`. */
    readonly create: (
      request: Responses.ResponsesRequest
    ) => Effect.Effect<Decoded<Responses.Response>, OpenAiError.OpenAiError>
    /**
     * `POST /responses` with `stream: true`: the decoded events, ending after `response.completed`
     * or `response.incomplete`; `error` and `response.failed` fail the stream with the typed error.
     */
    readonly stream: (
      request: Responses.ResponsesRequest
    ) => Stream.Stream<Responses.ResponseStreamEvent, OpenAiError.OpenAiError>
    /** {@link Service.responses.stream}, opened in the caller's scope, with its request id. */
    readonly open: (
      request: Responses.ResponsesRequest
    ) => Effect.Effect<
      Decoded<Stream.Stream<Responses.ResponseStreamEvent, OpenAiError.OpenAiError>>,
      OpenAiError.OpenAiError,
      Scope.Scope
    >
  }
}

/**
 * The client service.
 *
 * @example
 * ```ts
 * import { OpenAiClient } from "effect-openai-resilience"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect, Layer } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const openai = yield* OpenAiClient.OpenAiClient
 *   const { data } = yield* openai.chat.completions.create({
 *     model: "gpt-4o-mini",
 *     messages: [{ role: "user", content: "Say hi" }]
 *   })
 *   return data.choices[0]?.message.content
 * })
 *
 * const main = program.pipe(
 *   Effect.provide(OpenAiClient.layerConfig.pipe(Layer.provide(FetchHttpClient.layer)))
 * )
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class OpenAiClient extends Context.Tag("effect-openai-resilience/OpenAiClient")<OpenAiClient, Service>() {}

/**
 * Builds the service over the `HttpClient` in context.
 *
 * @example
 * ```ts
 * import { OpenAiClient } from "effect-openai-resilience"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect, Redacted } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const openai = yield* OpenAiClient.make({ apiKey: Redacted.make("sk-...") })
 *   return yield* openai.models.list
 * }).pipe(Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: Options) => Effect.Effect<Service, never, HttpClient.HttpClient> = internal.make

/**
 * The service from options.
 *
 * @example
 * ```ts
 * import { OpenAiClient } from "effect-openai-resilience"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer, Redacted } from "effect"
 *
 * const OpenAiLive = OpenAiClient.layer({
 *   apiKey: Redacted.make("sk-..."),
 *   baseUrl: "http://localhost:8000/v1"
 * }).pipe(Layer.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<OpenAiClient, never, HttpClient.HttpClient> =>
  Layer.effect(OpenAiClient, make(options))

const optionalText = (name: string): Config.Config<string | undefined> =>
  Config.string(name).pipe(
    Config.option,
    Config.map((o) => Option.getOrUndefined(Option.filter(o, (s) => s.trim().length > 0)))
  )

const optionalDuration = (name: string): Config.Config<Duration.Duration | undefined> =>
  Config.duration(name).pipe(Config.option, Config.map(Option.getOrUndefined))

/**
 * {@link Options} from configuration (environment variables by default):
 *
 * | variable | option |
 * | --- | --- |
 * | `OPENAI_API_KEY` (required) | `apiKey`, read as `Redacted` |
 * | `OPENAI_BASE_URL` | `baseUrl` (default {@link DEFAULT_BASE_URL}) |
 * | `OPENAI_ORG_ID` | `organization` |
 * | `OPENAI_PROJECT_ID` | `project` |
 * | `OPENAI_TIMEOUT` | `timeout` (an Effect duration: `"30 seconds"`, `"500 millis"`) |
 * | `OPENAI_IDLE_TIMEOUT` | `idleTimeout` |
 * | `OPENAI_DEADLINE` | `deadline` |
 * | `OPENAI_MAX_RETRIES` | `retryPolicy: RetryPolicy.make({ maxRetries })` |
 * | `OPENAI_IDEMPOTENCY_KEY` | `idempotencyKey` (`true`/`false`) |
 *
 * @example
 * ```ts
 * import { OpenAiClient } from "effect-openai-resilience"
 * import { ConfigProvider, Effect } from "effect"
 *
 * const options = OpenAiClient.config.pipe(
 *   Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["OPENAI_API_KEY", "sk-test"]])))
 * )
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Options> = Config.all({
  apiKey: Config.redacted("OPENAI_API_KEY"),
  baseUrl: Config.string("OPENAI_BASE_URL").pipe(Config.withDefault(DEFAULT_BASE_URL)),
  organization: optionalText("OPENAI_ORG_ID"),
  project: optionalText("OPENAI_PROJECT_ID"),
  timeout: optionalDuration("OPENAI_TIMEOUT"),
  idleTimeout: optionalDuration("OPENAI_IDLE_TIMEOUT"),
  deadline: optionalDuration("OPENAI_DEADLINE"),
  maxRetries: Config.integer("OPENAI_MAX_RETRIES").pipe(
    Config.validate({ message: "OPENAI_MAX_RETRIES must be 0 or more", validation: (n) => n >= 0 }),
    Config.option
  ),
  idempotencyKey: Config.boolean("OPENAI_IDEMPOTENCY_KEY").pipe(Config.withDefault(true))
}).pipe(
  Config.map(({ maxRetries, ...rest }): Options => ({
    ...rest,
    retryPolicy: Option.match(maxRetries, {
      onNone: () => undefined,
      onSome: (n) => RetryPolicy.make({ maxRetries: n })
    })
  }))
)

/**
 * The service from {@link config}: `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `OPENAI_ORG_ID`,
 * `OPENAI_PROJECT_ID`, timeouts and retries from the environment.
 *
 * @example
 * ```ts
 * import { OpenAiClient } from "effect-openai-resilience"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Layer } from "effect"
 *
 * const OpenAiLive = OpenAiClient.layerConfig.pipe(Layer.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<OpenAiClient, ConfigError.ConfigError, HttpClient.HttpClient> = Layer.effect(
  OpenAiClient,
  Effect.flatMap(config, make)
)
