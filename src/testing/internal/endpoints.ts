/**
 * The mock's endpoints as pure functions: request JSON in, response JSON (or SSE events) out.
 * Content is deterministic: the assistant echoes the last user message.
 *
 * @internal
 */
import * as Encoding from "effect/Encoding"

/** @internal */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [k: string]: Json }

/** @internal */
export type JsonRecord = { readonly [k: string]: unknown }

/** @internal */
export const isRecord = (u: unknown): u is JsonRecord => typeof u === "object" && u !== null && !Array.isArray(u)

/** 32-bit FNV-1a, for deterministic ids and vectors. @internal */
export const fnv = (text: string, seed = 0x811c9dc5): number => {
  let h = seed >>> 0
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h >>> 0
}

/** A deterministic hex string of `length` characters. @internal */
export const hexId = (text: string, length: number): string => {
  let out = ""
  let salt = 0
  while (out.length < length) {
    out += fnv(`${salt}:${text}`).toString(16).padStart(8, "0")
    salt++
  }
  return out.slice(0, length)
}

/** The token estimate of a text: one token per 4 characters, rounded up. @internal */
export const tokensOf = (text: string): number => Math.ceil(text.length / 4)

/** The text of a message's `content`: a string, or the `text` of its parts. @internal */
export const textOf = (content: unknown): string => {
  if (typeof content === "string") return content
  if (Array.isArray(content)) {
    return content
      .map((part) => (isRecord(part) && typeof part.text === "string" ? part.text : ""))
      .filter((t) => t.length > 0)
      .join("\n")
  }
  return ""
}

/** What the assistant says when there is nothing to echo. @internal */
export const defaultReply = "Hello from the effect-openai-resilience mock server."

const lastUserText = (messages: ReadonlyArray<unknown>): string => {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]
    if (isRecord(m) && (m.role === "user" || m.role === undefined)) {
      const text = textOf(m.content)
      if (text.length > 0) return text
    }
  }
  return defaultReply
}

/** The messages of a chat request or the input items of a Responses request. @internal */
export const messagesOf = (body: JsonRecord): ReadonlyArray<unknown> => {
  if (Array.isArray(body.messages)) return body.messages
  if (typeof body.input === "string") return [{ role: "user", content: body.input }]
  if (Array.isArray(body.input)) return body.input
  return []
}

/** Prompt tokens: per message ceil(chars/4) + 4, plus 3 for the reply's priming. @internal */
export const promptTokens = (messages: ReadonlyArray<unknown>, instructions?: unknown): number =>
  messages.reduce<number>((sum, m) => sum + 4 + tokensOf(isRecord(m) ? textOf(m.content) : textOf(m)), 3) +
  (typeof instructions === "string" ? 4 + tokensOf(instructions) : 0)

/** The echo reply of a chat or Responses request. @internal */
export const replyOf = (body: JsonRecord): string => lastUserText(messagesOf(body))

/** Completion tokens of a reply: ceil(chars/4), at least 1. @internal */
export const completionTokens = (reply: string): number => Math.max(1, tokensOf(reply))

const maxTokensOf = (body: JsonRecord): number | undefined => {
  for (const k of ["max_completion_tokens", "max_tokens", "max_output_tokens"]) {
    const v = body[k]
    if (typeof v === "number" && Number.isFinite(v) && v >= 0) return Math.floor(v)
  }
  return undefined
}

/**
 * What a request counts against the tokens-per-minute limit: its prompt estimate plus
 * `max_tokens` (or `max_completion_tokens` / `max_output_tokens`) when given, else the reply's
 * estimate. @internal
 */
export const requestedTokens = (path: string, body: JsonRecord): number => {
  if (path === "/v1/embeddings") return embeddingInputs(body).reduce((s, t) => s + tokensOf(t), 0)
  if (path === "/v1/chat/completions" || path === "/v1/responses") {
    const prompt = promptTokens(messagesOf(body), body.instructions)
    return prompt + (maxTokensOf(body) ?? completionTokens(replyOf(body)))
  }
  return 0
}

/** Splits a reply into stream pieces the way tokens look: words with their leading space. @internal */
export const pieces = (reply: string): ReadonlyArray<string> => {
  const parts = reply.match(/\s*\S+\s*?/g)
  return parts === null || parts.length === 0 ? [reply] : parts
}

// -- chat completions ---------------------------------------------------------------------------

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

/** A `chat.completion` object. @internal */
export const chatCompletion = (body: JsonRecord, info: ChatInfo): JsonRecord => {
  const reply = replyOf(body)
  const n = choicesCount(body)
  return {
    id: info.id,
    object: "chat.completion",
    created: info.created,
    model: info.model,
    choices: Array.from({ length: n }, (_, index) => ({
      index,
      message: { role: "assistant", content: reply, refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: "stop"
    })),
    usage: chatUsage(body, reply, n),
    service_tier: "default",
    system_fingerprint: "fp_mock"
  }
}

/** The `data:` payloads of a streamed chat completion, without the final `[DONE]`. @internal */
export const chatChunks = (body: JsonRecord, info: ChatInfo): ReadonlyArray<JsonRecord> => {
  const reply = replyOf(body)
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
  const out: Array<JsonRecord> = [chunk({ role: "assistant", content: "", refusal: null }, null)]
  for (const piece of pieces(reply)) out.push(chunk({ content: piece }, null))
  out.push(chunk({}, "stop"))
  if (includeUsage) out.push({ ...base, choices: [], usage: chatUsage(body, reply, 1) })
  return out
}

// -- responses ----------------------------------------------------------------------------------

/** @internal */
export interface ResponseInfo {
  readonly id: string
  readonly messageId: string
  readonly created: number
  readonly model: string
}

const responseObject = (
  body: JsonRecord,
  info: ResponseInfo,
  status: "in_progress" | "completed",
  reply: string
): JsonRecord => {
  const input = promptTokens(messagesOf(body), body.instructions)
  const output = completionTokens(reply)
  return {
    id: info.id,
    object: "response",
    created_at: info.created,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: typeof body.instructions === "string" ? body.instructions : null,
    max_output_tokens: typeof body.max_output_tokens === "number" ? body.max_output_tokens : null,
    model: info.model,
    output: status === "completed" ? [messageItem(info, "completed", reply)] : [],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: true,
    temperature: 1.0,
    text: { format: { type: "text" } },
    tool_choice: "auto",
    tools: [],
    top_p: 1.0,
    truncation: "disabled",
    usage: status === "completed"
      ? {
        input_tokens: input,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: output,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: input + output
      }
      : null,
    user: null,
    metadata: {}
  }
}

const messageItem = (info: ResponseInfo, status: "in_progress" | "completed", text: string | undefined): JsonRecord => ({
  id: info.messageId,
  type: "message",
  status,
  role: "assistant",
  content: text === undefined ? [] : [{ type: "output_text", text, annotations: [], logprobs: [] }]
})

/** A completed `response` object. @internal */
export const response = (body: JsonRecord, info: ResponseInfo): JsonRecord =>
  responseObject(body, info, "completed", replyOf(body))

/** The events of a streamed response: `[eventName, data]` pairs. @internal */
export const responseEvents = (body: JsonRecord, info: ResponseInfo): ReadonlyArray<readonly [string, JsonRecord]> => {
  const reply = replyOf(body)
  const events: Array<readonly [string, JsonRecord]> = []
  const push = (type: string, data: JsonRecord) =>
    events.push([type, { type, ...data, sequence_number: events.length }] as const)
  const part = (text: string) => ({ type: "output_text", text, annotations: [] })
  const ids = { item_id: info.messageId, output_index: 0, content_index: 0 }
  push("response.created", { response: responseObject(body, info, "in_progress", reply) })
  push("response.in_progress", { response: responseObject(body, info, "in_progress", reply) })
  push("response.output_item.added", { output_index: 0, item: messageItem(info, "in_progress", undefined) })
  push("response.content_part.added", { ...ids, part: part("") })
  for (const delta of pieces(reply)) push("response.output_text.delta", { ...ids, delta, logprobs: [] })
  push("response.output_text.done", { ...ids, text: reply, logprobs: [] })
  push("response.content_part.done", { ...ids, part: part(reply) })
  push("response.output_item.done", { output_index: 0, item: messageItem(info, "completed", reply) })
  push("response.completed", { response: responseObject(body, info, "completed", reply) })
  return events
}

// -- embeddings ---------------------------------------------------------------------------------

/** The inputs of an embeddings request as strings (token arrays are joined). @internal */
export const embeddingInputs = (body: JsonRecord): ReadonlyArray<string> => {
  const input = body.input
  if (typeof input === "string") return [input]
  if (Array.isArray(input)) {
    if (input.every((x) => typeof x === "number")) return [input.join(" ")]
    return input.map((x) => (typeof x === "string" ? x : Array.isArray(x) ? x.join(" ") : String(x)))
  }
  return []
}

const dimensionsOf = (body: JsonRecord, model: string): number => {
  const d = body.dimensions
  if (typeof d === "number" && Number.isInteger(d) && d >= 1 && d <= 3072) return d
  return model.includes("large") ? 3072 : 1536
}

/** A deterministic unit vector for a text, with float32 precision. @internal */
export const vectorOf = (text: string, dimensions: number): ReadonlyArray<number> => {
  let state = fnv(text) || 1
  const raw: Array<number> = []
  for (let i = 0; i < dimensions; i++) {
    // xorshift32: cheap and deterministic.
    state ^= state << 13
    state >>>= 0
    state ^= state >>> 17
    state ^= state << 5
    state >>>= 0
    raw.push(state / 0xffffffff - 0.5)
  }
  const norm = Math.sqrt(raw.reduce((s, x) => s + x * x, 0)) || 1
  return raw.map((x) => Math.fround(x / norm))
}

/** Float32 little-endian bytes, base64: what `encoding_format: "base64"` returns. @internal */
export const base64Of = (vector: ReadonlyArray<number>): string => {
  const bytes = new Uint8Array(vector.length * 4)
  const view = new DataView(bytes.buffer)
  vector.forEach((x, i) => view.setFloat32(i * 4, x, true))
  return Encoding.encodeBase64(bytes)
}

/** An embeddings list. @internal */
export const embeddings = (body: JsonRecord, model: string): JsonRecord => {
  const inputs = embeddingInputs(body)
  const dims = dimensionsOf(body, model)
  const base64 = body.encoding_format === "base64"
  const tokens = inputs.reduce((s, t) => s + tokensOf(t), 0)
  return {
    object: "list",
    data: inputs.map((text, index) => {
      const vector = vectorOf(text, dims)
      return { object: "embedding", index, embedding: base64 ? base64Of(vector) : vector }
    }),
    model,
    usage: { prompt_tokens: tokens, total_tokens: tokens }
  }
}

// -- models -------------------------------------------------------------------------------------

/** The models the mock lists. @internal */
export const defaultModels: ReadonlyArray<string> = [
  "gpt-4o-mini",
  "gpt-4o",
  "gpt-4.1-mini",
  "gpt-4.1",
  "o4-mini",
  "text-embedding-3-small",
  "text-embedding-3-large"
]

/** A model object. @internal */
export const model = (id: string): JsonRecord => ({
  id,
  object: "model",
  created: 1686935002,
  owned_by: id.startsWith("text-embedding") ? "system" : "openai"
})

/** The models list. @internal */
export const modelList = (ids: ReadonlyArray<string>): JsonRecord => ({ object: "list", data: ids.map(model) })
