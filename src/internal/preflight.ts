import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientModule from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as OpenAiError from "../OpenAiError.js"
import type * as Preflight from "../Preflight.js"
import * as TokenEstimate from "../TokenEstimate.js"
import * as Tokenizer from "../Tokenizer.js"
import * as Models from "./models.js"

/** @internal */
export const contextWindows: Readonly<Record<string, number>> = {
  "gpt-5": 400_000,
  "gpt-5-mini": 400_000,
  "gpt-5-nano": 400_000,
  "gpt-5-chat-latest": 128_000,
  "gpt-4.1": 1_047_576,
  "gpt-4.1-mini": 1_047_576,
  "gpt-4.1-nano": 1_047_576,
  "gpt-4o": 128_000,
  "gpt-4o-mini": 128_000,
  "chatgpt-4o-latest": 128_000,
  "o1": 200_000,
  "o1-mini": 128_000,
  "o1-preview": 128_000,
  "o3": 200_000,
  "o3-mini": 200_000,
  "o3-pro": 200_000,
  "o4-mini": 200_000,
  "gpt-4-turbo": 128_000,
  "gpt-4-turbo-preview": 128_000,
  "gpt-4-0125-preview": 128_000,
  "gpt-4-1106-preview": 128_000,
  "gpt-4": 8_192,
  "gpt-4-32k": 32_768,
  "gpt-3.5-turbo": 16_385,
  "gpt-3.5-turbo-instruct": 4_096
}

const isWindow = (n: unknown): n is number => typeof n === "number" && Number.isFinite(n) && n > 0

/** @internal */
export const contextWindow = (model: string, overrides: Preflight.Options["contextWindows"]): Option.Option<number> => {
  // An override of 0 (or anything not a positive number) hides the table's entry: no check.
  const table: Readonly<Record<string, number>> = overrides === undefined ? contextWindows : { ...contextWindows, ...overrides }
  const window = Models.lookup(table, model)
  return isWindow(window) ? Option.some(window) : Option.none()
}

/** The endpoints whose request carries a prompt and a completion allowance. */
const kindOf = (path: string): "messages" | "input" | "prompt" | undefined =>
  path.endsWith("/chat/completions")
    ? "messages"
    : path.endsWith("/responses")
    ? "input"
    : path.endsWith("/completions")
    ? "prompt"
    : undefined

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const allowance = (body: Readonly<Record<string, unknown>>): number => {
  for (const key of ["max_completion_tokens", "max_tokens", "max_output_tokens"]) {
    const n = body[key]
    if (typeof n === "number" && Number.isFinite(n) && n >= 0) return Math.floor(n)
  }
  return 0
}

interface Counter {
  readonly count: TokenEstimate.Estimator
  /** How the prompt was counted, for the message. */
  readonly name: string
}

const bound: Counter = {
  count: TokenEstimate.lowerBound,
  name: "a lower bound on the tokens (install gpt-tokenizer for an exact count)"
}

// BPE merges within one pre-token take time quadratic in its length (40,000 letters with no
// break: 2.7 s), and a hostile or careless prompt can be one such run. A text with a piece longer
// than this is counted with the lower bound instead: sound (it never counts more than the real
// tokenizer), linear, only less precise.
const MAX_PIECE = 1000

const withinRuns = (count: TokenEstimate.Estimator): TokenEstimate.Estimator => (text) =>
  TokenEstimate.longestPiece(text) > MAX_PIECE ? bound.count(text) : count(text)

const counterFor = (model: string, tokenizer: Preflight.Options["tokenizer"]): Effect.Effect<Counter> => {
  if (typeof tokenizer === "function") return Effect.succeed({ count: tokenizer, name: "the configured estimator" })
  if (tokenizer === "bound") return Effect.succeed(bound)
  return Effect.map(
    Tokenizer.forModel(model),
    Option.match({
      onNone: () => bound,
      onSome: (t): Counter => ({ count: withinRuns(t.count), name: `gpt-tokenizer (${t.encoding})` })
    })
  )
}

/**
 * A `ContextLengthExceeded` raised here rather than by the server: same tag, same class (so
 * every handler of the server's error handles it), with the probable cause saying no request was
 * sent.
 * @internal
 */
export class CaughtBeforeSending extends OpenAiError.ContextLengthExceeded {
  override get probableCause(): string {
    return "Caught before sending: the prompt plus the completion allowance (max_tokens, " +
      "max_completion_tokens or max_output_tokens) cannot fit in the model's context window, so " +
      "no request was sent. The message says how the prompt was counted."
  }
}

// Chat formats add 3 tokens per message and 3 to prime the reply on current models.
const MESSAGE_OVERHEAD = 3

/**
 * UTF-8 bytes of a text: an upper bound on its tokens in any byte-level BPE, where every token
 * is at least one byte.
 */
const utf8Bytes = (text: string): number => {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    // A surrogate pair is 4 bytes over two code units: 2 each.
    bytes += code < 0x80 ? 1 : code < 0x800 || (code >= 0xd800 && code <= 0xdfff) ? 2 : 3
  }
  return bytes
}

/** @internal */
export const checkBody = (
  body: unknown,
  path: string,
  options: Preflight.Options = {}
): Effect.Effect<void, OpenAiError.ContextLengthExceeded> => {
  const kind = kindOf(path)
  if (kind === undefined || !isRecord(body) || typeof body.model !== "string") return Effect.void
  const model = body.model
  const window = contextWindow(model, options.contextWindows)
  if (Option.isNone(window)) return Effect.void
  const completion = allowance(body)
  const prompt = (estimator: TokenEstimate.Estimator): number =>
    TokenEstimate.fromBody(body, { path, estimator, messageOverhead: MESSAGE_OVERHEAD, defaultCompletionTokens: 0 })
      .prompt
  // Almost every request fits even counted a token per byte: then nothing more is needed (and
  // the tokenizer is never loaded for it).
  if (prompt(utf8Bytes) + completion <= window.value) return Effect.void
  return Effect.flatMap(counterFor(model, options.tokenizer), (counter) => {
    const tokens = prompt(counter.count)
    if (tokens + completion <= window.value) return Effect.void
    const where = kind === "messages" ? "in the messages" : kind === "input" ? "in the input" : "in the prompt"
    return Effect.fail(
      new CaughtBeforeSending({
        message: `This model's maximum context length is ${window.value} tokens. However, you requested at least ${
          tokens + completion
        } tokens (${tokens} ${where}, ${completion} in the completion). Please reduce the length of the ${
          kind === "messages" ? "messages" : kind
        } or completion. (Checked before sending, counted with ${counter.name}.)`,
        code: Option.some("context_length_exceeded"),
        type: Option.some("invalid_request_error"),
        param: Option.some(kind)
      })
    )
  })
}

// The path is only compared by its end: no need to parse the URL.
const pathOf = (url: string): string => url.split(/[?#]/)[0] ?? url

/**
 * {@link check} for a request whose body the caller already holds as a value: nothing is parsed.
 * The encoded body holds every byte of the prompt's text (JSON only adds to it), and each
 * message's JSON wrapper is longer than the tokens a message adds, so a body whose byte length
 * plus its completion budget fits the window fits at a token per byte too: it passes at once.
 * @internal
 */
export const checkParsed = (
  request: HttpClientRequest.HttpClientRequest,
  body: unknown,
  options: Preflight.Options = {}
): Effect.Effect<void, OpenAiError.ContextLengthExceeded> => {
  if (request.method !== "POST" || !isRecord(body) || typeof body.model !== "string") return Effect.void
  const path = pathOf(request.url)
  if (kindOf(path) === undefined) return Effect.void
  const window = contextWindow(body.model, options.contextWindows)
  if (Option.isNone(window)) return Effect.void
  const encoded = request.body._tag === "Uint8Array" ? request.body.body.length : undefined
  if (encoded !== undefined && encoded + allowance(body) <= window.value) return Effect.void
  return checkBody(body, path, options)
}

/** @internal */
export const check = (
  request: HttpClientRequest.HttpClientRequest,
  options: Preflight.Options = {}
): Effect.Effect<void, OpenAiError.ContextLengthExceeded> => {
  if (request.method !== "POST" || kindOf(pathOf(request.url)) === undefined) return Effect.void
  return Effect.suspend(() => checkBody(TokenEstimate.bodyJson(request), pathOf(request.url), options))
}

/** @internal */
export const middleware = (options: Preflight.Options = {}) =>
<E, R>(client: HttpClient.HttpClient.With<E, R>): HttpClient.HttpClient.With<E | OpenAiError.ContextLengthExceeded, R> =>
  HttpClientModule.mapRequestEffect(client, (request) => Effect.as(check(request, options), request))
