import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Option, TestClock } from "effect"
import * as FastCheck from "effect/FastCheck"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import * as GoDuration from "../src/GoDuration.js"
import * as RetryAfter from "../src/RetryAfter.js"

const ms = (d: Option.Option<Duration.Duration>) => Option.map(d, Duration.toMillis)
const MAX_MS = Duration.toMillis(GoDuration.MAX_HINT)

describe("parseRetryAfterMs", () => {
  it.each([
    ["250", 250],
    ["1574.3", 1574.3],
    [" 20 ", 20],
    ["0", 0]
  ])("reads %j", (value, expected) => {
    expect(ms(RetryAfter.parseRetryAfterMs(value))).toEqual(Option.some(expected))
  })

  it.each([undefined, "", "-5", "1e3", "abc", "12ms", "NaN", "Infinity", String(MAX_MS + 1)])("no hint from %j", (value) => {
    expect(RetryAfter.parseRetryAfterMs(value)).toEqual(Option.none())
  })
})

describe("parseRetryAfter", () => {
  it("reads whole and fractional seconds", () => {
    expect(ms(RetryAfter.parseRetryAfter("20", 0))).toEqual(Option.some(20_000))
    expect(ms(RetryAfter.parseRetryAfter("0.5", 0))).toEqual(Option.some(500))
    expect(ms(RetryAfter.parseRetryAfter("0", 0))).toEqual(Option.some(0))
  })

  it.effect("reads an HTTP-date relative to the Clock (TestClock.setTime)", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2026-11-25T21:00:00Z"))
      const now = yield* Clock.currentTimeMillis
      expect(ms(RetryAfter.parseRetryAfter("Wed, 25 Nov 2026 21:01:30 GMT", now))).toEqual(Option.some(90_000))
      // A date already passed means "now".
      expect(ms(RetryAfter.parseRetryAfter("Wed, 25 Nov 2026 20:00:00 GMT", now))).toEqual(Option.some(0))
      // More than MAX_HINT away is not a real hint.
      expect(RetryAfter.parseRetryAfter("Fri, 25 Dec 2026 21:00:00 GMT", now)).toEqual(Option.none())
    }))

  it("at epoch 0 (the TestClock default) a real date is too far away", () => {
    expect(RetryAfter.parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", 0)).toEqual(Option.none())
  })

  it.each([undefined, "", "soon", "-1", "1 2", "12abc", "x".repeat(100), "99999999999"])("no hint from %j", (value) => {
    expect(RetryAfter.parseRetryAfter(value, 0)).toEqual(Option.none())
  })

  it("a non-finite now gives no date hint", () => {
    expect(RetryAfter.parseRetryAfter("Wed, 25 Nov 2026 21:01:30 GMT", Number.NaN)).toEqual(Option.none())
  })
})

describe("fromMessage", () => {
  it.each([
    ["Please try again in 1.574s.", 1574],
    ["Please try again in 20ms.", 20],
    ["Please try again in 20s. Visit https://platform.openai.com/account/rate-limits", 20_000],
    ["Please try again in 6m0s.", 360_000],
    ["Please try again in 1h2m3.5s.", 3_723_500],
    ["Please try again in 2 seconds", 2000],
    ["please TRY AGAIN IN 3 minutes", 180_000],
    ["Please retry after 6 seconds. Please go here: https://aka.ms/oai/quotaincrease", 6000]
  ])("reads %j", (message, expected) => {
    expect(ms(RetryAfter.fromMessage(message))).toEqual(Option.some(expected))
  })

  it.each([undefined, "", "Rate limit reached", "try again later", "Please try again in a moment", "try again in 99999h"])(
    "no hint from %j",
    (message) => {
      expect(RetryAfter.fromMessage(message)).toEqual(Option.none())
    }
  )
})

describe("shouldRetry", () => {
  it("reads true and false in any case; anything else is none", () => {
    expect(RetryAfter.shouldRetry({ "x-should-retry": "true" })).toEqual(Option.some(true))
    expect(RetryAfter.shouldRetry({ "X-Should-Retry": " FALSE " })).toEqual(Option.some(false))
    expect(RetryAfter.shouldRetry(new Headers({ "x-should-retry": "false" }))).toEqual(Option.some(false))
    expect(RetryAfter.shouldRetry({ "x-should-retry": "1" })).toEqual(Option.none())
    expect(RetryAfter.shouldRetry({})).toEqual(Option.none())
    expect(RetryAfter.shouldRetry(undefined)).toEqual(Option.none())
  })
})

describe("fromResetHeaders", () => {
  it("uses the reset of the dimension with zero remaining", () => {
    const headers = {
      "x-ratelimit-remaining-requests": "59",
      "x-ratelimit-remaining-tokens": "0",
      "x-ratelimit-reset-requests": "1s",
      "x-ratelimit-reset-tokens": "6m0s"
    }
    expect(ms(RetryAfter.fromResetHeaders(headers))).toEqual(Option.some(360_000))
    expect(ms(RetryAfter.fromResetHeaders({ ...headers, "x-ratelimit-remaining-tokens": "1", "x-ratelimit-remaining-requests": "0" })))
      .toEqual(Option.some(1000))
  })

  it("takes the longer reset when both are exhausted", () => {
    expect(ms(RetryAfter.fromResetHeaders({
      "x-ratelimit-remaining-requests": "0",
      "x-ratelimit-remaining-tokens": "0",
      "x-ratelimit-reset-requests": "1s",
      "x-ratelimit-reset-tokens": "120ms"
    }))).toEqual(Option.some(1000))
  })

  it("with nothing exhausted, the shorter positive reset", () => {
    expect(ms(RetryAfter.fromResetHeaders({
      "x-ratelimit-reset-requests": "120ms",
      "x-ratelimit-reset-tokens": "8ms"
    }))).toEqual(Option.some(8))
  })

  it("Azure's -1 sentinels give no hint", () => {
    expect(RetryAfter.fromResetHeaders({
      "x-ratelimit-limit-tokens": "-1",
      "x-ratelimit-remaining-tokens": "-1",
      "x-ratelimit-reset-tokens": "0"
    })).toEqual(Option.none())
  })

  it("garbage gives no hint", () => {
    expect(RetryAfter.fromResetHeaders({ "x-ratelimit-reset-tokens": "soon", "x-ratelimit-remaining-tokens": "0" }))
      .toEqual(Option.none())
    expect(RetryAfter.fromResetHeaders(undefined)).toEqual(Option.none())
  })
})

describe("fromResponse", () => {
  const all = {
    "retry-after-ms": "1500",
    "retry-after": "7",
    "x-ratelimit-remaining-requests": "0",
    "x-ratelimit-reset-requests": "3s"
  }
  const message = "Please try again in 20s."

  it("prefers retry-after-ms, then retry-after, then the message, then the reset headers", () => {
    const at = (headers: Record<string, string>) =>
      Option.map(RetryAfter.fromResponse({ headers, message, status: 429, now: 0 }), (h) => [h.source, Duration.toMillis(h.delay)])
    expect(at(all)).toEqual(Option.some(["retry-after-ms", 1500]))
    const { "retry-after-ms": _ms, ...noMs } = all
    expect(at(noMs)).toEqual(Option.some(["retry-after", 7000]))
    const { "retry-after": _s, ...noRetryAfter } = noMs
    expect(at(noRetryAfter)).toEqual(Option.some(["message", 20_000]))
    expect(Option.map(
      RetryAfter.fromResponse({ headers: noRetryAfter, status: 429, now: 0 }),
      (h) => [h.source, Duration.toMillis(h.delay)]
    )).toEqual(Option.some(["x-ratelimit-reset", 3000]))
  })

  it("falls through a garbage header to the next source", () => {
    const hint = RetryAfter.fromResponse({ headers: { "retry-after-ms": "soon", "retry-after": "2" }, now: 0 })
    expect(Option.map(hint, (h) => h.source)).toEqual(Option.some("retry-after"))
  })

  it("reads the reset headers only on a 429 (they describe the window, not this failure)", () => {
    const headers = { "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "3s" }
    expect(RetryAfter.fromResponse({ headers, status: 500, now: 0 })).toEqual(Option.none())
    expect(RetryAfter.fromResponse({ headers, now: 0 })).toEqual(Option.none())
  })

  const headerValue = FastCheck.oneof(
    FastCheck.string(),
    FastCheck.double().map(String),
    FastCheck.integer().map(String),
    FastCheck.date({ noInvalidDate: true }).map((d) => d.toUTCString()),
    FastCheck.constantFrom("-1", "0", "6m0s", "1h2m3.5s", "999999", "1e308", "Infinity")
  )

  it.prop(
    "no hint is ever negative or beyond MAX_HINT",
    {
      retryAfterMs: headerValue,
      retryAfter: headerValue,
      resetRequests: headerValue,
      resetTokens: headerValue,
      remaining: FastCheck.constantFrom("0", "1", "-1", "x"),
      message: FastCheck.oneof(FastCheck.string(), headerValue.map((v) => `Please try again in ${v}`)),
      now: FastCheck.oneof(FastCheck.integer({ min: -1e15, max: 1e15 }), FastCheck.double())
    },
    ({ message, now, remaining, resetRequests, resetTokens, retryAfter, retryAfterMs }) => {
      const headers = {
        "retry-after-ms": retryAfterMs,
        "retry-after": retryAfter,
        "x-ratelimit-reset-requests": resetRequests,
        "x-ratelimit-reset-tokens": resetTokens,
        "x-ratelimit-remaining-requests": remaining
      }
      const hints = [
        Option.map(RetryAfter.fromResponse({ headers, message, status: 429, now }), (h) => h.delay),
        RetryAfter.parseRetryAfterMs(retryAfterMs),
        RetryAfter.parseRetryAfter(retryAfter, now),
        RetryAfter.fromMessage(message),
        RetryAfter.fromResetHeaders(headers)
      ]
      for (const hint of hints) {
        if (Option.isSome(hint)) {
          const delay = Duration.toMillis(hint.value)
          expect(delay).toBeGreaterThanOrEqual(0)
          expect(delay).toBeLessThanOrEqual(MAX_MS)
        }
      }
    }
  )
})

describe("HTTP-dates (RFC 9110: every format is GMT)", () => {
  const now = Date.UTC(2026, 10, 25, 20, 59, 30)

  it.each([
    ["IMF-fixdate", "Wed, 25 Nov 2026 21:00:00 GMT"],
    ["RFC 850", "Wednesday, 25-Nov-26 21:00:00 GMT"],
    ["asctime", "Wed Nov 25 21:00:00 2026"],
    ["asctime with a padded day", "Sun Nov  6 08:49:37 1994"]
  ])("%s is read in GMT", (_name, value) => {
    const expected = value.includes("1994") ? Date.UTC(1994, 10, 6, 8, 49, 37) : Date.UTC(2026, 10, 25, 21, 0, 0)
    expect(RetryAfter.parseHttpDate(value, now)).toEqual(Option.some(expected))
  })

  it("a 30 s asctime hint is 30 s", () => {
    expect(ms(RetryAfter.parseRetryAfter("Wed Nov 25 21:00:00 2026", now))).toEqual(Option.some(30_000))
  })

  it.each([
    ["94", 1994],
    ["26", 2026],
    ["76", 2076],
    ["77", 1977],
    ["00", 2000]
  ])("an RFC 850 year %s, seen in 2026, is %d (within 50 years)", (yy, year) => {
    expect(RetryAfter.parseHttpDate(`Sunday, 06-Nov-${yy} 08:49:37 GMT`, now)).toEqual(
      Option.some(Date.UTC(year, 10, 6, 8, 49, 37))
    )
  })

  it.each([
    "Wed, 31 Feb 2026 21:00:00 GMT",
    "Wed, 25 Nov 2026 25:00:00 GMT",
    "Wed, 25 Nov 2026 21:00:00 PST",
    "Wed, 25 Nov 2026 21:00:00",
    "2026-11-25T21:00:00",
    "Wed Nov 25 21:00:00 2026 GMT+0900",
    "Nov 25 2026"
  ])("%j is not an HTTP-date", (value) => {
    expect(RetryAfter.parseHttpDate(value, now)).toEqual(Option.none())
  })

  // Date's local-time constructors read process.env.TZ once, so each zone gets its own process.
  const script = fileURLToPath(new URL("./support/retryAfterZones.ts", import.meta.url))
  const tsx = fileURLToPath(new URL("../node_modules/tsx/dist/cli.mjs", import.meta.url))
  it("every format gives the same delay in every time zone", async () => {
    const zones = ["UTC", "America/New_York", "Asia/Tokyo", "Asia/Kathmandu", "Pacific/Kiritimati"]
    const results = await Promise.all(zones.map(async (TZ) => {
      const { stdout } = await promisify(execFile)(process.execPath, [tsx, script], { env: { ...process.env, TZ } })
      return JSON.parse(stdout) as { readonly offset: number; readonly delays: ReadonlyArray<number | null> }
    }))
    // The zones really differ (else the check proves nothing)...
    expect(new Set(results.map((r) => r.offset)).size).toBe(zones.length)
    // ...and the answer does not.
    for (const r of results) expect(r.delays).toEqual([30_000, 30_000, 30_000])
  }, 60_000)
})
