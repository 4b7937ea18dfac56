import { describe, expect, it } from "@effect/vitest"
import { Duration, FastCheck, Option } from "effect"
import * as GoDuration from "../src/GoDuration.js"

describe("GoDuration", () => {
  it.each([
    ["20ms", 20],
    ["1s", 1000],
    ["6m0s", 360_000],
    ["1h2m3.5s", 3_723_500],
    ["0", 0],
    ["1.5s", 1500],
    ["500us", 0.5]
  ])("parses %s", (input, ms) => {
    expect(Option.map(GoDuration.parse(input), Duration.toMillis)).toEqual(Option.some(ms))
  })

  it.each(["", "-1s", "1x", "s", "1 s", "abc", "1e9h", "99999h"])("rejects %j", (input) => {
    expect(GoDuration.parse(input)).toEqual(Option.none())
  })

  it.prop("format then parse round-trips to the millisecond", [FastCheck.integer({ min: 0, max: 86_400_000 })], ([ms]) => {
    const back = GoDuration.parse(GoDuration.format(Duration.millis(ms)))
    expect(Option.map(back, (d) => Math.round(Duration.toMillis(d)))).toEqual(Option.some(ms))
  })

  it.prop("never throws and never returns a negative or over-cap duration", [FastCheck.string()], ([s]) => {
    const parsed = GoDuration.parse(s)
    if (Option.isSome(parsed)) {
      const ms = Duration.toMillis(parsed.value)
      expect(ms >= 0 && ms <= Duration.toMillis(GoDuration.MAX_HINT)).toBe(true)
    }
  })
})
