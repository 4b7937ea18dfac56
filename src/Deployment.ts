/**
 * A deployment: one place a request can be served, with its own client and its own resilience.
 * It is a base URL, credentials, a model name, and the layers of a call (its own limiter, its own
 * breaker, its own retry policy), for any of three providers:
 *
 * - OpenAI ({@link openAi}): `Authorization: Bearer <key>`, `/v1/...`;
 * - Azure OpenAI ({@link azure}): the `api-key` header or an Entra ID bearer token from a
 *   refreshable provider (refreshed before it expires and on a 401), the v1 API
 *   (`/openai/v1/...`) or the deployments API (`/openai/deployments/{deployment}/...` with the
 *   `api-version` query parameter);
 * - any OpenAI-compatible server ({@link compatible}): vLLM, Ollama, a LiteLLM proxy.
 *
 * Deployments are what a {@link Fallback} plan moves between.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import type * as Bulkhead from "./Bulkhead.js"
import type * as CircuitBreaker from "./CircuitBreaker.js"
import * as internal from "./internal/deployment.js"
import type * as OpenAiClient from "./OpenAiClient.js"
import type * as OpenAiError from "./OpenAiError.js"
import type * as Resilience from "./Resilience.js"
import type * as InvalidOptions from "./InvalidOptions.js"

/**
 * Who serves a deployment.
 *
 * @since 0.1.0
 * @category models
 */
export type Provider = "openai" | "azure" | "compatible"

/**
 * What any deployment can fail with: every `OpenAiError`, `CircuitOpen` from its breaker and
 * `BulkheadFull` from its bulkhead.
 *
 * @since 0.1.0
 * @category models
 */
export type Failure = OpenAiError.OpenAiError | CircuitBreaker.CircuitOpen | Bulkhead.BulkheadFull

/**
 * A deployment, built: its name, provider, model, the fingerprint of its credentials, its context
 * window, and its client (which fails with `E`).
 *
 * @example
 * ```ts
 * import type { Deployment } from "effect-openai-resilience"
 *
 * const describe = (d: Deployment.Deployment) => `${d.name} (${d.provider}, ${d.model ?? "request's model"})`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Deployment<E = OpenAiError.OpenAiError> {
  /** How moves and span events name it. */
  readonly name: string
  readonly provider: Provider
  /** Replaces the request's `model` when set (for Azure: the deployment's name, unless given). */
  readonly model: string | undefined
  /**
   * Identifies the credentials without showing them (a fingerprint of the key, the Azure
   * resource for Entra ID tokens, or `credentialId`): a plan never uses a credential again after
   * it answered `QuotaExceeded`.
   */
  readonly credential: string
  /** Tokens the model accepts, for moves on `ContextLengthExceeded`. */
  readonly contextWindow: number | undefined
  /** The deployment's own client: its URL, credentials and resilience. */
  readonly client: OpenAiClient.Service<E>
}

/**
 * What every provider's options share.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommonOptions<R = never> {
  /** The deployment's name, in moves and span events. */
  readonly name: string
  /** Replaces the request's `model`. */
  readonly model?: string | undefined
  /** Tokens the model accepts (prompt and reply). */
  readonly contextWindow?: number | undefined
  /** Names the credentials (an organization, a key's label) instead of a fingerprint of the key. */
  readonly credentialId?: string | undefined
  /**
   * The deployment's own layers: retry policy, timeouts, limiter, breaker, bulkhead. Give each
   * deployment its own breaker and limiter: a plan moves on as soon as one is open or full.
   */
  readonly resilience?: Resilience.Options<R> | undefined
  /** The longest silence within a stream. */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /** See `OpenAiClient.Options.tracing`. */
  readonly tracing?: boolean | undefined
  /** Request tweaks applied on every attempt, after the provider's URL and credentials. */
  readonly transformClient?: ((client: HttpClient.HttpClient) => HttpClient.HttpClient) | undefined
}

/**
 * Options of {@link openAi}.
 *
 * @since 0.1.0
 * @category models
 */
export interface OpenAiOptions<R = never> extends CommonOptions<R> {
  readonly apiKey: Redacted.Redacted<string>
  /** Default `https://api.openai.com/v1`. */
  readonly baseUrl?: string | undefined
  readonly organization?: string | undefined
  readonly project?: string | undefined
}

/**
 * Options of {@link compatible}.
 *
 * @since 0.1.0
 * @category models
 */
export interface CompatibleOptions<R = never> extends CommonOptions<R> {
  /** The server's API root, such as `http://localhost:8000/v1`. */
  readonly baseUrl: string
  /** Sent as a bearer token; many local servers need none. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
}

/**
 * An access token and when it expires (epoch milliseconds).
 *
 * @since 0.1.0
 * @category models
 */
export interface AccessToken {
  readonly token: Redacted.Redacted<string>
  readonly expiresAt: number
}

/**
 * Gets a fresh Entra ID token. Called when there is none, when the current one is about to
 * expire, and after a 401. A failure reaches the caller as a `ConnectionError`.
 *
 * @since 0.1.0
 * @category models
 */
export type TokenProvider = Effect.Effect<AccessToken, unknown>

/**
 * The shape of `@azure/identity`'s credentials (`DefaultAzureCredential`, `ManagedIdentityCredential`,
 * ...), so that they can be used without this library depending on it.
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenCredential {
  getToken(
    scopes: string | Array<string>
  ): Promise<{ readonly token: string; readonly expiresOnTimestamp: number } | null>
}

/**
 * How an Azure deployment authenticates: its `api-key`, or Entra ID tokens.
 *
 * @since 0.1.0
 * @category models
 */
export type AzureAuth =
  | { readonly apiKey: Redacted.Redacted<string> }
  | {
    readonly entraId: TokenProvider
    /** Get a new token this long before the current one expires (default 5 minutes). */
    readonly refreshBefore?: Duration.DurationInput | undefined
  }

/**
 * Options of {@link azure}.
 *
 * @since 0.1.0
 * @category models
 */
export interface AzureOptions<R = never> extends CommonOptions<R> {
  /** The resource's endpoint: `https://my-resource.openai.azure.com`. */
  readonly endpoint: string
  /** The deployment's name, as created in the Azure portal. It is the `model` sent, unless `model` is given. */
  readonly deployment: string
  /**
   * `"v1"` (default): `/openai/v1/...`, no `api-version` needed. `"deployments"`:
   * `/openai/deployments/{deployment}/...?api-version=...`.
   */
  readonly api?: "v1" | "deployments" | undefined
  /** The `api-version` query parameter: default `2024-10-21` for `"deployments"`, none for `"v1"`. */
  readonly apiVersion?: string | undefined
  readonly auth: AzureAuth
}

/**
 * What a deployment built from options `O` fails with (see `OpenAiClient.Failure`).
 *
 * @since 0.1.0
 * @category models
 */
export type FailureOf<O> = OpenAiClient.Failure<O>

/**
 * What building a deployment from options `O` requires: the `HttpClient` and its retry policy's
 * requirements.
 *
 * @since 0.1.0
 * @category models
 */
export type RequirementsOf<O> = HttpClient.HttpClient | OpenAiClient.Requirements<O>

/**
 * An OpenAI deployment.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, Deployment } from "effect-openai-resilience"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect, Redacted } from "effect"
 *
 * const primary = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({ name: "openai" })
 *   return yield* Deployment.openAi({
 *     name: "openai",
 *     apiKey: Redacted.make("sk-..."),
 *     model: "gpt-4o-mini",
 *     contextWindow: 128_000,
 *     resilience: { breaker, timeout: "30 seconds" }
 *   })
 * }).pipe(Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const openAi = <O extends OpenAiOptions<unknown>>(
  options: O
): Effect.Effect<Deployment<FailureOf<O>>, InvalidOptions.InvalidOptions, RequirementsOf<O>> =>
  internal.make<FailureOf<O>, RequirementsOf<O>>(options.name, options.contextWindow, Effect.sync(() => internal.openAi(options)))

/**
 * An Azure OpenAI deployment: the v1 API by default, or the deployments API with its
 * `api-version`; an `api-key` or Entra ID tokens.
 *
 * @example
 * ```ts
 * import { Deployment } from "effect-openai-resilience"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect, Redacted } from "effect"
 *
 * const azure = Deployment.azure({
 *   name: "azure-eastus",
 *   endpoint: "https://my-resource.openai.azure.com",
 *   deployment: "gpt-4o-mini-prod",
 *   api: "deployments",
 *   apiVersion: "2024-10-21",
 *   auth: { apiKey: Redacted.make("azure-key") },
 *   contextWindow: 128_000
 * }).pipe(Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const azure = <O extends AzureOptions<unknown>>(
  options: O
): Effect.Effect<Deployment<FailureOf<O>>, InvalidOptions.InvalidOptions, RequirementsOf<O>> =>
  internal.make<FailureOf<O>, RequirementsOf<O>>(options.name, options.contextWindow, internal.azure(options))

/**
 * Any OpenAI-compatible server: vLLM, Ollama, a LiteLLM proxy, OpenRouter.
 *
 * @example
 * ```ts
 * import { Deployment } from "effect-openai-resilience"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const local = Deployment.compatible({
 *   name: "vllm",
 *   baseUrl: "http://localhost:8000/v1",
 *   model: "meta-llama/Llama-3.1-8B-Instruct",
 *   contextWindow: 32_768
 * }).pipe(Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const compatible = <O extends CompatibleOptions<unknown>>(
  options: O
): Effect.Effect<Deployment<FailureOf<O>>, InvalidOptions.InvalidOptions, RequirementsOf<O>> =>
  internal.make<FailureOf<O>, RequirementsOf<O>>(options.name, options.contextWindow, Effect.sync(() => internal.compatible(options)))

/**
 * Entra ID tokens from an `@azure/identity` credential (`DefaultAzureCredential`, a managed
 * identity...), for the scope `https://cognitiveservices.azure.com/.default` unless given.
 *
 * @example
 * ```ts
 * import { Deployment } from "effect-openai-resilience"
 *
 * declare const credential: Deployment.TokenCredential // new DefaultAzureCredential()
 * const auth: Deployment.AzureAuth = { entraId: Deployment.tokenCredential(credential) }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const tokenCredential = (
  credential: TokenCredential,
  scope: string = internal.AZURE_SCOPE
): TokenProvider => internal.fromTokenCredential(credential, scope)
