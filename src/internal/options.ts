/**
 * Validation of a constructor's options, once, at construction: one Schema per options object,
 * and one error for anything it refuses ({@link InvalidOptions}).
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { InvalidOptions } from "../InvalidOptions.js"
import { jsonSafe } from "./printable.js"
import { scrubHead } from "./secrets.js"

const printable = (u: unknown): string => {
  if (u === undefined) return "undefined"
  if (typeof u === "function") return "a function"
  if (typeof u === "number" || typeof u === "bigint") return String(u)
  try {
    return scrubHead(JSON.stringify(jsonSafe(u)) ?? String(u), 120)
  } catch {
    return "an unreadable value"
  }
}

const at = (input: unknown, path: ReadonlyArray<PropertyKey>): unknown => {
  let value = input
  for (const key of path) {
    try {
      value = typeof value === "object" && value !== null ? (value as Record<PropertyKey, unknown>)[key] : undefined
    } catch {
      return undefined
    }
  }
  return value
}

/** The error for `field` of `module` given `value`, accepting `expected`. */
export const invalid = (module: string, field: string, value: unknown, expected: string): InvalidOptions => {
  const shown = printable(value)
  return new InvalidOptions({
    module,
    field,
    value: shown,
    expected,
    message: `${module}: option ${field} is ${shown}; expected ${expected}`
  })
}

// The first issue of a failed decode, as the option's path and what it expects. The Schemas below
// carry their own `expected` text as the message annotation.
const fromParseError = (module: string, input: unknown, error: ParseResult.ParseError): InvalidOptions => {
  const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
  const path = issue?.path ?? []
  const field = path.length === 0 ? "(options)" : path.map(String).join(".")
  const missing = issue?._tag === "Missing"
  return invalid(module, field, missing ? undefined : at(input, path), missing ? "a value (it is required)" : issue?.message ?? "a valid value")
}

/**
 * Checks `input` (typed or not: a JavaScript caller may pass anything) against `schema`.
 * `undefined` options read as `{}`; anything else that is not an object is refused.
 */
export const validateEither = <A, I>(
  module: string,
  schema: Schema.Schema<A, I>,
  input: unknown
): Either.Either<A, InvalidOptions> => {
  const options = input === undefined ? {} : input
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    return Either.left(invalid(module, "(options)", input, "an object of options"))
  }
  try {
    return Either.mapLeft(
      Schema.decodeUnknownEither(schema, { errors: "first", onExcessProperty: "ignore" })(options),
      (error) => fromParseError(module, options, error)
    )
  } catch {
    // A hostile object (throwing getters, proxies).
    return Either.left(invalid(module, "(options)", "an unreadable object", "an object of options"))
  }
}

/** {@link validateEither} as an Effect. */
export const validate = <A, I>(
  module: string,
  schema: Schema.Schema<A, I>,
  input: unknown
): Effect.Effect<A, InvalidOptions> => Effect.suspend(() => validateEither(module, schema, input))

// ---------------------------------------------------------------------------------------------
// The option shapes the constructors share, each with the text a caller reads when refused.
// ---------------------------------------------------------------------------------------------

/** A shape: a predicate, and the text a caller reads when it is refused. */
export const check = <A>(is: (u: unknown) => u is A, expected: string): Schema.Schema<A> =>
  Schema.declare(is, { message: () => expected })

const isNumber = (u: unknown): u is number => typeof u === "number"

/** An option that may be absent (or `undefined`) but not `null` or anything else. */
export const optional = <A, I>(schema: Schema.Schema<A, I>) => Schema.optional(schema)

/** A whole number at least `min`. */
export const int = (min: number): Schema.Schema<number> =>
  check((u): u is number => isNumber(u) && Number.isInteger(u) && u >= min, `a whole number ≥ ${min}`)

/** A whole number at least `min`, or `Infinity`. */
export const intOrInfinity = (min: number): Schema.Schema<number> =>
  check(
    (u): u is number => isNumber(u) && (u === Number.POSITIVE_INFINITY || (Number.isInteger(u) && u >= min)),
    `a whole number ≥ ${min}, or Infinity`
  )

/** A finite number in `[min, max]`. */
export const number = (min: number, max: number = Number.POSITIVE_INFINITY): Schema.Schema<number> =>
  check(
    (u): u is number => isNumber(u) && Number.isFinite(u) && u >= min && u <= max,
    max === Number.POSITIVE_INFINITY ? `a finite number ≥ ${min}` : `a number from ${min} to ${max}`
  )

/** A finite number greater than `min`. */
export const above = (min: number): Schema.Schema<number> =>
  check((u): u is number => isNumber(u) && Number.isFinite(u) && u > min, `a finite number > ${min}`)

/** A number above 0 and at most 1 (a ratio). */
export const fraction: Schema.Schema<number> = check(
  (u): u is number => isNumber(u) && u > 0 && u <= 1,
  "a number above 0 and at most 1"
)

/** Anything `Duration.decode` reads as a finite, non-negative duration ("5 seconds", 5000, a Duration). */
export const duration: Schema.Schema<Duration.DurationInput> = check(
  (u): u is Duration.DurationInput => {
    if (isNumber(u) && !(u >= 0)) return false
    const d = Duration.decodeUnknown(u)
    return d._tag === "Some" && Duration.isFinite(d.value)
  },
  "a finite, non-negative duration (\"5 seconds\", milliseconds as a number, or a Duration)"
)

/** A function. */
export const fn = <F>(): Schema.Schema<F> => check((u): u is F => typeof u === "function", "a function")

/** An object with these methods, kept as it is (not copied: its methods may rely on `this`). */
export const methods = <A>(expected: string, ...names: ReadonlyArray<string>): Schema.Schema<A> =>
  check(
    (u): u is A =>
      typeof u === "object" && u !== null &&
      names.every((name) => typeof (u as Record<string, unknown>)[name] === "function"),
    expected
  )

/** One of the given strings. */
export const literal = <const L extends ReadonlyArray<string>>(...values: L): Schema.Schema<L[number]> =>
  check((u): u is L[number] => typeof u === "string" && values.includes(u), values.map((v) => JSON.stringify(v)).join(" or "))

/** `true` or `false`. */
export const boolean: Schema.Schema<boolean> = check((u): u is boolean => typeof u === "boolean", "true or false")

/** A string. */
export const string: Schema.Schema<string> = check((u): u is string => typeof u === "string", "a string")
