/**
 * The implementation behind `Deployment`: how each provider's URL and credentials are put on a
 * request, built on the client's own `baseUrl` and `transformClient` options, and the retry
 * policy a fallback plan can cut short.
 * @internal
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Deployment from "../Deployment.js"
import * as OpenAiClient from "../OpenAiClient.js"
import type * as OpenAiError from "../OpenAiError.js"
import type * as Resilience from "../Resilience.js"
import * as RetryPolicy from "../RetryPolicy.js"
import { millisOr } from "./retryPolicy.js"
import type { InvalidOptions } from "../InvalidOptions.js"

/** @internal */
export const AZURE_API_VERSION = "2024-10-21"
/** @internal */
export const AZURE_SCOPE = "https://cognitiveservices.azure.com/.default"
/** @internal */
export const DEFAULT_REFRESH_BEFORE: Duration.Duration = Duration.minutes(5)

/**
 * Whether the deployment now running should be left at once on this error instead of retried:
 * set by a fallback plan while another deployment is there to take over, read by every
 * deployment's retry policy. Outside a plan it never leaves early.
 * @internal
 */
export const leaveEarly: FiberRef.FiberRef<(error: OpenAiError.OpenAiError) => boolean> = globalValue(
  "effect-openai-resilience/Deployment/leaveEarly",
  () => FiberRef.unsafeMake<(error: OpenAiError.OpenAiError) => boolean>(() => false)
)

// The deployment's own policy, which stops as soon as the plan says the next deployment should
// take over (an overloaded engine, a rate limit whose wait is longer than the plan's bound).
const planAware = <R>(
  policy: Schedule.Schedule<unknown, OpenAiError.OpenAiError, R>
): Schedule.Schedule<unknown, OpenAiError.OpenAiError, R> =>
  Schedule.checkEffect(policy, (error) => Effect.map(FiberRef.get(leaveEarly), (leave) => !leave(error)))

// FNV-1a: a short fingerprint that tells two keys apart without keeping or showing either.
const fingerprint = (text: string): string => {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash >>> 0).toString(16).padStart(8, "0")
}

const trimSlash = (url: string) => url.replace(/\/+$/, "")

type Tweak = (client: HttpClient.HttpClient) => HttpClient.HttpClient

const compose = (inner: Tweak | undefined, outer: Tweak | undefined): Tweak | undefined =>
  inner === undefined ? outer : outer === undefined ? inner : (client) => outer(inner(client))

// The client always sends `Authorization: Bearer <apiKey>`; Azure's key goes in `api-key` instead.
// Headers cannot be removed from a request in place, so the request is rebuilt without it.
const withoutAuthorization = (request: HttpClientRequest.HttpClientRequest): HttpClientRequest.HttpClientRequest =>
  request.headers["authorization"] === undefined ? request : HttpClientRequest.make(request.method)(request.url, {
    headers: Headers.remove(request.headers, "authorization"),
    urlParams: request.urlParams,
    body: request.body,
    ...(request.hash._tag === "Some" ? { hash: request.hash.value } : {})
  })

const apiKeyAuth = (key: Redacted.Redacted<string>): Tweak =>
  HttpClient.mapRequest((request) => HttpClientRequest.setHeader(withoutAuthorization(request), "api-key", Redacted.value(key)))

const tokenError = (request: HttpClientRequest.HttpClientRequest, cause: unknown) =>
  new HttpClientError.RequestError({
    request,
    reason: "Transport",
    cause,
    description: `Could not get an Entra ID token: ${cause instanceof Error ? cause.message : String(cause)}`
  })

/**
 * A token cache over a provider: one fetch at a time, refreshed `refreshBefore` ahead of expiry,
 * and dropped when the server refuses it (only if it is still the current one, so that many
 * concurrent 401s refresh once).
 * @internal
 */
export const tokenCache = (
  provider: Deployment.TokenProvider,
  refreshBefore: Duration.DurationInput | undefined
): Effect.Effect<{
  readonly get: Effect.Effect<Redacted.Redacted<string>, unknown>
  readonly invalidate: (stale: Redacted.Redacted<string>) => Effect.Effect<void>
}> =>
  Effect.map(Effect.makeSemaphore(1), (lock) => {
    const margin = millisOr(refreshBefore, Duration.toMillis(DEFAULT_REFRESH_BEFORE))
    let current: Deployment.AccessToken | undefined
    const fresh = (now: number) => current !== undefined && now < current.expiresAt - margin ? current.token : undefined
    const refresh = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const token = fresh(now)
      return token !== undefined ? Effect.succeed(token) : Effect.map(provider, (t) => {
        current = t
        return t.token
      })
    })
    return {
      get: Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const token = fresh(now)
        return token !== undefined ? Effect.succeed(token) : lock.withPermits(1)(refresh)
      }),
      invalidate: (stale) =>
        Effect.sync(() => {
          if (current !== undefined && current.token === stale) current = undefined
        })
    }
  })

// A bearer token from the cache on every request; a 401 drops it and sends the request once more
// with a new one (the provider may have rotated it before its stated expiry).
const entraAuth = (
  cache: Effect.Effect.Success<ReturnType<typeof tokenCache>>
): Tweak =>
(client) => {
  // Set after the client's own preprocessing, which puts its (empty) key in the same header.
  const send = (request: HttpClientRequest.HttpClientRequest) =>
    Effect.flatMap(
      Effect.mapError(cache.get, (cause) => tokenError(request, cause)),
      (token) =>
        Effect.map(
          HttpClient.mapRequest(client, HttpClientRequest.bearerToken(token)).execute(request),
          (response) => ({ response, token })
        )
    )
  // `makeWith`, not `make`: the URL is still relative here (the client's base URL comes after).
  return HttpClient.makeWith<HttpClientError.HttpClientError, never, HttpClientError.HttpClientError, never>(
    (effect) =>
      Effect.flatMap(effect, (request) =>
        Effect.flatMap(send(request), ({ response, token }) =>
          response.status !== 401
            ? Effect.succeed(response)
            : Effect.zipRight(
              Effect.zipRight(Effect.ignore(response.arrayBuffer), cache.invalidate(token)),
              Effect.map(send(request), (again) => again.response)
            ))),
    Effect.succeed
  )
}

const azureUrl = (options: Deployment.AzureOptions<unknown>): { readonly baseUrl: string; readonly version?: string } => {
  const endpoint = trimSlash(options.endpoint)
  if (options.api === "deployments") {
    return {
      baseUrl: `${endpoint}/openai/deployments/${encodeURIComponent(options.deployment)}`,
      version: options.apiVersion ?? AZURE_API_VERSION
    }
  }
  return options.apiVersion === undefined
    ? { baseUrl: `${endpoint}/openai/v1` }
    : { baseUrl: `${endpoint}/openai/v1`, version: options.apiVersion }
}

const withVersion = (version: string | undefined): Tweak | undefined =>
  version === undefined ? undefined : HttpClient.mapRequest(HttpClientRequest.setUrlParam("api-version", version))

// The deployment's own resilience, with its retry policy made plan-aware.
const resilienceOf = <R>(options: Resilience.Options<R> | undefined): Resilience.Options<R> => ({
  ...options,
  retryPolicy: planAware(options?.retryPolicy ?? RetryPolicy.default) as Schedule.Schedule<
    unknown,
    OpenAiError.OpenAiError,
    R
  >
})

interface Built {
  readonly provider: Deployment.Provider
  readonly credential: string
  readonly model: string | undefined
  readonly client: OpenAiClient.Options<unknown>
}

/** @internal */
export const openAi = (options: Deployment.OpenAiOptions<unknown>): Built => {
  const baseUrl = trimSlash(options.baseUrl ?? OpenAiClient.DEFAULT_BASE_URL)
  return {
    provider: "openai",
    credential: options.credentialId ?? `key:${fingerprint(Redacted.value(options.apiKey))}`,
    model: options.model,
    client: { ...clientOptions(options), apiKey: options.apiKey, baseUrl }
  }
}

/** @internal */
export const compatible = (options: Deployment.CompatibleOptions<unknown>): Built => {
  const baseUrl = trimSlash(options.baseUrl)
  return {
    provider: "compatible",
    credential: options.credentialId ??
      (options.apiKey === undefined ? `url:${baseUrl}` : `key:${fingerprint(Redacted.value(options.apiKey))}`),
    model: options.model,
    client: { ...clientOptions(options), apiKey: options.apiKey ?? Redacted.make(""), baseUrl }
  }
}

/** @internal */
export const azure = (
  options: Deployment.AzureOptions<unknown>
): Effect.Effect<Built> =>
  Effect.gen(function*() {
    const { baseUrl, version } = azureUrl(options)
    const auth = options.auth
    const model = options.model ?? options.deployment
    const base = clientOptions(options)
    if ("apiKey" in auth) {
      return {
        provider: "azure",
        credential: options.credentialId ?? `key:${fingerprint(Redacted.value(auth.apiKey))}`,
        model,
        client: {
          ...base,
          apiKey: auth.apiKey,
          baseUrl,
          transformClient: compose(compose(withVersion(version), apiKeyAuth(auth.apiKey)), options.transformClient)
        }
      }
    }
    const cache = yield* tokenCache(auth.entraId, auth.refreshBefore)
    return {
      provider: "azure",
      // Quota is the resource's: every token for this endpoint spends the same one.
      credential: options.credentialId ?? `entra:${trimSlash(options.endpoint)}`,
      model,
      client: {
        ...base,
        // No key: the bearer header the client sets is replaced by the token's.
        apiKey: Redacted.make(""),
        baseUrl,
        transformClient: compose(compose(withVersion(version), entraAuth(cache)), options.transformClient)
      }
    }
  })

const clientOptions = (options: Deployment.CommonOptions<unknown>): Omit<OpenAiClient.Options<unknown>, "apiKey"> => ({
  resilience: resilienceOf(options.resilience),
  idleTimeout: options.idleTimeout,
  tracing: options.tracing,
  transformClient: options.transformClient,
  ...("organization" in options ? { organization: options.organization as string | undefined } : {}),
  ...("project" in options ? { project: options.project as string | undefined } : {})
})

/**
 * The deployment's client, typed by what its options configured: the error channel `E` and the
 * requirements `R` follow from the options (the public constructors compute both), which the
 * client built from them at run time cannot show.
 * @internal
 */
export const make = <E, R>(
  name: string,
  contextWindow: number | undefined,
  built: Effect.Effect<Built>
): Effect.Effect<Deployment.Deployment<E>, InvalidOptions, R> =>
  Effect.gen(function*() {
    const b = yield* built
    const client = yield* OpenAiClient.make(b.client)
    return {
      name,
      provider: b.provider,
      model: b.model,
      credential: b.credential,
      contextWindow,
      client: client as unknown as OpenAiClient.Service<E>
    }
  }) as Effect.Effect<Deployment.Deployment<E>, InvalidOptions, R>

/** @internal */
export const fromTokenCredential = (
  credential: Deployment.TokenCredential,
  scope: string
): Deployment.TokenProvider =>
  Effect.flatMap(
    Effect.tryPromise(() => credential.getToken(scope)),
    (token) =>
      token === null
        ? Effect.fail(new Error(`The credential returned no token for ${scope}`))
        : Effect.succeed({ token: Redacted.make(token.token), expiresAt: token.expiresOnTimestamp })
  )
