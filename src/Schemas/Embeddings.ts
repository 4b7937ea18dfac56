/**
 * Embeddings (`POST /embeddings`): the request, the response as sent (`embedding` is a
 * `number[]` or, with `encoding_format: "base64"`, a base64 string of little-endian float32
 * values) and the response decoded to `Float32Array`s whichever format the server used.
 *
 * base64 is what the official SDKs ask for: 4 bytes per value on the wire instead of ~10 JSON
 * characters, and decoding is one `Buffer` pass and one copy, with no per-number parsing.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as SchemaAST from "effect/SchemaAST"
import { AnyFields, OpenString, Optional } from "./Common.js"

// Every platform Node supports in practice is little-endian; the check keeps a big-endian one
// correct (on a slower path) rather than silently wrong.
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

// Node's base64 decoder skips characters outside the alphabet and stops at a misplaced `=`, so a
// damaged string decodes to fewer bytes than its length promises. Comparing the two validates the
// string without a second pass over it (a regular expression costs a third of the decode).
const expectedBytes = (base64: string, padding: number): number => Math.floor(((base64.length - padding) * 3) / 4)

/**
 * Decodes a base64 string of little-endian float32 values: one `Buffer` decode and one aligned
 * copy, no per-value parsing. `Left` explains what is wrong: a character outside base64, or a
 * byte length that is not a multiple of 4.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 * import { Either } from "effect"
 *
 * const vector = Schemas.Embeddings.decodeBase64Float32("AACAPwAAAEA=") // Right(Float32Array [1, 2])
 * const broken = Schemas.Embeddings.decodeBase64Float32("AACA*wAAAEA=") // Left("... not valid base64 ...")
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeBase64Float32 = (base64: string): Either.Either<Float32Array, string> => {
  const padding = base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0
  if (padding > 0 && base64.length % 4 !== 0) {
    return Either.left(`the embedding is not valid base64 (${base64.length} characters with padding)`)
  }
  if ((base64.length - padding) % 4 === 1) {
    return Either.left(`the embedding is not valid base64 (${base64.length} characters cannot be whole bytes)`)
  }
  const bytes = Buffer.from(base64, "base64")
  if (bytes.length !== expectedBytes(base64, padding)) {
    return Either.left("the embedding is not valid base64 (a character outside the base64 alphabet)")
  }
  if (bytes.length % 4 !== 0) {
    return Either.left(
      `the embedding decodes to ${bytes.length} bytes, not a whole number of float32 values (4 bytes each)`
    )
  }
  const out = new Float32Array(bytes.length / 4)
  if (littleEndian) {
    // One aligned copy: the Buffer may be a slice of a shared pool at any byte offset.
    new Uint8Array(out.buffer).set(bytes)
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true)
  }
  return Either.right(out)
}

/**
 * Encodes float32 values as base64 of their little-endian bytes (what the API sends with
 * `encoding_format: "base64"`). For mock servers and tests.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * Schemas.Embeddings.encodeBase64Float32([1, 2]) // "AACAPwAAAEA="
 * ```
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeBase64Float32 = (values: ArrayLike<number>): string => {
  const floats = values instanceof Float32Array ? values : Float32Array.from(values)
  if (littleEndian) return Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength).toString("base64")
  const bytes = Buffer.alloc(floats.length * 4)
  for (let i = 0; i < floats.length; i++) bytes.writeFloatLE(floats[i] ?? 0, i * 4)
  return bytes.toString("base64")
}

/**
 * An embedding as either wire format to a `Float32Array`: base64 through
 * {@link decodeBase64Float32}, a number array through `Float32Array.from`.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const a = Schemas.Embeddings.toFloat32Array([0.5, -1]) // Right(Float32Array [0.5, -1])
 * const b = Schemas.Embeddings.toFloat32Array("AAAAPwAAgL8=") // the same
 * ```
 *
 * @since 0.1.0
 * @category decoding
 */
export const toFloat32Array = (embedding: ReadonlyArray<number> | string): Either.Either<Float32Array, string> =>
  typeof embedding === "string" ? decodeBase64Float32(embedding) : Either.right(Float32Array.from(embedding))

/**
 * `Float32Array` itself, as a schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 * import { Schema } from "effect"
 *
 * Schema.is(Schemas.Embeddings.Float32ArrayFromSelf)(new Float32Array(2)) // true
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Float32ArrayFromSelf = Schema.declare(
  (u: unknown): u is Float32Array => u instanceof Float32Array,
  { identifier: "Float32Array" }
)

const checkNumbers = (
  input: unknown,
  ast: SchemaAST.AST
): Either.Either<ReadonlyArray<number>, ParseResult.ParseIssue> => {
  if (!Array.isArray(input)) return ParseResult.fail(new ParseResult.Type(ast, input))
  for (let i = 0; i < input.length; i++) {
    const value: unknown = input[i]
    if (typeof value !== "number") {
      return ParseResult.fail(new ParseResult.Pointer(i, input, new ParseResult.Type(Schema.Number.ast, value)))
    }
  }
  return ParseResult.succeed(input as ReadonlyArray<number>)
}

/**
 * `ReadonlyArray<number>` checked in one tight loop. Same result as `Schema.Array(Schema.Number)`,
 * including the index of a bad element in the error path, at a fraction of the cost on the
 * 1536-to-3072-value arrays of float embeddings.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 * import { Schema } from "effect"
 *
 * Schema.decodeUnknownSync(Schemas.Embeddings.NumberArray)([0.1, -0.2])
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const NumberArray: Schema.Schema<ReadonlyArray<number>> = Schema.declare([], {
  decode: () => (input, _, ast) => checkNumbers(input, ast),
  encode: () => (input, _, ast) => checkNumbers(input, ast)
}, { identifier: "ReadonlyArray<number>" })

/**
 * An embedding as sent: float numbers, or a base64 string of float32 values.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const dimensions = (e: Schemas.Embeddings.EmbeddingVector) => typeof e === "string" ? (e.length * 3) / 16 : e.length
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const EmbeddingVector = Schema.Union(NumberArray, Schema.String)

/**
 * The decoded type of the `EmbeddingVector` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Embeddings.EmbeddingVector) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type EmbeddingVector = typeof EmbeddingVector.Type

/**
 * An embedding, either wire format, decoded to a `Float32Array`. Invalid base64 or a byte length
 * not a multiple of 4 fails the decode (a `ResponseDecodeError` through `Decode`). Encodes back
 * to a number array.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 * import { Schema } from "effect"
 *
 * const v = Schema.decodeUnknownSync(Schemas.Embeddings.Float32Vector)("AACAPwAAAEA=") // Float32Array [1, 2]
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Float32Vector = Schema.transformOrFail(EmbeddingVector, Float32ArrayFromSelf, {
  strict: true,
  decode: (embedding, _, ast) =>
    Either.mapLeft(toFloat32Array(embedding), (message) => new ParseResult.Type(ast, embedding, message)),
  encode: (floats) => ParseResult.succeed(Array.from(floats))
})

/**
 * One embedding of the response, as sent.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const at = (e: Schemas.Embeddings.Embedding) => e.index
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Embedding = Schema.Struct({
  /** `"embedding"`. */
  object: OpenString("embedding"),
  index: Schema.Number,
  embedding: EmbeddingVector
})

/**
 * The decoded type of the `Embedding` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Embeddings.Embedding) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Embedding extends Schema.Schema.Type<typeof Embedding> {}

/**
 * Token counts of an embeddings request.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const tokens = (u: Schemas.Embeddings.EmbeddingUsage) => u.total_tokens
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const EmbeddingUsage = Schema.Struct({
  prompt_tokens: Schema.Number,
  total_tokens: Schema.Number
})

/**
 * The decoded type of the `EmbeddingUsage` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Embeddings.EmbeddingUsage) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface EmbeddingUsage extends Schema.Schema.Type<typeof EmbeddingUsage> {}

/**
 * The response of `POST /embeddings`, as sent.
 *
 * @example
 * ```ts
 * import { Decode, Schemas } from "effect-openai-resilience"
 *
 * const decode = Decode.decodeText(Schemas.Embeddings.CreateEmbeddingResponse)
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const CreateEmbeddingResponse = Schema.Struct({
  /** `"list"`. */
  object: OpenString("list"),
  data: Schema.Array(Embedding),
  model: Schema.String,
  usage: EmbeddingUsage
}).annotations({ identifier: "CreateEmbeddingResponse" })

/**
 * The decoded type of the `CreateEmbeddingResponse` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Embeddings.CreateEmbeddingResponse) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface CreateEmbeddingResponse extends Schema.Schema.Type<typeof CreateEmbeddingResponse> {}

/**
 * One embedding of the response, decoded to a `Float32Array`.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const norm = (e: Schemas.Embeddings.Float32Embedding) => Math.hypot(...e.embedding)
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Float32Embedding = Schema.Struct({
  object: OpenString("embedding"),
  index: Schema.Number,
  embedding: Float32Vector
})

/**
 * The decoded type of the `Float32Embedding` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Embeddings.Float32Embedding) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Float32Embedding extends Schema.Schema.Type<typeof Float32Embedding> {}

/**
 * The response of `POST /embeddings` with every embedding decoded to a `Float32Array`, whether
 * the server sent base64 or floats: one type for users either way.
 *
 * @example
 * ```ts
 * import { Decode, Schemas } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const vectors = (body: string) =>
 *   Decode.decodeText(Schemas.Embeddings.CreateEmbeddingResponseFloat32)(body).pipe(
 *     Effect.map((response) => response.data.map((e) => e.embedding))
 *   )
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const CreateEmbeddingResponseFloat32 = Schema.Struct({
  object: OpenString("list"),
  data: Schema.Array(Float32Embedding),
  model: Schema.String,
  usage: EmbeddingUsage
}).annotations({ identifier: "CreateEmbeddingResponseFloat32" })

/**
 * The decoded type of the `CreateEmbeddingResponseFloat32` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Embeddings.CreateEmbeddingResponseFloat32) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface CreateEmbeddingResponseFloat32 extends Schema.Schema.Type<typeof CreateEmbeddingResponseFloat32> {}

/**
 * `encoding_format`: `float` or `base64` (or a newer value).
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const format: Schemas.Embeddings.EncodingFormat = "base64"
 * ```
 *
 * @since 0.1.0
 * @category request
 */
export const EncodingFormat = OpenString("float", "base64")

/**
 * The decoded type of the `EncodingFormat` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Embeddings.EncodingFormat) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type EncodingFormat = typeof EncodingFormat.Type

/**
 * The body of `POST /embeddings`: text, texts, tokens or token arrays. Any parameter not listed is
 * accepted and sent as given.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const request: Schemas.Embeddings.EmbeddingsRequest = {
 *   model: "text-embedding-3-small",
 *   input: ["first text", "second text"],
 *   encoding_format: "base64",
 *   dimensions: 256
 * }
 * ```
 *
 * @since 0.1.0
 * @category request
 */
export const EmbeddingsRequest = Schema.Struct({
  model: Schema.String,
  input: Schema.Union(
    Schema.String,
    Schema.Array(Schema.String),
    Schema.Array(Schema.Number),
    Schema.Array(Schema.Array(Schema.Number))
  ),
  encoding_format: Optional(EncodingFormat),
  dimensions: Optional(Schema.Number),
  user: Optional(Schema.String)
}, AnyFields).annotations({ identifier: "EmbeddingsRequest" })

/**
 * The decoded type of the `EmbeddingsRequest` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Embeddings.EmbeddingsRequest) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type EmbeddingsRequest = typeof EmbeddingsRequest.Type
