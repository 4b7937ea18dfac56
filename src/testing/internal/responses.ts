/**
 * The mock's `POST /v1/responses`: a `response` object, or its events as SSE; a message item,
 * JSON for `text.format`, or `function_call` items with their argument events when tools are
 * offered. The stream faults send the `error` event (nested as real traffic, or flat as the
 * spec) or `response.failed`.
 *
 * @internal
 */
import * as Faults from "../Faults.js"
import type { MockResponse } from "../MockApi.js"
import type { JsonRecord } from "./content.js"
import { completionTokens, isRecord, jsonPieces, messagesOf, pieces, promptTokens } from "./content.js"
import type { Output, ToolCall } from "./reply.js"
import { outputOf, outputText } from "./reply.js"
import type { Call, ErrorShape } from "./wire.js"
import { json, missingParameter, respondJson, sse, STREAM_EVENTS_BEFORE_FAULT } from "./wire.js"

/** @internal */
export interface ResponseInfo {
  readonly id: string
  readonly messageId: string
  readonly created: number
  readonly model: string
}

type Status = "in_progress" | "completed" | "failed"

/** What a failed response carries in `error`, as the spec's example. */
const FAILED_ERROR = { code: "server_error", message: "The model failed to generate a response." }

const messageItem = (info: ResponseInfo, status: "in_progress" | "completed", text: string | undefined): JsonRecord => ({
  id: info.messageId,
  type: "message",
  status,
  role: "assistant",
  content: text === undefined ? [] : [{ type: "output_text", text, annotations: [], logprobs: [] }]
})

const functionCallItem = (call: ToolCall, status: "in_progress" | "completed", args: string): JsonRecord => ({
  id: call.itemId,
  type: "function_call",
  status,
  arguments: args,
  call_id: call.callId,
  name: call.name
})

const outputItems = (info: ResponseInfo, output: Output): ReadonlyArray<JsonRecord> =>
  output._tag === "Text"
    ? [messageItem(info, "completed", output.text)]
    : output.calls.map((c) => functionCallItem(c, "completed", c.arguments))

const textFormat = (body: JsonRecord): unknown =>
  isRecord(body.text) && isRecord(body.text.format) ? body.text.format : { type: "text" }

const responseObject = (body: JsonRecord, info: ResponseInfo, status: Status, output: Output): JsonRecord => {
  const input = promptTokens(messagesOf(body), body.instructions)
  const outputTokens = completionTokens(outputText(output))
  return {
    id: info.id,
    object: "response",
    created_at: info.created,
    status,
    background: false,
    error: status === "failed" ? FAILED_ERROR : null,
    incomplete_details: null,
    instructions: typeof body.instructions === "string" ? body.instructions : null,
    max_output_tokens: typeof body.max_output_tokens === "number" ? body.max_output_tokens : null,
    model: info.model,
    output: status === "completed" ? outputItems(info, output) : [],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: true,
    temperature: 1.0,
    text: { format: textFormat(body) },
    tool_choice: "auto",
    tools: Array.isArray(body.tools) ? body.tools : [],
    top_p: 1.0,
    truncation: "disabled",
    usage: status === "completed"
      ? {
        input_tokens: input,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: outputTokens,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: input + outputTokens
      }
      : null,
    user: null,
    metadata: {}
  }
}

/** A completed `response` object. @internal */
export const response = (body: JsonRecord, info: ResponseInfo, output: Output): JsonRecord =>
  responseObject(body, info, "completed", output)

/** The events of a streamed response: `[eventName, data]` pairs. @internal */
export const responseEvents = (
  body: JsonRecord,
  info: ResponseInfo,
  output: Output
): ReadonlyArray<readonly [string, JsonRecord]> => {
  const events: Array<readonly [string, JsonRecord]> = []
  const push = (type: string, data: JsonRecord) =>
    events.push([type, { type, ...data, sequence_number: events.length }] as const)
  push("response.created", { response: responseObject(body, info, "in_progress", output) })
  push("response.in_progress", { response: responseObject(body, info, "in_progress", output) })
  if (output._tag === "Text") {
    const part = (text: string) => ({ type: "output_text", text, annotations: [] })
    const ids = { item_id: info.messageId, output_index: 0, content_index: 0 }
    push("response.output_item.added", { output_index: 0, item: messageItem(info, "in_progress", undefined) })
    push("response.content_part.added", { ...ids, part: part("") })
    for (const delta of output.json ? jsonPieces(output.text) : pieces(output.text)) {
      push("response.output_text.delta", { ...ids, delta, logprobs: [] })
    }
    push("response.output_text.done", { ...ids, text: output.text, logprobs: [] })
    push("response.content_part.done", { ...ids, part: part(output.text) })
    push("response.output_item.done", { output_index: 0, item: messageItem(info, "completed", output.text) })
  } else {
    output.calls.forEach((call, output_index) => {
      const ids = { item_id: call.itemId, output_index }
      push("response.output_item.added", { output_index, item: functionCallItem(call, "in_progress", "") })
      for (const delta of jsonPieces(call.arguments)) push("response.function_call_arguments.delta", { ...ids, delta })
      push("response.function_call_arguments.done", { ...ids, arguments: call.arguments })
      push("response.output_item.done", { output_index, item: functionCallItem(call, "completed", call.arguments) })
    })
  }
  push("response.completed", { response: responseObject(body, info, "completed", output) })
  return events
}

/**
 * The `error` event a stream fault sends: real traffic nests the error
 * (`{"type": "error", "error": {...}}`); the spec documents it flat. @internal
 */
export const errorEvent = (shape: ErrorShape, ctx: Faults.Context, sequence: number): JsonRecord => {
  const body = Faults.errorBody("stream_error", ctx)
  const error = isRecord(body) && isRecord(body.error) ? body.error : {}
  const fields = { type: "server_error", code: "server_error", message: error.message, param: null }
  return shape === "nested"
    ? { type: "error", error: fields, sequence_number: sequence }
    : { type: "error", code: fields.code, message: fields.message, param: null, sequence_number: sequence }
}

/** The API's 400 for a request it refuses, or undefined. @internal */
export const validate = (body: JsonRecord): unknown =>
  typeof body.model !== "string" ? missingParameter("model") : undefined

/** Answers a Responses API request. @internal */
export const respond = (call: Call): MockResponse => {
  const info = { id: call.idOf("resp_"), messageId: call.idOf("msg_"), created: call.created, model: call.model }
  const output = outputOf(call.body, call.idOf, call.toolArguments)
  if (!call.stream) {
    return respondJson({ ...call.headers("application/json"), ...call.okHeaders }, 200, json(response(call.body, info, output)))
  }
  const events = responseEvents(call.body, info, output)
  const sequence = Math.min(events.length, STREAM_EVENTS_BEFORE_FAULT)
  const failure = call.fault === "response_failed"
    ? `event: response.failed\ndata: ${
      JSON.stringify({
        type: "response.failed",
        response: responseObject(call.body, info, "failed", output),
        sequence_number: sequence
      })
    }\n\n`
    : `event: error\ndata: ${JSON.stringify(errorEvent(call.errorShape, call.faultContext, sequence))}\n\n`
  return sse(call, events.map(([name, data]) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`), undefined, failure)
}
