/**
 * Decoding of a 2xx body with a schema into a typed `ResponseDecodeError` on failure: a body that
 * is not JSON (an HTML page from a proxy, an empty or cut-off body) or JSON that does not match
 * the schema gives the path of what was wrong, the schema's explanation and a bounded,
 * secret-scrubbed excerpt of the body.
 *
 * Unknown fields are preserved by default (`onExcessProperty: "preserve"`), so a field the API adds
 * tomorrow is still there for those who read it, and never fails a decode.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { ParseOptions } from "effect/SchemaAST"
import * as internal from "./internal/decode.js"
import type * as OpenAiError from "./OpenAiError.js"

/**
 * Context for the error, and limits.
 *
 * @example
 * ```ts
 * import { Decode } from "effect-openai-resilience"
 *
 * const options: Decode.DecodeOptions = { status: 200, requestId: "req_123", maxExcerpt: 500 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodeOptions {
  /** The HTTP status of the response, copied into the error. */
  readonly status?: number | undefined
  /** The `x-request-id` of the response, copied into the error. */
  readonly requestId?: string | undefined
  /** Strings to scrub from the excerpt besides anything shaped like an API key (the key in use). */
  readonly secrets?: ReadonlyArray<string> | undefined
  /** Characters of the body kept in the error. Default {@link defaultMaxExcerpt}. */
  readonly maxExcerpt?: number | undefined
  /** Characters of the schema's explanation kept in the error. Default {@link defaultMaxIssue}. */
  readonly maxIssue?: number | undefined
  /** Schema parse options; `onExcessProperty` defaults to `"preserve"`. */
  readonly parseOptions?: ParseOptions | undefined
}

/**
 * Default {@link DecodeOptions.maxExcerpt}: 1000 characters.
 *
 * @example
 * ```ts
 * import { Decode } from "effect-openai-resilience"
 *
 * const options: Decode.DecodeOptions = { maxExcerpt: 2 * Decode.defaultMaxExcerpt }
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxExcerpt: number = internal.defaultMaxExcerpt

/**
 * Default {@link DecodeOptions.maxIssue}: 2000 characters.
 *
 * @example
 * ```ts
 * import { Decode } from "effect-openai-resilience"
 *
 * const options: Decode.DecodeOptions = { maxIssue: Decode.defaultMaxIssue / 2 }
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxIssue: number = internal.defaultMaxIssue

/**
 * The parse options used unless overridden: keep unknown fields, stop at the first error.
 *
 * @example
 * ```ts
 * import { Decode } from "effect-openai-resilience"
 *
 * // Report every issue instead of the first one.
 * const options: Decode.DecodeOptions = { parseOptions: { ...Decode.defaultParseOptions, errors: "all" } }
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultParseOptions: ParseOptions = internal.defaultParseOptions

/**
 * Explains why a text is not JSON, in words a person can act on.
 *
 * @example
 * ```ts
 * import { Decode } from "effect-openai-resilience"
 *
 * Decode.explainInvalidJson("<html><body>502 Bad Gateway</body></html>", new SyntaxError("Unexpected token"))
 * // "the body is an HTML page, not JSON (a proxy or gateway answered instead of the API)"
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const explainInvalidJson: (text: string, cause: unknown) => string = internal.explainInvalidJson

/**
 * Parses a body as JSON; failure is a `ResponseDecodeError` with an explanation (empty, HTML,
 * cut off, invalid) and an excerpt.
 *
 * @example
 * ```ts
 * import { Decode } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const program = Decode.parseJson("{\"id\": 1").pipe(
 *   Effect.catchTag("ResponseDecodeError", (e) => Effect.succeed(e.issue))
 * )
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const parseJson: (
  text: string,
  options?: DecodeOptions
) => Effect.Effect<unknown, OpenAiError.ResponseDecodeError> = internal.parseJson

/**
 * The `ResponseDecodeError` for a text that `JSON.parse` rejected with `cause`: what
 * {@link parseJson} fails with, for callers that parse by themselves.
 *
 * @example
 * ```ts
 * import { Decode } from "effect-openai-resilience"
 *
 * const text = "{\"id\": 1"
 * try {
 *   JSON.parse(text)
 * } catch (cause) {
 *   const error = Decode.fromJsonError(text, cause, { status: 200 })
 *   // error.issue starts with "the body ends before its JSON does"
 * }
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const fromJsonError: (
  text: string,
  cause: unknown,
  options?: DecodeOptions
) => OpenAiError.ResponseDecodeError = internal.fromJsonError

/**
 * The dotted path of a parse error (`"choices.0.message"`): for a union, the deepest issue among
 * its alternatives (where the input came closest to matching). `""` is the root.
 *
 * @example
 * ```ts
 * import { Decode } from "effect-openai-resilience"
 * import { Either, Schema } from "effect"
 *
 * const result = Schema.decodeUnknownEither(Schema.Struct({ a: Schema.Array(Schema.Number) }))({ a: [1, "x"] })
 * if (Either.isLeft(result)) Decode.pathOf(result.left) // "a.1"
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const pathOf: (error: ParseResult.ParseError) => string = internal.pathOf

/**
 * Turns a schema `ParseError` on a decoded body into a `ResponseDecodeError`. `body` is the raw
 * body text when known (else the offending value is shown).
 *
 * @example
 * ```ts
 * import { Decode } from "effect-openai-resilience"
 * import { Either, Schema } from "effect"
 *
 * const input = { id: 1 }
 * const result = Schema.decodeUnknownEither(Schema.Struct({ id: Schema.String }))(input)
 * if (Either.isLeft(result)) {
 *   const error = Decode.fromParseError(result.left, input, { status: 200 })
 *   // error.path === "id"
 * }
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const fromParseError: (
  error: ParseResult.ParseError,
  input: unknown,
  options?: DecodeOptions & { readonly body?: string | undefined }
) => OpenAiError.ResponseDecodeError = internal.fromParseError

/**
 * Decodes an already parsed value with a schema.
 *
 * @example
 * ```ts
 * import { Decode } from "effect-openai-resilience"
 * import { Schema } from "effect"
 *
 * const decodeModel = Decode.decodeUnknown(Schema.Struct({ id: Schema.String }), { requestId: "req_1" })
 * const program = decodeModel({ id: "gpt-4o", object: "model" })
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeUnknown: <A, I>(
  schema: Schema.Schema<A, I, never>,
  options?: DecodeOptions
) => (input: unknown) => Effect.Effect<A, OpenAiError.ResponseDecodeError> = internal.decodeUnknown

/**
 * Decodes a body text: JSON first, then the schema. Every failure is a `ResponseDecodeError`.
 *
 * @example
 * ```ts
 * import { Decode, Schemas } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const program = Decode.decodeText(Schemas.Models.Model, { status: 200 })(
 *   "{\"id\":\"gpt-4o\",\"object\":\"model\",\"created\":1,\"owned_by\":\"openai\"}"
 * ).pipe(Effect.map((model) => model.id))
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeText: <A, I>(
  schema: Schema.Schema<A, I, never>,
  options?: DecodeOptions
) => (text: string) => Effect.Effect<A, OpenAiError.ResponseDecodeError> = internal.decodeText

/**
 * Decodes a body given as text or as an already parsed value, in one call.
 *
 * @example
 * ```ts
 * import { Decode, Schemas } from "effect-openai-resilience"
 *
 * const fromText = Decode.body("{\"object\":\"list\",\"data\":[]}", Schemas.Models.ModelsList)
 * const fromValue = Decode.body({ object: "list", data: [] }, Schemas.Models.ModelsList, { status: 200 })
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const body: {
  <A, I>(
    schema: Schema.Schema<A, I, never>,
    options?: DecodeOptions
  ): (input: string | unknown) => Effect.Effect<A, OpenAiError.ResponseDecodeError>
  <A, I>(
    input: string | unknown,
    schema: Schema.Schema<A, I, never>,
    options?: DecodeOptions
  ): Effect.Effect<A, OpenAiError.ResponseDecodeError>
} = dual(
  (args) => Schema.isSchema(args[1]),
  <A, I>(input: unknown, schema: Schema.Schema<A, I, never>, options?: DecodeOptions) =>
    typeof input === "string" ? decodeText(schema, options)(input) : decodeUnknown(schema, options)(input)
)
