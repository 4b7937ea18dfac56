/**
 * The implementation of `Decode`: a body that is not JSON or does not match its schema, turned
 * into a `ResponseDecodeError` that says where and why, with a bounded, scrubbed excerpt.
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import type * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import type { ParseOptions } from "effect/SchemaAST"
import type * as Decode from "../Decode.js"
import * as OpenAiError from "../OpenAiError.js"
import { bound, scrub } from "./secrets.js"
import { decodeEither } from "./validate.js"

type DecodeOptions = Decode.DecodeOptions

/** @internal */
export const defaultMaxExcerpt = 1000

/** @internal */
export const defaultMaxIssue = 2000

/** @internal */
export const defaultParseOptions: ParseOptions = { onExcessProperty: "preserve", errors: "first" }

const context = (options: DecodeOptions | undefined) => ({
  status: options?.status === undefined ? Option.none<number>() : Option.some(options.status),
  requestId: options?.requestId === undefined ? Option.none<string>() : Option.some(options.requestId)
})

const excerpt = (text: string, options: DecodeOptions | undefined): string =>
  bound(scrub(text, options?.secrets ?? []), options?.maxExcerpt ?? defaultMaxExcerpt)

const describeStatus = (options: DecodeOptions | undefined): string =>
  options?.status === undefined ? "" : ` (status ${options.status})`

/** @internal */
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

/** @internal */
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

/** @internal */
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

/** @internal */
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

/** @internal */
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

/** @internal */
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

/** @internal */
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
