/**
 * Bad configuration: every public constructor checks its options once, at construction, and a
 * value it does not accept is an `InvalidOptions` naming the module, the field, the value and what
 * is accepted: never a defect, never a default put in its place. JavaScript callers (no options,
 * `null`, strings for numbers) get the same error as TypeScript ones.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option } from "effect"
import * as FastCheck from "effect/FastCheck"
import * as Bulkhead from "../src/Bulkhead.js"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as InvalidOptions from "../src/InvalidOptions.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as RetryBudget from "../src/RetryBudget.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import * as MockApi from "../src/testing/MockApi.js"
import * as MockServer from "../src/testing/MockServer.js"
import * as MockHttpClient from "../src/testing/MockHttpClient.js"

// What a JavaScript caller (or a bad cast, or a config file) may hand a constructor.
type Untyped = Record<string, unknown>
const untyped = <A>(options: Untyped | undefined): A => options as A

// Each constructor, run to its outcome: the error, or none when it accepted the options.
type Constructor = (options: Untyped | undefined) => Effect.Effect<Option.Option<unknown>>
const outcome = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<Option.Option<unknown>, never, R> =>
  Effect.map(Effect.exit(effect), (exit) =>
    Exit.match(exit, { onSuccess: () => Option.none(), onFailure: (cause) => Option.some(cause) }))
const scopedOutcome = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.scoped(outcome(effect))

const constructors: Record<string, { readonly make: Constructor; readonly fields: ReadonlyArray<string> }> = {
  CircuitBreaker: {
    make: (o) => scopedOutcome(CircuitBreaker.make(untyped(o))),
    fields: ["consecutiveFailures", "openDuration", "backoffFactor", "maxOpenDuration", "halfOpenProbes", "isFailure", "name"]
  },
  Bulkhead: { make: (o) => outcome(Bulkhead.make(untyped({ maxConcurrent: 2, ...o }))), fields: ["maxConcurrent", "maxQueue"] },
  RetryBudget: {
    make: (o) => outcome(RetryBudget.make(untyped(o))),
    fields: ["capacity", "retryCost", "transportRetryCost", "successRefund"]
  },
  RateLimiter: {
    make: (o) => outcome(RateLimiter.make(untyped(o)).pipe(Effect.provide(RateLimiter.layerStoreMemory))),
    fields: ["requestsPerMinute", "tokensPerMinute", "burst", "headroom", "defaultPause", "maxPause"]
  },
  RetryPolicy: {
    make: (o) => outcome(RetryPolicy.validate(untyped(o))),
    fields: ["maxRetries", "base", "factor", "maxDelay", "jitter", "deadline", "maxServerDelay", "honorShouldRetry", "perTag", "perCategory", "hintJitter"]
  },
  MockApi: {
    make: (o) => outcome(MockApi.make(untyped(o))),
    fields: ["rpm", "tpm", "scenario", "faultRates", "chunkDelay", "requireApiKey", "models", "maxLogEntries"]
  }
}

// Values no option accepts: each is refused by every field above.
const garbage = FastCheck.constantFrom<unknown>(
  Number.NaN,
  -1,
  -0.5,
  "banana",
  null,
  {},
  [],
  Symbol.for("x"),
  10n,
  { valueOf: () => 5 }
)

// The few garbage values some fields do take: any string as a name, an empty list of faults or
// models, no overrides, a BigInt as a duration (nanoseconds, as Duration reads it).
const accepted = (field: string, value: unknown): boolean =>
  (field === "name" && typeof value === "string") ||
  ((field === "scenario" || field === "models") && Array.isArray(value) && value.length === 0) ||
  // Unknown keys inside an options object are ignored, as at the top level.
  (field === "hintJitter" && typeof value === "object" && value !== null && !Array.isArray(value)) ||
  ((field === "perTag" || field === "perCategory" || field === "faultRates") && typeof value === "object" && value !== null &&
    !Array.isArray(value) && Object.keys(value).length === 0) ||
  (/Pause|Duration|Delay|deadline|base|chunkDelay/.test(field) && typeof value === "bigint")

const invalidOf = (cause: Option.Option<unknown>): InvalidOptions.InvalidOptions | undefined => {
  if (Option.isNone(cause)) return undefined
  const failure = (cause.value as { readonly _tag?: string; readonly error?: unknown })
  return failure._tag === "Fail" && InvalidOptions.isInvalidOptions(failure.error) ? failure.error : undefined
}

describe("every constructor refuses a bad option with InvalidOptions", () => {
  for (const [module, { fields, make }] of Object.entries(constructors)) {
    it.effect.prop(`${module}: any garbage in any field`, [FastCheck.constantFrom(...fields), garbage], ([field, value]) =>
      Effect.gen(function*() {
        if (accepted(field, value)) return
        const result = yield* make({ [field]: value })
        const error = invalidOf(result)
        assert.isDefined(error, `${module}.${field} = ${String(value)} was accepted (or was a defect)`)
        expect([error?.module, error?.field]).toEqual([module, field])
        expect(error?.message).toContain(field)
        expect(error?.expected.length).toBeGreaterThan(0)
      }))

    it.effect(`${module}: options that are not an object`, () =>
      Effect.gen(function*() {
        for (const options of ["banana", 5, null, [1]]) {
          const error = invalidOf(yield* make(options as unknown as Untyped))
          if (module === "Bulkhead") continue // spread into an object by the table above
          expect(error?.field).toBe("(options)")
        }
      }))
  }

  it.effect("the defaults are accepted: no options at all is fine", () =>
    Effect.gen(function*() {
      for (const [module, { make }] of Object.entries(constructors)) {
        expect([module, yield* make(undefined)]).toEqual([module, Option.none()])
      }
    }))

  it.effect("Bulkhead.make() with no options is an InvalidOptions, not a defect", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip((Bulkhead.make as (o?: unknown) => ReturnType<typeof Bulkhead.make>)())
      expect([error._tag, error.field, error.expected]).toEqual(["InvalidOptions", "maxConcurrent", "a value (it is required)"])
    }))

  it("says what was given and what is accepted", () => {
    const policy = RetryPolicy.make(untyped({ maxRetries: "banana" }))
    const error = Option.getOrThrow(RetryPolicy.invalidOptions(policy))
    expect(error.message).toBe("RetryPolicy: option maxRetries is \"banana\"; expected a whole number ≥ 0, or Infinity")
  })

  it("a value that holds a key is printed scrubbed", () => {
    const key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789Zq9x"
    const error = Option.getOrThrow(RetryPolicy.invalidOptions(RetryPolicy.make(untyped({ jitter: key }))))
    expect(error.value).not.toContain("abcdefghijklmnop")
    expect(JSON.stringify(error)).not.toContain("abcdefghijklmnop")
  })

  it.effect("RetryPolicy: an unknown tag in perTag is refused, not ignored", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(RetryPolicy.validate(untyped({ perTag: { RateLimit: { times: 3 } } })))
      expect(error.field).toBe("perTag")
    }))

  it.effect("MockHttpClient.layer refuses its mock's bad options", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(MockHttpClient.layer(untyped({ rpm: Number.NaN }))).pipe(Effect.scoped))
      expect([error._tag, error.module, error.field]).toEqual(["InvalidOptions", "MockApi", "rpm"])
    }))

  it.effect("MockServer.layer checks its options before listening", () =>
    Effect.gen(function*() {
      for (const [options, field] of [[{ port: 70_000 }, "port"], [{ port: Number.NaN }, "port"], [{ tpm: -1 }, "tpm"]] as const) {
        const error = yield* Effect.flip(Layer.build(MockServer.layer(options)).pipe(Effect.scoped))
        expect([error._tag, "field" in error ? error.field : undefined]).toEqual(["InvalidOptions", field])
      }
    }))
})
