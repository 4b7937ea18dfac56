/**
 * The Responses API (`POST /responses`): the request, the response object, its output items and
 * the stream events (`stream: true`).
 *
 * Output items, content parts and stream events are unions keyed by `type` with an open fallback:
 * the types modelled here are checked field by field, any other `type` (the API adds new tools and
 * events often) decodes as `{ type }` with its other fields preserved by the decoder. A known
 * `type` with a missing field is still an error: it never slips through the fallback.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { AnyFields, ApiError, Metadata, OpenString, Optional, OptionalNullable, TypedObject, UnknownVariant } from "./Common.js"

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

/**
 * The status of a response: `completed`, `failed`, `in_progress`, `cancelled`, `queued`,
 * `incomplete`, or a newer value.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const done = (s: Schemas.Responses.ResponseStatus) => s === "completed" || s === "failed" || s === "incomplete"
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const ResponseStatus = OpenString("completed", "failed", "in_progress", "cancelled", "queued", "incomplete")

/**
 * The decoded type of the `ResponseStatus` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.ResponseStatus) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ResponseStatus = typeof ResponseStatus.Type

/**
 * The status of an output item: `in_progress`, `completed`, `incomplete`, or a newer value.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const s: Schemas.Responses.ItemStatus = "completed"
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const ItemStatus = OpenString("in_progress", "completed", "incomplete")

/**
 * The decoded type of the `ItemStatus` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.ItemStatus) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ItemStatus = typeof ItemStatus.Type

/**
 * Text produced by the model, with its annotations (citations) and optional logprobs.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const part: Schemas.Responses.OutputText = { type: "output_text", text: "Hi", annotations: [] }
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const OutputText = Schema.Struct({
  type: Schema.Literal("output_text"),
  text: Schema.String,
  annotations: Optional(Schema.Array(TypedObject)),
  logprobs: OptionalNullable(Schema.Array(Schema.Unknown))
}).annotations({ identifier: "OutputText" })

/**
 * The decoded type of the `OutputText` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.OutputText) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface OutputText extends Schema.Schema.Type<typeof OutputText> {}

/**
 * A refusal by the model.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const part: Schemas.Responses.OutputRefusal = { type: "refusal", refusal: "I can't help with that." }
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const OutputRefusal = Schema.Struct({
  type: Schema.Literal("refusal"),
  refusal: Schema.String
}).annotations({ identifier: "OutputRefusal" })

/**
 * The decoded type of the `OutputRefusal` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.OutputRefusal) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface OutputRefusal extends Schema.Schema.Type<typeof OutputRefusal> {}

/**
 * A content part of an output message: text, refusal, or a newer part type.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const text = (p: Schemas.Responses.OutputContent) => (p.type === "output_text" && "text" in p ? p.text : "")
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const OutputContent = Schema.Union(OutputText, OutputRefusal, UnknownVariant(["output_text", "refusal"]))

/**
 * The decoded type of the `OutputContent` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.OutputContent) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type OutputContent = typeof OutputContent.Type

/**
 * An assistant message in the output.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const parts = (m: Schemas.Responses.OutputMessage) => m.content.length
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const OutputMessage = Schema.Struct({
  type: Schema.Literal("message"),
  id: Schema.String,
  role: OpenString("assistant"),
  status: Optional(ItemStatus),
  content: Schema.Array(OutputContent)
}).annotations({ identifier: "OutputMessage" })

/**
 * The decoded type of the `OutputMessage` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.OutputMessage) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface OutputMessage extends Schema.Schema.Type<typeof OutputMessage> {}

/**
 * A function the model calls; answer with a `function_call_output` input item of the same
 * `call_id`.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const args = (c: Schemas.Responses.FunctionCallItem) => JSON.parse(c.arguments) as unknown
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const FunctionCallItem = Schema.Struct({
  type: Schema.Literal("function_call"),
  id: Optional(Schema.String),
  call_id: Schema.String,
  name: Schema.String,
  arguments: Schema.String,
  status: Optional(ItemStatus)
}).annotations({ identifier: "FunctionCallItem" })

/**
 * The decoded type of the `FunctionCallItem` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.FunctionCallItem) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface FunctionCallItem extends Schema.Schema.Type<typeof FunctionCallItem> {}

/**
 * A reasoning item (reasoning models): a summary, and the encrypted reasoning when requested.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const summary = (r: Schemas.Responses.ReasoningItem) => r.summary.map((s) => s.text).join("\n")
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const ReasoningItem = Schema.Struct({
  type: Schema.Literal("reasoning"),
  id: Schema.String,
  summary: Schema.Array(Schema.Struct({ type: OpenString("summary_text"), text: Schema.String })),
  content: OptionalNullable(Schema.Array(Schema.Struct({ type: OpenString("reasoning_text"), text: Schema.String }))),
  encrypted_content: OptionalNullable(Schema.String),
  status: Optional(ItemStatus)
}).annotations({ identifier: "ReasoningItem" })

/**
 * The decoded type of the `ReasoningItem` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.ReasoningItem) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ReasoningItem extends Schema.Schema.Type<typeof ReasoningItem> {}

/**
 * An item of `output`: a message, a function call, a reasoning item, or any other item type (tool
 * calls of built-in tools and newer items) kept as `{ type }` plus its fields.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const calls = (items: ReadonlyArray<Schemas.Responses.OutputItem>) =>
 *   items.filter((i): i is Schemas.Responses.FunctionCallItem => i.type === "function_call")
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const OutputItem = Schema.Union(
  OutputMessage,
  FunctionCallItem,
  ReasoningItem,
  UnknownVariant(["message", "function_call", "reasoning"])
)

/**
 * The decoded type of the `OutputItem` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.OutputItem) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type OutputItem = typeof OutputItem.Type

/**
 * Token counts of a response.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const reasoning = (u: Schemas.Responses.ResponseUsage) => u.output_tokens_details?.reasoning_tokens ?? 0
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const ResponseUsage = Schema.Struct({
  input_tokens: Schema.Number,
  output_tokens: Schema.Number,
  total_tokens: Schema.Number,
  input_tokens_details: OptionalNullable(Schema.Struct({ cached_tokens: OptionalNullable(Schema.Number) })),
  output_tokens_details: OptionalNullable(Schema.Struct({ reasoning_tokens: OptionalNullable(Schema.Number) }))
}).annotations({ identifier: "ResponseUsage" })

/**
 * The decoded type of the `ResponseUsage` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.ResponseUsage) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ResponseUsage extends Schema.Schema.Type<typeof ResponseUsage> {}

/**
 * A response object (`POST /responses`, `GET /responses/{id}`, and inside the lifecycle stream
 * events). `error` is set when `status` is `failed`, `incomplete_details` when it is `incomplete`.
 * The many echo fields of the request (`temperature`, `tools`, `text`, ...) are kept by the
 * decoder but not modelled.
 *
 * @example
 * ```ts
 * import { Decode, Schemas } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const text = (body: string) =>
 *   Decode.decodeText(Schemas.Responses.Response)(body).pipe(Effect.map(Schemas.Responses.outputText))
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Response = Schema.Struct({
  id: Schema.String,
  /** `"response"`. */
  object: OpenString("response"),
  created_at: Schema.Number,
  status: Optional(ResponseStatus),
  completed_at: OptionalNullable(Schema.Number),
  error: OptionalNullable(ApiError),
  incomplete_details: OptionalNullable(Schema.Struct({ reason: OptionalNullable(Schema.String) })),
  instructions: OptionalNullable(Schema.Unknown),
  model: Schema.String,
  output: Schema.Array(OutputItem),
  usage: OptionalNullable(ResponseUsage),
  previous_response_id: OptionalNullable(Schema.String),
  metadata: OptionalNullable(Metadata)
}).annotations({ identifier: "Response" })

/**
 * The decoded type of the `Response` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.Response) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Response extends Schema.Schema.Type<typeof Response> {}

/**
 * The text of every `output_text` part of every message, joined (what the SDKs call
 * `output_text`).
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const show = (r: Schemas.Responses.Response) => console.log(Schemas.Responses.outputText(r))
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const outputText = (response: Response): string => {
  let out = ""
  for (const item of response.output) {
    if (item.type !== "message" || !("content" in item)) continue
    for (const part of item.content) {
      if (part.type === "output_text" && "text" in part) out += part.text
    }
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Stream events
// ---------------------------------------------------------------------------------------------

const sequence_number = Optional(Schema.Number)

/**
 * The events that carry the whole response: `response.created`, `response.queued`,
 * `response.in_progress`, `response.completed`, `response.failed` (with `response.error`),
 * `response.incomplete` (with `response.incomplete_details`).
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const final = (e: Schemas.Responses.ResponseLifecycleEvent) => e.type === "response.completed" ? e.response : undefined
 * ```
 *
 * @since 0.1.0
 * @category stream events
 */
export const ResponseLifecycleEvent = Schema.Struct({
  type: Schema.Literal(
    "response.created",
    "response.queued",
    "response.in_progress",
    "response.completed",
    "response.failed",
    "response.incomplete"
  ),
  response: Response,
  sequence_number
}).annotations({ identifier: "ResponseLifecycleEvent" })

/**
 * The decoded type of the `ResponseLifecycleEvent` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.ResponseLifecycleEvent) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ResponseLifecycleEvent extends Schema.Schema.Type<typeof ResponseLifecycleEvent> {}

/**
 * `response.output_item.added` / `response.output_item.done`.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const item = (e: Schemas.Responses.OutputItemEvent) => e.item
 * ```
 *
 * @since 0.1.0
 * @category stream events
 */
export const OutputItemEvent = Schema.Struct({
  type: Schema.Literal("response.output_item.added", "response.output_item.done"),
  output_index: Schema.Number,
  item: OutputItem,
  sequence_number
}).annotations({ identifier: "OutputItemEvent" })

/**
 * The decoded type of the `OutputItemEvent` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.OutputItemEvent) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface OutputItemEvent extends Schema.Schema.Type<typeof OutputItemEvent> {}

/**
 * `response.content_part.added` / `response.content_part.done`.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const part = (e: Schemas.Responses.ContentPartEvent) => e.part
 * ```
 *
 * @since 0.1.0
 * @category stream events
 */
export const ContentPartEvent = Schema.Struct({
  type: Schema.Literal("response.content_part.added", "response.content_part.done"),
  item_id: Schema.String,
  output_index: Schema.Number,
  content_index: Schema.Number,
  part: OutputContent,
  sequence_number
}).annotations({ identifier: "ContentPartEvent" })

/**
 * The decoded type of the `ContentPartEvent` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.ContentPartEvent) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ContentPartEvent extends Schema.Schema.Type<typeof ContentPartEvent> {}

/**
 * A piece of streamed text, refusal, function arguments or reasoning summary: the `*.delta`
 * events.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const text = (e: Schemas.Responses.DeltaEvent) => e.type === "response.output_text.delta" ? e.delta : ""
 * ```
 *
 * @since 0.1.0
 * @category stream events
 */
export const DeltaEvent = Schema.Struct({
  type: Schema.Literal(
    "response.output_text.delta",
    "response.refusal.delta",
    "response.function_call_arguments.delta",
    "response.reasoning_summary_text.delta",
    "response.reasoning_text.delta"
  ),
  item_id: Schema.String,
  output_index: Schema.Number,
  content_index: Optional(Schema.Number),
  summary_index: Optional(Schema.Number),
  delta: Schema.String,
  logprobs: OptionalNullable(Schema.Array(Schema.Unknown)),
  sequence_number
}).annotations({ identifier: "DeltaEvent" })

/**
 * The decoded type of the `DeltaEvent` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.DeltaEvent) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface DeltaEvent extends Schema.Schema.Type<typeof DeltaEvent> {}

/**
 * `response.output_text.done` and `response.reasoning_summary_text.done` / `reasoning_text.done`:
 * the whole text of a part.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const text = (e: Schemas.Responses.TextDoneEvent) => e.text
 * ```
 *
 * @since 0.1.0
 * @category stream events
 */
export const TextDoneEvent = Schema.Struct({
  type: Schema.Literal(
    "response.output_text.done",
    "response.reasoning_summary_text.done",
    "response.reasoning_text.done"
  ),
  item_id: Schema.String,
  output_index: Schema.Number,
  content_index: Optional(Schema.Number),
  summary_index: Optional(Schema.Number),
  text: Schema.String,
  logprobs: OptionalNullable(Schema.Array(Schema.Unknown)),
  sequence_number
}).annotations({ identifier: "TextDoneEvent" })

/**
 * The decoded type of the `TextDoneEvent` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.TextDoneEvent) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface TextDoneEvent extends Schema.Schema.Type<typeof TextDoneEvent> {}

/**
 * `response.refusal.done`: the whole refusal.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const why = (e: Schemas.Responses.RefusalDoneEvent) => e.refusal
 * ```
 *
 * @since 0.1.0
 * @category stream events
 */
export const RefusalDoneEvent = Schema.Struct({
  type: Schema.Literal("response.refusal.done"),
  item_id: Schema.String,
  output_index: Schema.Number,
  content_index: Schema.Number,
  refusal: Schema.String,
  sequence_number
}).annotations({ identifier: "RefusalDoneEvent" })

/**
 * The decoded type of the `RefusalDoneEvent` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.RefusalDoneEvent) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RefusalDoneEvent extends Schema.Schema.Type<typeof RefusalDoneEvent> {}

/**
 * `response.function_call_arguments.done`: the whole arguments text of a function call.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const args = (e: Schemas.Responses.FunctionCallArgumentsDoneEvent) => JSON.parse(e.arguments) as unknown
 * ```
 *
 * @since 0.1.0
 * @category stream events
 */
export const FunctionCallArgumentsDoneEvent = Schema.Struct({
  type: Schema.Literal("response.function_call_arguments.done"),
  item_id: Schema.String,
  output_index: Schema.Number,
  name: Optional(Schema.String),
  arguments: Schema.String,
  sequence_number
}).annotations({ identifier: "FunctionCallArgumentsDoneEvent" })

/**
 * The decoded type of the `FunctionCallArgumentsDoneEvent` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.FunctionCallArgumentsDoneEvent) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface FunctionCallArgumentsDoneEvent extends Schema.Schema.Type<typeof FunctionCallArgumentsDoneEvent> {}

/**
 * An `error` event: the stream failed after a 200. Classify it like an error body (the client does,
 * with `Classify.classifyStreamError`).
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const code = (e: Schemas.Responses.ErrorEvent) => e.code ?? "unknown"
 * ```
 *
 * @since 0.1.0
 * @category stream events
 */
export const ErrorEvent = Schema.Struct({
  type: Schema.Literal("error"),
  code: OptionalNullable(Schema.Union(Schema.String, Schema.Number)),
  message: Schema.String,
  param: OptionalNullable(Schema.String),
  sequence_number
}).annotations({ identifier: "ErrorEvent" })

/**
 * The decoded type of the `ErrorEvent` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.ErrorEvent) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ErrorEvent extends Schema.Schema.Type<typeof ErrorEvent> {}

/**
 * The `type`s checked field by field; every other `type` decodes through the fallback.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * Schemas.Responses.knownEventTypes.includes("response.completed") // true
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const knownEventTypes: ReadonlyArray<string> = [
  ResponseLifecycleEvent,
  OutputItemEvent,
  ContentPartEvent,
  DeltaEvent,
  TextDoneEvent,
  RefusalDoneEvent,
  FunctionCallArgumentsDoneEvent,
  ErrorEvent
].flatMap((s) => s.fields.type.literals)

/**
 * Any other event (web search progress, audio, MCP, events added after this library), kept as
 * `{ type }` plus its fields.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const other = (e: Schemas.Responses.UnknownEvent) => e.type
 * ```
 *
 * @since 0.1.0
 * @category stream events
 */
export const UnknownEvent = UnknownVariant(knownEventTypes)

/**
 * The decoded type of the `UnknownEvent` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.UnknownEvent) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type UnknownEvent = typeof UnknownEvent.Type

/**
 * One event of a Responses stream (the `data` of each SSE frame; its `event:` name repeats
 * `type`).
 *
 * @example
 * ```ts
 * import { Decode, Schemas } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const textDelta = (data: string) =>
 *   Decode.decodeText(Schemas.Responses.ResponseStreamEvent)(data).pipe(
 *     Effect.map((event) => (event.type === "response.output_text.delta" && "delta" in event ? event.delta : ""))
 *   )
 * ```
 *
 * @since 0.1.0
 * @category stream events
 */
export const ResponseStreamEvent = Schema.Union(
  ResponseLifecycleEvent,
  OutputItemEvent,
  ContentPartEvent,
  DeltaEvent,
  TextDoneEvent,
  RefusalDoneEvent,
  FunctionCallArgumentsDoneEvent,
  ErrorEvent,
  UnknownEvent
).annotations({ identifier: "ResponseStreamEvent" })

/**
 * The decoded type of the `ResponseStreamEvent` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.ResponseStreamEvent) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ResponseStreamEvent = typeof ResponseStreamEvent.Type

/**
 * Whether an event ends the stream: `response.completed`, `response.failed`,
 * `response.incomplete` or `error`.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 * import { Stream } from "effect"
 *
 * const untilEnd = <E, R>(events: Stream.Stream<Schemas.Responses.ResponseStreamEvent, E, R>) =>
 *   events.pipe(Stream.takeUntil(Schemas.Responses.isTerminalEvent))
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isTerminalEvent = (event: ResponseStreamEvent): boolean =>
  event.type === "response.completed" || event.type === "response.failed" ||
  event.type === "response.incomplete" || event.type === "error"

/**
 * Whether an event reports a failure after the 200: an `error` event or `response.failed`. The
 * client turns both into the typed error.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const failed = (e: Schemas.Responses.ResponseStreamEvent) => Schemas.Responses.isFailureEvent(e)
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isFailureEvent = (
  event: ResponseStreamEvent
): event is ErrorEvent | (ResponseLifecycleEvent & { readonly type: "response.failed" }) =>
  event.type === "error" || event.type === "response.failed"

// ---------------------------------------------------------------------------------------------
// Request
// ---------------------------------------------------------------------------------------------

/**
 * An input message: `user`, `assistant`, `system` or `developer`, with text or content parts
 * (`input_text`, `input_image`, `input_file`, ...).
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const m: Schemas.Responses.InputMessage = {
 *   role: "user",
 *   content: [{ type: "input_text", text: "What is in this image?" }, { type: "input_image", image_url: "https://example.com/a.png" }]
 * }
 * ```
 *
 * @since 0.1.0
 * @category request
 */
export const InputMessage = Schema.Struct({
  type: Optional(Schema.Literal("message")),
  role: OpenString("user", "assistant", "system", "developer"),
  content: Schema.Union(Schema.String, Schema.Array(TypedObject))
}, AnyFields)

/**
 * The decoded type of the `InputMessage` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.InputMessage) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type InputMessage = typeof InputMessage.Type

/**
 * An input item: a message, or any typed item (`function_call_output`, `item_reference`, output
 * items sent back as context, ...).
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const item: Schemas.Responses.InputItem = { type: "function_call_output", call_id: "call_1", output: "22°C" }
 * ```
 *
 * @since 0.1.0
 * @category request
 */
export const InputItem = Schema.Union(InputMessage, TypedObject)

/**
 * The decoded type of the `InputItem` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.InputItem) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type InputItem = typeof InputItem.Type

/**
 * The body of `POST /responses`. Any parameter not listed is accepted and sent as given.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const request: Schemas.Responses.ResponsesRequest = {
 *   model: "gpt-4o-mini",
 *   input: "Write a haiku about retries",
 *   instructions: "Be terse.",
 *   max_output_tokens: 100
 * }
 * ```
 *
 * @since 0.1.0
 * @category request
 */
export const ResponsesRequest = Schema.Struct({
  model: Optional(Schema.String),
  input: Optional(Schema.Union(Schema.String, Schema.Array(InputItem))),
  instructions: OptionalNullable(Schema.String),
  stream: OptionalNullable(Schema.Boolean),
  previous_response_id: OptionalNullable(Schema.String),
  max_output_tokens: OptionalNullable(Schema.Number),
  temperature: OptionalNullable(Schema.Number),
  top_p: OptionalNullable(Schema.Number),
  tools: Optional(Schema.Array(TypedObject)),
  tool_choice: Optional(Schema.Union(OpenString("none", "auto", "required"), TypedObject)),
  parallel_tool_calls: OptionalNullable(Schema.Boolean),
  store: OptionalNullable(Schema.Boolean),
  background: OptionalNullable(Schema.Boolean),
  metadata: OptionalNullable(Metadata),
  reasoning: OptionalNullable(Schema.Struct({
    effort: OptionalNullable(OpenString("minimal", "low", "medium", "high")),
    summary: OptionalNullable(OpenString("auto", "concise", "detailed"))
  }, AnyFields)),
  text: Optional(Schema.Struct({ format: Optional(TypedObject) }, AnyFields)),
  truncation: OptionalNullable(OpenString("auto", "disabled")),
  include: OptionalNullable(Schema.Array(Schema.String)),
  user: Optional(Schema.String),
  service_tier: OptionalNullable(OpenString("auto", "default", "flex", "scale", "priority")),
  prompt_cache_key: Optional(Schema.String),
  safety_identifier: Optional(Schema.String)
}, AnyFields).annotations({ identifier: "ResponsesRequest" })

/**
 * The decoded type of the `ResponsesRequest` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.Responses.ResponsesRequest) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ResponsesRequest = typeof ResponsesRequest.Type
