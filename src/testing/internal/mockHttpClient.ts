/**
 * The mock-backed `HttpClient`: each request goes to the `MockApi` in context, its answer comes
 * back as an in-memory response.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { concat } from "../../internal/bytes.js"
import * as MockApi from "../MockApi.js"
import { connectionReset, streamCut } from "./nodeErrors.js"
import * as InMemoryResponse from "./response.js"

const empty = new Uint8Array()

const requestBody = (request: HttpClientRequest.HttpClientRequest): Effect.Effect<Uint8Array> => {
  const body = request.body
  switch (body._tag) {
    case "Uint8Array":
      return Effect.succeed(body.body)
    case "Raw":
      return Effect.succeed(
        body.body instanceof Uint8Array
          ? body.body
          : typeof body.body === "string"
          ? new TextEncoder().encode(body.body)
          : empty
      )
    case "Stream":
      return body.stream.pipe(
        Stream.runCollect,
        Effect.map(concat),
        // A request body that fails to stream is sent as empty: the mock then answers 400.
        Effect.orElseSucceed(() => empty)
      )
    default:
      return Effect.succeed(empty)
  }
}

// A mock body as parts: each chunk after its delay, then the cut when the stream is cut.
const bodyParts = (body: MockApi.MockBody): ReadonlyArray<InMemoryResponse.BodyPart> => {
  if (body._tag === "Bytes") return [body.bytes]
  const parts: Array<InMemoryResponse.BodyPart> = []
  for (const chunk of body.chunks) parts.push({ _tag: "Pause", duration: chunk.delay }, chunk.bytes)
  if (body.ending === "cut") parts.push({ _tag: "Cut", cause: streamCut() })
  return parts
}

/** @internal */
export const make: Effect.Effect<HttpClient.HttpClient, never, MockApi.MockApi> = Effect.map(
  MockApi.MockApi,
  (mock) =>
    HttpClient.make((request, url) =>
      Effect.gen(function*() {
        const bytes = yield* requestBody(request)
        const headers: Record<string, string> = { ...request.headers }
        const contentType = request.body.contentType
        if (contentType !== undefined && headers["content-type"] === undefined) headers["content-type"] = contentType
        const answer = yield* mock.handle({
          method: request.method,
          url: `${url.pathname}${url.search}`,
          headers,
          body: bytes
        })
        if (answer._tag === "ResetConnection") {
          return yield* new HttpClientError.RequestError({
            request,
            reason: "Transport",
            cause: connectionReset(),
            description: "read ECONNRESET"
          })
        }
        return InMemoryResponse.make(request, { status: answer.status, headers: answer.headers, body: bodyParts(answer.body) })
      })
    )
)
