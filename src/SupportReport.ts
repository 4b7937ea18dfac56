/**
 * What OpenAI's error guide asks you to send support when an error persists: the model, the error
 * message and code, the request data and headers sent, the timestamp and time zone of the request,
 * and any other useful detail (here: the request id, the attempts made and their delays, the
 * rate-limit headers). Secrets never survive into a report: the `authorization`, `api-key`,
 * `x-api-key`, cookie and proxy headers are redacted, key-shaped strings anywhere are scrubbed, and
 * large bodies are truncated with a note.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as GoDuration from "./GoDuration.js"
import { type HeadersInput, normalize } from "./internal/headers.js"
import { redactUrl, revealAll, scrub, secretHeaderNames } from "./internal/secrets.js"
import type * as OpenAiError from "./OpenAiError.js"
import * as RateLimitHeaders from "./RateLimitHeaders.js"

/**
 * The request that failed, as it was sent. `body` may be text, bytes or an already-parsed value.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestInfo {
  readonly method: string
  readonly url: string
  readonly headers?: HeadersInput | undefined
  readonly body?: unknown
}

/**
 * One attempt of the request: which error it ended with and how long the policy waited after it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Attempt {
  readonly attempt: number
  readonly outcome: string
  readonly status?: number | undefined
  readonly requestId?: string | undefined
  readonly delayMs?: number | undefined
  readonly reason?: string | undefined
}

/**
 * A support report: plain data, safe to log, print or send.
 *
 * @since 0.1.0
 * @category models
 */
export interface SupportReport {
  readonly model: string | null
  readonly error: {
    readonly tag: string
    readonly category: string
    readonly status: number | null
    readonly code: string | null
    readonly type: string | null
    readonly param: string | null
    readonly message: string
  }
  readonly requestId: string | null
  readonly timestamp: string
  readonly timeZone: string
  readonly localTime: string
  readonly request: {
    readonly method: string
    readonly url: string
    readonly headers: Readonly<Record<string, string>>
    readonly body: string | null
    readonly bodyNote: string | null
  }
  readonly attempts: ReadonlyArray<Attempt>
  readonly rateLimit: string | null
  readonly retryAfterMs: number | null
  readonly probableCause: string
  readonly solution: string
  readonly docs: string
}

/**
 * Options of {@link fromError}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly request?: RequestInfo | undefined
  readonly attempts?: ReadonlyArray<Attempt> | undefined
  /** Exact secret values to scrub wherever they appear (the API key in use). */
  readonly secrets?: ReadonlyArray<Redacted.Redacted<string> | string> | undefined
  /** Bodies longer than this many characters are truncated (default 4,096). */
  readonly maxBodyLength?: number | undefined
  /** The time zone to report (default: the machine's). */
  readonly timeZone?: string | undefined
}

/**
 * Headers whose values are secrets, redacted whatever their value.
 *
 * @since 0.1.0
 * @category constants
 */
export const secretHeaders: ReadonlySet<string> = new Set(secretHeaderNames)

const REDACTED = "<redacted>"

const bodyText = (body: unknown): string | null => {
  if (body === undefined || body === null) return null
  if (typeof body === "string") return body
  if (body instanceof Uint8Array) return new TextDecoder("utf-8", { fatal: false }).decode(body)
  try {
    return JSON.stringify(body, null, 2) ?? null
  } catch {
    return String(body)
  }
}

const modelOf = (body: unknown, text: string | null): string | null => {
  const fromObject = (u: unknown): string | null =>
    typeof u === "object" && u !== null && typeof (u as { model?: unknown }).model === "string"
      ? (u as { model: string }).model
      : null
  const direct = fromObject(body)
  if (direct !== null) return direct
  if (text === null) return null
  try {
    return fromObject(JSON.parse(text))
  } catch {
    return /"model"\s*:\s*"([^"]{1,200})"/.exec(text)?.[1] ?? null
  }
}

const opt = <A>(o: Option.Option<A>): A | null => Option.getOrNull(o)

/**
 * Builds a report at a given instant (epoch milliseconds). Pure; {@link fromError} reads the Clock.
 *
 * @example
 * ```ts
 * import { OpenAiError, SupportReport } from "effect-openai-resilience"
 *
 * const report = SupportReport.make(new OpenAiError.QuotaExceeded({ message: "You exceeded your current quota" }), 0, {
 *   request: { method: "POST", url: "https://api.openai.com/v1/chat/completions", body: { model: "gpt-4o-mini" } }
 * })
 * console.log(SupportReport.toText(report))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (error: OpenAiError.OpenAiError, nowMillis: number, options: Options = {}): SupportReport => {
  const secrets = revealAll(options.secrets)
  const clean = (s: string) => scrub(s, secrets)
  const cleanOpt = (o: Option.Option<string>) => Option.getOrNull(Option.map(o, clean))
  const max = options.maxBodyLength ?? 4096
  const request = options.request
  // Scrubbed before it is cut: cutting first would leave the head of a key that straddles the cut,
  // which no exact-match scrub can then find.
  const rawText = bodyText(request?.body)
  const rawBody = rawText === null ? null : clean(rawText)
  const truncated = rawBody !== null && rawBody.length > max
  const headers: Record<string, string> = {}
  for (const [key, value] of Object.entries(normalize(request?.headers))) {
    headers[key] = secretHeaders.has(key) ? REDACTED : clean(value)
  }
  const timeZone = options.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? "UTC"
  const utc = DateTime.unsafeMake(nowMillis)
  const zone = Option.getOrElse(DateTime.zoneMakeNamed(timeZone), () => DateTime.zoneUnsafeMakeNamed("UTC"))
  const zoned = DateTime.setZone(utc, zone)
  return {
    model: Option.getOrNull(Option.map(Option.fromNullable(modelOf(request?.body, rawText)), clean)),
    error: {
      tag: error._tag,
      category: error.category,
      status: opt(error.status),
      code: cleanOpt(error.code),
      type: cleanOpt(error.type),
      param: cleanOpt(error.param),
      message: clean(error.message)
    },
    requestId: cleanOpt(error.requestId),
    timestamp: DateTime.formatIso(utc),
    timeZone: DateTime.zoneToString(zone),
    localTime: DateTime.formatIsoZoned(zoned),
    request: {
      method: request?.method ?? "unknown",
      url: request === undefined ? "unknown" : redactUrl(request.url, secrets),
      headers,
      body: rawBody === null ? null : truncated ? rawBody.slice(0, max) : rawBody,
      bodyNote: truncated ? `truncated: showing ${max} of ${rawBody.length} characters` : null
    },
    attempts: (options.attempts ?? []).map((a) => ({
      ...a,
      outcome: clean(a.outcome),
      ...(a.reason === undefined ? {} : { reason: clean(a.reason) }),
      ...(a.requestId === undefined ? {} : { requestId: clean(a.requestId) })
    })),
    rateLimit: Option.getOrNull(Option.map(error.rateLimit, RateLimitHeaders.format)),
    retryAfterMs: Option.getOrNull(Option.map(error.retryAfter, Duration.toMillis)),
    probableCause: error.probableCause,
    solution: error.solution,
    docs: error.docs
  }
}

/**
 * Builds a report for an error that persisted, stamped with the Effect Clock's time.
 *
 * @example
 * ```ts
 * import { OpenAiError, SupportReport } from "effect-openai-resilience"
 * import { Effect, Redacted } from "effect"
 *
 * const apiKey = Redacted.make("sk-test-1234567890abcdef")
 * const program = Effect.gen(function*() {
 *   const report = yield* SupportReport.fromError(new OpenAiError.ServerError({ message: "boom" }), {
 *     request: { method: "POST", url: "https://api.openai.com/v1/chat/completions", headers: { authorization: "Bearer sk-test-1234567890abcdef" } },
 *     secrets: [apiKey]
 *   })
 *   yield* Effect.logError(SupportReport.toText(report))
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromError = (error: OpenAiError.OpenAiError, options: Options = {}): Effect.Effect<SupportReport> =>
  Effect.map(Clock.currentTimeMillis, (now) => make(error, now, options))

/**
 * The report as pretty-printed JSON.
 *
 * @example
 * ```ts
 * import { OpenAiError, SupportReport } from "effect-openai-resilience"
 *
 * const json = SupportReport.toJson(SupportReport.make(new OpenAiError.ServerError({ message: "boom" }), 0))
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const toJson = (report: SupportReport): string => JSON.stringify(report, null, 2)

/**
 * The report as readable text, in the order the guide lists what support needs.
 *
 * @example
 * ```ts
 * import { OpenAiError, SupportReport } from "effect-openai-resilience"
 *
 * console.log(SupportReport.toText(SupportReport.make(new OpenAiError.ServerError({ message: "boom" }), 0)))
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const toText = (report: SupportReport): string => {
  const lines: Array<string> = []
  const add = (label: string, value: string | number | null) => {
    if (value !== null && value !== "") lines.push(`${label.padEnd(14)} ${value}`)
  }
  lines.push("OpenAI support report")
  lines.push("=====================")
  add("Model", report.model)
  add("Error", `${report.error.tag} (${report.error.category})`)
  add("Status", report.error.status)
  add("Code", report.error.code)
  add("Type", report.error.type)
  add("Param", report.error.param)
  add("Message", report.error.message)
  add("Request id", report.requestId)
  add("Timestamp", `${report.timestamp} (UTC)`)
  add("Local time", `${report.localTime} [${report.timeZone}]`)
  add("Request", `${report.request.method} ${report.request.url}`)
  for (const [key, value] of Object.entries(report.request.headers)) add(`  ${key}:`, value)
  if (report.request.body !== null) {
    lines.push("Request body")
    lines.push(report.request.body)
    if (report.request.bodyNote !== null) lines.push(`(${report.request.bodyNote})`)
  }
  add("Rate limits", report.rateLimit)
  add("Server hint", report.retryAfterMs === null ? null : GoDuration.format(Duration.millis(report.retryAfterMs)))
  if (report.attempts.length > 0) {
    lines.push("Attempts")
    for (const a of report.attempts) {
      const wait = a.delayMs === undefined ? "" : `, then waited ${GoDuration.format(Duration.millis(a.delayMs))}`
      const why = a.reason === undefined ? "" : ` (${a.reason})`
      const status = a.status === undefined ? "" : ` ${a.status}`
      const id = a.requestId === undefined ? "" : ` [${a.requestId}]`
      lines.push(`  #${a.attempt}:${status} ${a.outcome}${id}${wait}${why}`)
    }
  }
  add("Likely cause", report.probableCause)
  add("What to do", report.solution)
  add("Docs", report.docs)
  return lines.join("\n")
}
