import { describe, expect, it } from "@effect/vitest"
import { Duration, FastCheck, Option } from "effect"
import * as GoDuration from "../src/GoDuration.js"

const ms = (d: Option.Option<Duration.Duration>) => Option.map(d, Duration.toMillis)
const MAX_MS = Duration.toMillis(GoDuration.MAX_HINT)

describe("GoDuration.parse", () => {
  it.each([
    ["20ms", 20],
    ["1s", 1000],
    ["6m0s", 360_000],
    ["1h2m3.5s", 3_723_500],
    ["0", 0],
    ["0s", 0],
    ["1.5s", 1500],
    [".5s", 500],
    ["1.s", 1000],
    ["500us", 0.5],
    ["500µs", 0.5],
    ["2000000ns", 2],
    ["1h0m0s", 3_600_000],
    ["  120ms  ", 120],
    ["24h", MAX_MS]
  ])("parses %s", (input, expected) => {
    expect(ms(GoDuration.parse(input))).toEqual(Option.some(expected))
  })

  it.each(["", "-1s", "+1s", "1x", "s", "1 s", "abc", "1e9h", "99999h", "24h0m0.001s", "1s!", "1", "NaN", "x".repeat(65)])(
    "rejects %j",
    (input) => {
      expect(GoDuration.parse(input)).toEqual(Option.none())
    }
  )

  it("rejects values that are not strings", () => {
    expect(GoDuration.parse(42 as unknown as string)).toEqual(Option.none())
  })
})

describe("GoDuration.format", () => {
  it.each([
    [0, "0ms"],
    [999, "999ms"],
    [1000, "1s"],
    [1574, "1.574s"],
    [1500, "1.5s"],
    [360_000, "6m0s"],
    [3_723_500, "1h2m3.5s"],
    [-5, "0ms"]
  ])("formats %d ms as %s", (input, expected) => {
    expect(GoDuration.format(Duration.millis(input))).toBe(expected)
  })

  it("accepts any DurationInput", () => {
    expect(GoDuration.format("6 minutes")).toBe("6m0s")
  })
})

describe("GoDuration properties", () => {
  it.prop("format then parse round-trips to the millisecond", [FastCheck.integer({ min: 0, max: MAX_MS })], ([n]) => {
    const back = GoDuration.parse(GoDuration.format(Duration.millis(n)))
    expect(Option.map(back, (d) => Math.round(Duration.toMillis(d)))).toEqual(Option.some(n))
  })

  it.prop(
    "parses any well-formed h/m/s/ms combination to its sum",
    [FastCheck.nat(23), FastCheck.nat(59), FastCheck.nat(59), FastCheck.nat(999)],
    ([h, m, s, milli]) => {
      const text = `${h}h${m}m${s}s${milli}ms`
      expect(ms(GoDuration.parse(text))).toEqual(Option.some(((h * 60 + m) * 60 + s) * 1000 + milli))
    }
  )

  it.prop("never throws and never returns a negative or over-cap duration", [FastCheck.string()], ([s]) => {
    const parsed = GoDuration.parse(s)
    if (Option.isSome(parsed)) {
      const d = Duration.toMillis(parsed.value)
      expect(d >= 0 && d <= MAX_MS).toBe(true)
    }
  })
})
