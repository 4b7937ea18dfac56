import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as Deployment from "../src/Deployment.js"
import * as Fallback from "../src/Fallback.js"
import * as S from "../src/testing/ScriptedHttpClient.js"
import { chatRequest, completion } from "./support/client.js"

const AZURE_KEY = "azure0123456789abcdef0123456789ab"
const ENDPOINT = "https://my-resource.openai.azure.com/"


const urlOf = (scripted: S.Scripted, n: number) => {
  const request = scripted.requests[n]
  return request === undefined ? undefined : Option.getOrUndefined(HttpClientRequest.toUrl(request))?.toString()
}

const bodyOf = (scripted: S.Scripted, n: number): Record<string, unknown> | undefined => {
  const body = scripted.requests[n]?.body
  return body?._tag === "Uint8Array" ? JSON.parse(new TextDecoder().decode(body.body)) : undefined
}

const over = (scripted: S.Scripted) => Effect.provideService(HttpClient.HttpClient, scripted.client)

// An Azure deployment over `scripted`: the defaults below, then the test's own options.
const azureOver = (
  scripted: S.Scripted,
  // No breaker or bulkhead here, so the deployment fails with OpenAiError alone.
  options: Partial<Omit<Deployment.AzureOptions, "resilience">> & { readonly resilience?: { readonly retryPolicy?: undefined } } =
    {}
) =>
  Deployment.azure({
    name: "azure",
    endpoint: ENDPOINT,
    deployment: "gpt-4o-mini",
    auth: { apiKey: Redacted.make(AZURE_KEY) },
    ...options
  }).pipe(over(scripted))

// A provider that hands out tok-1, tok-2, ... each valid for an hour from when it was issued.
const counter = () => {
  let issued = 0
  const provider: Deployment.TokenProvider = Effect.map(Effect.clockWith((c) => c.currentTimeMillis), (now) => {
    issued++
    return { token: Redacted.make(`tok-${issued}`), expiresAt: now + 60 * 60 * 1000 }
  })
  return { provider, issued: () => issued }
}

describe("Deployment.azure", () => {
  it.effect("deployments API: /openai/deployments/{deployment}/..., api-version, the api-key header and no bearer", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.json(200, completion, { "apim-request-id": "apim-1" })])
      const d = yield* azureOver(scripted, { deployment: "gpt-4o prod", api: "deployments" })
      const result = yield* d.client.chat.completions.create({ ...chatRequest, model: d.model ?? chatRequest.model })
      assert.strictEqual(result.data.choices[0]?.message.content, "Hi!")
      assert.strictEqual(
        urlOf(scripted, 0),
        "https://my-resource.openai.azure.com/openai/deployments/gpt-4o%20prod/chat/completions?api-version=2024-10-21"
      )
      assert.strictEqual(S.header(scripted, 0, "api-key"), AZURE_KEY)
      assert.isUndefined(S.header(scripted, 0, "authorization"))
      assert.strictEqual(bodyOf(scripted, 0)?.["model"], "gpt-4o prod")
      assert.strictEqual(d.provider, "azure")
      assert.notInclude(d.credential, AZURE_KEY)
    }))

  it.effect("v1 API: /openai/v1/..., no api-version unless given, the deployment as the model", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.json(200, completion), S.json(200, completion)])
      const plain = yield* azureOver(scripted, { deployment: "gpt-4o-mini-prod" })
      yield* plain.client.chat.completions.create({ ...chatRequest, model: plain.model ?? "" })
      assert.strictEqual(urlOf(scripted, 0), "https://my-resource.openai.azure.com/openai/v1/chat/completions")
      assert.strictEqual(bodyOf(scripted, 0)?.["model"], "gpt-4o-mini-prod")
      const preview = yield* azureOver(scripted, { deployment: "gpt-4o-mini-prod", apiVersion: "preview" })
      yield* preview.client.chat.completions.create(chatRequest)
      assert.strictEqual(urlOf(scripted, 1), "https://my-resource.openai.azure.com/openai/v1/chat/completions?api-version=preview")
    }))

  it.effect("an Azure error quoting the key keeps it out of the typed error", () =>
    Effect.gen(function*() {
      const scripted = S.make([
        S.json(401, { error: { code: "401", message: `Access denied due to invalid subscription key ${AZURE_KEY}.` } })
      ])
      const d = yield* azureOver(scripted)
      const error = yield* Effect.flip(d.client.chat.completions.create(chatRequest))
      assert.strictEqual(error.status._tag === "Some" ? error.status.value : 0, 401)
      assert.notInclude(JSON.stringify(error), AZURE_KEY)
      assert.notInclude(error.message, AZURE_KEY)
    }))

  it.effect("an Azure 429 is a typed rate limit with its apim-request-id and delay, and a plan moves on at once", () =>
    Effect.gen(function*() {
      const azure429 = S.json(429, {
        error: {
          code: "429",
          message:
            "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 30 seconds."
        }
      }, { "retry-after": "30", "apim-request-id": "apim-429", "x-ratelimit-remaining-requests": "-1" })
      const scripted = S.make([azure429, S.json(200, completion)])
      const east = yield* azureOver(scripted, { name: "east" })
      const west = yield* azureOver(scripted, {
        name: "west",
        endpoint: "https://my-west.openai.azure.com",
        auth: { apiKey: Redacted.make(`${AZURE_KEY}-west`) }
      })
      const plan = yield* Fallback.make([east, west])
      const result = yield* plan.chat.completions.create(chatRequest) // no clock moved: nothing waited
      assert.strictEqual(result.route.served, "west")
      const left = result.route.left[0]
      assert.isTrue(left?._tag === "Failed" && left.error._tag === "RateLimitReached")
      if (left?._tag === "Failed") {
        assert.deepStrictEqual(left.error.requestId, Option.some("apim-429"))
        assert.deepStrictEqual(Option.map(left.error.retryAfter, Duration.toSeconds), Option.some(30))
      }
      assert.strictEqual(urlOf(scripted, 1), "https://my-west.openai.azure.com/openai/v1/chat/completions")
    }))

  it.effect("Entra ID: a bearer token from the provider, reused until shortly before it expires", () =>
    Effect.gen(function*() {
      const tokens = counter()
      const scripted = S.make([S.json(200, completion), S.json(200, completion), S.json(200, completion)])
      const d = yield* azureOver(scripted, { auth: { entraId: tokens.provider, refreshBefore: "5 minutes" } })
      yield* d.client.chat.completions.create(chatRequest)
      yield* TestClock.adjust("54 minutes")
      yield* d.client.chat.completions.create(chatRequest)
      assert.strictEqual(tokens.issued(), 1)
      yield* TestClock.adjust("1 minute") // now within 5 minutes of expiry
      yield* d.client.chat.completions.create(chatRequest)
      assert.strictEqual(tokens.issued(), 2)
      assert.deepStrictEqual(
        [0, 1, 2].map((n) => S.header(scripted, n, "authorization")),
        ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]
      )
      assert.isUndefined(S.header(scripted, 0, "api-key"))
      assert.strictEqual(d.credential, "entra:https://my-resource.openai.azure.com")
    }))

  it.effect("Entra ID: a 401 gets a new token and the request is sent once more", () =>
    Effect.gen(function*() {
      const tokens = counter()
      const scripted = S.make([S.json(401, S.errorBody("Token expired", null, "401")), S.json(200, completion)])
      const d = yield* azureOver(scripted, { auth: { entraId: tokens.provider } })
      const result = yield* d.client.chat.completions.create(chatRequest)
      assert.strictEqual(result.status, 200)
      assert.strictEqual(tokens.issued(), 2)
      assert.strictEqual(S.header(scripted, 1, "authorization"), "Bearer tok-2")
    }))

  it.effect("Entra ID: a second 401 is the typed error, after one refresh only", () =>
    Effect.gen(function*() {
      const tokens = counter()
      const scripted = S.make([
        S.json(401, S.errorBody("PermissionDenied", null, null)),
        S.json(401, S.errorBody("PermissionDenied", null, null))
      ])
      const d = yield* azureOver(scripted, { auth: { entraId: tokens.provider } })
      const error = yield* Effect.flip(d.client.chat.completions.create(chatRequest))
      assert.strictEqual(error._tag, "InvalidAuthentication")
      assert.strictEqual(scripted.requests.length, 2)
    }))

  it.effect("Entra ID: a provider that fails is a ConnectionError, not a defect", () =>
    Effect.gen(function*() {
      const scripted = S.make([])
      const d = yield* azureOver(scripted, {
        auth: { entraId: Effect.fail(new Error("no managed identity here")) },
        resilience: { retryPolicy: undefined }
      })
      const fiber = yield* Effect.fork(Effect.flip(d.client.chat.completions.create(chatRequest)))
      yield* TestClock.adjust("10 minutes")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "ConnectionError")
      assert.include(error.message, "no managed identity here")
      assert.strictEqual(scripted.requests.length, 0)
    }))

  it.effect("tokenCredential adapts an @azure/identity credential", () =>
    Effect.gen(function*() {
      const scopes: Array<string | Array<string>> = []
      const credential: Deployment.TokenCredential = {
        getToken: (scope) => {
          scopes.push(scope)
          return Promise.resolve({ token: "aad-token", expiresOnTimestamp: 3_600_000 })
        }
      }
      const token = yield* Deployment.tokenCredential(credential)
      assert.strictEqual(Redacted.value(token.token), "aad-token")
      assert.strictEqual(token.expiresAt, 3_600_000)
      assert.deepStrictEqual(scopes, ["https://cognitiveservices.azure.com/.default"])
      const none = yield* Effect.either(Deployment.tokenCredential({ getToken: () => Promise.resolve(null) }))
      assert.isTrue(none._tag === "Left")
    }))
})

describe("Deployment.openAi and compatible", () => {
  it.effect("openAi: a bearer key on /v1; its credential is a fingerprint, never the key", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.json(200, completion)])
      const key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123"
      const d = yield* Deployment.openAi({ name: "openai", apiKey: Redacted.make(key), model: "gpt-4.1" }).pipe(over(scripted))
      yield* d.client.chat.completions.create(chatRequest)
      assert.strictEqual(urlOf(scripted, 0), "https://api.openai.com/v1/chat/completions")
      assert.strictEqual(S.header(scripted, 0, "authorization"), `Bearer ${key}`)
      assert.notInclude(d.credential, key)
      assert.strictEqual(d.model, "gpt-4.1")
      const same = yield* Deployment.openAi({ name: "other", apiKey: Redacted.make(key), baseUrl: "https://eu.example/v1" })
        .pipe(over(scripted))
      assert.strictEqual(same.credential, d.credential) // the same key, whatever the URL
    }))

  it.effect("compatible: no key needed; credentialId names the credentials", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.json(200, completion)])
      const d = yield* Deployment.compatible({ name: "vllm", baseUrl: "http://127.0.0.1:8000/v1/", contextWindow: 32_768 })
        .pipe(over(scripted))
      yield* d.client.chat.completions.create(chatRequest)
      assert.strictEqual(urlOf(scripted, 0), "http://127.0.0.1:8000/v1/chat/completions")
      assert.strictEqual(d.credential, "url:http://127.0.0.1:8000/v1")
      assert.strictEqual(d.contextWindow, 32_768)
      const named = yield* Deployment.compatible({ name: "proxy", baseUrl: "http://127.0.0.1:4000", credentialId: "team-a" })
        .pipe(over(scripted))
      assert.strictEqual(named.credential, "team-a")
    }))
})
