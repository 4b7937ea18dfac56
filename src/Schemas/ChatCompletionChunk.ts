/**
 * Chat completion stream chunks (`stream: true`): each SSE `data:` line but the final `[DONE]`.
 *
 * With `stream_options: { include_usage: true }` the last chunk before `[DONE]` has `choices: []`
 * and the `usage` of the whole request; every other chunk has `usage` absent or `null`. Tool call
 * fragments arrive by `index`: the first carries `id`, `type` and `function.name`, the next ones
 * only pieces of `function.arguments`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { ChoiceLogprobs, CompletionUsage, FinishReason, Role, ServiceTier } from "./ChatCompletion.js"
import { OpenString, Optional, OptionalNullable } from "./Common.js"

/**
 * A fragment of a tool call: `index` says which call it extends.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const argumentsPiece = (t: Schemas.ChatCompletionChunk.ToolCallDelta) => t.function?.arguments ?? ""
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const ToolCallDelta = Schema.Struct({
  index: Schema.Number,
  id: OptionalNullable(Schema.String),
  type: OptionalNullable(OpenString("function", "custom")),
  function: OptionalNullable(Schema.Struct({
    name: OptionalNullable(Schema.String),
    arguments: OptionalNullable(Schema.String)
  })),
  custom: OptionalNullable(Schema.Struct({
    name: OptionalNullable(Schema.String),
    input: OptionalNullable(Schema.String)
  }))
}).annotations({ identifier: "ToolCallDelta" })

/**
 * The decoded type of the `ToolCallDelta` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletionChunk.ToolCallDelta) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ToolCallDelta extends Schema.Schema.Type<typeof ToolCallDelta> {}

/**
 * What a chunk adds to a choice's message. Every field is optional: the first chunk carries the
 * `role`, the next ones pieces of `content`, `refusal` or `tool_calls`, the last one often nothing.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const piece = (d: Schemas.ChatCompletionChunk.Delta) => d.content ?? ""
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Delta = Schema.Struct({
  role: OptionalNullable(Role),
  content: OptionalNullable(Schema.String),
  refusal: OptionalNullable(Schema.String),
  tool_calls: OptionalNullable(Schema.Array(ToolCallDelta)),
  function_call: OptionalNullable(Schema.Struct({
    name: OptionalNullable(Schema.String),
    arguments: OptionalNullable(Schema.String)
  }))
}).annotations({ identifier: "Delta" })

/**
 * The decoded type of the `Delta` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletionChunk.Delta) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Delta extends Schema.Schema.Type<typeof Delta> {}

/**
 * One choice of a chunk. `finish_reason` is `null` until the choice's last chunk.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const finished = (c: Schemas.ChatCompletionChunk.ChunkChoice) => c.finish_reason != null
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const ChunkChoice = Schema.Struct({
  index: Schema.Number,
  delta: Delta,
  finish_reason: OptionalNullable(FinishReason),
  logprobs: OptionalNullable(ChoiceLogprobs)
}).annotations({ identifier: "ChunkChoice" })

/**
 * The decoded type of the `ChunkChoice` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletionChunk.ChunkChoice) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ChunkChoice extends Schema.Schema.Type<typeof ChunkChoice> {}

/**
 * One chunk of a chat completions stream.
 *
 * @example
 * ```ts
 * import { Decode, Schemas } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const text = (data: string) =>
 *   Decode.decodeText(Schemas.ChatCompletionChunk.ChatCompletionChunk)(data).pipe(
 *     Effect.map((chunk) => chunk.choices.map((c) => c.delta.content ?? "").join(""))
 *   )
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const ChatCompletionChunk = Schema.Struct({
  id: Schema.String,
  /** `"chat.completion.chunk"`; not checked, compatible servers vary. */
  object: OpenString("chat.completion.chunk"),
  created: Schema.Number,
  model: Schema.String,
  choices: Schema.Array(ChunkChoice),
  usage: OptionalNullable(CompletionUsage),
  system_fingerprint: OptionalNullable(Schema.String),
  service_tier: OptionalNullable(ServiceTier),
  /** Random padding that hides the payload length (`stream_options.include_obfuscation`). */
  obfuscation: Optional(Schema.String)
}).annotations({ identifier: "ChatCompletionChunk" })

/**
 * The decoded type of the `ChatCompletionChunk` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletionChunk.ChatCompletionChunk) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ChatCompletionChunk extends Schema.Schema.Type<typeof ChatCompletionChunk> {}

/**
 * Whether a chunk is the final usage chunk (`choices: []` with `usage`), sent when
 * `stream_options.include_usage` is set.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const usageOf = (chunk: Schemas.ChatCompletionChunk.ChatCompletionChunk) =>
 *   Schemas.ChatCompletionChunk.isUsageChunk(chunk) ? chunk.usage : undefined
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isUsageChunk = (
  chunk: ChatCompletionChunk
): chunk is ChatCompletionChunk & { readonly usage: CompletionUsage } =>
  chunk.choices.length === 0 && chunk.usage != null
