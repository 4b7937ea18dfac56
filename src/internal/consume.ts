/**
 * What a non-streaming call does with a response inside its attempt: read the whole body, decode
 * it with a decoder built once per schema, and classify a 2xx that carries an API error. Shared by
 * every JSON endpoint of the client.
 * @internal
 */
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Classify from "../Classify.js"
import * as Decode from "../Decode.js"
import * as OpenAiError from "../OpenAiError.js"
import * as middleware from "./httpMiddleware.js"
import { decodeEither } from "./validate.js"

type Failure = OpenAiError.OpenAiError

/** What the consumers need from the client: the secrets to scrub from what they keep. */
export interface ConsumeContext {
  readonly secrets: ReadonlyArray<string>
}

/**
 * Copies the response's request id onto the errors that cannot see headers (a cut or an idle
 * timeout in the middle of a 200's body), so every failure after a response can be quoted.
 */
export const withRequestId = (error: Failure, requestId: Option.Option<string>): Failure => {
  if (Option.isNone(requestId) || Option.isSome(error.requestId)) return error
  switch (error._tag) {
    case "ConnectionError":
      return new OpenAiError.ConnectionError({
        message: error.message,
        cause: error.cause,
        errorCode: error.errorCode,
        received: error.received,
        code: error.code,
        shouldRetry: error.shouldRetry,
        requestId
      })
    case "TimeoutError":
      return new OpenAiError.TimeoutError({
        message: error.message,
        phase: error.phase,
        timeout: error.timeout,
        code: error.code,
        requestId
      })
    default:
      return error
  }
}

/**
 * A body decoder built once per schema, at module load: JSON then the schema, with no per-call
 * setup. A failure is explained by `Decode.decodeText` with the call's context (status, request
 * id), which only a failure needs: the same error as before, built only when there is one.
 */
export interface BodyDecoder<A, I> {
  readonly schema: Schema.Schema<A, I, never>
  readonly decode: (text: string) => Option.Option<A>
}

/** Builds a {@link BodyDecoder}. */
export const bodyDecoder = <A, I>(schema: Schema.Schema<A, I, never>): BodyDecoder<A, I> => {
  const decode = decodeEither(schema, Decode.defaultParseOptions)
  return {
    schema,
    decode: (text) => {
      let input: unknown
      try {
        input = JSON.parse(text)
      } catch {
        return Option.none()
      }
      return Either.getRight(decode(input))
    }
  }
}

// The parsed body when it is an API error payload (`{"error": {...}}` and the other shapes), else
// undefined. Only called after normal decoding failed, so successes pay nothing.
const errorBody = (text: string): unknown => {
  if (text.length > 1_000_000) return undefined
  try {
    const json: unknown = JSON.parse(text)
    return Option.isSome(Classify.errorPayload(json)) ? json : undefined
  } catch {
    return undefined
  }
}

/**
 * Reads and decodes a whole body. A body cut midway is a `ConnectionError` (retried by the policy
 * like any other); a 2xx that carries an API error (proxies and compatible servers do this) is
 * that error, classified like a stream's error event; anything else that does not decode is a
 * `ResponseDecodeError` that says where.
 */
export const decodeBody = <A, I>(decoder: BodyDecoder<A, I>, context: ConsumeContext) =>
(response: HttpClientResponse.HttpClientResponse): Effect.Effect<A, Failure> => {
  // Read only when there is a failure to quote it on: `headers` may be built anew on each read.
  const requestIdOf = () => middleware.requestId(response)
  return Effect.flatMap(
    Effect.mapError(response.text, (e) => withRequestId(middleware.transportError(e), requestIdOf())),
    (text) => {
      const result = decoder.decode(text)
      if (Option.isSome(result)) return Effect.succeed(result.value)
      const requestId = requestIdOf()
      const payload = errorBody(text)
      if (payload !== undefined) {
        return Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.fail(withRequestId(
            Classify.classifyStreamError(payload, { headers: response.headers, now, secrets: context.secrets }),
            requestId
          )))
      }
      return Decode.decodeText(decoder.schema, {
        status: response.status,
        requestId: Option.getOrUndefined(requestId),
        secrets: context.secrets
      })(text)
    }
  )
}
