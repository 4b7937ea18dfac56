/**
 * The server's own hints about when (and whether) to retry: `retry-after-ms`, `retry-after`
 * (seconds or an HTTP-date), "Please try again in 1.574s" (or Azure's "retry after 6 seconds")
 * inside an error message, the `x-ratelimit-reset-*` durations on a 429, and `x-should-retry`.
 *
 * Every parser here is total: garbage gives no hint, never an error, and no hint is negative or
 * above {@link GoDuration.MAX_HINT}.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as GoDuration from "./GoDuration.js"
import { type HeadersInput, normalize } from "./internal/headers.js"
import * as RateLimitHeaders from "./RateLimitHeaders.js"

const MAX_MS = Duration.toMillis(GoDuration.MAX_HINT)

const bounded = (ms: number): Option.Option<Duration.Duration> =>
  Number.isFinite(ms) && ms >= 0 && ms <= MAX_MS ? Option.some(Duration.millis(ms)) : Option.none()

/**
 * Parses `retry-after-ms`: a float number of milliseconds.
 *
 * @example
 * ```ts
 * import { RetryAfter } from "effect-openai-resilience"
 *
 * RetryAfter.parseRetryAfterMs("1574.3") // Some(1574.3 millis)
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseRetryAfterMs = (value: string | undefined): Option.Option<Duration.Duration> => {
  if (value === undefined) return Option.none()
  const text = value.trim()
  if (!/^\d{1,12}(\.\d+)?$/.test(text)) return Option.none()
  return bounded(Number(text))
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
const DAY = "(?:mon|tue|wed|thu|fri|sat|sun)"
const LONG_DAY = "(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
const MONTH = "(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})"
// RFC 9110 section 5.6.7: IMF-fixdate, the obsolete RFC 850 form (two-digit year) and asctime.
const IMF_FIXDATE = new RegExp(`^${DAY},\\s+(\\d{1,2})\\s+${MONTH}\\s+(\\d{4})\\s+${TIME}\\s+GMT$`, "i")
const RFC_850 = new RegExp(`^${LONG_DAY},\\s+(\\d{1,2})-${MONTH}-(\\d{2})\\s+${TIME}\\s+GMT$`, "i")
const ASCTIME = new RegExp(`^${DAY}\\s+${MONTH}\\s+(\\d{1,2})\\s+${TIME}\\s+(\\d{4})$`, "i")

// A two-digit year is the one within 50 years of `now` (RFC 9110: a year that appears to be more
// than 50 years in the future is the most recent past year with the same last two digits).
const fullYear = (twoDigits: number, now: number): number => {
  const current = new Date(now).getUTCFullYear()
  const candidate = current - (current % 100) + twoDigits
  return candidate > current + 50 ? candidate - 100 : candidate
}

// Epoch milliseconds of a UTC date and time, or NaN when a field is out of range (no rollover:
// "31 Feb" is not "3 Mar").
const utc = (year: number, month: string, day: number, h: number, m: number, s: number): number => {
  const index = MONTHS.indexOf(month.toLowerCase())
  if (index < 0 || h > 23 || m > 59 || s > 60) return Number.NaN
  const at = Date.UTC(year, index, day, h, m, Math.min(s, 59))
  const check = new Date(at)
  return check.getUTCDate() === day && check.getUTCMonth() === index ? at : Number.NaN
}

/**
 * Parses an HTTP-date in any of RFC 9110's three formats, all of them GMT whatever the machine's
 * time zone: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850 (`Sunday, 06-Nov-94 08:49:37
 * GMT`, its two-digit year read as the one within 50 years of `now`) and asctime (`Sun Nov  6
 * 08:49:37 1994`). Returns epoch milliseconds; none for anything else.
 *
 * @example
 * ```ts
 * import { RetryAfter } from "effect-openai-resilience"
 *
 * RetryAfter.parseHttpDate("Sun Nov  6 08:49:37 1994", Date.now()) // Some(784111777000)
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseHttpDate = (value: string, now: number): Option.Option<number> => {
  const text = value.trim()
  if (text.length > 64) return Option.none()
  const n = Number
  let at = Number.NaN
  let m = IMF_FIXDATE.exec(text)
  if (m !== null) at = utc(n(m[3]), m[2] ?? "", n(m[1]), n(m[4]), n(m[5]), n(m[6]))
  else if ((m = RFC_850.exec(text)) !== null) {
    if (Number.isFinite(now)) at = utc(fullYear(n(m[3]), now), m[2] ?? "", n(m[1]), n(m[4]), n(m[5]), n(m[6]))
  } else if ((m = ASCTIME.exec(text)) !== null) {
    at = utc(n(m[6]), m[1] ?? "", n(m[2]), n(m[3]), n(m[4]), n(m[5]))
  }
  return Number.isFinite(at) ? Option.some(at) : Option.none()
}

/**
 * Parses `retry-after`: whole (or fractional) seconds, or an HTTP-date (see {@link parseHttpDate}),
 * which is read relative to `now` (epoch milliseconds; pass `Clock.currentTimeMillis` so it works
 * under TestClock). A date in the past means "now" (zero).
 *
 * @example
 * ```ts
 * import { RetryAfter } from "effect-openai-resilience"
 *
 * RetryAfter.parseRetryAfter("20", 0) // Some(20 seconds)
 * RetryAfter.parseRetryAfter("Thu, 01 Jan 1970 00:01:00 GMT", 0) // Some(60 seconds)
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseRetryAfter = (value: string | undefined, now: number): Option.Option<Duration.Duration> => {
  if (typeof value !== "string") return Option.none()
  const text = value.trim()
  if (text.length === 0 || text.length > 64) return Option.none()
  if (/^\d{1,9}(\.\d+)?$/.test(text)) return bounded(Number(text) * 1000)
  if (!Number.isFinite(now)) return Option.none()
  return Option.flatMap(parseHttpDate(text, now), (at) => bounded(Math.max(0, at - now)))
}

const TRY_AGAIN = /(?:try again in|retry after)\s+((?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|sec|secs|seconds?|minutes?)\s*)+)/i
const PART = /(\d+(?:\.\d+)?)\s*(ms|sec|secs|seconds?|minutes?|s|m|h)/gi

/**
 * Finds "Please try again in 1.574s" (also `20ms`, `6m0s`, `2 seconds`) inside an error message, and
 * Azure's "Please retry after 6 seconds".
 *
 * @example
 * ```ts
 * import { RetryAfter } from "effect-openai-resilience"
 *
 * RetryAfter.fromMessage("Rate limit reached ... Please try again in 1.574s.") // Some(1574 millis)
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const fromMessage = (message: string | undefined): Option.Option<Duration.Duration> => {
  if (typeof message !== "string") return Option.none()
  const match = TRY_AGAIN.exec(message.length > 10_000 ? message.slice(0, 10_000) : message)
  if (match === null || match[1] === undefined) return Option.none()
  let total = 0
  for (const part of match[1].matchAll(PART)) {
    const amount = Number(part[1])
    const unit = (part[2] ?? "").toLowerCase()
    const factor = unit === "ms"
      ? 1
      : unit === "h"
      ? 3_600_000
      : unit === "m" || unit.startsWith("min")
      ? 60_000
      : 1000
    total += amount * factor
  }
  return bounded(total)
}

/**
 * Reads `x-should-retry`: the server's explicit verdict, `true` or `false`; anything else is none.
 *
 * @example
 * ```ts
 * import { RetryAfter } from "effect-openai-resilience"
 *
 * RetryAfter.shouldRetry({ "x-should-retry": "false" }) // Some(false)
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const shouldRetry = (headers: HeadersInput | undefined): Option.Option<boolean> => {
  const value = normalize(headers)["x-should-retry"]?.trim().toLowerCase()
  return value === "true" ? Option.some(true) : value === "false" ? Option.some(false) : Option.none()
}

/**
 * Where a hint came from, so that logs and the demo can say why a delay was chosen.
 *
 * @since 0.1.0
 * @category models
 */
export type HintSource = "retry-after-ms" | "retry-after" | "message" | "x-ratelimit-reset"

/**
 * A server hint and where it came from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Hint {
  readonly delay: Duration.Duration
  readonly source: HintSource
}

/**
 * The server's delay hint, from the most precise source present: `retry-after-ms`, then
 * `retry-after`, then "try again in" in the message, then (for a 429 only) the reset header of
 * the exhausted dimension (the one with zero remaining; else the shorter reset).
 *
 * @example
 * ```ts
 * import { RetryAfter } from "effect-openai-resilience"
 *
 * const hint = RetryAfter.fromResponse({ headers: { "retry-after-ms": "250" }, now: 0 })
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const fromResponse = (input: {
  readonly headers?: HeadersInput | undefined
  readonly message?: string | undefined
  readonly status?: number | undefined
  readonly now: number
}): Option.Option<Hint> => {
  const h = normalize(input.headers)
  const hint = (source: HintSource) => (delay: Duration.Duration): Hint => ({ delay, source })
  return parseRetryAfterMs(h["retry-after-ms"]).pipe(
    Option.map(hint("retry-after-ms")),
    Option.orElse(() => Option.map(parseRetryAfter(h["retry-after"], input.now), hint("retry-after"))),
    Option.orElse(() => Option.map(fromMessage(input.message), hint("message"))),
    Option.orElse(() =>
      input.status === 429
        ? Option.map(fromResetHeaders(input.headers), hint("x-ratelimit-reset"))
        : Option.none()
    )
  )
}

/**
 * The reset time of the dimension that ran out: requests if `remaining-requests` is 0, tokens if
 * `remaining-tokens` is 0 (the longer of the two when both are), otherwise the shorter of the
 * positive resets present. A zero reset with nothing exhausted gives none.
 *
 * @example
 * ```ts
 * import { RetryAfter } from "effect-openai-resilience"
 *
 * RetryAfter.fromResetHeaders({ "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1s" })
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const fromResetHeaders = (headers: HeadersInput | undefined): Option.Option<Duration.Duration> =>
  Option.flatMap(RateLimitHeaders.fromHeaders(headers), (limits) => {
    const requestsOut = Option.contains(limits.remainingRequests, 0)
    const tokensOut = Option.contains(limits.remainingTokens, 0)
    if (requestsOut && Option.isSome(limits.resetRequests)) {
      return tokensOut && Option.isSome(limits.resetTokens)
        ? Option.some(Duration.max(limits.resetRequests.value, limits.resetTokens.value))
        : limits.resetRequests
    }
    if (tokensOut && Option.isSome(limits.resetTokens)) return limits.resetTokens
    // Neither dimension is known to be exhausted: the shorter positive reset is the best guess. A
    // zero reset here (Azure's `-1`/`-1`/`0` sentinels) says nothing, so it gives no hint.
    const both = [limits.resetRequests, limits.resetTokens].filter(Option.isSome).map((o) => o.value)
      .filter((d) => Duration.toMillis(d) > 0)
    return both.length === 0 ? Option.none() : Option.some(both.reduce((a, b) => Duration.min(a, b)))
  })
