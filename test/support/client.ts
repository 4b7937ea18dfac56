/**
 * The client over a scripted HTTP client, as the client tests build it: defaults per file, options
 * per test (their `resilience` merged into the defaults').
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import * as OpenAiClient from "../../src/OpenAiClient.js"
import type * as Resilience from "../../src/Resilience.js"
import * as S from "../../src/testing/ScriptedHttpClient.js"

export const setupWith = (defaults: OpenAiClient.LayerOptions) =>
(steps: ReadonlyArray<S.Step>, options: Partial<OpenAiClient.LayerOptions> = {}) =>
  Effect.gen(function*() {
    const scripted = S.make(steps)
    const openai = yield* OpenAiClient.make({
      ...defaults,
      ...options,
      resilience: { ...defaults.resilience, ...options.resilience }
    }).pipe(Effect.provideService(HttpClient.HttpClient, scripted.client))
    return { openai, scripted }
  })

/**
 * `OpenAiClient.make` with exactly the resilience options given, so that its error and requirement
 * types are exactly theirs (a breaker adds `CircuitOpen`, a bulkhead `BulkheadFull`).
 */
export const typedClientWith = (apiKey: Redacted.Redacted<string>, baseUrl: string) =>
<O extends Resilience.Options<unknown>>(steps: ReadonlyArray<S.Step>, resilience: O) =>
  Effect.gen(function*() {
    const scripted = S.make(steps)
    const openai = yield* OpenAiClient.make({ apiKey, baseUrl, resilience }).pipe(
      Effect.provideService(HttpClient.HttpClient, scripted.client)
    )
    return { openai, scripted }
  })

/** A chat completion as the API returns it, for the scripted steps. */
export const completion = {
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1727346142,
  model: "gpt-4o-mini",
  choices: [{ index: 0, message: { role: "assistant", content: "Hi!", refusal: null }, logprobs: null, finish_reason: "stop" }],
  usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }
}

/** The request the client tests send. */
export const chatRequest = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "Say hi" }] }
