/**
 * Models (`GET /models`, `GET /models/{model}`).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { OpenString, OptionalNullable } from "./Common.js"

/**
 * A model the key can use. `created` is a Unix time in seconds. Newer fields (such as
 * `shutdown_date`) are kept by the decoder.
 *
 * @example
 * ```ts
 * import { Decode, Schemas } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const owner = Decode.body({ id: "gpt-4o", object: "model", created: 1715367049, owned_by: "system" }, Schemas.Models.Model)
 *   .pipe(Effect.map((model) => model.owned_by))
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Model = Schema.Struct({
  id: Schema.String,
  /** `"model"`. */
  object: OpenString("model"),
  created: Schema.Number,
  owned_by: Schema.String,
  /** When the model is retired (`YYYY-MM-DD`), if announced. */
  shutdown_date: OptionalNullable(Schema.String)
}).annotations({ identifier: "Model" })

/**
 * The decoded type of the `Model` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Models.Model) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Model extends Schema.Schema.Type<typeof Model> {}

/**
 * The response of `GET /models`.
 *
 * @example
 * ```ts
 * import { Decode, Schemas } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const ids = (body: string) =>
 *   Decode.decodeText(Schemas.Models.ModelsList)(body).pipe(Effect.map((list) => list.data.map((m) => m.id)))
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const ModelsList = Schema.Struct({
  /** `"list"`. */
  object: OpenString("list"),
  data: Schema.Array(Model)
}).annotations({ identifier: "ModelsList" })

/**
 * The decoded type of the `ModelsList` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Models.ModelsList) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ModelsList extends Schema.Schema.Type<typeof ModelsList> {}

/**
 * The response of `DELETE /models/{model}` (a fine-tuned model).
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const gone = (d: Schemas.Models.ModelDeleted) => d.deleted
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const ModelDeleted = Schema.Struct({
  id: Schema.String,
  object: OpenString("model"),
  deleted: Schema.Boolean
}).annotations({ identifier: "ModelDeleted" })

/**
 * The decoded type of the `ModelDeleted` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Models.ModelDeleted) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ModelDeleted extends Schema.Schema.Type<typeof ModelDeleted> {}
