/**
 * The mock's `POST /v1/chat/completions`: a `chat.completion`, or its chunks as SSE; text, JSON
 * for `response_format`, or `tool_calls` with streamed `arguments` when tools are offered.
 *
 * @internal
 */
import * as Faults from "../Faults.js"
import type { MockResponse } from "../MockApi.js"
import type { JsonRecord } from "./content.js"
import { completionTokens, isRecord, jsonPieces, messagesOf, pieces, promptTokens } from "./content.js"
import type { Output, ToolCall } from "./reply.js"
import { outputOf, outputText } from "./reply.js"
import type { Call } from "./wire.js"
import { json, missingParameter, respondJson, sse } from "./wire.js"

/** @internal */
export interface ChatInfo {
  readonly id: string
  readonly created: number
  readonly model: string
}

const chatUsage = (body: JsonRecord, reply: string, n: number) => {
  const prompt = promptTokens(messagesOf(body))
  const completion = completionTokens(reply) * n
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0
    }
  }
}

const choicesCount = (body: JsonRecord): number =>
  typeof body.n === "number" && Number.isInteger(body.n) && body.n >= 1 && body.n <= 8 ? body.n : 1

const toolCallOf = (c: ToolCall) => ({ id: c.callId, type: "function", function: { name: c.name, arguments: c.arguments } })

const messageOf = (output: Output): JsonRecord =>
  output._tag === "Text"
    ? { role: "assistant", content: output.text, refusal: null, annotations: [] }
    : { role: "assistant", content: null, tool_calls: output.calls.map(toolCallOf), refusal: null, annotations: [] }

const finishOf = (output: Output): string => (output._tag === "Text" ? "stop" : "tool_calls")

/** A `chat.completion` object. @internal */
export const chatCompletion = (body: JsonRecord, info: ChatInfo, output: Output): JsonRecord => {
  const n = choicesCount(body)
  return {
    id: info.id,
    object: "chat.completion",
    created: info.created,
    model: info.model,
    choices: Array.from({ length: n }, (_, index) => ({
      index,
      message: messageOf(output),
      logprobs: null,
      finish_reason: finishOf(output)
    })),
    usage: chatUsage(body, outputText(output), n),
    service_tier: "default",
    system_fingerprint: "fp_mock"
  }
}

/** The `data:` payloads of a streamed chat completion, without the final `[DONE]`. @internal */
export const chatChunks = (body: JsonRecord, info: ChatInfo, output: Output): ReadonlyArray<JsonRecord> => {
  const includeUsage = isRecord(body.stream_options) && body.stream_options.include_usage === true
  const base = {
    id: info.id,
    object: "chat.completion.chunk",
    created: info.created,
    model: info.model,
    service_tier: "default",
    system_fingerprint: "fp_mock"
  }
  const chunk = (delta: JsonRecord, finish: string | null): JsonRecord => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(includeUsage ? { usage: null } : {})
  })
  const out: Array<JsonRecord> = []
  if (output._tag === "Text") {
    out.push(chunk({ role: "assistant", content: "", refusal: null }, null))
    for (const piece of output.json ? jsonPieces(output.text) : pieces(output.text)) out.push(chunk({ content: piece }, null))
  } else {
    // As recorded: the first chunk names the call with empty arguments, then argument deltas.
    output.calls.forEach((call, index) => {
      const head = { index, id: call.callId, type: "function", function: { name: call.name, arguments: "" } }
      out.push(chunk(index === 0 ? { role: "assistant", content: null, tool_calls: [head], refusal: null } : { tool_calls: [head] }, null))
      for (const piece of jsonPieces(call.arguments)) out.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }, null))
    })
  }
  out.push(chunk({}, finishOf(output)))
  if (includeUsage) out.push({ ...base, choices: [], usage: chatUsage(body, outputText(output), 1) })
  return out
}

/** The API's 400 for a request it refuses, or undefined. @internal */
export const validate = (body: JsonRecord): unknown => {
  if (typeof body.model !== "string") return missingParameter("model")
  if (!Array.isArray(body.messages)) return missingParameter("messages")
  if (body.messages.length === 0) {
    return { message: "[] is too short - 'messages'", type: "invalid_request_error", param: "messages", code: "empty_array" }
  }
  return undefined
}

/** Answers a chat completion request. @internal */
export const respond = (call: Call): MockResponse => {
  const info = { id: call.idOf("chatcmpl-"), created: call.created, model: call.model }
  const output = outputOf(call.body, call.idOf, call.toolArguments)
  if (!call.stream) {
    return respondJson({ ...call.headers("application/json"), ...call.okHeaders }, 200, json(chatCompletion(call.body, info, output)))
  }
  return sse(
    call,
    chatChunks(call.body, info, output).map((c) => `data: ${JSON.stringify(c)}\n\n`),
    "data: [DONE]\n\n",
    `data: ${JSON.stringify(Faults.errorBody("stream_error", call.faultContext))}\n\n`
  )
}
