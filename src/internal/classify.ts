/**
 * The classifier behind `Classify`: body parsing and salvage, the status and code rules that pick
 * a tag, and the transport-failure reading.
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type { ErrorPayload, ResponseInput } from "../Classify.js"
import { type HeadersInput, normalize, requestIdOf } from "./headers.js"
import { foldedHead, pageText, pageTitle } from "./html.js"
import { keepable, scrubHead } from "./secrets.js"
import * as OpenAiError from "../OpenAiError.js"
import * as RateLimitHeaders from "../RateLimitHeaders.js"
import * as RetryAfter from "../RetryAfter.js"

/** @internal */
export const MAX_MESSAGE_LENGTH = 2000

/** @internal */
export const MAX_BODY_LENGTH = 256 * 1024

const safeStringify = (u: unknown): string | undefined => {
  try {
    return JSON.stringify(u)
  } catch {
    return undefined
  }
}

// `String(u)` throws for null-prototype objects, symbols in templates and hostile `toString`s.
const safeString = (u: unknown): string => {
  try {
    return String(u)
  } catch {
    return Object.prototype.toString.call(u)
  }
}

const text = (u: unknown): Option.Option<string> =>
  typeof u === "string" ? (u.length === 0 ? Option.none() : Option.some(u)) :
  typeof u === "number" && Number.isFinite(u) ? Option.some(String(u)) :
  Option.none()

// Some compatible servers send `message` as a list of strings (NestJS validation) or an object.
const messageOf = (u: unknown): Option.Option<string> => {
  if (typeof u === "string") return Option.some(u)
  if (Array.isArray(u) && u.length > 0) {
    return Option.some(u.slice(0, 50).map((m) => typeof m === "string" ? m : safeStringify(m) ?? "").join("; "))
  }
  if (Predicate.isRecord(u)) return Option.fromNullable(safeStringify(u))
  return Option.none()
}

const payloadOf = (record: Record<string, unknown>): ErrorPayload => ({
  message: messageOf(record.message),
  type: text(record.type),
  param: text(record.param),
  code: text(record.code)
})

const detailMessage = (detail: unknown): string => {
  if (typeof detail === "string") return detail
  if (Array.isArray(detail)) {
    return detail.map((item) => {
      if (Predicate.isRecord(item)) {
        const loc = Array.isArray(item.loc) ? item.loc.join(" -> ") : undefined
        const msg = typeof item.msg === "string" ? item.msg : safeStringify(item) ?? ""
        return loc ? `${loc}: ${msg}` : msg
      }
      return safeString(item)
    }).join("; ")
  }
  return safeStringify(detail) ?? ""
}

/** @internal */
export const errorPayload = (json: unknown): Option.Option<ErrorPayload> => {
  try {
    return payloadIn(json, 0)
  } catch {
    // A hostile value (throwing getters, proxies) holds no error we can read.
    return Option.none()
  }
}

const payloadIn = (json: unknown, depth: number): Option.Option<ErrorPayload> => {
  // Some gateways wrap the error body in a one-element array (`[{"error": {...}}]`).
  if (Array.isArray(json) && depth === 0 && json.length > 0) return payloadIn(json[0], depth + 1)
  if (!Predicate.isRecord(json)) return Option.none()
  const error = json.error
  if (Predicate.isRecord(error)) return Option.some(payloadOf(error))
  if (typeof error === "string" && error.length > 0) {
    return Option.some({ message: Option.some(error), type: text(json.type), param: Option.none(), code: text(json.code) })
  }
  if ("detail" in json && json.detail !== undefined && json.detail !== null) {
    return Option.some({
      message: Option.some(detailMessage(json.detail)),
      type: Option.none(),
      param: Option.none(),
      code: Option.none()
    })
  }
  if (json.type === "response.failed" && Predicate.isRecord(json.response)) {
    const inner = json.response.error
    return Option.some(
      Predicate.isRecord(inner)
        ? payloadOf(inner)
        : { message: Option.some("The response failed"), type: Option.none(), param: Option.none(), code: Option.none() }
    )
  }
  if (json.type === "error" || (typeof json.message === "string" && ("code" in json || "type" in json))) {
    const payload = payloadOf(json)
    return Option.some(json.type === "error" ? { ...payload, type: Option.none() } : payload)
  }
  return Option.none()
}

const decodeBody = (body: string | Uint8Array | undefined): string => {
  if (body === undefined) return ""
  if (typeof body === "string") return body.length > MAX_BODY_LENGTH ? body.slice(0, MAX_BODY_LENGTH) : body
  try {
    return new TextDecoder("utf-8", { fatal: false }).decode(body.subarray(0, MAX_BODY_LENGTH))
  } catch {
    return ""
  }
}

const TAIL_LENGTH = 4096

// The last characters of a body longer than MAX_BODY_LENGTH: the short fields (`code`, `type`)
// often follow a huge `message`, so they are read from here when the head lacks them.
const tailOf = (body: string | Uint8Array | undefined): string => {
  if (body === undefined || body.length <= MAX_BODY_LENGTH) return ""
  if (typeof body === "string") return body.slice(-TAIL_LENGTH)
  try {
    return new TextDecoder("utf-8", { fatal: false }).decode(body.subarray(-TAIL_LENGTH))
  } catch {
    return ""
  }
}

const withTail = (payload: Option.Option<ErrorPayload>, tail: string): Option.Option<ErrorPayload> => {
  if (tail.length === 0) return payload
  const p = Option.getOrElse(payload, () => emptyPayload)
  const merged: ErrorPayload = {
    message: p.message,
    type: Option.orElse(p.type, () => rawField(tail, "type")),
    param: Option.orElse(p.param, () => rawField(tail, "param")),
    code: Option.orElse(p.code, () => rawField(tail, "code"))
  }
  return Option.isSome(payload) || Option.isSome(merged.code) || Option.isSome(merged.type)
    ? Option.some(merged)
    : payload
}

const safeJson = (raw: string): unknown => {
  try {
    return JSON.parse(raw)
  } catch {
    return undefined
  }
}

// A string or number value of `"name":` in JSON text that may be cut off mid-way. A cut-off string
// value is taken up to where the text ends.
const rawField = (raw: string, name: string): Option.Option<string> => {
  // The string's body as an unrolled loop (`[^"\\]*(?:\\.[^"\\]*)*`): the same language as
  // `(?:[^"\\]|\\.)*`, without an alternation per character (a 256 KiB message cost 5 ms).
  const m = new RegExp(`"${name}"\\s*:\\s*(?:"([^"\\\\]*(?:\\\\.[^"\\\\]*)*)|(-?\\d{1,15}))`).exec(raw)
  if (m === null) return Option.none()
  if (m[2] !== undefined) return Option.some(m[2])
  const body = m[1] ?? ""
  const decoded = safeJson(`"${body}"`)
  return text(typeof decoded === "string" ? decoded : body)
}

// A cut-off or otherwise broken JSON body may still name its code, type and message: reading them
// keeps a truncated `insufficient_quota` 429 from being retried as if it were a rate limit.
const salvage = (raw: string): Option.Option<ErrorPayload> => {
  const trimmed = raw.trimStart()
  if (!trimmed.startsWith("{") && !trimmed.startsWith("[")) return Option.none()
  const payload: ErrorPayload = {
    message: rawField(trimmed, "message"),
    type: rawField(trimmed, "type"),
    param: rawField(trimmed, "param"),
    code: rawField(trimmed, "code")
  }
  return Option.isSome(payload.message) || Option.isSome(payload.code) || Option.isSome(payload.type)
    ? Option.some(payload)
    : Option.none()
}

const statusText = (status: number): string => {
  const names: Record<number, string> = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    409: "Conflict",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout"
  }
  return names[status] ?? "Unexpected status"
}

// A message for bodies that carry no JSON error: HTML pages (their <title>, else their text),
// plain text, or nothing.
const messageFromRaw = (
  status: number | undefined,
  raw: string,
  parsed: boolean,
  secrets: ReadonlyArray<string>
): string => {
  const prefix = status === undefined ? "Error" : `HTTP ${status} ${statusText(status)}`
  const trimmed = raw.trim()
  if (trimmed.length === 0) return `${prefix} with an empty body`
  if (/^<(!doctype|html|head|body|\?xml)/i.test(trimmed) || /<\/(html|body|title|h1)>/i.test(trimmed)) {
    const words = pageTitle(trimmed) ?? pageText(trimmed)
    return `${prefix}: an HTML page (${scrubHead(words, 200, secrets)}), probably from a proxy or load balancer`
  }
  if (parsed) return `${prefix}: a JSON body with no error in it (${scrubHead(trimmed, 200, secrets)})`
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    return `${prefix}: a cut-off or invalid JSON body (${scrubHead(trimmed, 200, secrets)})`
  }
  return `${prefix}: ${scrubHead(foldedHead(trimmed, 1024), 500, secrets)}`
}

const has = (o: Option.Option<string>, ...values: ReadonlyArray<string>): boolean =>
  Option.isSome(o) && values.includes(o.value.toLowerCase())

const CLIENT_CODE = /^(invalid_|unsupported_|empty_|failed_to_download_|image_|bio_policy$|data_residency_mismatch$)/i

const OVERLOADED = /currently overloaded|engine_overloaded|overloaded_error|server is overloaded/i

const numbers = (message: string) => {
  const grab = (name: string): Option.Option<number> => {
    const m = new RegExp(`${name}:?\\s+(\\d[\\d,]*)`, "i").exec(message)
    return m?.[1] === undefined ? Option.none() : Option.some(Number(m[1].replace(/,/g, "")))
  }
  return { limit: grab("Limit"), used: grab("Used"), requested: grab("Requested") }
}

const scopeOf = (type: Option.Option<string>, message: string): OpenAiError.RateLimitScope => {
  if (has(type, "requests")) return "requests"
  if (has(type, "tokens")) return "tokens"
  // OpenAI: "on requests per min (RPM)"; Azure: "exceeded call rate limit" / "token rate limit".
  if (/on requests per|\(RPM\)|\(RPD\)|call rate limit|request rate limit/i.test(message)) return "requests"
  if (/on tokens per|\(TPM\)|\(TPD\)|token rate limit/i.test(message)) return "tokens"
  return "unknown"
}

interface Classification {
  readonly status: number | undefined
  readonly payload: ErrorPayload
  readonly message: string
  readonly fields: OpenAiError.Input
}

const pick = ({ fields, message, payload, status }: Classification): OpenAiError.OpenAiError => {
  const { code, type } = payload
  const overloaded = OVERLOADED.test(message) || has(type, "engine_overloaded_error", "overloaded_error") ||
    has(code, "engine_overloaded", "overloaded")
  const quota = has(code, "insufficient_quota") || has(type, "insufficient_quota") ||
    /exceeded your current quota/i.test(message)
  const tooLarge = /request too large/i.test(message)
  const rateLimited = has(code, "rate_limit_exceeded") || has(type, "requests", "tokens", "rate_limit_error") ||
    /rate limit reached/i.test(message)
  const contextLength = has(code, "context_length_exceeded") ||
    /maximum context length|context[_ ]length[_ ]exceeded/i.test(message)
  const rateLimit = () => {
    const n = numbers(message)
    return new OpenAiError.RateLimitReached({ ...fields, scope: scopeOf(type, message), ...n })
  }
  const requestTooLarge = () => {
    const n = numbers(message)
    return new OpenAiError.RequestTooLarge({ ...fields, limit: n.limit, requested: n.requested })
  }

  switch (status) {
    case undefined: {
      // Inside a stream: no status, so the code and type decide.
      if (quota) return new OpenAiError.QuotaExceeded(fields)
      if (tooLarge) return requestTooLarge()
      if (rateLimited) return rateLimit()
      if (overloaded) return new OpenAiError.EngineOverloaded(fields)
      if (contextLength) return new OpenAiError.ContextLengthExceeded(fields)
      if (has(code, "invalid_api_key")) return new OpenAiError.IncorrectApiKey(fields)
      if (has(code, "no_organization")) return new OpenAiError.NoOrganization(fields)
      if (has(code, "unsupported_country_region_territory")) return new OpenAiError.UnsupportedRegion(fields)
      if (has(code, "model_not_found")) return new OpenAiError.NotFound(fields)
      // The Responses API's `response.failed` codes for a bad input (invalid_prompt, bio_policy,
      // invalid_image_url, image_too_large, ...): the same request fails the same way again.
      if (has(type, "invalid_request_error") || (Option.isSome(code) && CLIENT_CODE.test(code.value))) {
        return new OpenAiError.BadRequest(fields)
      }
      return new OpenAiError.ServerError(fields)
    }
    case 400:
      return contextLength ? new OpenAiError.ContextLengthExceeded(fields) : new OpenAiError.BadRequest(fields)
    case 401:
      if (has(code, "no_organization") || /member of an organization/i.test(message)) {
        return new OpenAiError.NoOrganization(fields)
      }
      // Azure and compatible providers word it "Invalid API Key" / "invalid subscription key".
      if (has(code, "invalid_api_key") || /incorrect api key|invalid (api|subscription) key/i.test(message)) {
        return new OpenAiError.IncorrectApiKey(fields)
      }
      return new OpenAiError.InvalidAuthentication(fields)
    case 403:
      return has(code, "unsupported_country_region_territory") ||
          /country, region,? or territory not supported/i.test(message)
        ? new OpenAiError.UnsupportedRegion(fields)
        : new OpenAiError.PermissionDenied(fields)
    case 404:
      return new OpenAiError.NotFound(fields)
    case 409:
      return new OpenAiError.Conflict(fields)
    case 422:
      return new OpenAiError.UnprocessableEntity(fields)
    case 429:
      if (quota) return new OpenAiError.QuotaExceeded(fields)
      if (tooLarge) return requestTooLarge()
      if (overloaded) return new OpenAiError.EngineOverloaded(fields)
      return rateLimit()
    default:
      if (status === 503 || (status >= 500 && overloaded)) return new OpenAiError.EngineOverloaded(fields)
      if (status >= 500 && status <= 599) return new OpenAiError.ServerError(fields)
      return new OpenAiError.UnexpectedStatus(fields)
  }
}

const validStatus = (status: unknown): number | undefined =>
  typeof status === "number" && Number.isInteger(status) && status >= 100 && status <= 999 ? status : undefined

const emptyPayload: ErrorPayload = {
  message: Option.none(),
  type: Option.none(),
  param: Option.none(),
  code: Option.none()
}

const build = (
  status: number | undefined,
  headersInput: HeadersInput | undefined,
  payload: Option.Option<ErrorPayload>,
  raw: string,
  parsed: boolean,
  now: number,
  secrets: ReadonlyArray<string>
): OpenAiError.OpenAiError => {
  const headers = normalize(headersInput)
  const p = Option.getOrElse(payload, () => emptyPayload)
  const serverMessage = Option.getOrElse(p.message, () =>
    Option.isSome(p.code) || Option.isSome(p.type)
      ? `${status === undefined ? "Error" : `HTTP ${status} ${statusText(status)}`}: the server sent no message (${
        [Option.map(p.code, (c) => `code ${c}`), Option.map(p.type, (t) => `type ${t}`)]
          .filter(Option.isSome).map((o) => o.value).join(", ")
      })`
      : messageFromRaw(status, raw, parsed, secrets))
  const message = scrubHead(serverMessage, MAX_MESSAGE_LENGTH, secrets)
  const hint = RetryAfter.fromResponse({ headers, message: serverMessage, status, now })
  // Azure sends its own ids beside (or instead of) x-request-id; support asks for either.
  const requestId = requestIdOf(headers, secrets)
  // Anything we keep from the server goes through `scrub`: a proxy may echo the key anywhere.
  const keep = (value: string) => scrubHead(value, 200, secrets)
  const fields: OpenAiError.Input = {
    message,
    status: status === undefined ? Option.none() : Option.some(status),
    code: Option.map(p.code, keep),
    type: Option.map(p.type, keep),
    param: Option.map(p.param, keep),
    requestId: Option.fromNullable(requestId),
    rateLimit: RateLimitHeaders.fromHeaders(headers),
    retryAfter: Option.map(hint, (h) => h.delay),
    retryAfterSource: Option.map(hint, (h) => h.source),
    shouldRetry: RetryAfter.shouldRetry(headers)
  }
  return pick({ status, payload: p, message, fields })
}

const secretsOf = (u: unknown): ReadonlyArray<string> =>
  Array.isArray(u) ? u.filter((s): s is string => typeof s === "string") : []

const nowOf = (u: unknown): number => typeof u === "number" && Number.isFinite(u) ? u : Date.now()

const describeThrown = (u: unknown): string => scrubHead(describeCause(u), 200)

/** @internal */
export const classifyResponse = (input: ResponseInput): OpenAiError.OpenAiError => {
  let status = 0
  try {
    status = validStatus(input?.status) ?? 0
    const raw = decodeBody(input?.body)
    const json = safeJson(raw)
    const parsed = json !== undefined
    const payload = parsed ? errorPayload(json) : withTail(salvage(raw), tailOf(input?.body))
    return build(status, input?.headers, payload, raw, parsed, nowOf(input?.now), secretsOf(input?.secrets))
  } catch (thrown) {
    // Only a hostile input (throwing getters, proxies) gets here.
    return new OpenAiError.UnexpectedStatus({
      message: `HTTP ${status}: the response could not be read (${describeThrown(thrown)})`,
      status: Option.some(status)
    })
  }
}

// The data of an SSE frame given as text: `event: error\ndata: {...}` or `data: {...}` lines.
const sseData = (text: string): string => {
  if (!/^(data|event|id|retry):/m.test(text)) return text
  const lines: Array<string> = []
  // One forward pass; the next CR and LF are each searched for again only once passed.
  let cr = text.indexOf("\r")
  let lf = text.indexOf("\n")
  // An error event has a line or two of data; the first 1000 are more than any server sends, and
  // a hostile frame of a hundred thousand empty lines costs no more than that.
  for (let at = 0; at <= text.length && lines.length < 1000;) {
    if (cr >= 0 && cr < at) cr = text.indexOf("\r", at)
    if (lf >= 0 && lf < at) lf = text.indexOf("\n", at)
    const end = cr < 0 ? (lf < 0 ? text.length : lf) : lf < 0 ? cr : Math.min(cr, lf)
    if (text.startsWith("data:", at)) lines.push(text.slice(at + (text.startsWith("data: ", at) ? 6 : 5), end))
    at = end + (end === cr && lf === end + 1 ? 2 : 1)
  }
  return lines.length === 0 ? text : lines.join("\n")
}

/** @internal */
export const classifyStreamError = (
  data: unknown,
  options?: {
    readonly headers?: HeadersInput | undefined
    readonly now?: number | undefined
    readonly secrets?: ReadonlyArray<string> | undefined
  }
): OpenAiError.OpenAiError => {
  try {
    const secrets = secretsOf(options?.secrets)
    // Text (or bytes) is read as the response classifier reads a body: a bounded head, parsed or
    // salvaged, and the tail of a longer one for the `code` and `type` that follow a huge message.
    const isText = typeof data === "string" || data instanceof Uint8Array
    const raw = isText ? sseData(decodeBody(data)) : ""
    const json = isText ? safeJson(raw) : data
    const parsed = !isText || json !== undefined
    const payload = parsed ? errorPayload(json) : withTail(salvage(raw), tailOf(data))
    const shown = raw.length > 0 ? raw : scrubHead(safeStringify(json) ?? "", MAX_BODY_LENGTH, secrets)
    return build(
      undefined,
      options?.headers,
      Option.isSome(payload)
        ? payload
        : Option.some({ ...emptyPayload, message: Option.some(messageFromRaw(undefined, shown, parsed, secrets)) }),
      raw,
      parsed,
      nowOf(options?.now),
      secrets
    )
  } catch (thrown) {
    return new OpenAiError.ServerError({
      message: `A stream error event that could not be read (${describeThrown(thrown)})`
    })
  }
}

const TIMEOUT_CODES = new Set([
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CONNECT_TIMEOUT"
])

// undici's own timers, which fire whatever the client's timeout is: Node's global fetch (so
// @effect/platform's FetchHttpClient) gives up after 300 s without headers, or 300 s between two
// body chunks, and a 10-minute call is cut at 5 minutes and retried (openai-node issue 2153).
const UNDICI_CUTS: Readonly<Record<string, string>> = {
  UND_ERR_HEADERS_TIMEOUT: "headersTimeout",
  UND_ERR_BODY_TIMEOUT: "bodyTimeout"
}

const undiciCut = (code: string, option: string, timeout: Duration.Duration): string =>
  `undici's own ${option} (300 s in Node's global fetch, which FetchHttpClient uses; ` +
  `1 hour for the headers under UndiciHttpClient.layer and NodeHttpClient.layerUndici) cut the call (${code}), ` +
  `not this client's timeout${Duration.toMillis(timeout) > 0 ? ` of ${Duration.format(timeout)}` : ""}. ` +
  "Provide UndiciHttpClient.layer (from effect-openai-resilience/undici) or NodeHttpClient.layerUndici " +
  "(from @effect/platform-node), which leave the waits to the client's `timeout` and `idleTimeout`, " +
  "or give fetch an undici dispatcher with higher headersTimeout and bodyTimeout"

// Walks `cause` chains (Error.cause, @effect/platform's RequestError.cause, AggregateError.errors),
// bounded so that a cyclic chain cannot loop.
const chain = (cause: unknown): ReadonlyArray<unknown> => {
  const out: Array<unknown> = []
  const queue: Array<unknown> = [cause]
  while (queue.length > 0 && out.length < 16) {
    const next = queue.shift()
    if (next === undefined || next === null || out.includes(next)) continue
    out.push(next)
    if (typeof next === "object") {
      try {
        const c = (next as { cause?: unknown }).cause
        if (c !== undefined) queue.push(c)
        const errors = (next as { errors?: unknown }).errors
        if (Array.isArray(errors)) queue.push(...errors.slice(0, 4))
      } catch {
        // throwing getters: stop here
      }
    }
  }
  return out
}

const prop = (u: unknown, key: string): unknown => {
  try {
    return typeof u === "object" && u !== null ? (u as Record<string, unknown>)[key] : undefined
  } catch {
    return undefined
  }
}

const describeCause = (u: unknown): string => {
  const message = prop(u, "message")
  if (typeof message === "string" && message.length > 0) return message
  if (typeof u === "string") return u
  if (u === undefined || u === null) return "no cause was given"
  return safeStringify(u) ?? safeString(u)
}

/** @internal */
export const classifyTransportError = (
  cause: unknown,
  options?: {
    readonly received?: OpenAiError.Received | undefined
    readonly timeout?: Duration.DurationInput | undefined
  }
): OpenAiError.ConnectionError | OpenAiError.TimeoutError => {
  try {
    // Already classified (a middleware layer below did it): keep it, cause and all.
    if (OpenAiError.isConnectionError(cause) || OpenAiError.isTimeoutError(cause)) return cause
    return transport(cause, options)
  } catch (thrown) {
    // Only a hostile cause or option (throwing getters, an unreadable duration) gets here.
    return new OpenAiError.ConnectionError({
      message: `Connection error: ${describeThrown(thrown)}`,
      cause: keptCause(cause),
      errorCode: Option.none(),
      received: Option.none()
    })
  }
}

// What a `ConnectionError` keeps as its cause: scrubbed, and never a platform error that holds
// the request (see `keepable`).
const keptCause = (cause: unknown): unknown => keepable(cause)

const transport = (
  cause: unknown,
  options?: {
    readonly received?: OpenAiError.Received | undefined
    readonly timeout?: Duration.DurationInput | undefined
  }
): OpenAiError.ConnectionError | OpenAiError.TimeoutError => {
  const links = chain(cause)
  const codes = links.map((l) => prop(l, "code")).filter((c): c is string =>
    typeof c === "string" && /^[A-Z][A-Z0-9_]{2,40}$/.test(c)
  )
  const names = links.map((l) => prop(l, "name")).filter((n): n is string => typeof n === "string")
  const tags = links.map((l) => prop(l, "_tag")).filter((n): n is string => typeof n === "string")
  const isTimeout = codes.some((c) => TIMEOUT_CODES.has(c)) || names.includes("TimeoutError") ||
    tags.includes("TimeoutException")
  const errorCode = codes.find((c) => !c.startsWith("ERR_INVALID")) ?? codes[0]
  // The innermost message is usually the most specific ("read ECONNRESET" over "fetch failed").
  const detail = scrubHead(describeCause(links[links.length - 1] ?? cause), 500)
  const timeout = Duration.decode(options?.timeout ?? Duration.zero)
  const undici = codes.find((c) => UNDICI_CUTS[c] !== undefined)
  const cut = undici === undefined ? "" : `: ${undiciCut(undici, UNDICI_CUTS[undici] ?? undici, timeout)}`
  if (isTimeout && options?.received === undefined) {
    return new OpenAiError.TimeoutError({
      message: undici === undefined
        ? `Request timed out${Duration.toMillis(timeout) > 0 ? ` after ${Duration.format(timeout)}` : ""}: ${detail}`
        : `Request timed out${cut} (${detail})`,
      // undici's body timeout is a silence between two chunks of a body that had begun.
      phase: undici === "UND_ERR_BODY_TIMEOUT" ? "idle" : "headers",
      timeout,
      code: errorCode === undefined ? Option.none() : Option.some(errorCode)
    })
  }
  const received = options?.received
  const receivedText = received === undefined
    ? ""
    : ` after ${received.events} event(s) and ${received.bytes} byte(s) had arrived`
  return new OpenAiError.ConnectionError({
    message: `Connection error${errorCode ? ` (${errorCode})` : ""}${receivedText}: ${detail}${cut}`,
    cause: keptCause(cause),
    errorCode: errorCode === undefined ? Option.none() : Option.some(errorCode),
    received: received === undefined ? Option.none() : Option.some(received),
    code: errorCode === undefined ? Option.none() : Option.some(errorCode)
  })
}
