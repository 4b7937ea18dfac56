/**
 * Hostile input: bodies built to make a scan quadratic, huge stream error events, values that
 * `JSON.stringify` cannot take. Time is checked as growth (the time for a body 16 times longer is
 * at most 64 times longer: linear gives 16, quadratic 256), never as wall-clock figures, so that a
 * loaded machine cannot fail it; bench/hostile.ts prints the absolute figures.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Option } from "effect"
import * as FastCheck from "effect/FastCheck"
import { inspect } from "node:util"
import * as Classify from "../src/Classify.js"
import * as OpenAiError from "../src/OpenAiError.js"
import { hostileBody, hostileShape } from "./support/hostile.js"

const SMALL = 16 * 1024
const LARGE = 256 * 1024

// The fastest of `runs` timings (ms): a pause from elsewhere rarely hits every run.
const fastest = (f: () => void, runs: number): number => {
  let best = Number.POSITIVE_INFINITY
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    f()
    best = Math.min(best, performance.now() - start)
  }
  return best
}

// Linear: 16 times the input costs at most 64 times the time. The small time has a floor of a
// quarter of a millisecond, below which timers and JIT noise dominate.
const expectLinear = (scan: (body: string) => unknown, shape: ReturnType<typeof hostileShape.generate>["value"]) => {
  const small = hostileBody(shape, SMALL)
  const large = hostileBody(shape, LARGE)
  scan(small) // warm up
  const tSmall = fastest(() => scan(small), 5)
  const tLarge = fastest(() => scan(large), 3)
  expect(tLarge, `${JSON.stringify(shape)}: ${tSmall.toFixed(2)} ms at 16 KiB, ${tLarge.toFixed(2)} ms at 256 KiB`)
    .toBeLessThanOrEqual(64 * Math.max(tSmall, 0.25))
}

describe("every scan of a server body is linear in its length", () => {
  it.prop(
    "classifyResponse, on hostile HTML, JSON and text",
    [hostileShape, FastCheck.constantFrom(200, 400, 429, 502)],
    ([shape, status]) => {
      expectLinear((body) => Classify.classifyResponse({ status, body, now: 0 }), shape)
    },
    { timeout: 120_000, fastCheck: { numRuns: 25 } }
  )

  it.prop(
    "classifyStreamError, on the same shapes as text and as bytes",
    [hostileShape, FastCheck.boolean()],
    ([shape, bytes]) => {
      expectLinear(
        (body) => Classify.classifyStreamError(bytes ? new TextEncoder().encode(body) : body, { now: 0 }),
        shape
      )
    },
    { timeout: 120_000, fastCheck: { numRuns: 25 } }
  )

  // The shapes the issue measured (57.6 s at 256 KiB before): each one, always.
  it.each([
    ["unclosed <", { prefix: "<html>", units: ["<"] }],
    ["unclosed <title", { prefix: "<html>", units: ["<title"] }],
    ["<title> without </title>", { prefix: "<html>", units: ["<title>"] }],
    ["unclosed <h1", { prefix: "</h1>", units: ["<h1 "] }]
  ] as const)("%s", (_name, shape) => {
    expectLinear((body) => Classify.classifyResponse({ status: 502, body, now: 0 }), shape)
  })
})

const quotaBody = (messageLength: number) =>
  JSON.stringify({
    error: { message: "x".repeat(messageLength), type: "insufficient_quota", param: null, code: "insufficient_quota" }
  })

describe("classifyStreamError bounds what it reads", () => {
  it.each([
    ["a JSON string", (body: string) => body],
    ["an SSE frame", (body: string) => `event: error\ndata: ${body}\n\n`],
    ["bytes", (body: string) => new TextEncoder().encode(body)],
    ["the parsed value", (body: string) => JSON.parse(body) as unknown]
  ])("quota behind a 5 MB message, given as %s, is QuotaExceeded", (_name, as) => {
    const e = Classify.classifyStreamError(as(quotaBody(5_000_000)), { now: 0 })
    expect(e._tag).toBe("QuotaExceeded")
    expect(e.message.length).toBeLessThan(Classify.MAX_MESSAGE_LENGTH + 100)
  })

  it("5 MB of binary costs no more than 64 times 300 KB of it", () => {
    const bytes = (n: number) => {
      const out = new Uint8Array(n)
      for (let i = 0; i < n; i++) out[i] = (i * 7919 + (i >> 7)) % 256
      return out
    }
    const small = bytes(300_000)
    const large = bytes(5_000_000)
    Classify.classifyStreamError(small)
    const tSmall = fastest(() => Classify.classifyStreamError(small), 5)
    const tLarge = fastest(() => Classify.classifyStreamError(large), 3)
    expect(Classify.classifyStreamError(large)._tag).toBe("ServerError")
    // Bounded: a read of the head costs the same whatever the length (16x the input here).
    expect(tLarge).toBeLessThanOrEqual(64 * Math.max(tSmall, 0.25))
  })
})

// Values no JSON.stringify takes as they are: BigInts, cycles, throwing getters and toJSONs.
const unprintable = FastCheck.oneof(
  FastCheck.anything({ withBigInt: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true }),
  FastCheck.anything({ withBigInt: true }).map((inner) => {
    const cyclic: Record<string, unknown> = { inner }
    cyclic.self = cyclic
    return cyclic
  }),
  FastCheck.anything().map((inner) => {
    const error = new Error("outer", { cause: inner }) as Error & { loop?: unknown }
    error.loop = error
    return error
  }),
  FastCheck.constant({
    toJSON() {
      throw new Error("toJSON throws")
    }
  }),
  FastCheck.constant(
    Object.defineProperty({}, "boom", {
      enumerable: true,
      get() {
        throw new Error("getter throws")
      }
    })
  )
)

describe("printing an error never throws", () => {
  it.prop(
    "JSON.stringify, inspect, String and Cause.pretty of an error with any cause or field",
    [unprintable, unprintable],
    ([cause, field]) => {
      const errors = [
        new OpenAiError.ConnectionError({ message: "m", cause, errorCode: Option.none(), received: Option.none() }),
        // A JavaScript caller may put anything in any field.
        new OpenAiError.ServerError({ message: "m", code: field } as unknown as OpenAiError.Input),
        Classify.classifyTransportError(cause)
      ]
      for (const e of errors) {
        expect(typeof JSON.stringify(e)).toBe("string")
        expect(typeof inspect(e, { depth: 10 })).toBe("string")
        expect(typeof String(e)).toBe("string")
        expect(typeof Cause.pretty(Cause.fail(e))).toBe("string")
      }
    }
  )

  it("a cyclic cause with a BigInt reads as itself, with the loop marked", () => {
    const cause: Record<string, unknown> = { big: 10n }
    cause.self = cause
    const e = new OpenAiError.ConnectionError({ message: "m", cause, errorCode: Option.none(), received: Option.none() })
    expect(JSON.parse(JSON.stringify(e)).cause).toEqual({ big: "10n", self: "[Circular]" })
  })

  it("an Error cause keeps its name, message and code", () => {
    const cause = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })
    const e = new OpenAiError.ConnectionError({ message: "m", cause, errorCode: Option.none(), received: Option.none() })
    expect(JSON.parse(JSON.stringify(e)).cause).toEqual({ name: "Error", message: "read ECONNRESET", code: "ECONNRESET" })
  })
})
