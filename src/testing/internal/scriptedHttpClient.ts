/**
 * The step-script `HttpClient`: each request takes the next step of its script.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import type * as ScriptedHttpClient from "../ScriptedHttpClient.js"
import * as InMemoryResponse from "./response.js"

const encoder = new TextEncoder()

// Text is sent as UTF-8, as a server sends it.
const bodyPart = (part: ScriptedHttpClient.Part): InMemoryResponse.BodyPart =>
  typeof part === "string" ? encoder.encode(part) : part

/** @internal */
export const make = (script: ReadonlyArray<ScriptedHttpClient.Step>): ScriptedHttpClient.Scripted => {
  const steps = [...script]
  const requests: Array<HttpClientRequest.HttpClientRequest> = []
  const pulled: Array<number> = []
  const client = HttpClient.make((request) =>
    Effect.suspend(() => {
      requests.push(request)
      const index = pulled.length
      pulled.push(0)
      const step = steps.shift()
      if (step === undefined) {
        return Effect.dieMessage(`ScriptedHttpClient: unexpected request #${requests.length} ${request.method} ${request.url}`)
      }
      const delayed = (e: Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>) =>
        step._tag !== "Hang" && step.delay !== undefined ? Effect.zipRight(Effect.sleep(step.delay), e) : e
      switch (step._tag) {
        case "Hang":
          return Effect.never
        case "Fail":
          return delayed(Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause: step.cause })))
        case "Respond":
          return delayed(Effect.sync(() =>
            InMemoryResponse.make(request, {
              status: step.status,
              headers: step.headers,
              body: step.parts.map(bodyPart),
              onPull: (bytes) => {
                pulled[index] = (pulled[index] ?? 0) + bytes
              }
            })
          ))
      }
    })
  )
  return { client, requests, pulled, remaining: () => steps.length }
}
