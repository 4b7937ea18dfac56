/**
 * An in-memory `HttpClient` that serves the mock OpenAI API ({@link MockApi}) without sockets, for
 * fast tests in virtual time: under `TestClock`, `slow_headers` waits until the clock is moved,
 * rate limits refill as the clock moves, and SSE events arrive with their delays.
 *
 * Transport faults fail the way `@effect/platform-node`'s client does: `connection_reset` with an
 * `HttpClientError.RequestError` (reason `"Transport"`) whose cause is a Node `ECONNRESET` error;
 * `stream_cut` and `body_cut` fail the body part-way with an `HttpClientError.ResponseError` whose
 * cause is Node's `aborted` (`ECONNRESET`) error.
 *
 * @since 0.1.0
 */
import * as Cookies from "@effect/platform/Cookies"
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { InvalidOptions } from "../InvalidOptions.js"
import * as MockApi from "./MockApi.js"
import { concat } from "../internal/bytes.js"

/**
 * A base URL for requests to the in-memory client. Any absolute URL works: only its path is read.
 *
 * @example
 * ```ts
 * import { ScriptedHttpClient } from "effect-openai-resilience/testing"
 * import { HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const models = Effect.flatMap(HttpClient.HttpClient, (client) => client.get(`${ScriptedHttpClient.baseUrl}/models`))
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const baseUrl = "http://mock.openai.local/v1"

/**
 * The error a reset connection carries, shaped as Node's (`read ECONNRESET`, code `ECONNRESET`).
 *
 * @example
 * ```ts
 * import { ScriptedHttpClient } from "effect-openai-resilience/testing"
 *
 * console.log(ScriptedHttpClient.connectionResetCause().code) // "ECONNRESET"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export const connectionResetCause = (): Error & { readonly code: string; readonly errno: number; readonly syscall: string } =>
  Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", errno: -104, syscall: "read" })

/**
 * The error a body cut off part-way carries, shaped as Node's (`aborted`, code `ECONNRESET`).
 *
 * @example
 * ```ts
 * import { ScriptedHttpClient } from "effect-openai-resilience/testing"
 *
 * console.log(ScriptedHttpClient.streamCutCause().message) // "aborted"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export const streamCutCause = (): Error & { readonly code: string } =>
  Object.assign(new Error("aborted"), { code: "ECONNRESET" })

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
          : new Uint8Array()
      )
    case "Stream":
      return body.stream.pipe(
        Stream.runCollect,
        Effect.map(concat),
        // A request body that fails to stream is sent as empty: the mock then answers 400.
        Effect.orElseSucceed(() => new Uint8Array())
      )
    default:
      return Effect.succeed(new Uint8Array())
  }
}

const bodyStream = (body: MockApi.MockBody): Stream.Stream<Uint8Array, Error> => {
  if (body._tag === "Bytes") return Stream.make(body.bytes)
  const chunks = Stream.fromIterable(body.chunks).pipe(
    Stream.mapEffect((c) => Effect.as(Effect.sleep(c.delay), c.bytes))
  )
  return body.ending === "cut" ? Stream.concat(chunks, Stream.fail(streamCutCause())) : chunks
}

// What a web `Headers` built from the record gives `Headers.fromInput`: lower-case names in sorted
// order, values trimmed, names that differ only by case joined with ", ".
const webLikeHeaders = (input: Readonly<Record<string, string>>): Headers.Headers => {
  const merged: Record<string, string> = {}
  for (const name of Object.keys(input)) {
    const key = name.toLowerCase()
    const value = (input[name] ?? "").trim()
    const previous = merged[key]
    merged[key] = previous === undefined ? value : `${previous}, ${value}`
  }
  const sorted: Record<string, string> = {}
  for (const key of Object.keys(merged).sort()) sorted[key] = merged[key] ?? ""
  return Headers.fromInput(sorted)
}

const decoder = new TextDecoder()

/**
 * A response whose whole body is already in memory: what `HttpClientResponse.fromWeb(request,
 * new Response(bytes, ...))` gives, without building a web `Response` (its streams cost tens of
 * microseconds per request, several milliseconds under load). The body can be consumed once, as
 * a web body can: `text` is cached, a second different read fails with the same `ResponseError`
 * (reason "Decode"). `formData`, which nobody reads from this mock, goes through a web `Response`.
 */
class BytesResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  private consumed = false

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    readonly status: number,
    private readonly rawHeaders: Readonly<Record<string, string>>,
    private readonly bytes: Uint8Array
  ) {
    super()
  }

  toJSON(): unknown {
    return HttpIncomingMessage.inspect(this, {
      _id: "@effect/platform/HttpClientResponse",
      request: this.request.toJSON(),
      status: this.status
    })
  }

  private cachedHeaders?: Headers.Headers
  get headers(): Headers.Headers {
    return this.cachedHeaders ??= webLikeHeaders(this.rawHeaders)
  }

  private cachedCookies?: Cookies.Cookies
  get cookies(): Cookies.Cookies {
    if (this.cachedCookies !== undefined) return this.cachedCookies
    const header = this.headers["set-cookie"]
    return this.cachedCookies = Cookies.fromSetCookie(header === undefined ? [] : [header])
  }

  get remoteAddress(): Option.Option<string> {
    return Option.none()
  }

  private decodeError(cause: unknown): HttpClientError.ResponseError {
    return new HttpClientError.ResponseError({ request: this.request, response: this, reason: "Decode", cause })
  }

  /** Takes the body, once: a web body that was read is unusable. */
  private take(): Effect.Effect<Uint8Array, HttpClientError.ResponseError> {
    return Effect.suspend(() => {
      if (this.consumed) {
        return Effect.fail(this.decodeError(new TypeError("Body is unusable: Body has already been read")))
      }
      this.consumed = true
      return Effect.succeed(this.bytes)
    })
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    // A web body gives one chunk for non-empty bytes and none for empty ones.
    return Stream.flatMap(
      Stream.fromEffect(this.take()),
      // A copy, as a web body's chunk is: the mock may serve the same bytes again.
      (bytes) => bytes.length === 0 ? Stream.empty : Stream.succeed(bytes.slice())
    )
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.tryMap(this.text, {
      try: (text) => text === "" ? null : JSON.parse(text) as unknown,
      catch: (cause) => this.decodeError(cause)
    })
  }

  private textBody?: Effect.Effect<string, HttpClientError.ResponseError>
  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return this.textBody ??= Effect.map(this.take(), (bytes) => decoder.decode(bytes)).pipe(Effect.cached, Effect.runSync)
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        try: () => UrlParams.fromInput(new URLSearchParams(text)),
        catch: (cause) => this.decodeError(cause)
      }))
  }

  private formDataBody?: Effect.Effect<FormData, HttpClientError.ResponseError>
  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return this.formDataBody ??= Effect.flatMap(this.take(), (bytes) =>
      Effect.tryPromise({
        try: () =>
          new Response(bytes as Uint8Array<ArrayBuffer>, { status: this.status, headers: this.rawHeaders }).formData(),
        catch: (cause) => this.decodeError(cause)
      })).pipe(Effect.cached, Effect.runSync)
  }

  private arrayBufferBody?: Effect.Effect<ArrayBuffer, HttpClientError.ResponseError>
  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    // A copy, as a web body's arrayBuffer() is: the caller may keep and change it.
    return this.arrayBufferBody ??= Effect.map(
      this.take(),
      (bytes) => bytes.slice().buffer as ArrayBuffer
    ).pipe(Effect.cached, Effect.runSync)
  }
}

/**
 * An `HttpClient` that serves every request from the {@link MockApi.MockApi} in context.
 *
 * @example
 * ```ts
 * import { MockApi, ScriptedHttpClient } from "effect-openai-resilience/testing"
 * import { Effect } from "effect"
 *
 * const client = ScriptedHttpClient.make.pipe(Effect.provide(MockApi.layer()))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
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
            cause: connectionResetCause(),
            description: "read ECONNRESET"
          })
        }
        const nullBody = answer.status === 204 || answer.status === 304
        // Statuses a web Response refuses (outside 200-599) still go through it, and fail as before.
        if (answer.body._tag === "Bytes" && !nullBody && answer.status >= 200 && answer.status <= 599) {
          return new BytesResponse(request, answer.status, answer.headers, answer.body.bytes)
        }
        // The body is read through a runtime taken from this fiber, so its delays use this
        // fiber's Clock (TestClock in tests).
        const runtime = yield* Effect.runtime<never>()
        // The casts only widen `ArrayBufferLike` to what the DOM typings of `BodyInit` name.
        const body: BodyInit = answer.body._tag === "Bytes"
          ? (answer.body.bytes as Uint8Array<ArrayBuffer>)
          : (Stream.toReadableStreamRuntime(bodyStream(answer.body), runtime) as ReadableStream<Uint8Array<ArrayBuffer>>)
        return HttpClientResponse.fromWeb(
          request,
          new Response(nullBody ? null : body, { status: answer.status, headers: answer.headers })
        )
      })
    )
)

/**
 * `HttpClient` served by the {@link MockApi.MockApi} the layer is given.
 *
 * @example
 * ```ts
 * import { MockApi, ScriptedHttpClient } from "effect-openai-resilience/testing"
 * import { Layer } from "effect"
 *
 * const TestLayer = ScriptedHttpClient.layerFromMock.pipe(Layer.provideMerge(MockApi.layer({ rpm: 3 })))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromMock: Layer.Layer<HttpClient.HttpClient, never, MockApi.MockApi> = Layer.effect(
  HttpClient.HttpClient,
  make
)

/**
 * A fresh mock and an `HttpClient` served by it: the one-line setup for a test. The mock is in
 * context too, to read its request log.
 *
 * @example
 * ```ts
 * import { ScriptedHttpClient } from "effect-openai-resilience/testing"
 *
 * const TestLayer = ScriptedHttpClient.layer({ scenario: ["server_error", "server_error"] })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: MockApi.MockOptions = {}
): Layer.Layer<HttpClient.HttpClient | MockApi.MockApi, InvalidOptions> =>
  layerFromMock.pipe(Layer.provideMerge(MockApi.layer(options)))
