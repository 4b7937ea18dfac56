/**
 * The `x-ratelimit-*` headers OpenAI sends on every response: how much of the requests-per-minute
 * and tokens-per-minute budgets is left, and how long until each is fully restored.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as GoDuration from "./GoDuration.js"
import { type HeadersInput, normalize, parseCount } from "./internal/headers.js"

/**
 * What the server said about its limits. Every field is optional: the headers are often absent
 * (most 429s, many compatible servers), and Azure sends `-1` for "unknown", which reads as none.
 *
 * @since 0.1.0
 * @category models
 */
export interface RateLimitHeaders {
  readonly limitRequests: Option.Option<number>
  readonly limitTokens: Option.Option<number>
  readonly remainingRequests: Option.Option<number>
  readonly remainingTokens: Option.Option<number>
  /** Time until the request window is fully restored. */
  readonly resetRequests: Option.Option<Duration.Duration>
  /** Time until the token window is fully restored. */
  readonly resetTokens: Option.Option<Duration.Duration>
}

const count = (value: string | undefined): Option.Option<number> => Option.fromNullable(parseCount(value))

/**
 * Parses a reset value: a Go duration (`6m0s`), or bare seconds as Azure has sent (`60`, `0`).
 * Negative, garbage or absurd values (above {@link GoDuration.MAX_HINT}, or UNIX timestamps as
 * some simulators send) give none.
 *
 * @example
 * ```ts
 * import { RateLimitHeaders } from "effect-openai-resilience"
 *
 * RateLimitHeaders.parseReset("1h2m3.5s") // Some(3723500 millis)
 * RateLimitHeaders.parseReset("-1") // None
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseReset = (value: string | undefined): Option.Option<Duration.Duration> => {
  if (value === undefined) return Option.none()
  const text = value.trim()
  if (/^\d{1,6}(\.\d+)?$/.test(text)) {
    // Bounded like every hint: a proxy's `999999` is not a real wait.
    const ms = Number(text) * 1000
    return Number.isFinite(ms) && ms <= Duration.toMillis(GoDuration.MAX_HINT)
      ? Option.some(Duration.millis(ms))
      : Option.none()
  }
  return GoDuration.parse(text)
}

/**
 * Reads the `x-ratelimit-*` headers. Returns none when not one of them is present or usable.
 *
 * @example
 * ```ts
 * import { RateLimitHeaders } from "effect-openai-resilience"
 * import { Option } from "effect"
 *
 * const limits = RateLimitHeaders.fromHeaders({
 *   "x-ratelimit-remaining-tokens": "149984",
 *   "x-ratelimit-reset-tokens": "6m0s"
 * })
 * console.log(Option.isSome(limits)) // true
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const fromHeaders = (headers: HeadersInput | undefined): Option.Option<RateLimitHeaders> => {
  const h = normalize(headers)
  const parsed: RateLimitHeaders = {
    limitRequests: count(h["x-ratelimit-limit-requests"]),
    limitTokens: count(h["x-ratelimit-limit-tokens"]),
    remainingRequests: count(h["x-ratelimit-remaining-requests"]),
    remainingTokens: count(h["x-ratelimit-remaining-tokens"]),
    resetRequests: parseReset(h["x-ratelimit-reset-requests"]),
    resetTokens: parseReset(h["x-ratelimit-reset-tokens"])
  }
  const any = Object.values(parsed).some(Option.isSome)
  return any ? Option.some(parsed) : Option.none()
}

/**
 * A one-line summary for logs and reports: `requests 59/60 (reset 1s), tokens 149984/150000 (reset 6m0s)`.
 *
 * @example
 * ```ts
 * import { RateLimitHeaders } from "effect-openai-resilience"
 * import { Option } from "effect"
 *
 * const limits = RateLimitHeaders.fromHeaders({ "x-ratelimit-remaining-requests": "59" })
 * console.log(Option.map(limits, RateLimitHeaders.format))
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (limits: RateLimitHeaders): string => {
  const part = (
    name: string,
    remaining: Option.Option<number>,
    limit: Option.Option<number>,
    reset: Option.Option<Duration.Duration>
  ): string | undefined => {
    if (Option.isNone(remaining) && Option.isNone(limit) && Option.isNone(reset)) return undefined
    const r = Option.getOrElse(Option.map(remaining, String), () => "?")
    const l = Option.getOrElse(Option.map(limit, String), () => "?")
    const reset_ = Option.match(reset, { onNone: () => "", onSome: (d) => ` (reset ${GoDuration.format(d)})` })
    return `${name} ${r}/${l}${reset_}`
  }
  return [
    part("requests", limits.remainingRequests, limits.limitRequests, limits.resetRequests),
    part("tokens", limits.remainingTokens, limits.limitTokens, limits.resetTokens)
  ].filter((s): s is string => s !== undefined).join(", ")
}
