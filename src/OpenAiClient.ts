/**
 * The OpenAI client: chat completions, embeddings, models and the Responses API, each call
 * decoded with `effect/Schema` and failing only with a typed {@link OpenAiError.OpenAiError} (plus
 * `CircuitOpen` / `BulkheadFull` when a breaker / bulkhead is configured). Every call is one
 * {@link Resilience} call: classification, per-attempt timeout, retries by a {@link RetryPolicy},
 * one idempotency key per call, and the limiter, breaker, bulkhead and deadline you configure;
 * the body (or a stream's first element) is consumed inside the attempt. Streams add an idle
 * timeout between chunks and turn error frames into typed errors.
 *
 * The HTTP client is its own layer: on Node `UndiciHttpClient.layer` from
 * `effect-openai-resilience/undici` (or `NodeHttpClient.layerUndici` for the platform's
 * `http.client` spans, see docs/client.md), elsewhere `FetchHttpClient.layer`, in tests a scripted
 * one.
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
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/openAiClient.js"
import { validateClient } from "./internal/resilienceOptions.js"
import type * as InvalidOptions from "./InvalidOptions.js"
import type * as OpenAiError from "./OpenAiError.js"
import type * as RateLimitHeaders from "./RateLimitHeaders.js"
import * as Resilience from "./Resilience.js"
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
export const DEFAULT_TIMEOUT: Duration.Duration = Resilience.DEFAULT_TIMEOUT

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
 *   idleTimeout: "30 seconds",
 *   resilience: { timeout: "60 seconds", deadline: "3 minutes", retryPolicy: RetryPolicy.make({ maxRetries: 3 }) }
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<R = never> {
  /** The API key. It stays `Redacted`: it is only revealed into the `Authorization` header. */
  readonly apiKey: Redacted.Redacted<string>
  /** The API root (default {@link DEFAULT_BASE_URL}); any OpenAI-compatible server works. */
  readonly baseUrl?: string | undefined
  /** Sent as `OpenAI-Organization`. */
  readonly organization?: string | undefined
  /** Sent as `OpenAI-Project`. */
  readonly project?: string | undefined
  /** The longest silence within a stream (default {@link DEFAULT_IDLE_TIMEOUT}); phase `"idle"`. */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /**
   * The layers of every call: retry policy, per-attempt timeout (default {@link DEFAULT_TIMEOUT}),
   * deadline, idempotency key, attempt header, limiter, breaker, bulkhead. The API key is always
   * among the secrets scrubbed. See {@link Resilience.Options}.
   */
  readonly resilience?: Resilience.Options<R> | undefined
  /**
   * Whether requests open `@effect/platform`'s `http.client` span and send `traceparent`.
   * Default: yes when a Tracer other than Effect's default one (which exports nothing) is in place
   * when the client is built, e.g. `@effect/opentelemetry`; no otherwise, which saves the span's
   * cost on every call.
   */
  readonly tracing?: boolean | undefined
  /**
   * Request tweaks applied on every attempt, inside the stack (extra headers, logging, a proxy's
   * URL rewriting). The limiter, breaker and bulkhead belong in `resilience`, where their order
   * is kept.
   */
  readonly transformClient?: ((client: HttpClient.HttpClient) => HttpClient.HttpClient) | undefined
}

/**
 * What a client built from options `O` fails with: every `OpenAiError`, plus `CircuitOpen` and
 * `BulkheadFull` exactly when `O.resilience` has a breaker and a bulkhead.
 *
 * @example
 * ```ts
 * import type { CircuitBreaker, OpenAiClient } from "effect-openai-resilience"
 * import type { Redacted } from "effect"
 *
 * type E = OpenAiClient.Failure<{ apiKey: Redacted.Redacted; resilience: { breaker: CircuitBreaker.CircuitBreaker } }>
 * // OpenAiError | CircuitOpen
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Failure<O> = Resilience.Failure<ResilienceOf<O>>

/**
 * What a client built from options `O` requires when it is built: its retry policy's
 * requirements (a `RetryBudget`, say). Calls themselves require nothing.
 *
 * @example
 * ```ts
 * import type { OpenAiClient, RetryBudget, RetryPolicy } from "effect-openai-resilience"
 * import type { Redacted } from "effect"
 *
 * type R = OpenAiClient.Requirements<{
 *   apiKey: Redacted.Redacted
 *   resilience: { retryPolicy: RetryPolicy.RetryPolicy<RetryBudget.RetryBudget> }
 * }>
 * // RetryBudget
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Requirements<O> = Resilience.Requirements<ResilienceOf<O>>

type ResilienceOf<O> = "resilience" extends keyof O ? Exclude<O["resilience" & keyof O], undefined> : {}

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
 * The client's operations. Each effect and each stream fails with `E`: `OpenAiError`, plus
 * `CircuitOpen` / `BulkheadFull` when the client has a breaker / bulkhead ({@link Failure}).
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
export interface Service<E = OpenAiError.OpenAiError> {
  /** The resilient HTTP client the operations use (base URL and auth applied), for other endpoints. */
  readonly httpClient: HttpClient.HttpClient.With<E>
  readonly chat: {
    readonly completions: {
      /** `POST /chat/completions`. */
      readonly create: (
        request: ChatCompletion.ChatCompletionRequest
      ) => Effect.Effect<Decoded<ChatCompletion.ChatCompletion>, E>
      /**
       * `POST /chat/completions` with `stream: true`: the decoded chunks, ending at `[DONE]`. Retried
       * until the first chunk; never replayed after.
       */
      readonly stream: (
        request: ChatCompletion.ChatCompletionRequest
      ) => Stream.Stream<ChatCompletionChunk.ChatCompletionChunk, E>
      /**
       * {@link Service.chat.completions.stream}, opened in the caller's scope: the request id,
       * status and headers of the stream's response beside the stream of chunks. Fails (after the
       * policy's retries) if the stream cannot deliver its first chunk.
       */
      readonly open: (
        request: ChatCompletion.ChatCompletionRequest
      ) => Effect.Effect<
        Decoded<Stream.Stream<ChatCompletionChunk.ChatCompletionChunk, E>>,
        E,
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
    ) => Effect.Effect<Decoded<Embeddings.CreateEmbeddingResponseFloat32>, E>
  }
  readonly models: {
    /** `GET /models`. */
    readonly list: Effect.Effect<Decoded<Models.ModelsList>, E>
    /** `GET /models/{model}`. */
    readonly retrieve: (model: string) => Effect.Effect<Decoded<Models.Model>, E>
  }
  readonly responses: {
    /** `POST /responses`. */
    readonly create: (
      request: Responses.ResponsesRequest
    ) => Effect.Effect<Decoded<Responses.Response>, E>
    /**
     * `POST /responses` with `stream: true`: the decoded events, ending after `response.completed`
     * or `response.incomplete`; `error` and `response.failed` fail the stream with the typed error.
     */
    readonly stream: (
      request: Responses.ResponsesRequest
    ) => Stream.Stream<Responses.ResponseStreamEvent, E>
    /** {@link Service.responses.stream}, opened in the caller's scope, with its request id. */
    readonly open: (
      request: Responses.ResponsesRequest
    ) => Effect.Effect<
      Decoded<Stream.Stream<Responses.ResponseStreamEvent, E>>,
      E,
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
export const make = <O extends Options<unknown>>(
  options: O
): Effect.Effect<Service<Failure<O>>, InvalidOptions.InvalidOptions, HttpClient.HttpClient | Requirements<O>> =>
  Effect.zipRight(validateClient(options), internal.make(options)) as unknown as Effect.Effect<
    Service<Failure<O>>,
    InvalidOptions.InvalidOptions,
    HttpClient.HttpClient | Requirements<O>
  >

/**
 * Options of {@link layer}: those whose calls fail with `OpenAiError` alone, which is what the
 * {@link OpenAiClient} tag promises. With a breaker or a bulkhead, give the client a tag of your
 * own whose type says so: `class Ai extends Effect.Service<Ai>()("app/Ai", { effect: OpenAiClient.make(options) }) {}`.
 *
 * @since 0.1.0
 * @category models
 */
export interface LayerOptions<R = never> extends Omit<Options<R>, "resilience"> {
  readonly resilience?:
    | Resilience.Options<R> & { readonly breaker?: undefined; readonly bulkhead?: undefined }
    | undefined
}

/**
 * The service from options.
 *
 * @example
 * ```ts
 * import { OpenAiClient } from "effect-openai-resilience"
 * import { UndiciHttpClient } from "effect-openai-resilience/undici"
 * import { Layer, Redacted } from "effect"
 *
 * const OpenAiLive = OpenAiClient.layer({
 *   apiKey: Redacted.make("sk-..."),
 *   baseUrl: "http://localhost:8000/v1"
 * }).pipe(Layer.provide(UndiciHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <R = never>(
  options: LayerOptions<R>
): Layer.Layer<OpenAiClient, InvalidOptions.InvalidOptions, HttpClient.HttpClient | R> =>
  Layer.effect(
    OpenAiClient,
    Effect.zipRight(validateClient(options), internal.make(options)) as Effect.Effect<
      Service,
      InvalidOptions.InvalidOptions,
      HttpClient.HttpClient | R
    >
  )

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
 * | `OPENAI_TIMEOUT` | `resilience.timeout` (an Effect duration: `"30 seconds"`, `"500 millis"`) |
 * | `OPENAI_IDLE_TIMEOUT` | `idleTimeout` |
 * | `OPENAI_DEADLINE` | `resilience.deadline` |
 * | `OPENAI_MAX_RETRIES` | `resilience.retryPolicy: RetryPolicy.make({ maxRetries })` |
 * | `OPENAI_IDEMPOTENCY_KEY` | `resilience.idempotencyKey` (`true`/`false`) |
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
export const config: Config.Config<LayerOptions> = Config.all({
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
  Config.map(({ deadline, idempotencyKey, maxRetries, timeout, ...rest }): LayerOptions => ({
    ...rest,
    resilience: {
      timeout,
      deadline,
      idempotencyKey,
      retryPolicy: Option.match(maxRetries, {
        onNone: () => undefined,
        onSome: (n) => RetryPolicy.make({ maxRetries: n })
      })
    }
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
export const layerConfig: Layer.Layer<
  OpenAiClient,
  ConfigError.ConfigError | InvalidOptions.InvalidOptions,
  HttpClient.HttpClient
> = Layer.effect(
  OpenAiClient,
  Effect.flatMap(config, (options) => make(options))
)
