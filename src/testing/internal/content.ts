/**
 * What every endpoint group of the mock shares: JSON helpers, deterministic ids, the token
 * estimate, the messages of a request and the echo reply.
 *
 * @internal
 */

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

/**
 * Splits a JSON text into stream pieces the way the model's tokens look: runs of punctuation
 * (`{"`, `":"`) and runs of the rest (`city`). @internal
 */
export const jsonPieces = (text: string): ReadonlyArray<string> => {
  const parts = text.match(/[{}[\]":,]+|[^{}[\]":,]+/g)
  return parts === null || parts.length === 0 ? [text] : parts
}
