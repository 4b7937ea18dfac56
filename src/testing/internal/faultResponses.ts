/**
 * The faults as responses: those that replace the API's answer (an error status, a proxy's
 * HTML, an empty body, a reset) and those that alter a successful one (a late answer, a body
 * cut in half, broken JSON). The stream faults are written by the SSE bodies (`./wire.ts`).
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Faults from "../Faults.js"
import type { MockResponse } from "../MockApi.js"
import { concat } from "../../internal/bytes.js"
import { encoder, json } from "./wire.js"

/** What a fault's response is made of. @internal */
export interface FaultInput {
  readonly fault: Faults.FaultName
  readonly stream: boolean
  readonly context: Faults.Context
  /** Headers of the API's own responses (`x-request-id`, `openai-*`) for a content type. */
  readonly apiHeaders: (contentType: string) => Record<string, string>
  /** The hint headers this fault carries, already chosen, and `x-should-retry` when asked. */
  readonly extraHeaders: Readonly<Record<string, string>>
  /** The `x-mock-status` header, for the body faults. */
  readonly status: number | undefined
}

/** The stream faults answer a request that is not a stream as a plain 500. */
const isStatusFault = (input: FaultInput): boolean =>
  Faults.descriptions[input.fault].kind === "status" ||
  (!input.stream && (input.fault === "stream_error" || input.fault === "response_failed"))

/** The response of a fault that replaces the API's answer, or undefined for the others. @internal */
export const replacement = (input: FaultInput): MockResponse | undefined => {
  const { extraHeaders, fault } = input
  if (isStatusFault(input)) {
    const status = Faults.descriptions[fault].kind === "status" ? Faults.descriptions[fault].status ?? 500 : 500
    return {
      _tag: "Respond",
      status,
      headers: { ...input.apiHeaders("application/json"), ...extraHeaders },
      body: { _tag: "Bytes", bytes: json(Faults.errorBody(fault, input.context), true) }
    }
  }
  switch (fault) {
    case "connection_reset":
      return { _tag: "ResetConnection" }
    case "html_502":
      // The proxy answers, not the API: none of OpenAI's headers, no request id.
      return {
        _tag: "Respond",
        status: input.status ?? 502,
        headers: { "content-type": "text/html", server: "cloudflare", ...extraHeaders },
        body: { _tag: "Bytes", bytes: encoder.encode(Faults.html502) }
      }
    case "empty_body":
      // Chunked with no chunk: what openai-node 6 fails to parse.
      return {
        _tag: "Respond",
        status: input.status ?? 200,
        headers: { ...input.apiHeaders("application/json"), ...extraHeaders },
        body: { _tag: "Chunks", chunks: [], ending: "complete" }
      }
    case "empty_body_content_length":
      return {
        _tag: "Respond",
        status: input.status ?? 200,
        headers: { ...input.apiHeaders("application/json"), ...extraHeaders, "content-length": "0" },
        body: { _tag: "Bytes", bytes: new Uint8Array() }
      }
    default:
      return undefined
  }
}

/** A successful response as a fault alters it (`malformed_json`, `stream_cut`, `body_cut`). @internal */
export const alteration = (fault: Faults.FaultName | undefined, success: MockResponse, status: number | undefined): MockResponse => {
  if (success._tag !== "Respond") return success
  if (fault === "body_cut") {
    // The whole length is announced, half of it arrives, then the connection closes.
    const bytes = success.body._tag === "Bytes" ? success.body.bytes : concat(success.body.chunks.map((c) => c.bytes))
    return {
      ...success,
      headers: { ...success.headers, "content-length": String(bytes.length) },
      body: {
        _tag: "Chunks",
        chunks: [{ delay: Duration.zero, bytes: bytes.subarray(0, Math.floor(bytes.length / 2)) }],
        ending: "cut"
      }
    }
  }
  if (success.body._tag !== "Bytes") return success
  const bytes = success.body.bytes
  if (fault === "malformed_json") {
    return {
      ...success,
      status: status ?? success.status,
      body: { _tag: "Bytes", bytes: bytes.subarray(0, Math.max(1, Math.floor(bytes.length / 2))) }
    }
  }
  if (fault === "stream_cut") {
    // A plain body cut off part-way, chunked: the connection closes before the last chunk.
    return {
      ...success,
      body: {
        _tag: "Chunks",
        chunks: [{ delay: Duration.zero, bytes: bytes.subarray(0, Math.floor(bytes.length / 2)) }],
        ending: "cut"
      }
    }
  }
  return success
}
