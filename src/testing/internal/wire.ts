/**
 * How the mock writes a response: JSON bytes, its headers (the delay hints a fault carries),
 * and SSE bodies that fail part-way for the stream faults. Also the per-request view the
 * endpoint groups answer from ({@link Call}).
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import type * as Faults from "../Faults.js"
import type { MockResponse } from "../MockApi.js"
import type { JsonRecord } from "./content.js"

/** @internal */
export const encoder = new TextEncoder()

/** @internal */
export const decoder = new TextDecoder("utf-8", { fatal: false })

/** Bytes of a JSON value. Errors are pretty-printed with 4 spaces, as the real API does. @internal */
export const json = (value: unknown, pretty = false): Uint8Array =>
  encoder.encode(pretty ? `${JSON.stringify(value, null, 4)}\n` : JSON.stringify(value))

/** The Responses API's `error` event: nested as real traffic sends it, or flat as the spec. @internal */
export type ErrorShape = "nested" | "flat"

/** One request as an endpoint group sees it. @internal */
export interface Call {
  readonly body: JsonRecord
  readonly model: string
  readonly stream: boolean
  /** Unix seconds. */
  readonly created: number
  readonly requestId: string
  /** A deterministic id with a prefix (`chatcmpl-`, `resp_`, ...), unique to this request. */
  readonly idOf: (prefix: string) => string
  readonly fault: Faults.FaultName | undefined
  readonly faultContext: Faults.Context
  readonly errorShape: ErrorShape
  /** The `x-mock-tool-arguments` header: arguments to call a tool with instead of generated ones. */
  readonly toolArguments: string | undefined
  readonly models: ReadonlyArray<string>
  readonly chunkDelay: Duration.Duration
  /** Headers of the API's own responses. */
  readonly headers: (contentType: string) => Record<string, string>
  /** Extra headers of a successful response (the rate-limit state). */
  readonly okHeaders: Readonly<Record<string, string>>
}

/** A JSON response. @internal */
export const respondJson = (
  headers: Readonly<Record<string, string>>,
  status: number,
  body: Uint8Array
): MockResponse => ({ _tag: "Respond", status, headers, body: { _tag: "Bytes", bytes: body } })

/** The hint headers a response carries, from the delay and the rate-limit state. @internal */
export const hintHeaders = (
  hints: ReadonlyArray<Faults.Hint>,
  retryAfterMs: number,
  limits: Readonly<Record<string, string>>
): Record<string, string> => ({
  ...(hints.includes("x-ratelimit") ? limits : {}),
  ...(hints.includes("retry-after") ? { "retry-after": String(Math.ceil(retryAfterMs / 1000)) } : {}),
  ...(hints.includes("retry-after-ms") ? { "retry-after-ms": String(retryAfterMs) } : {})
})

/** How many SSE events the stream faults let through before failing. @internal */
export const STREAM_EVENTS_BEFORE_FAULT = 3

/**
 * An SSE response of `events` (each a whole frame), then `done`; with a stream fault, a few
 * events and then `failure` (the frame the fault sends) or a cut. @internal
 */
export const sse = (
  call: Call,
  events: ReadonlyArray<string>,
  done: string | undefined,
  failure: string
): MockResponse => {
  const keep = Math.min(events.length, STREAM_EVENTS_BEFORE_FAULT)
  const fault = call.fault
  const frames = fault === "stream_error" || fault === "response_failed"
    ? [...events.slice(0, keep), failure]
    : fault === "stream_cut"
    ? events.slice(0, keep)
    : done === undefined
    ? events
    : [...events, done]
  return {
    _tag: "Respond",
    status: 200,
    headers: { ...call.headers("text/event-stream; charset=utf-8"), ...call.okHeaders },
    body: {
      _tag: "Chunks",
      chunks: frames.map((f, i) => ({ delay: i === 0 ? Duration.zero : call.chunkDelay, bytes: encoder.encode(f) })),
      ending: fault === "stream_cut" ? "cut" : "complete"
    }
  }
}

/** The API's 400 for a required parameter left out. @internal */
export const missingParameter = (param: string): JsonRecord => ({
  message: `Missing required parameter: '${param}'.`,
  type: "invalid_request_error",
  param,
  code: "missing_required_parameter"
})

