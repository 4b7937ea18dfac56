/**
 * The implementation behind `EffectAi`: the `Resilience` stack as the `HttpClient -> HttpClient`
 * function @effect/ai-openai's `transformClient` takes, failing only with the platform's errors
 * that @effect/ai knows how to read.
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import type * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Classify from "../Classify.js"
import * as OpenAiError from "../OpenAiError.js"
import type * as Resilience from "../Resilience.js"
import * as resilience from "./resilience.js"
import * as RetryPolicy from "../RetryPolicy.js"
import * as Sse from "../Sse.js"
import * as capture from "./capture.js"
import * as explain from "./explain.js"
import * as middleware from "./httpMiddleware.js"
import { chatSpec, responsesSpec } from "./stream.js"
import { revealAll } from "./secrets.js"

const encoder = new TextEncoder()

const isEventStream = (response: HttpClientResponse.HttpClientResponse): boolean =>
  (response.headers["content-type"] ?? "").toLowerCase().includes("text/event-stream")

// Most events are not errors: parse only those that might be.
const errorData = (event: Sse.Event): string | undefined => {
  if (event.event === "error") return event.data
  if (!event.data.includes("error") && !event.data.includes("response.failed")) return undefined
  try {
    const json: unknown = JSON.parse(event.data)
    return chatSpec.isError(json) || responsesSpec.isError(json) ? event.data : undefined
  } catch {
    return undefined
  }
}

interface CallContext {
  readonly call: capture.Call
  readonly id: string
  readonly secrets: ReadonlyArray<string>
}

const classifyEvent = (data: string, response: HttpClientResponse.HttpClientResponse, secrets: ReadonlyArray<string>) =>
  Effect.map(Clock.currentTimeMillis, (now) => Classify.classifyStreamError(data, { headers: response.headers, now, secrets }))

type Pull = Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<HttpClientError.ResponseError>>

/**
 * Reads a stream's bytes event by event: each chunk up to the first error event is the caller's;
 * the error event is reported instead of passed on.
 */
const scanner = () => {
  const parser = Sse.makeParser()
  let fed = 0
  let lastEnd = 0
  let good = 0
  return {
    parser,
    /** Events seen that were not errors. */
    get good() {
      return good
    },
    feed(bytes: Uint8Array): { readonly keep: Uint8Array; readonly error: string | undefined } {
      const start = fed
      fed += bytes.length
      for (const event of parser.feed(bytes)) {
        const data = errorData(event)
        if (data !== undefined) return { keep: bytes.subarray(0, Math.max(0, lastEnd - start)), error: data }
        lastEnd = event.offset
        good++
      }
      return { keep: bytes, error: undefined }
    }
  }
}

type Scanner = ReturnType<typeof scanner>

/**
 * A stream's attempt ends at its first event: a cut or an error event before it fails the attempt
 * (classified, retried); after it, the bytes go on to @effect/ai, and an error event or a cut fails
 * the body with the typed error, which `explain` finds through the response's id header.
 */
const firstEvent = (response: HttpClientResponse.HttpClientResponse, context: CallContext) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const scan = scanner()
    const buffered: Array<Uint8Array> = []
    const opened = Effect.gen(function*() {
      const pull: Pull = yield* Scope.extend(Stream.toPull(response.stream), scope)
      while (true) {
        const next = yield* Effect.catchAll(pull, (e) => Option.isSome(e) ? Effect.fail(e.value) : Effect.succeed(undefined))
        if (next === undefined) return { pull, ended: true, pending: undefined }
        for (const bytes of next) {
          const { error, keep } = scan.feed(bytes)
          if (keep.length > 0) buffered.push(keep)
          if (error !== undefined && scan.good === 0) {
            context.call.failed = { status: response.status, headers: response.headers, body: capture.copy(encoder.encode(error)), stream: true }
            return yield* Effect.flatMap(classifyEvent(error, response, context.secrets), Effect.fail)
          }
          // The first event has come: what follows is the caller's to read.
          if (error !== undefined || scan.good > 0) return { pull, ended: false, pending: error }
        }
      }
    })
    const { ended, pending, pull } = yield* Effect.onError(opened, () => Scope.close(scope, Exit.void))
    const runtime = yield* Effect.runtime<never>()
    const body = handOver(response, context, { scan, buffered, pull, scope, ended, pending, runtime })
    return HttpClientResponse.fromWeb(
      response.request,
      new Response(body, { status: response.status, headers: capture.webHeaders(response.headers, { [explain.HEADER]: context.id }) })
    )
  })

const handOver = (
  response: HttpClientResponse.HttpClientResponse,
  context: CallContext,
  state: {
    readonly scan: Scanner
    readonly buffered: Array<Uint8Array>
    readonly pull: Pull
    readonly scope: Scope.CloseableScope
    readonly ended: boolean
    readonly pending: string | undefined
    readonly runtime: Runtime.Runtime<never>
  }
): ReadableStream<Uint8Array> => {
  const { buffered, runtime, scan, scope } = state
  const run = Runtime.runPromiseExit(runtime)
  const close = () => run(Scope.close(scope, Exit.void))
  let ended = state.ended
  let pending = state.pending
  const fail = async (controller: ReadableStreamDefaultController<Uint8Array>, error: OpenAiError.OpenAiError) => {
    explain.registerAs(context.id, explain.explanationOf(error, context.call), [error])
    await close()
    controller.error(error)
  }
  const failWithEvent = async (controller: ReadableStreamDefaultController<Uint8Array>, data: string) => {
    const classified = await run(classifyEvent(data, response, context.secrets))
    if (Exit.isSuccess(classified)) return fail(controller, classified.value)
  }
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const queued = buffered.shift()
      if (queued !== undefined) return controller.enqueue(queued)
      if (pending !== undefined) return failWithEvent(controller, pending)
      if (ended) {
        await close()
        return controller.close()
      }
      const exit = await run(state.pull)
      if (Exit.isFailure(exit)) {
        const failure = Option.flatten(Cause.failureOption(exit.cause))
        if (Option.isNone(failure)) {
          ended = true
          await close()
          return controller.close()
        }
        const received = { events: scan.parser.events, bytes: scan.parser.bytes }
        return fail(controller, middleware.transportError(failure.value, { received }))
      }
      for (const bytes of exit.value) {
        const { error, keep } = scan.feed(bytes)
        if (keep.length > 0) controller.enqueue(keep)
        if (error !== undefined) {
          pending = error
          return
        }
      }
    },
    cancel() {
      return close().then(() => undefined)
    }
  })
}

/** The platform error @effect/ai reads for a call that failed: a response error, or a transport one. */
const toPlatformError = (
  error: explain.Failure,
  request: HttpClientRequest.HttpClientRequest,
  call: capture.Call
): HttpClientError.HttpClientError => {
  const explanation = explain.explanationOf(error, call)
  const safe = middleware.withoutSecrets(request)
  const description = `${error._tag}: ${error.message}`
  const failed = call.failed
  if (OpenAiError.isOpenAiError(error) && failed !== undefined && (Option.isSome(error.status) || failed.stream)) {
    const response = HttpClientResponse.fromWeb(safe, capture.failedResponse(failed, explain.register(explanation, [])))
    const reason = failed.stream ? "Decode" : "StatusCode"
    const platformError = new HttpClientError.ResponseError({ request: safe, response, reason, cause: error, description })
    explain.attach(explanation, platformError)
    return platformError
  }
  const platformError = new HttpClientError.RequestError({ request: safe, reason: "Transport", cause: error, description })
  explain.attach(explanation, platformError)
  explain.attach(explanation, error)
  return platformError
}

/** @internal */
export const resilient = (options: Resilience.Options<unknown>) =>
(
  client: HttpClient.HttpClient.With<HttpClientError.HttpClientError, unknown>
): HttpClient.HttpClient.With<HttpClientError.HttpClientError, unknown> => {
  const maxBody = options.maxErrorBodyBytes ?? middleware.MAX_ERROR_BODY_BYTES
  const retryPolicy = capture.recordingDecisions(options.retryPolicy ?? RetryPolicy.default)
  const stack = resilience.make(capture.capturing(client, maxBody), { ...options, retryPolicy })
  const secrets = revealAll(options.secrets)
  return HttpClient.makeWith(
    (requestEffect: Effect.Effect<HttpClientRequest.HttpClientRequest>) =>
      Effect.flatMap(requestEffect, (request) => {
        const call = capture.makeCall()
        const context: CallContext = { call, id: explain.newId(), secrets }
        const consume = (response: HttpClientResponse.HttpClientResponse) =>
          isEventStream(response)
            ? firstEvent(response, context)
            : Effect.map(response.arrayBuffer, (bytes) =>
              HttpClientResponse.fromWeb(
                response.request,
                new Response(capture.NULL_BODY.has(response.status) ? null : bytes, {
                  status: response.status,
                  headers: capture.webHeaders(response.headers)
                })
              ))
        return stack.run(request, consume).pipe(
          Effect.provideService(capture.CurrentCall, call),
          Effect.mapError((error) => toPlatformError(error as explain.Failure, request, call))
        )
      }),
    Effect.succeed
  )
}
