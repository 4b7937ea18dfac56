/**
 * The implementation behind `OpenAiClient`.
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import type * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Classify from "../Classify.js"
import { pageTitle } from "./html.js"
import * as Decode from "../Decode.js"
import * as OpenAiError from "../OpenAiError.js"
import * as RateLimitHeaders from "../RateLimitHeaders.js"
import * as RetryPolicy from "../RetryPolicy.js"
import * as ChatCompletion from "../Schemas/ChatCompletion.js"
import * as ChatCompletionChunk from "../Schemas/ChatCompletionChunk.js"
import * as Embeddings from "../Schemas/Embeddings.js"
import * as Models from "../Schemas/Models.js"
import * as Responses from "../Schemas/Responses.js"
import * as Sse from "../Sse.js"
import * as middleware from "./httpMiddleware.js"
import { bound, scrub } from "./secrets.js"

/** @internal */
export const DEFAULT_BASE_URL = "https://api.openai.com/v1"
/** @internal */
export const DEFAULT_TIMEOUT: Duration.Duration = Duration.minutes(10)
/** @internal */
export const DEFAULT_IDLE_TIMEOUT: Duration.Duration = Duration.minutes(5)

// The shapes are declared (and documented) once, in the public module.
import type { Decoded, Options } from "../OpenAiClient.js"
export type { Decoded, Options }

type Failure = OpenAiError.OpenAiError

/** @internal */
export interface Service {
  readonly httpClient: HttpClient.HttpClient.With<Failure>
  readonly chat: {
    readonly completions: {
      readonly create: (
        request: ChatCompletion.ChatCompletionRequest
      ) => Effect.Effect<Decoded<ChatCompletion.ChatCompletion>, Failure>
      readonly stream: (
        request: ChatCompletion.ChatCompletionRequest
      ) => Stream.Stream<ChatCompletionChunk.ChatCompletionChunk, Failure>
      readonly open: (
        request: ChatCompletion.ChatCompletionRequest
      ) => Effect.Effect<
        Decoded<Stream.Stream<ChatCompletionChunk.ChatCompletionChunk, Failure>>,
        Failure,
        Scope.Scope
      >
    }
  }
  readonly embeddings: {
    readonly create: (
      request: Embeddings.EmbeddingsRequest
    ) => Effect.Effect<Decoded<Embeddings.CreateEmbeddingResponseFloat32>, Failure>
  }
  readonly models: {
    readonly list: Effect.Effect<Decoded<Models.ModelsList>, Failure>
    readonly retrieve: (model: string) => Effect.Effect<Decoded<Models.Model>, Failure>
  }
  readonly responses: {
    readonly create: (request: Responses.ResponsesRequest) => Effect.Effect<Decoded<Responses.Response>, Failure>
    readonly stream: (request: Responses.ResponsesRequest) => Stream.Stream<Responses.ResponseStreamEvent, Failure>
    readonly open: (
      request: Responses.ResponsesRequest
    ) => Effect.Effect<Decoded<Stream.Stream<Responses.ResponseStreamEvent, Failure>>, Failure, Scope.Scope>
  }
}

const nonEmpty = (s: string | undefined): s is string => s !== undefined && s.trim().length > 0

// Copies the response's request id onto the errors that cannot see headers (a cut or an idle
// timeout in the middle of a 200's body), so every failure after a response can be quoted.
const withRequestId = (error: Failure, requestId: Option.Option<string>): Failure => {
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

const encodeError = (cause: unknown) =>
  new OpenAiError.BadRequest({
    message: `The request body could not be encoded as JSON: ${
      cause instanceof Error ? cause.message : String(cause)
    }`,
    code: Option.some("request_not_encodable")
  })

const jsonBody = (
  request: HttpClientRequest.HttpClientRequest,
  body: unknown
): Effect.Effect<HttpClientRequest.HttpClientRequest, Failure> =>
  Effect.try({ try: () => HttpClientRequest.bodyUnsafeJson(request, body), catch: encodeError })

/**
 * A body decoder built once per schema, at module load: JSON then the schema, with no per-call
 * setup. A failure is explained by `Decode.decodeText` with the call's context (status, request
 * id), which only a failure needs: the same error as before, built only when there is one.
 */
interface BodyDecoder<A, I> {
  readonly schema: Schema.Schema<A, I, never>
  readonly decode: (text: string) => Option.Option<A>
}

const bodyDecoder = <A, I>(schema: Schema.Schema<A, I, never>): BodyDecoder<A, I> => {
  const decode = Schema.decodeUnknownOption(schema, Decode.defaultParseOptions)
  return {
    schema,
    decode: (text) => {
      let input: unknown
      try {
        input = JSON.parse(text)
      } catch {
        return Option.none()
      }
      return decode(input)
    }
  }
}

const decodeChatCompletion = bodyDecoder(ChatCompletion.ChatCompletion)
const decodeEmbeddings = bodyDecoder(Embeddings.CreateEmbeddingResponseFloat32)
const decodeModelsList = bodyDecoder(Models.ModelsList)
const decodeModel = bodyDecoder(Models.Model)
const decodeResponse = bodyDecoder(Responses.Response)

// Effect's default Tracer, as found in the default services: spans it makes go nowhere.
const defaultTracer = Effect.runSync(Effect.tracer)
const always = () => true

// @effect/platform opens an `http.client` span per request (and sends `traceparent`) even when
// nobody receives spans. Unless told otherwise, each request checks the Tracer in place: with
// Effect's default one, which records nothing, the span (a large share of the client's own cost)
// is skipped; with any other (OpenTelemetry, a test's), it is kept.
const withTracing = (client: HttpClient.HttpClient, tracing: boolean | undefined): HttpClient.HttpClient => {
  if (tracing === true) return client
  if (tracing === false) return HttpClient.withTracerDisabledWhen(client, always)
  return HttpClient.transform(client, (effect) =>
    Effect.tracerWith((tracer) =>
      tracer === defaultTracer ? Effect.locally(effect, HttpClient.currentTracerDisabledWhen, always) : effect
    ))
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

/** How a stream's events map to elements: what is an error, what ends it. */
interface StreamSpec<A, I> {
  readonly schema: Schema.Schema<A, I, never>
  readonly isError: (json: unknown) => boolean
  /** An element after which the stream is complete (emitted, then the stream ends). */
  readonly isLast: (a: A) => boolean
}

type Step<A> =
  | { readonly _tag: "Emit"; readonly value: A; readonly last: boolean }
  | { readonly _tag: "Skip" }
  | { readonly _tag: "Done" }

const SKIP: Step<never> = { _tag: "Skip" }
const DONE: Step<never> = { _tag: "Done" }

const chatSpec: StreamSpec<ChatCompletionChunk.ChatCompletionChunk, typeof ChatCompletionChunk.ChatCompletionChunk.Encoded> = {
  schema: ChatCompletionChunk.ChatCompletionChunk,
  isError: (json) => Predicate.isRecord(json) && json.error !== undefined && json.error !== null,
  isLast: () => false
}

const responsesSpec: StreamSpec<Responses.ResponseStreamEvent, typeof Responses.ResponseStreamEvent.Encoded> = {
  schema: Responses.ResponseStreamEvent,
  isError: (json) =>
    Predicate.isRecord(json) &&
    (json.type === "error" || json.type === "response.failed" ||
      (json.type === undefined && json.error !== undefined && json.error !== null)),
  isLast: Responses.isTerminalEvent
}

/** @internal */
export const make = (options: Options): Effect.Effect<Service, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const base = yield* HttpClient.HttpClient
    const baseUrl = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, "")
    const secrets = [options.apiKey]
    const secretText = [Redacted.value(options.apiKey)]
    const policy: Schedule.Schedule<unknown, Failure> = options.retryPolicy ?? RetryPolicy.default
    const idle = Duration.decode(options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT)
    const fixedHeaders: Record<string, string> = {}
    if (nonEmpty(options.organization)) fixedHeaders["openai-organization"] = options.organization.trim()
    if (nonEmpty(options.project)) fixedHeaders["openai-project"] = options.project.trim()

    // One attempt: URL, auth and account headers, classification, the attempt and idempotency
    // headers (their values come from the enclosing `retryEffect`). The per-attempt timeout is
    // applied by each operation around exactly what it covers (one timer per attempt: a timer is
    // a race of two fibers, the costliest step of a call).
    let attempt: HttpClient.HttpClient.With<Failure> = withTracing(base, options.tracing).pipe(
      HttpClient.mapRequest((request) =>
        HttpClientRequest.setHeaders(
          HttpClientRequest.bearerToken(HttpClientRequest.prependUrl(request, baseUrl), options.apiKey),
          fixedHeaders
        )
      ),
      middleware.classify({ secrets })
    )
    if (options.attemptHeader !== false) attempt = middleware.attemptHeader(options.attemptHeader)(attempt)
    if (options.idempotencyKey !== false) attempt = middleware.idempotencyKey(attempt)
    if (options.transformClient !== undefined) attempt = options.transformClient(attempt)

    const withDeadline = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | OpenAiError.TimeoutError, R> =>
      options.deadline === undefined ? effect : middleware.timeoutEffect(effect, "deadline", options.deadline)

    const resilient = <A>(effect: Effect.Effect<A, Failure>): Effect.Effect<A, Failure> =>
      withDeadline(middleware.retryEffect(effect, policy))

    const timeout = options.timeout ?? DEFAULT_TIMEOUT
    const perAttempt = <A>(effect: Effect.Effect<A, Failure>): Effect.Effect<A, Failure> =>
      middleware.timeoutEffect(effect, "headers", timeout)

    const httpClient: HttpClient.HttpClient.With<Failure> = HttpClient.transformResponse(
      middleware.timeout(timeout)(attempt),
      resilient
    )

    const decoded = <A>(response: HttpClientResponse.HttpClientResponse, data: A): Decoded<A> => {
      // One read: a response's `headers` may be a getter that builds a new object each time
      // (the undici client's does).
      const headers = response.headers
      return {
        data,
        requestId: middleware.requestId({ headers }),
        status: response.status,
        headers,
        rateLimit: RateLimitHeaders.fromHeaders(headers)
      }
    }

    const readBody = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<string, Failure> =>
      Effect.mapError(response.text, (e) => withRequestId(middleware.transportError(e), middleware.requestId(response)))

    // A non-streaming call: each attempt sends and reads the whole body within the per-attempt
    // timeout, under the retry policy (a body cut midway is retried like any connection error);
    // then the body is decoded once, by a decoder built once per schema.
    const send = <A, I>(
      request: HttpClientRequest.HttpClientRequest,
      decoder: BodyDecoder<A, I>
    ): Effect.Effect<Decoded<A>, Failure> =>
      resilient(perAttempt(Effect.flatMap(attempt.execute(request), (response) =>
        Effect.map(readBody(response), (text) => [response, text] as const)))).pipe(
          Effect.flatMap(([response, text]) =>
            Effect.suspend(() => {
              const result = decoder.decode(text)
              if (Option.isSome(result)) return Effect.succeed(decoded(response, result.value))
              // A 2xx that carries an API error (proxies and compatible servers do this) is that
              // error, classified like a stream's error event, not a decode error.
              const payload = errorBody(text)
              if (payload !== undefined) {
                return Effect.flatMap(Clock.currentTimeMillis, (now) =>
                  Effect.fail(
                    withRequestId(
                      Classify.classifyStreamError(payload, { headers: response.headers, now, secrets: secretText }),
                      middleware.requestId(response)
                    )
                  ))
              }
              return Effect.map(
                Decode.decodeText(decoder.schema, {
                  status: response.status,
                  requestId: Option.getOrUndefined(middleware.requestId(response)),
                  secrets: secretText
                })(text),
                (data) => decoded(response, data)
              )
            })
          )
        )

    const post = (path: string, body: unknown) =>
      jsonBody(HttpClientRequest.post(path, { acceptJson: true }), body)

    // One stream attempt's elements: bytes (bounded by the idle timeout) -> SSE events -> decoded
    // elements; an error event is the typed error; an end without `[DONE]` or a terminal event is
    // a cut.
    const elements = <A, I>(
      response: HttpClientResponse.HttpClientResponse,
      spec: StreamSpec<A, I>
    ): Stream.Stream<A, Failure> =>
      Stream.suspend(() => {
        const progress = Sse.makeProgress()
        const requestId = middleware.requestId(response)
        const decodeOptions: Decode.DecodeOptions = {
          status: response.status,
          requestId: Option.getOrUndefined(requestId),
          secrets: secretText
        }
        const decodeValue = Decode.decodeUnknown(spec.schema, decodeOptions)
        const streamError = (data: unknown) =>
          Effect.flatMap(
            Clock.currentTimeMillis,
            (now) => Effect.fail(Classify.classifyStreamError(data, { headers: response.headers, now, secrets: secretText }))
          )
        let finished = false
        const step = (event: Sse.Event): Effect.Effect<Step<A>, Failure> => {
          if (event.data === "[DONE]") return Effect.succeed(DONE)
          if (event.event === "error") return streamError(event.data)
          if (event.data.length === 0) return Effect.succeed(SKIP)
          return Effect.flatMap(Decode.parseJson(event.data, decodeOptions), (json) =>
            spec.isError(json)
              ? streamError(json)
              : Effect.map(decodeValue(json), (value): Step<A> => ({ _tag: "Emit", value, last: spec.isLast(value) })))
        }
        const cut = () =>
          Classify.classifyTransportError(new Error("The server closed the stream before it was complete"), {
            received: { events: progress.events, bytes: progress.bytes }
          })
        return response.stream.pipe(
          Stream.timeoutFail(
            () =>
              new OpenAiError.TimeoutError({
                message: `No data arrived for ${Duration.format(idle)} after ${progress.events} event(s) and ${progress.bytes} byte(s)`,
                phase: "idle",
                timeout: idle
              }),
            idle
          ),
          Sse.decode({ progress }),
          Stream.catchAll((e): Stream.Stream<never, Failure> =>
            Stream.fail(
              OpenAiError.isOpenAiError(e)
                ? e
                : middleware.transportError(e, { received: { events: progress.events, bytes: progress.bytes } })
            )
          ),
          Stream.mapEffect(step),
          Stream.takeUntil((s) => s._tag === "Done" || (s._tag === "Emit" && s.last)),
          Stream.filterMap((s) => {
            if (s._tag === "Done" || (s._tag === "Emit" && s.last)) finished = true
            return s._tag === "Emit" ? Option.some(s.value) : Option.none()
          }),
          Stream.concat(Stream.suspend(() => finished ? Stream.empty : Stream.fail(cut()))),
          Stream.mapError((e) => withRequestId(e, requestId))
        )
      })

    interface Opened<A> {
      readonly response: HttpClientResponse.HttpClientResponse
      readonly first: Chunk.Chunk<A>
      readonly ended: boolean
      readonly pull: Effect.Effect<Chunk.Chunk<A>, Option.Option<Failure>>
      readonly scope: Scope.CloseableScope
    }

    const pullFirst = <A>(
      pull: Effect.Effect<Chunk.Chunk<A>, Option.Option<Failure>>
    ): Effect.Effect<{ readonly first: Chunk.Chunk<A>; readonly ended: boolean }, Failure> =>
      Effect.matchEffect(pull, {
        onFailure: (e) =>
          Option.isNone(e) ? Effect.succeed({ first: Chunk.empty<A>(), ended: true }) : Effect.fail(e.value),
        onSuccess: (chunk) => Chunk.isEmpty(chunk) ? pullFirst(pull) : Effect.succeed({ first: chunk, ended: false })
      })

    const isJson = (response: HttpClientResponse.HttpClientResponse) =>
      (response.headers["content-type"] ?? "").toLowerCase().includes("application/json")

    // A 2xx JSON body where an event stream was asked for: a proxy or compatible server reporting
    // an error with a 200, or a server that ignored `stream: true`. An error payload is the typed
    // error; anything else is a decode error saying what came instead.
    const notAStream = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<never, Failure> =>
      Effect.flatMap(
        Effect.zip(middleware.readBounded(response, middleware.MAX_ERROR_BODY_BYTES), Clock.currentTimeMillis),
        ([bytes, now]) => {
          const text = new TextDecoder().decode(bytes)
          const requestId = middleware.requestId(response)
          let json: unknown = undefined
          try {
            json = JSON.parse(text)
          } catch {
            // not JSON after all: reported below
          }
          if (Option.isSome(Classify.errorPayload(json))) {
            return Effect.fail(Classify.classifyStreamError(json, { headers: response.headers, now, secrets: secretText }))
          }
          return Effect.fail(
            new OpenAiError.ResponseDecodeError({
              message: "Expected an event stream (text/event-stream) but the server sent a JSON body",
              path: "",
              issue: "the response is application/json, not text/event-stream: the server may not support streaming",
              body: bound(scrub(text, secretText), 1000),
              status: Option.some(response.status),
              requestId
            })
          )
        }
      )

    const isHtml = (response: HttpClientResponse.HttpClientResponse) =>
      (response.headers["content-type"] ?? "").toLowerCase().includes("text/html")

    // A 2xx HTML page where an event stream was asked for: a proxy's login or error page. Not a
    // cut connection (which would be retried): the same request would get the same page.
    const htmlNotAStream = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<never, Failure> =>
      Effect.flatMap(middleware.readBounded(response, middleware.MAX_ERROR_BODY_BYTES), (bytes) => {
        const text = new TextDecoder().decode(bytes)
        const title = pageTitle(text)
        return Effect.fail(
          new OpenAiError.ResponseDecodeError({
            message: `Expected an event stream (text/event-stream) but the server sent an HTML page${
              title ? ` ("${bound(title, 120)}")` : ""
            }: probably a proxy or a wrong base URL`,
            path: "",
            issue: "the response is text/html, not text/event-stream",
            body: bound(scrub(text, secretText), 1000),
            status: Option.some(response.status),
            requestId: middleware.requestId(response)
          })
        )
      })

    // One attempt at opening a stream: send, then pull until the first element. Retried as a
    // unit, so a stream that fails before any element reached the caller is retried by the
    // policy; after that, failures reach the caller and nothing is replayed.
    const openOnce = <A, I>(
      request: HttpClientRequest.HttpClientRequest,
      spec: StreamSpec<A, I>
    ): Effect.Effect<Opened<A>, Failure> =>
      Effect.flatMap(Scope.make(), (scope) =>
        Effect.gen(function*() {
          const response = yield* perAttempt(attempt.execute(request))
          if (isJson(response)) return yield* notAStream(response)
          if (isHtml(response)) return yield* htmlNotAStream(response)
          const pull = yield* Scope.extend(Stream.toPull(elements(response, spec)), scope)
          const { ended, first } = yield* pullFirst(pull)
          return { response, first, ended, pull, scope }
        }).pipe(Effect.onExit((exit) => Exit.isFailure(exit) ? Scope.close(scope, exit) : Effect.void)))

    // Opens a stream in the caller's scope: retried until its first element, then the response's
    // request id and headers beside a stream that starts with that element.
    const open = <A, I>(
      request: Effect.Effect<HttpClientRequest.HttpClientRequest, Failure>,
      spec: StreamSpec<A, I>
    ): Effect.Effect<Decoded<Stream.Stream<A, Failure>>, Failure, Scope.Scope> =>
      Effect.flatMap(Effect.scope, (outer) =>
        Effect.uninterruptibleMask((restore) =>
          restore(Effect.flatMap(request, (r) => resilient(openOnce(r, spec)))).pipe(
            Effect.tap((opened) => Scope.addFinalizerExit(outer, (exit) => Scope.close(opened.scope, exit)))
          )
        )).pipe(
          Effect.map((opened) =>
            decoded(
              opened.response,
              opened.ended
                ? Stream.fromChunk(opened.first)
                : Stream.concat(Stream.fromChunk(opened.first), Stream.repeatEffectChunkOption(opened.pull))
            )
          )
        )

    const stream = <A, I>(
      request: Effect.Effect<HttpClientRequest.HttpClientRequest, Failure>,
      spec: StreamSpec<A, I>
    ): Stream.Stream<A, Failure> => Stream.unwrapScoped(Effect.map(open(request, spec), (d) => d.data))

    const withoutStream = <T extends object>(request: T) => {
      const { stream: _stream, stream_options: _options, ...rest } = request as T & {
        readonly stream?: unknown
        readonly stream_options?: unknown
      }
      return rest
    }

    const streamRequest = (path: string, body: object) =>
      jsonBody(
        HttpClientRequest.post(path, { headers: { accept: "text/event-stream" } }),
        { ...body, stream: true }
      )

    const service: Service = {
      httpClient,
      chat: {
        completions: {
          create: (request) =>
            Effect.flatMap(
              post("/chat/completions", withoutStream(request)),
              (r) => send(r, decodeChatCompletion)
            ),
          stream: (request) => stream(streamRequest("/chat/completions", request), chatSpec),
          open: (request) => open(streamRequest("/chat/completions", request), chatSpec)
        }
      },
      embeddings: {
        create: (request) =>
          Effect.flatMap(
            post("/embeddings", { ...request, encoding_format: request.encoding_format ?? "base64" }),
            (r) => send(r, decodeEmbeddings)
          )
      },
      models: {
        list: send(HttpClientRequest.get("/models", { acceptJson: true }), decodeModelsList),
        retrieve: (model) =>
          send(HttpClientRequest.get(`/models/${encodeURIComponent(model)}`, { acceptJson: true }), decodeModel)
      },
      responses: {
        create: (request) =>
          Effect.flatMap(post("/responses", withoutStream(request)), (r) => send(r, decodeResponse)),
        stream: (request) => stream(streamRequest("/responses", request), responsesSpec),
        open: (request) => open(streamRequest("/responses", request), responsesSpec)
      }
    }
    return service
  })
