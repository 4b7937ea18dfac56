/**
 * What a request will count against the tokens-per-minute limit, estimated before it is sent.
 *
 * OpenAI counts a request at admission, before any token is generated: roughly the prompt's
 * characters / 4, plus `max_tokens` (or `max_completion_tokens` / `max_output_tokens`) times the
 * number of choices `n`. This module makes the same estimate from the request JSON, without a
 * tokenizer: chat messages cost `ceil(chars / 4) + 4` each plus 3 for the reply's priming (the
 * per-message overhead of OpenAI's chat format), embeddings `ceil(chars / 4)` per input.
 *
 * An estimate is only a first guess: the rate limiter corrects it with the
 * `x-ratelimit-remaining-tokens` header of every response.
 *
 * The text counter is pluggable ({@link Options.estimator}): characters / 4 is what the service
 * itself uses to admit a request against the limit, but on real prompts it is off by +14%
 * (English prose) to -64% (Chinese). `Tokenizer` counts with a real BPE tokenizer when
 * `gpt-tokenizer` is installed, and {@link lowerBound} is a count never above the real one.
 *
 * @since 0.1.0
 */
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"

/**
 * A token estimate: the prompt, the completion allowance, and their sum (what the limit counts).
 *
 * @since 0.1.0
 * @category models
 */
export interface Estimate {
  readonly prompt: number
  readonly completion: number
  readonly total: number
}

/**
 * Options of the estimators.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * The completion allowance when the request sets no `max_tokens`: the server then counts the
   * reply it actually generates, which nobody knows in advance. Default 256.
   */
  readonly defaultCompletionTokens?: number | undefined
  /** Counts the tokens of one text. Default {@link ofText} (characters / 4). */
  readonly estimator?: Estimator | undefined
  /**
   * Tokens the chat format adds per message (role and delimiters). Default 4, the older models'
   * figure; current models add 3.
   */
  readonly messageOverhead?: number | undefined
}

/**
 * Counts the tokens of one text. Any function will do: {@link ofText}, {@link lowerBound}, a
 * real tokenizer's count (see `Tokenizer`). A result that is not a finite number of zero or more
 * (or a throw) reads as {@link ofText}'s.
 *
 * @example
 * ```ts
 * import { TokenEstimate } from "effect-openai-resilience"
 *
 * // One token per word, for a quick experiment.
 * const words: TokenEstimate.Estimator = (text) => text.split(/\s+/).filter(Boolean).length
 * TokenEstimate.fromBody({ messages: [{ role: "user", content: "one two three" }] }, { estimator: words }).prompt // 3 + 4 + 3
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type Estimator = (text: string) => number

/**
 * The default completion allowance for a request without `max_tokens`.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_COMPLETION_TOKENS = 256

/**
 * The token estimate of a text: one token per 4 characters, rounded up.
 *
 * @example
 * ```ts
 * import { TokenEstimate } from "effect-openai-resilience"
 *
 * TokenEstimate.ofText("Hello, world") // 3
 * ```
 *
 * @since 0.1.0
 * @category estimating
 */
export const ofText = (text: string): number => Math.ceil(text.length / 4)

// Runs of letters (and combining marks; an apostrophe between letters joins them, as in "don't"),
// runs of digits (group 2), and runs of two or more other non-space characters.
const PIECES = /[\p{L}\p{M}]+(?:['\u2019][\p{L}\p{M}]+)*|(\p{N}+)|[^\s\p{L}\p{M}\p{N}]{2,}/gu

/**
 * A token count never above the real one for OpenAI's BPE encodings (`o200k_base`,
 * `cl100k_base`), without a tokenizer. Those encodings first split a text into pieces (a word
 * with at most one leading symbol, up to 3 digits, a run of symbols, whitespace) and no token
 * crosses a piece; this counts pieces the coarsest way both splits agree on: one per run of
 * letters, one per 3 digits, one per run of two or more symbols. Close to the real count for
 * English prose, far below it for Chinese (a run of Han characters is one piece) or base64: use it
 * to reject only what certainly cannot fit.
 *
 * @example
 * ```ts
 * import { TokenEstimate } from "effect-openai-resilience"
 *
 * TokenEstimate.lowerBound("Hello, world!! 12345") // Hello, world, !!, 123, 45 -> 5
 * ```
 *
 * @since 0.2.0
 * @category estimating
 */
export const lowerBound = (text: string): number => {
  let count = 0
  for (const match of text.matchAll(PIECES)) {
    // Both encodings split a run of digits into groups of at most three (code points).
    count += match[1] === undefined ? 1 : Math.ceil([...match[1]].length / 3)
  }
  return count
}

/**
 * The length of the longest piece of `text` as {@link lowerBound} splits it (a run of letters,
 * of digits, or of symbols): a tokenizer's work on one piece grows with its square, so a caller
 * can tell when a text is too costly to hand to one.
 *
 * @example
 * ```ts
 * import { TokenEstimate } from "effect-openai-resilience"
 *
 * TokenEstimate.longestPiece("Hello, wonderful world") // 9
 * ```
 *
 * @since 0.2.0
 * @category estimating
 */
export const longestPiece = (text: string): number => {
  let longest = 0
  for (const match of text.matchAll(PIECES)) if (match[0].length > longest) longest = match[0].length
  return longest
}

const counter = (options: Options): (text: string) => number => {
  const estimator = options.estimator
  if (estimator === undefined) return ofText
  return (text) => {
    try {
      const n = estimator(text)
      return Number.isFinite(n) && n >= 0 ? n : ofText(text)
    } catch {
      return ofText(text)
    }
  }
}

type Json = Readonly<Record<string, unknown>>

const isRecord = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

// The text of a message `content` (or a Responses input item): a string, or the text of its parts.
const textOf = (content: unknown): string => {
  if (typeof content === "string") return content
  if (Array.isArray(content)) {
    return content
      .map((part) => isRecord(part) && typeof part.text === "string" ? part.text : typeof part === "string" ? part : "")
      .filter((t) => t.length > 0)
      .join("\n")
  }
  return ""
}

const messageTokens = (messages: ReadonlyArray<unknown>, count: (text: string) => number, overhead: number): number =>
  messages.reduce<number>(
    (sum, m) => sum + overhead + count(isRecord(m) ? textOf(m.content) : textOf(m)),
    3
  )

const overheadOf = (options: Options): number =>
  options.messageOverhead !== undefined && Number.isFinite(options.messageOverhead) && options.messageOverhead >= 0
    ? options.messageOverhead
    : 4

const nonNegative = (u: unknown): number | undefined =>
  typeof u === "number" && Number.isFinite(u) && u >= 0 ? Math.floor(u) : undefined

const completionAllowance = (body: Json, options: Options): number => {
  const max = nonNegative(body.max_completion_tokens) ?? nonNegative(body.max_tokens) ??
    nonNegative(body.max_output_tokens) ?? Math.max(0, options.defaultCompletionTokens ?? DEFAULT_COMPLETION_TOKENS)
  const n = nonNegative(body.n) ?? 1
  return max * Math.max(1, n)
}

const estimate = (prompt: number, completion: number): Estimate => ({ prompt, completion, total: prompt + completion })

/**
 * Estimates a request from its parsed JSON body. Chat (`messages`), Responses (`input`,
 * `instructions`), legacy completions (`prompt`) and embeddings (`input`, counted without a
 * completion). Anything else counts zero tokens. Never throws.
 *
 * @example
 * ```ts
 * import { TokenEstimate } from "effect-openai-resilience"
 *
 * const e = TokenEstimate.fromBody({
 *   model: "gpt-4o-mini",
 *   messages: [{ role: "user", content: "Say hello in French" }],
 *   max_tokens: 50
 * })
 * console.log(e.total) // 3 + (4 + 5) + 50 = 62
 * ```
 *
 * @since 0.1.0
 * @category estimating
 */
export const fromBody = (body: unknown, options: Options & { readonly path?: string | undefined } = {}): Estimate => {
  if (!isRecord(body)) return estimate(0, 0)
  const path = options.path ?? ""
  const count = counter(options)
  const overhead = overheadOf(options)
  if (path.endsWith("/embeddings")) {
    const input = body.input
    const texts = typeof input === "string" ? [input] : Array.isArray(input) ? input.filter((t) => typeof t === "string") : []
    return estimate(texts.reduce((n, t) => n + count(t), 0), 0)
  }
  if (Array.isArray(body.messages)) {
    return estimate(messageTokens(body.messages, count, overhead), completionAllowance(body, options))
  }
  if (body.input !== undefined && !path.endsWith("/moderations")) {
    const items = typeof body.input === "string" ? [{ role: "user", content: body.input }] :
      Array.isArray(body.input) ? body.input : []
    const instructions = typeof body.instructions === "string" ? overhead + count(body.instructions) : 0
    return estimate(messageTokens(items, count, overhead) + instructions, completionAllowance(body, options))
  }
  if (body.prompt !== undefined) {
    const prompt = typeof body.prompt === "string" ? count(body.prompt) :
      Array.isArray(body.prompt) ? body.prompt.reduce<number>((n, p) => n + (typeof p === "string" ? count(p) : 0), 0) :
      0
    return estimate(prompt, completionAllowance(body, options))
  }
  return estimate(0, 0)
}

const decoder = new TextDecoder()

/**
 * Estimates an `HttpClientRequest` from its JSON body (as made by `HttpClientRequest.bodyJson`).
 * A body that is not JSON in memory (a stream, form data, none) counts zero tokens.
 *
 * @example
 * ```ts
 * import { TokenEstimate } from "effect-openai-resilience"
 * import { HttpClientRequest } from "@effect/platform"
 *
 * const request = HttpClientRequest.post("https://api.openai.com/v1/chat/completions").pipe(
 *   HttpClientRequest.bodyUnsafeJson({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }], max_tokens: 16 })
 * )
 * console.log(TokenEstimate.fromRequest(request).total) // 3 + 5 + 16 = 24
 * ```
 *
 * @since 0.1.0
 * @category estimating
 */
export const fromRequest = (request: HttpClientRequest.HttpClientRequest, options: Options = {}): Estimate => {
  const json = bodyJson(request)
  return json === undefined ? estimate(0, 0) : fromJson(request, json, options)
}

/**
 * {@link fromRequest} for a body already parsed (by {@link bodyJson}): the request gives the
 * endpoint, `json` the content.
 *
 * @example
 * ```ts
 * import { TokenEstimate } from "effect-openai-resilience"
 * import { HttpClientRequest } from "@effect/platform"
 *
 * const body = { model: "text-embedding-3-small", input: "hello" }
 * const request = HttpClientRequest.post("https://api.openai.com/v1/embeddings")
 * TokenEstimate.fromJson(request, body).total // 2
 * ```
 *
 * @since 0.1.0
 * @category estimating
 */
export const fromJson = (
  request: HttpClientRequest.HttpClientRequest,
  json: unknown,
  options: Options = {}
): Estimate => fromBody(json, { ...options, path: pathOf(request.url) })

/**
 * The parsed JSON body of a request, when it has one in memory. Used for the model name too.
 *
 * @example
 * ```ts
 * import { TokenEstimate } from "effect-openai-resilience"
 * import { HttpClientRequest } from "@effect/platform"
 *
 * const request = HttpClientRequest.post("https://api.openai.com/v1/embeddings").pipe(
 *   HttpClientRequest.bodyUnsafeJson({ model: "text-embedding-3-small", input: "hi" })
 * )
 * TokenEstimate.bodyJson(request) // { model: "text-embedding-3-small", input: "hi" }
 * ```
 *
 * @since 0.1.0
 * @category estimating
 */
export const bodyJson = (request: HttpClientRequest.HttpClientRequest): unknown => {
  const body = request.body
  try {
    if (body._tag === "Uint8Array") return JSON.parse(decoder.decode(body.body))
    if (body._tag === "Raw" && typeof body.body === "string") return JSON.parse(body.body)
  } catch {
    // Not JSON: nothing to estimate.
  }
  return undefined
}

const pathOf = (url: string): string => {
  try {
    return new URL(url, "http://localhost").pathname
  } catch {
    return url
  }
}
