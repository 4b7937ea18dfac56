/**
 * The request and response schemas of the API, one module per API object. Decode bodies with
 * `Decode` to get typed `ResponseDecodeError`s.
 *
 * @example
 * ```ts
 * import { Decode, Schemas } from "effect-openai-resilience"
 *
 * const decodeCompletion = Decode.decodeText(Schemas.ChatCompletion.ChatCompletion)
 * ```
 *
 * @since 0.1.0
 */

/**
 * Open enums, open unions keyed by `type`, optional and nullable fields.
 * @since 0.1.0
 */
export * as Common from "./Common.js"

/**
 * `POST /chat/completions`: request, response, and the parts shared with chunks.
 * @since 0.1.0
 */
export * as ChatCompletion from "./ChatCompletion.js"

/**
 * Chat completions stream chunks.
 * @since 0.1.0
 */
export * as ChatCompletionChunk from "./ChatCompletionChunk.js"

/**
 * `POST /embeddings`: request, response, base64 and float decoding to `Float32Array`.
 * @since 0.1.0
 */
export * as Embeddings from "./Embeddings.js"

/**
 * `GET /models`, `GET /models/{model}`.
 * @since 0.1.0
 */
export * as Models from "./Models.js"

/**
 * `POST /responses`: request, response object, output items, stream events.
 * @since 0.1.0
 */
export * as Responses from "./Responses.js"
