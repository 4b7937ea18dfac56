/**
 * Run as a child process under a given TZ (see RetryAfter.test.ts): prints, as JSON, the delay
 * each HTTP-date gives 30 s before it, so the parent can check the answer is the same in every
 * time zone.
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as RetryAfter from "../../src/RetryAfter.js"

const now = Date.UTC(2026, 10, 25, 20, 59, 30)
const dates = [
  "Wed, 25 Nov 2026 21:00:00 GMT",
  "Wednesday, 25-Nov-26 21:00:00 GMT",
  "Wed Nov 25 21:00:00 2026"
]
const out = dates.map((d) => Option.getOrNull(Option.map(RetryAfter.parseRetryAfter(d, now), Duration.toMillis)))
process.stdout.write(JSON.stringify({ offset: new Date(now).getTimezoneOffset(), delays: out }))
