/**
 * Chat completions (`POST /chat/completions`): the request, the response object and the parts
 * both share with the stream chunks (usage, tool calls, logprobs).
 *
 * Responses decode forward compatibly: new fields are kept, new `finish_reason`s and roles are
 * accepted; the fields the API documents as always present (`id`, `created`, `model`, `choices`,
 * each choice's `index` and `message`) are checked. Requests accept any further parameter.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { AnyFields, JsonObject, Metadata, OpenString, Optional, OptionalNullable, TypedObject, UnknownVariant } from "./Common.js"

// ---------------------------------------------------------------------------------------------
// Shared parts
// ---------------------------------------------------------------------------------------------

/**
 * Why a choice stopped: `stop`, `length`, `tool_calls`, `content_filter`, `function_call`, or a
 * newer value.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const truncated = (reason: Schemas.ChatCompletion.FinishReason | null) => reason === "length"
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const FinishReason = OpenString("stop", "length", "tool_calls", "content_filter", "function_call")

/**
 * The decoded type of the `FinishReason` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.FinishReason) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type FinishReason = typeof FinishReason.Type

/**
 * The author of a message: `system`, `developer`, `user`, `assistant`, `tool`, `function`, or a
 * newer value.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const role: Schemas.ChatCompletion.Role = "assistant"
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Role = OpenString("system", "developer", "user", "assistant", "tool", "function")

/**
 * The decoded type of the `Role` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.Role) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Role = typeof Role.Type

/**
 * Token counts. The `*_details` objects vary by model and server, so each of their counts is
 * optional.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const cached = (u: Schemas.ChatCompletion.CompletionUsage) => u.prompt_tokens_details?.cached_tokens ?? 0
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const CompletionUsage = Schema.Struct({
  prompt_tokens: Schema.Number,
  completion_tokens: Schema.Number,
  total_tokens: Schema.Number,
  prompt_tokens_details: OptionalNullable(Schema.Struct({
    cached_tokens: OptionalNullable(Schema.Number),
    audio_tokens: OptionalNullable(Schema.Number)
  })),
  completion_tokens_details: OptionalNullable(Schema.Struct({
    reasoning_tokens: OptionalNullable(Schema.Number),
    audio_tokens: OptionalNullable(Schema.Number),
    accepted_prediction_tokens: OptionalNullable(Schema.Number),
    rejected_prediction_tokens: OptionalNullable(Schema.Number)
  }))
}).annotations({ identifier: "CompletionUsage" })

/**
 * The decoded type of the `CompletionUsage` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.CompletionUsage) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface CompletionUsage extends Schema.Schema.Type<typeof CompletionUsage> {}

/**
 * One of the most likely tokens at a position.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 * import { Schema } from "effect"
 *
 * Schema.decodeUnknownSync(Schemas.ChatCompletion.TopLogprob)({ token: "Hi", logprob: -0.1, bytes: [72, 105] })
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const TopLogprob = Schema.Struct({
  token: Schema.String,
  logprob: Schema.Number,
  bytes: OptionalNullable(Schema.Array(Schema.Number))
})

/**
 * The decoded type of the `TopLogprob` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.TopLogprob) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface TopLogprob extends Schema.Schema.Type<typeof TopLogprob> {}

/**
 * A sampled token with its log probability and the alternatives.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const probability = (t: Schemas.ChatCompletion.TokenLogprob) => Math.exp(t.logprob)
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const TokenLogprob = Schema.Struct({
  token: Schema.String,
  logprob: Schema.Number,
  bytes: OptionalNullable(Schema.Array(Schema.Number)),
  top_logprobs: Optional(Schema.Array(TopLogprob))
}).annotations({ identifier: "TokenLogprob" })

/**
 * The decoded type of the `TokenLogprob` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.TokenLogprob) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenLogprob extends Schema.Schema.Type<typeof TokenLogprob> {}

/**
 * The `logprobs` of a choice: per content token and per refusal token.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const tokens = (l: Schemas.ChatCompletion.ChoiceLogprobs) => (l.content ?? []).map((t) => t.token)
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const ChoiceLogprobs = Schema.Struct({
  content: OptionalNullable(Schema.Array(TokenLogprob)),
  refusal: OptionalNullable(Schema.Array(TokenLogprob))
}).annotations({ identifier: "ChoiceLogprobs" })

/**
 * The decoded type of the `ChoiceLogprobs` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.ChoiceLogprobs) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ChoiceLogprobs extends Schema.Schema.Type<typeof ChoiceLogprobs> {}

/**
 * A function the model called: its name and its arguments as a JSON text (which the model may
 * have got wrong: parse it yourself).
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const args = (f: Schemas.ChatCompletion.FunctionCall) => JSON.parse(f.arguments) as unknown
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const FunctionCall = Schema.Struct({
  name: Schema.String,
  arguments: Schema.String
})

/**
 * The decoded type of the `FunctionCall` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.FunctionCall) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface FunctionCall extends Schema.Schema.Type<typeof FunctionCall> {}

/**
 * A function tool call in a message.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const call: Schemas.ChatCompletion.FunctionToolCall = {
 *   id: "call_1",
 *   type: "function",
 *   function: { name: "get_weather", arguments: "{\"city\":\"Paris\"}" }
 * }
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const FunctionToolCall = Schema.Struct({
  id: Schema.String,
  type: Schema.Literal("function"),
  function: FunctionCall
}).annotations({ identifier: "FunctionToolCall" })

/**
 * The decoded type of the `FunctionToolCall` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.FunctionToolCall) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface FunctionToolCall extends Schema.Schema.Type<typeof FunctionToolCall> {}

/**
 * A custom (free-form input) tool call in a message.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const call: Schemas.ChatCompletion.CustomToolCall = {
 *   id: "call_2",
 *   type: "custom",
 *   custom: { name: "sql", input: "select 1" }
 * }
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const CustomToolCall = Schema.Struct({
  id: Schema.String,
  type: Schema.Literal("custom"),
  custom: Schema.Struct({ name: Schema.String, input: Schema.String })
}).annotations({ identifier: "CustomToolCall" })

/**
 * The decoded type of the `CustomToolCall` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.CustomToolCall) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface CustomToolCall extends Schema.Schema.Type<typeof CustomToolCall> {}

/**
 * A tool call: `function`, `custom`, or a newer type (kept with its `id` and `type`).
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const names = (calls: ReadonlyArray<Schemas.ChatCompletion.ToolCall>) =>
 *   calls.flatMap((c) => (c.type === "function" && "function" in c ? [c.function.name] : []))
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const ToolCall = Schema.Union(
  FunctionToolCall,
  CustomToolCall,
  Schema.extend(Schema.Struct({ id: Schema.String }), UnknownVariant(["function", "custom"]))
)

/**
 * The decoded type of the `ToolCall` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.ToolCall) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ToolCall = typeof ToolCall.Type

/**
 * An annotation of a message (a `url_citation` from web search, or a newer type), kept whole.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const isCitation = (a: Schemas.ChatCompletion.Annotation) => a.type === "url_citation"
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Annotation = TypedObject

/**
 * The decoded type of the `Annotation` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.Annotation) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Annotation = typeof Annotation.Type

/**
 * Audio produced by the model (`modalities: ["audio"]`).
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const transcript = (a: Schemas.ChatCompletion.MessageAudio) => a.transcript
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const MessageAudio = Schema.Struct({
  id: Schema.String,
  data: Schema.String,
  expires_at: Schema.Number,
  transcript: Schema.String
})

/**
 * The decoded type of the `MessageAudio` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.MessageAudio) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface MessageAudio extends Schema.Schema.Type<typeof MessageAudio> {}

/**
 * The message of a choice. `content` is `null` when the model called tools or refused (then
 * `refusal` holds the text).
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const text = (m: Schemas.ChatCompletion.ResponseMessage) => m.content ?? m.refusal ?? ""
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const ResponseMessage = Schema.Struct({
  role: Role,
  // Documented as always present (nullable); some compatible servers omit it with tool calls.
  content: OptionalNullable(Schema.String),
  refusal: OptionalNullable(Schema.String),
  tool_calls: OptionalNullable(Schema.Array(ToolCall)),
  function_call: OptionalNullable(FunctionCall),
  annotations: OptionalNullable(Schema.Array(Annotation)),
  audio: OptionalNullable(MessageAudio)
}).annotations({ identifier: "ResponseMessage" })

/**
 * The decoded type of the `ResponseMessage` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.ResponseMessage) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ResponseMessage extends Schema.Schema.Type<typeof ResponseMessage> {}

/**
 * One choice of a completion.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const cutOff = (c: Schemas.ChatCompletion.Choice) => c.finish_reason === "length"
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Choice = Schema.Struct({
  index: Schema.Number,
  message: ResponseMessage,
  // Always a string from OpenAI; `null` from some compatible servers.
  finish_reason: Schema.NullOr(FinishReason),
  logprobs: OptionalNullable(ChoiceLogprobs)
}).annotations({ identifier: "Choice" })

/**
 * The decoded type of the `Choice` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.Choice) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Choice extends Schema.Schema.Type<typeof Choice> {}

/**
 * The service tier that served the request: `auto`, `default`, `flex`, `scale`, `priority`, or a
 * newer value.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const tier: Schemas.ChatCompletion.ServiceTier = "flex"
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const ServiceTier = OpenString("auto", "default", "flex", "scale", "priority")

/**
 * The decoded type of the `ServiceTier` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.ServiceTier) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ServiceTier = typeof ServiceTier.Type

/**
 * The response of `POST /chat/completions` (without `stream`).
 *
 * @example
 * ```ts
 * import { Decode, Schemas } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const firstText = (body: string) =>
 *   Decode.decodeText(Schemas.ChatCompletion.ChatCompletion)(body).pipe(
 *     Effect.map((completion) => completion.choices[0]?.message.content ?? "")
 *   )
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const ChatCompletion = Schema.Struct({
  id: Schema.String,
  /** `"chat.completion"`; not checked, compatible servers vary. */
  object: OpenString("chat.completion"),
  created: Schema.Number,
  model: Schema.String,
  choices: Schema.Array(Choice),
  usage: OptionalNullable(CompletionUsage),
  system_fingerprint: OptionalNullable(Schema.String),
  service_tier: OptionalNullable(ServiceTier)
}).annotations({ identifier: "ChatCompletion" })

/**
 * The decoded type of the `ChatCompletion` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.ChatCompletion) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ChatCompletion extends Schema.Schema.Type<typeof ChatCompletion> {}

// ---------------------------------------------------------------------------------------------
// Request
// ---------------------------------------------------------------------------------------------

/**
 * A text part of a message's content.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const part: Schemas.ChatCompletion.TextPart = { type: "text", text: "Describe this image" }
 * ```
 *
 * @since 0.1.0
 * @category request
 */
export const TextPart = Schema.Struct({ type: Schema.Literal("text"), text: Schema.String }, AnyFields)

/**
 * The decoded type of the `TextPart` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.TextPart) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type TextPart = typeof TextPart.Type

/**
 * An image part: a URL or a `data:` URL.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const part: Schemas.ChatCompletion.ImagePart = {
 *   type: "image_url",
 *   image_url: { url: "https://example.com/a.png", detail: "low" }
 * }
 * ```
 *
 * @since 0.1.0
 * @category request
 */
export const ImagePart = Schema.Struct({
  type: Schema.Literal("image_url"),
  image_url: Schema.Struct({ url: Schema.String, detail: Optional(OpenString("auto", "low", "high")) }, AnyFields)
}, AnyFields)

/**
 * The decoded type of the `ImagePart` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.ImagePart) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ImagePart = typeof ImagePart.Type

/**
 * An audio input part (base64 data).
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const part: Schemas.ChatCompletion.AudioPart = { type: "input_audio", input_audio: { data: "UklG", format: "wav" } }
 * ```
 *
 * @since 0.1.0
 * @category request
 */
export const AudioPart = Schema.Struct({
  type: Schema.Literal("input_audio"),
  input_audio: Schema.Struct({ data: Schema.String, format: OpenString("wav", "mp3") }, AnyFields)
}, AnyFields)

/**
 * The decoded type of the `AudioPart` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.AudioPart) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type AudioPart = typeof AudioPart.Type

/**
 * A file part (an uploaded file id or inline base64 data).
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const part: Schemas.ChatCompletion.FilePart = { type: "file", file: { file_id: "file-abc" } }
 * ```
 *
 * @since 0.1.0
 * @category request
 */
export const FilePart = Schema.Struct({
  type: Schema.Literal("file"),
  file: Schema.Struct({
    file_id: Optional(Schema.String),
    file_data: Optional(Schema.String),
    filename: Optional(Schema.String)
  }, AnyFields)
}, AnyFields)

/**
 * The decoded type of the `FilePart` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.FilePart) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type FilePart = typeof FilePart.Type

/**
 * A part of a user message's content: text, image, audio, file, or a newer part type.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const parts: ReadonlyArray<Schemas.ChatCompletion.ContentPart> = [
 *   { type: "text", text: "What is in this image?" },
 *   { type: "image_url", image_url: { url: "https://example.com/cat.jpg" } }
 * ]
 * ```
 *
 * @since 0.1.0
 * @category request
 */
export const ContentPart = Schema.Union(
  TextPart,
  ImagePart,
  AudioPart,
  FilePart,
  Schema.extend(UnknownVariant(["text", "image_url", "input_audio", "file"]), AnyFields)
)

/**
 * The decoded type of the `ContentPart` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.ContentPart) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ContentPart = typeof ContentPart.Type

const TextContent = Schema.Union(Schema.String, Schema.Array(TextPart))

/**
 * A `system` message.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const m: Schemas.ChatCompletion.SystemMessage = { role: "system", content: "Be brief." }
 * ```
 *
 * @since 0.1.0
 * @category request
 */
export const SystemMessage = Schema.Struct({
  role: Schema.Literal("system"),
  content: TextContent,
  name: Optional(Schema.String)
}, AnyFields)

/**
 * The decoded type of the `SystemMessage` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.SystemMessage) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type SystemMessage = typeof SystemMessage.Type

/**
 * A `developer` message (the newer name for system instructions on reasoning models).
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const m: Schemas.ChatCompletion.DeveloperMessage = { role: "developer", content: "Answer in French." }
 * ```
 *
 * @since 0.1.0
 * @category request
 */
export const DeveloperMessage = Schema.Struct({
  role: Schema.Literal("developer"),
  content: TextContent,
  name: Optional(Schema.String)
}, AnyFields)

/**
 * The decoded type of the `DeveloperMessage` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.DeveloperMessage) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type DeveloperMessage = typeof DeveloperMessage.Type

/**
 * A `user` message: text, or parts (text, images, audio, files).
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const m: Schemas.ChatCompletion.UserMessage = { role: "user", content: "Hello" }
 * ```
 *
 * @since 0.1.0
 * @category request
 */
export const UserMessage = Schema.Struct({
  role: Schema.Literal("user"),
  content: Schema.Union(Schema.String, Schema.Array(ContentPart)),
  name: Optional(Schema.String)
}, AnyFields)

/**
 * The decoded type of the `UserMessage` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.UserMessage) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type UserMessage = typeof UserMessage.Type

/**
 * An `assistant` message sent back as history (its tool calls included).
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const m: Schemas.ChatCompletion.AssistantMessage = {
 *   role: "assistant",
 *   content: null,
 *   tool_calls: [{ id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }]
 * }
 * ```
 *
 * @since 0.1.0
 * @category request
 */
export const AssistantMessage = Schema.Struct({
  role: Schema.Literal("assistant"),
  content: OptionalNullable(Schema.Union(Schema.String, Schema.Array(ContentPart))),
  refusal: OptionalNullable(Schema.String),
  name: Optional(Schema.String),
  tool_calls: Optional(Schema.Array(ToolCall)),
  function_call: OptionalNullable(FunctionCall),
  audio: OptionalNullable(Schema.Struct({ id: Schema.String }))
}, AnyFields)

/**
 * The decoded type of the `AssistantMessage` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.AssistantMessage) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type AssistantMessage = typeof AssistantMessage.Type

/**
 * A `tool` message: the result of a tool call.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const m: Schemas.ChatCompletion.ToolMessage = { role: "tool", tool_call_id: "call_1", content: "22°C" }
 * ```
 *
 * @since 0.1.0
 * @category request
 */
export const ToolMessage = Schema.Struct({
  role: Schema.Literal("tool"),
  content: TextContent,
  tool_call_id: Schema.String
}, AnyFields)

/**
 * The decoded type of the `ToolMessage` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.ToolMessage) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ToolMessage = typeof ToolMessage.Type

/**
 * A legacy `function` message (deprecated by the API in favour of `tool`).
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const m: Schemas.ChatCompletion.FunctionMessage = { role: "function", name: "f", content: "42" }
 * ```
 *
 * @since 0.1.0
 * @category request
 */
export const FunctionMessage = Schema.Struct({
  role: Schema.Literal("function"),
  name: Schema.String,
  content: Schema.NullOr(Schema.String)
}, AnyFields)

/**
 * The decoded type of the `FunctionMessage` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.FunctionMessage) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type FunctionMessage = typeof FunctionMessage.Type

/**
 * Any message of a request, by `role`.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const messages: ReadonlyArray<Schemas.ChatCompletion.Message> = [
 *   { role: "developer", content: "Be brief." },
 *   { role: "user", content: "Hi" }
 * ]
 * ```
 *
 * @since 0.1.0
 * @category request
 */
export const Message = Schema.Union(
  SystemMessage,
  DeveloperMessage,
  UserMessage,
  AssistantMessage,
  ToolMessage,
  FunctionMessage
)

/**
 * The decoded type of the `Message` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.Message) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Message = typeof Message.Type

/**
 * A function the model may call.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const tool: Schemas.ChatCompletion.FunctionTool = {
 *   type: "function",
 *   function: {
 *     name: "get_weather",
 *     parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
 *     strict: true
 *   }
 * }
 * ```
 *
 * @since 0.1.0
 * @category request
 */
export const FunctionTool = Schema.Struct({
  type: Schema.Literal("function"),
  function: Schema.Struct({
    name: Schema.String,
    description: Optional(Schema.String),
    parameters: Optional(JsonObject),
    strict: OptionalNullable(Schema.Boolean)
  }, AnyFields)
}, AnyFields)

/**
 * The decoded type of the `FunctionTool` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.FunctionTool) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type FunctionTool = typeof FunctionTool.Type

/**
 * A tool of a request: a function, or any other tool type passed through.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const tools: ReadonlyArray<Schemas.ChatCompletion.Tool> = [{ type: "function", function: { name: "now" } }]
 * ```
 *
 * @since 0.1.0
 * @category request
 */
export const Tool = Schema.Union(FunctionTool, Schema.extend(UnknownVariant(["function"]), AnyFields))

/**
 * The decoded type of the `Tool` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.Tool) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Tool = typeof Tool.Type

/**
 * `tool_choice`: `none`, `auto`, `required`, or a named tool.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const choice: Schemas.ChatCompletion.ToolChoice = { type: "function", function: { name: "get_weather" } }
 * ```
 *
 * @since 0.1.0
 * @category request
 */
export const ToolChoice = Schema.Union(
  OpenString("none", "auto", "required"),
  Schema.Struct({ type: Schema.String }, AnyFields)
)

/**
 * The decoded type of the `ToolChoice` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.ToolChoice) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ToolChoice = typeof ToolChoice.Type

/**
 * `response_format`: plain text, any JSON object, or JSON matching a schema (Structured Outputs).
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const format: Schemas.ChatCompletion.ResponseFormat = {
 *   type: "json_schema",
 *   json_schema: { name: "answer", strict: true, schema: { type: "object", properties: {} } }
 * }
 * ```
 *
 * @since 0.1.0
 * @category request
 */
export const ResponseFormat = Schema.Union(
  Schema.Struct({ type: Schema.Literal("text") }, AnyFields),
  Schema.Struct({ type: Schema.Literal("json_object") }, AnyFields),
  Schema.Struct({
    type: Schema.Literal("json_schema"),
    json_schema: Schema.Struct({
      name: Schema.String,
      description: Optional(Schema.String),
      schema: Optional(JsonObject),
      strict: OptionalNullable(Schema.Boolean)
    }, AnyFields)
  }, AnyFields),
  Schema.extend(UnknownVariant(["text", "json_object", "json_schema"]), AnyFields)
)

/**
 * The decoded type of the `ResponseFormat` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.ResponseFormat) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ResponseFormat = typeof ResponseFormat.Type

/**
 * The body of `POST /chat/completions`. Only `model` and `messages` are required; any parameter
 * not listed here is accepted and sent as given.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const request: Schemas.ChatCompletion.ChatCompletionRequest = {
 *   model: "gpt-4o-mini",
 *   messages: [{ role: "user", content: "Say hi" }],
 *   max_completion_tokens: 50,
 *   a_parameter_from_next_month: true
 * }
 * ```
 *
 * @since 0.1.0
 * @category request
 */
export const ChatCompletionRequest = Schema.Struct({
  model: Schema.String,
  messages: Schema.Array(Message),
  stream: OptionalNullable(Schema.Boolean),
  stream_options: OptionalNullable(Schema.Struct({
    include_usage: Optional(Schema.Boolean),
    include_obfuscation: Optional(Schema.Boolean)
  }, AnyFields)),
  temperature: OptionalNullable(Schema.Number),
  top_p: OptionalNullable(Schema.Number),
  n: OptionalNullable(Schema.Number),
  max_tokens: OptionalNullable(Schema.Number),
  max_completion_tokens: OptionalNullable(Schema.Number),
  stop: OptionalNullable(Schema.Union(Schema.String, Schema.Array(Schema.String))),
  presence_penalty: OptionalNullable(Schema.Number),
  frequency_penalty: OptionalNullable(Schema.Number),
  logit_bias: OptionalNullable(Schema.Record({ key: Schema.String, value: Schema.Number })),
  logprobs: OptionalNullable(Schema.Boolean),
  top_logprobs: OptionalNullable(Schema.Number),
  seed: OptionalNullable(Schema.Number),
  user: Optional(Schema.String),
  tools: Optional(Schema.Array(Tool)),
  tool_choice: Optional(ToolChoice),
  parallel_tool_calls: Optional(Schema.Boolean),
  response_format: Optional(ResponseFormat),
  reasoning_effort: OptionalNullable(OpenString("minimal", "low", "medium", "high")),
  verbosity: OptionalNullable(OpenString("low", "medium", "high")),
  service_tier: OptionalNullable(ServiceTier),
  store: OptionalNullable(Schema.Boolean),
  metadata: OptionalNullable(Metadata),
  modalities: OptionalNullable(Schema.Array(OpenString("text", "audio"))),
  prompt_cache_key: Optional(Schema.String),
  safety_identifier: Optional(Schema.String)
}, AnyFields).annotations({ identifier: "ChatCompletionRequest" })

/**
 * The decoded type of the `ChatCompletionRequest` schema.
 *
 * @example
 * ```ts
 * import { Schemas } from "effect-openai-resilience"
 *
 * const inspect = (value: Schemas.ChatCompletion.ChatCompletionRequest) => JSON.stringify(value)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ChatCompletionRequest = typeof ChatCompletionRequest.Type
