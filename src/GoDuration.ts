/**
 * Go-style durations, as OpenAI sends them in `x-ratelimit-reset-requests` and
 * `x-ratelimit-reset-tokens`: `20ms`, `1s`, `6m0s`, `1h2m3.5s`.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  "μs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000
}

const TOKEN = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y

/**
 * The longest duration any parser in this library will return (24 hours). Anything beyond is
 * nonsense from a server or proxy and is treated as "no hint".
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_HINT: Duration.Duration = Duration.hours(24)

/**
 * Parses a Go duration string. Returns `Option.none()` for anything that is not one (never
 * throws), for negative values and for values above {@link MAX_HINT}.
 *
 * @example
 * ```ts
 * import { GoDuration } from "effect-openai-resilience"
 * import { Duration, Option } from "effect"
 *
 * const d = GoDuration.parse("1h2m3.5s")
 * console.log(Option.map(d, Duration.toMillis)) // Some(3723500)
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (input: string): Option.Option<Duration.Duration> => {
  if (typeof input !== "string") return Option.none()
  const text = input.trim()
  if (text.length === 0 || text.length > 64) return Option.none()
  if (text === "0") return Option.some(Duration.zero)
  let total = 0
  TOKEN.lastIndex = 0
  let index = 0
  while (index < text.length) {
    TOKEN.lastIndex = index
    const match = TOKEN.exec(text)
    if (match === null) return Option.none()
    const [whole, amount, unit] = match
    if (amount === undefined || unit === undefined) return Option.none()
    const factor = UNIT_MS[unit]
    if (factor === undefined) return Option.none()
    total += Number(amount) * factor
    index += whole.length
  }
  if (!Number.isFinite(total) || total < 0 || total > Duration.toMillis(MAX_HINT)) return Option.none()
  return Option.some(Duration.millis(total))
}

/**
 * Formats a duration the way OpenAI's headers do (`6m0s`, `1.5s`, `120ms`), so that
 * `parse(format(d))` gives `d` back to the millisecond.
 *
 * @example
 * ```ts
 * import { GoDuration } from "effect-openai-resilience"
 * import { Duration } from "effect"
 *
 * console.log(GoDuration.format(Duration.seconds(360))) // "6m0s"
 * ```
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (duration: Duration.DurationInput): string => {
  const totalMs = Math.max(0, Math.round(Duration.toMillis(Duration.decode(duration))))
  if (totalMs < 1000) return `${totalMs}ms`
  const hours = Math.floor(totalMs / 3_600_000)
  const minutes = Math.floor((totalMs % 3_600_000) / 60_000)
  const seconds = (totalMs % 60_000) / 1000
  const secondsText = `${Number.isInteger(seconds) ? seconds : seconds.toFixed(3).replace(/0+$/, "")}s`
  if (hours > 0) return `${hours}h${minutes}m${secondsText}`
  if (minutes > 0) return `${minutes}m${secondsText}`
  return secondsText
}
