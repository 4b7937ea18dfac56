/**
 * What the adapters (`ResilientFetch`, `EffectAi`) keep of one call while it runs, to hand its
 * client the server's last answer and to explain it afterwards: the attempts sent, the policy's
 * decisions, and the last failed response with its body (read once, bounded).
 * @internal
 */
import type * as PlatformHeaders from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as OpenAiError from "../OpenAiError.js"
import type * as RetryPolicy from "../RetryPolicy.js"
import * as attemptTimer from "./attemptTimer.js"
import * as explain from "./explain.js"
import * as middleware from "./httpMiddleware.js"

/** @internal */
export interface Failed {
  readonly status: number
  readonly headers: PlatformHeaders.Headers
  readonly body: Uint8Array<ArrayBuffer>
  /** An error event of a 200 stream, not an HTTP status. */
  readonly stream: boolean
}

/** @internal */
export interface Call {
  attempts: number
  readonly decisions: Array<RetryPolicy.Decision>
  /** The last attempt's failed response, or its stream's error event. */
  failed: Failed | undefined
}

/** @internal */
export const makeCall = (): Call => ({ attempts: 0, decisions: [], failed: undefined })

/** @internal */
export class CurrentCall extends Context.Tag("effect-openai-resilience/capture/CurrentCall")<CurrentCall, Call>() {}

/**
 * The policy, writing each of its decisions to the {@link CurrentCall} it runs for.
 * @internal
 */
export const recordingDecisions = <R>(
  policy: Schedule.Schedule<unknown, OpenAiError.OpenAiError, R>
): Schedule.Schedule<unknown, OpenAiError.OpenAiError, R> =>
  Schedule.tapOutput(policy, (out) =>
    Effect.serviceOption(CurrentCall).pipe(
      Effect.map((call) => {
        if (Option.isSome(call) && explain.isDecision(out)) call.value.decisions.push(out)
      })
    ))

/** @internal */
export const NULL_BODY: ReadonlySet<number> = new Set([101, 103, 204, 205, 304])

/**
 * Headers for a Response handed to a client: without a size or encoding that no longer matches
 * the bytes (already decoded), without an id a server made up, plus `extra`.
 * @internal
 */
export const webHeaders = (headers: PlatformHeaders.Headers, extra: Record<string, string> = {}): Headers => {
  const out = new Headers()
  for (const [name, value] of Object.entries(headers)) out.set(name, value)
  out.delete("content-encoding")
  out.delete("content-length")
  out.delete(explain.HEADER)
  for (const [name, value] of Object.entries(extra)) out.set(name, value)
  return out
}

/** @internal */
export const copy = (bytes: Uint8Array): Uint8Array<ArrayBuffer> => {
  const out = new Uint8Array(bytes.length)
  out.set(bytes)
  return out
}

/**
 * The inner client, once per attempt: counts the attempt and keeps a failed response's body (read
 * once, bounded) for the answer the client will be given, handing the classifier a fresh copy.
 * @internal
 */
export const capturing = (client: HttpClient.HttpClient.With<unknown, unknown>, maxBody: number) =>
  attemptTimer.cooperatingAs(capturingWith(client, maxBody), client)

const capturingWith = (client: HttpClient.HttpClient.With<unknown, unknown>, maxBody: number) =>
  HttpClient.transformResponse(client, (effect) =>
    Effect.flatMap(Effect.serviceOption(CurrentCall), (call) => {
      if (Option.isNone(call)) return effect
      const state = call.value
      state.attempts++
      state.failed = undefined
      return Effect.flatMap(effect, (response) => {
        if (middleware.isSuccess(response.status)) return Effect.succeed(response)
        const nullBody = NULL_BODY.has(response.status)
        return Effect.map(nullBody ? Effect.succeed(new Uint8Array()) : middleware.readBounded(response, maxBody), (body) => {
          state.failed = { status: response.status, headers: response.headers, body: copy(body), stream: false }
          return HttpClientResponse.fromWeb(
            response.request,
            new Response(nullBody ? null : copy(body), { status: response.status, headers: webHeaders(response.headers) })
          )
        })
      })
    }))

/**
 * The server's last failed answer as a web Response, with the id `explain` looks up.
 * @internal
 */
export const failedResponse = (failed: Failed, id: string): Response =>
  new Response(NULL_BODY.has(failed.status) ? null : failed.body, {
    status: failed.status,
    headers: webHeaders(failed.headers, {
      [explain.HEADER]: id,
      ...(failed.stream ? { "content-type": "application/json" } : {})
    })
  })
