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
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import type { ParseOptions } from "effect/SchemaAST"
import * as OpenAiError from "./OpenAiError.js"
import { bound, scrub } from "./internal/secrets.js"
import { decodeEither } from "./internal/validate.js"

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
export const defaultMaxExcerpt = 1000

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
export const defaultMaxIssue = 2000

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
export const defaultParseOptions: ParseOptions = { onExcessProperty: "preserve", errors: "first" }

const context = (options: DecodeOptions | undefined) => ({
  status: options?.status === undefined ? Option.none<number>() : Option.some(options.status),
  requestId: options?.requestId === undefined ? Option.none<string>() : Option.some(options.requestId)
})

const excerpt = (text: string, options: DecodeOptions | undefined): string =>
  bound(scrub(text, options?.secrets ?? []), options?.maxExcerpt ?? defaultMaxExcerpt)

const describeStatus = (options: DecodeOptions | undefined): string =>
  options?.status === undefined ? "" : ` (status ${options.status})`

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
export const explainInvalidJson = (text: string, cause: unknown): string => {
  const trimmed = text.trim()
  const detail = cause instanceof Error ? cause.message : String(cause)
  if (trimmed.length === 0) return "the body is empty"
  if (/^<(!doctype|html|head|body|\?xml)/i.test(trimmed) || /^<[a-z]/i.test(trimmed)) {
    return "the body is an HTML page, not JSON (a proxy or gateway answered instead of the API)"
  }
  // V8 reports a cut-off body variously ("Unexpected end of JSON input", "Unterminated string",
  // "Expected ':' after property name in JSON at position N" with N the end of the text).
  const position = /at position (\d+)/.exec(detail)
  const atEnd = position !== null && Number(position[1]) >= text.trimEnd().length
  if (atEnd || /end of (json )?(data|input)|unterminated|unexpected end/i.test(detail)) {
    return `the body ends before its JSON does (cut off after ${text.length} characters): ${detail}`
  }
  return `the body is not valid JSON: ${detail}`
}

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
export const parseJson = (
  text: string,
  options?: DecodeOptions
): Effect.Effect<unknown, OpenAiError.ResponseDecodeError> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(JSON.parse(text) as unknown)
    } catch (cause) {
      return Effect.fail(fromJsonError(text, cause, options))
    }
  })

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
export const fromJsonError = (
  text: string,
  cause: unknown,
  options?: DecodeOptions
): OpenAiError.ResponseDecodeError => {
  // JSON.parse quotes the body in its message: scrub and bound it like the excerpt.
  const issue = bound(
    scrub(explainInvalidJson(text, cause), options?.secrets ?? []),
    options?.maxIssue ?? defaultMaxIssue
  )
  return new OpenAiError.ResponseDecodeError({
    message: `The response${describeStatus(options)} could not be decoded: ${issue}`,
    path: "",
    issue,
    body: excerpt(text, options),
    ...context(options)
  })
}

// For a union every alternative reports its own issue. The one to show is the deepest (where the
// input came closest to matching); a mismatch on a discriminating literal (`type`) ranks below a
// real issue at the same depth, so `{type:"x.delta"}` without `delta` reports "delta is missing",
// not "type is not x.done". An open union's fallback fails at the object itself, the shallowest.
interface Leaf {
  readonly path: ReadonlyArray<PropertyKey>
  readonly issue: ParseResult.ParseIssue
  readonly rank: number
}

const isLiteralMiss = (issue: ParseResult.ParseIssue): boolean =>
  issue._tag === "Type" &&
  (SchemaAST.isLiteral(issue.ast) ||
    (SchemaAST.isUnion(issue.ast) && issue.ast.types.every(SchemaAST.isLiteral)))

const leaves = (issue: ParseResult.ParseIssue, path: ReadonlyArray<PropertyKey>, out: Array<Leaf>): void => {
  switch (issue._tag) {
    case "Pointer":
      return leaves(issue.issue, path.concat(issue.path), out)
    case "Composite":
      if (Array.isArray(issue.issues)) for (const i of issue.issues) leaves(i, path, out)
      else leaves(issue.issues as ParseResult.ParseIssue, path, out)
      return
    case "Refinement":
      if (issue.kind === "From") return leaves(issue.issue, path, out)
      out.push({ path, issue, rank: path.length })
      return
    case "Transformation":
      if (issue.kind !== "Transformation") return leaves(issue.issue, path, out)
      out.push({ path, issue, rank: path.length })
      return
    default:
      out.push({ path, issue, rank: path.length - (isLiteralMiss(issue) ? 0.5 : 0) })
  }
}

const bestLeaf = (error: ParseResult.ParseError): Leaf | undefined => {
  const all: Array<Leaf> = []
  leaves(error.issue, [], all)
  let out: Leaf | undefined
  for (const leaf of all) if (out === undefined || leaf.rank > out.rank) out = leaf
  return out
}

const joinPath = (path: ReadonlyArray<PropertyKey>): string => path.map((key) => String(key)).join(".")

const leafMessage = (leaf: Leaf | undefined): string =>
  leaf === undefined ? "invalid" : ParseResult.ArrayFormatter.formatIssueSync(leaf.issue)[0]?.message ?? "invalid"

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
export const pathOf = (error: ParseResult.ParseError): string => joinPath(bestLeaf(error)?.path ?? [])

const valueAt = (input: unknown, path: ReadonlyArray<string>): unknown => {
  let at: unknown = input
  for (const key of path) {
    if (typeof at !== "object" || at === null) return undefined
    at = (at as Record<string, unknown>)[key]
  }
  return at
}

const stringify = (value: unknown): string => {
  try {
    return typeof value === "string" ? value : JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

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
export const fromParseError = (
  error: ParseResult.ParseError,
  input: unknown,
  options?: DecodeOptions & { readonly body?: string | undefined }
): OpenAiError.ResponseDecodeError => {
  const leaf = bestLeaf(error)
  const path = joinPath(leaf?.path ?? [])
  const issue = bound(
    scrub(ParseResult.TreeFormatter.formatErrorSync(error), options?.secrets ?? []),
    options?.maxIssue ?? defaultMaxIssue
  )
  const at = path === "" ? "the root" : `"${path}"`
  const value = path === "" ? input : valueAt(input, path.split("."))
  return new OpenAiError.ResponseDecodeError({
    message: bound(
      scrub(
        `The response${describeStatus(options)} does not match the expected shape at ${at}: ${
          leafMessage(leaf)
        }`,
        options?.secrets ?? []
      ),
      500
    ),
    path,
    issue,
    body: excerpt(options?.body ?? stringify(value), options),
    ...context(options)
  })
}

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
export const decodeUnknown = <A, I>(
  schema: Schema.Schema<A, I, never>,
  options?: DecodeOptions
): (input: unknown) => Effect.Effect<A, OpenAiError.ResponseDecodeError> => {
  const decode = decodeEither(schema, { ...defaultParseOptions, ...options?.parseOptions })
  return (input) =>
    Effect.suspend(() => {
      const result = decode(input)
      return Either.isRight(result)
        ? Effect.succeed(result.right)
        : Effect.fail(fromParseError(result.left, input, options))
    })
}

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
export const decodeText = <A, I>(
  schema: Schema.Schema<A, I, never>,
  options?: DecodeOptions
): (text: string) => Effect.Effect<A, OpenAiError.ResponseDecodeError> => {
  const decode = decodeEither(schema, { ...defaultParseOptions, ...options?.parseOptions })
  return (text) =>
    Effect.flatMap(parseJson(text, options), (input) => {
      const result = decode(input)
      return Either.isRight(result)
        ? Effect.succeed(result.right)
        : Effect.fail(fromParseError(result.left, input, { ...options, body: text }))
    })
}

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
