/**
 * Building blocks shared by the API schemas: open enums (known literals documented, any other
 * string accepted), open unions keyed by `type` (known variants checked, unknown ones kept),
 * optional and nullable fields, and request objects that accept parameters this library does not
 * know yet.
 *
 * Forward compatibility is the rule: a response from a newer API (a new field, a new
 * `finish_reason`, a new output item type) decodes; a response missing a field the API documents
 * as always present does not.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A string whose known values are listed for editors (autocompletion) and docs, while any other
 * string is accepted too: `"stop" | "length" | (string & {})`.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 * import { Schema } from "effect"
 *
 * const Status = Schemas.Common.OpenString("completed", "failed")
 * Schema.decodeUnknownSync(Status)("paused") // "paused": new values never fail
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const OpenString = <const Known extends ReadonlyArray<string>>(
  ...known: Known
): Schema.Schema<Known[number] | (string & {}), string> =>
  // `string & {}` keeps the literals visible to editors; a refinement that always holds gives the
  // schema that type without a cast.
  Schema.String.pipe(
    Schema.filter((_): _ is Known[number] | (string & {}) => true),
    Schema.annotations({
      description: known.length > 0
        ? `one of ${known.map((k) => JSON.stringify(k)).join(", ")}, or a newer value`
        : "a string"
    })
  )

/**
 * The fallback member of an open union keyed by `type`: any object whose `type` is a string NOT
 * among the known variants (a known `type` must match its own schema; it never slips through
 * here). Other fields are preserved by the decoder (see `Decode`).
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 * import { Schema } from "effect"
 *
 * const Text = Schema.Struct({ type: Schema.Literal("text"), text: Schema.String })
 * const Part = Schema.Union(Text, Schemas.Common.UnknownVariant(["text"]))
 * Schema.decodeUnknownSync(Part)({ type: "hologram", frames: 3 }) // kept, as { type: "hologram" }
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const UnknownVariant = (known: ReadonlyArray<string>) => {
  const set = new Set(known)
  // The check is on the whole object, so its issue sits at the object's own path: a known variant's
  // deeper issue ("response.output.0.text is missing") is the one `Decode` reports.
  return Schema.Struct({ type: Schema.String }).pipe(
    Schema.filter((self) =>
      set.has(self.type) ? `"${self.type}" is a known type, so it must match that type's schema` : undefined
    ),
    Schema.annotations({ identifier: "UnknownVariant" })
  )
}

/**
 * An optional field that, when present, may be `null`: `field?: A | null`. Exact: an explicit
 * `undefined` is not accepted (it cannot come from JSON).
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 * import { Schema } from "effect"
 *
 * const Usage = Schema.Struct({ cached_tokens: Schemas.Common.OptionalNullable(Schema.Number) })
 * Schema.decodeUnknownSync(Usage)({ cached_tokens: null })
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const OptionalNullable = <S extends Schema.Schema.Any>(schema: S) =>
  Schema.optionalWith(Schema.NullOr(schema), { exact: true })

/**
 * An optional field: `field?: A` (exact).
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 * import { Schema } from "effect"
 *
 * const Options = Schema.Struct({ n: Schemas.Common.Optional(Schema.Number) })
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const Optional = <S extends Schema.Schema.All>(schema: S) => Schema.optionalWith(schema, { exact: true })

/**
 * The index signature of request objects: any further parameter, passed through untouched, so a
 * parameter the API adds tomorrow can be sent today.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 * import { Schema } from "effect"
 *
 * const Request = Schema.Struct({ model: Schema.String }, Schemas.Common.AnyFields)
 * const r: typeof Request.Type = { model: "gpt-4o", brand_new_option: true }
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const AnyFields = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/**
 * `metadata`: up to 16 string key-value pairs.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 * import { Schema } from "effect"
 *
 * Schema.decodeUnknownSync(Schemas.Common.Metadata)({ team: "search" })
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Metadata = Schema.Record({ key: Schema.String, value: Schema.String })

/**
 * A JSON object whose fields this library does not model (a JSON Schema, tool parameters).
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 * import { Schema } from "effect"
 *
 * Schema.decodeUnknownSync(Schemas.Common.JsonObject)({ type: "object", properties: {} })
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const JsonObject = Schema.Record({ key: Schema.String, value: Schema.Unknown })

/**
 * An object with a `type` and any other fields: an item this library passes through unmodelled.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 * import { Schema } from "effect"
 *
 * Schema.decodeUnknownSync(Schemas.Common.TypedObject)({ type: "web_search", search_context_size: "low" })
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const TypedObject = Schema.Struct({ type: Schema.String }, AnyFields)

/**
 * The error object of the API (`{ code, message, param, type }`), as found in a Responses
 * `response.error`, in an SSE error frame or in an error body. `code` may be a string, `null`, or
 * (compatible servers) a number.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 * import { Schema } from "effect"
 *
 * Schema.decodeUnknownSync(Schemas.Common.ApiError)({ code: "server_error", message: "The model failed" })
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const ApiError = Schema.Struct({
  message: Schema.String,
  code: OptionalNullable(Schema.Union(Schema.String, Schema.Number)),
  type: OptionalNullable(Schema.String),
  param: OptionalNullable(Schema.String)
})

/**
 * The decoded type of the `ApiError` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Common.ApiError) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ApiError extends Schema.Schema.Type<typeof ApiError> {}
