/**
 * A small scripted `HttpClient` for this package's own HTTP tests: no sockets, every delay on the
 * Effect clock (so TestClock drives it), every request recorded. Each request takes the next step
 * of the script; a request beyond the script is a defect, so a test that retries too often fails.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { concat } from "../../src/internal/bytes.js"

/** A piece of a scripted body: bytes or text, a pause, or a cut (the connection drops). */
export type Part =
  | string
  | Uint8Array
  | { readonly _tag: "Pause"; readonly duration: Duration.DurationInput }
  | { readonly _tag: "Cut"; readonly cause: unknown }

/** One scripted answer. */
export type Step =
  | {
    readonly _tag: "Respond"
    readonly status: number
    readonly headers: Readonly<Record<string, string>>
    readonly parts: ReadonlyArray<Part>
    readonly delay?: Duration.DurationInput | undefined
  }
  | { readonly _tag: "Fail"; readonly cause: unknown; readonly delay?: Duration.DurationInput | undefined }
  | { readonly _tag: "Hang" }

export const pause = (duration: Duration.DurationInput): Part => ({ _tag: "Pause", duration })

export const resetError = () => Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })

export const cut = (cause: unknown = resetError()): Part => ({ _tag: "Cut", cause })

export const json = (
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
  delay?: Duration.DurationInput
): Step => ({
  _tag: "Respond",
  status,
  headers: { "content-type": "application/json", ...headers },
  parts: [JSON.stringify(body)],
  delay
})

export const text = (status: number, body: string, headers: Readonly<Record<string, string>> = {}): Step => ({
  _tag: "Respond",
  status,
  headers,
  parts: [body]
})

export const parts = (status: number, body: ReadonlyArray<Part>, headers: Readonly<Record<string, string>> = {}): Step => ({
  _tag: "Respond",
  status,
  headers,
  parts: body
})

/** An SSE response: each frame is written as is (include the blank line yourself, or use `frame`). */
export const sse = (frames: ReadonlyArray<Part>, headers: Readonly<Record<string, string>> = {}): Step => ({
  _tag: "Respond",
  status: 200,
  headers: { "content-type": "text/event-stream", ...headers },
  parts: frames
})

/** `data: <json>\n\n` */
export const data = (value: unknown): string => `data: ${typeof value === "string" ? value : JSON.stringify(value)}\n\n`

export const fail = (cause: unknown = resetError()): Step => ({ _tag: "Fail", cause })

export const hang: Step = { _tag: "Hang" }

export const errorBody = (message: string, type: string | null, code: string | null, param: string | null = null) => ({
  error: { message, type, param, code }
})

const encoder = new TextEncoder()

export interface Scripted {
  readonly client: HttpClient.HttpClient
  /** Requests as sent, in order. */
  readonly requests: Array<HttpClientRequest.HttpClientRequest>
  /** Body bytes the client actually pulled, per request. */
  readonly pulled: Array<number>
  /** Steps not yet used. */
  readonly remaining: () => number
}

const bodyStream = (
  request: HttpClientRequest.HttpClientRequest,
  response: HttpClientResponse.HttpClientResponse,
  body: ReadonlyArray<Part>,
  onPull: (n: number) => void
): Stream.Stream<Uint8Array, HttpClientError.ResponseError> =>
  Stream.fromIterable(body).pipe(
    Stream.mapEffect((part): Effect.Effect<Uint8Array | undefined, HttpClientError.ResponseError> => {
      if (typeof part === "string" || part instanceof Uint8Array) {
        const bytes = typeof part === "string" ? encoder.encode(part) : part
        return Effect.sync(() => {
          onPull(bytes.length)
          return bytes
        })
      }
      if (part._tag === "Pause") return Effect.as(Effect.sleep(part.duration), undefined)
      return Effect.fail(
        new HttpClientError.ResponseError({ request, response, reason: "Decode", cause: part.cause })
      )
    }),
    Stream.filter((u): u is Uint8Array => u !== undefined)
  )

// A response whose body is an Effect stream (so pauses run on TestClock), built over `fromWeb` for
// status, headers and cookies.
const makeResponse = (
  request: HttpClientRequest.HttpClientRequest,
  status: number,
  headers: Readonly<Record<string, string>>,
  body: ReadonlyArray<Part>,
  onPull: (n: number) => void
): HttpClientResponse.HttpClientResponse => {
  const base = HttpClientResponse.fromWeb(request, new Response(null, { status, headers }))
  const self: HttpClientResponse.HttpClientResponse = Object.create(base, {
    stream: { get: () => bodyStream(request, self, body, onPull) },
    arrayBuffer: {
      get: () =>
        Effect.map(Stream.runCollect(bodyStream(request, self, body, onPull)), (c) => concat(c).buffer as ArrayBuffer)
    },
    text: {
      get: () =>
        Effect.map(Stream.runCollect(bodyStream(request, self, body, onPull)), (c) => new TextDecoder().decode(concat(c)))
    },
    json: {
      get: () =>
        Effect.flatMap(
          Stream.runCollect(bodyStream(request, self, body, onPull)),
          (c) =>
            Effect.try({
              try: () => JSON.parse(new TextDecoder().decode(concat(c))) as unknown,
              catch: (cause) => new HttpClientError.ResponseError({ request, response: self, reason: "Decode", cause })
            })
        )
    }
  })
  return self
}

export const make = (script: ReadonlyArray<Step>): Scripted => {
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
        return Effect.dieMessage(`ScriptedClient: unexpected request #${requests.length} ${request.method} ${request.url}`)
      }
      const delay = (e: Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>) =>
        "delay" in step && step.delay !== undefined ? Effect.zipRight(Effect.sleep(step.delay), e) : e
      switch (step._tag) {
        case "Hang":
          return Effect.never
        case "Fail":
          return delay(Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause: step.cause })))
        case "Respond":
          return delay(Effect.succeed(
            makeResponse(request, step.status, step.headers, step.parts, (n) => {
              pulled[index] = (pulled[index] ?? 0) + n
            })
          ))
      }
    })
  )
  return { client, requests, pulled, remaining: () => steps.length }
}

/** The value of a header on the n-th recorded request. */
export const header = (scripted: Scripted, n: number, name: string): string | undefined =>
  scripted.requests[n]?.headers[name.toLowerCase()]
