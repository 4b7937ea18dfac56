/**
 * The one error for bad configuration: a public constructor (`make`, `layer`) checks its options
 * once, when it is built, and fails with this when one is not accepted. It names the module, the
 * option (a dotted path such as `perTag.ServerError.times`), the value it was given (printable,
 * secrets scrubbed) and what is accepted. No constructor replaces a value it was given with a
 * default; JavaScript callers get the same error as TypeScript ones.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"

/**
 * An option a constructor does not accept.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const program = Bulkhead.make({ maxConcurrent: Number.NaN }).pipe(
 *   Effect.catchTag("InvalidOptions", (e) => Effect.logError(`${e.module}.${e.field}: ${e.expected}`))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOptions extends Data.TaggedError("InvalidOptions")<{
  /** The module whose constructor refused the options (`"Bulkhead"`, `"RetryPolicy"`, ...). */
  readonly module: string
  /** The option, as a dotted path; `"(options)"` when the options themselves are not an object. */
  readonly field: string
  /** The value given, printed (strings quoted, secrets scrubbed, long values cut). */
  readonly value: string
  /** What the option accepts. */
  readonly expected: string
  /** `${module}: option ${field} is ${value}; expected ${expected}`. */
  readonly message: string
}> {}

/**
 * Whether a value is an {@link InvalidOptions}.
 *
 * @example
 * ```ts
 * import { InvalidOptions } from "effect-openai-resilience"
 *
 * InvalidOptions.isInvalidOptions(new Error("x")) // false
 * ```
 *
 * @since 0.1.0
 * @category refinements
 */
export const isInvalidOptions = (u: unknown): u is InvalidOptions =>
  typeof u === "object" && u !== null && (u as { readonly _tag?: unknown })._tag === "InvalidOptions" &&
  u instanceof InvalidOptions
