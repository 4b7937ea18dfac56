/**
 * The implementation behind `OpenAiClient`: the request each endpoint sends, and what it consumes
 * of the response inside its attempt. The order of the layers is `Resilience`'s.
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Bulkhead from "../Bulkhead.js"
import type * as CircuitBreaker from "../CircuitBreaker.js"
import type { Decoded, Options, Service } from "../OpenAiClient.js"
import * as OpenAiError from "../OpenAiError.js"
import * as RateLimitHeaders from "../RateLimitHeaders.js"
import * as ChatCompletion from "../Schemas/ChatCompletion.js"
import * as Embeddings from "../Schemas/Embeddings.js"
import * as Models from "../Schemas/Models.js"
import * as Responses from "../Schemas/Responses.js"
import * as attemptTimer from "./attemptTimer.js"
import { bodyDecoder, type BodyDecoder, decodeBody } from "./consume.js"
import * as middleware from "./httpMiddleware.js"
import * as resilience from "./resilience.js"
import { revealAll } from "./secrets.js"
import * as stream from "./stream.js"
import * as telemetry from "./telemetry.js"

/** @internal */
export const DEFAULT_BASE_URL = "https://api.openai.com/v1"
/** @internal */
export const DEFAULT_IDLE_TIMEOUT: Duration.Duration = Duration.minutes(5)

type Failure = OpenAiError.OpenAiError
// What the internal client fails with; the public signature narrows it to what was configured.
type Guarded = Failure | CircuitBreaker.CircuitOpen | Bulkhead.BulkheadFull

const nonEmpty = (s: string | undefined): s is string => s !== undefined && s.trim().length > 0

const encodeError = (cause: unknown) =>
  new OpenAiError.BadRequest({
    message: `The request body could not be encoded as JSON: ${cause instanceof Error ? cause.message : String(cause)}`,
    code: Option.some("request_not_encodable")
  })

const jsonBody = (
  request: HttpClientRequest.HttpClientRequest,
  body: unknown
): Effect.Effect<HttpClientRequest.HttpClientRequest, Failure> =>
  Effect.try({ try: () => HttpClientRequest.bodyUnsafeJson(request, body), catch: encodeError })

// A request and its body as a value: the stack reads the value (limiter, pre-flight check)
// instead of parsing the encoded body again.
interface Outgoing {
  readonly request: HttpClientRequest.HttpClientRequest
  readonly body?: unknown
}

const post = (path: string, body: unknown): Effect.Effect<Outgoing, Failure> =>
  Effect.map(jsonBody(HttpClientRequest.post(path, { acceptJson: true }), body), (request) => ({ request, body }))

const streamRequest = (path: string, body: object): Effect.Effect<Outgoing, Failure> => {
  const streamed = { ...body, stream: true }
  return Effect.map(
    jsonBody(HttpClientRequest.post(path, { headers: { accept: "text/event-stream" } }), streamed),
    (request) => ({ request, body: streamed })
  )
}

const withoutStream = <T extends object>(request: T) => {
  const { stream: _stream, stream_options: _options, ...rest } = request as T & {
    readonly stream?: unknown
    readonly stream_options?: unknown
  }
  return rest
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
/** @internal */
export const withTracing = (client: HttpClient.HttpClient, tracing: boolean | undefined): HttpClient.HttpClient => {
  if (tracing === true) return client
  // These wrappers add no wait: a transport that ends its waits on the attempt's timer still does.
  if (tracing === false) return attemptTimer.cooperatingAs(HttpClient.withTracerDisabledWhen(client, always), client)
  return attemptTimer.cooperatingAs(
    HttpClient.transform(client, (effect) =>
      Effect.tracerWith((tracer) =>
        tracer === defaultTracer ? Effect.locally(effect, HttpClient.currentTracerDisabledWhen, always) : effect
      )),
    client
  )
}

const decoded = <A>(response: HttpClientResponse.HttpClientResponse, data: A): Decoded<A> => {
  // One read: a response's `headers` may be a getter that builds a new object each time (the
  // undici client's does).
  const headers = response.headers
  // The rate-limit headers are parsed when first read, not on every response.
  let rateLimit: Option.Option<RateLimitHeaders.RateLimitHeaders> | undefined
  return {
    data,
    requestId: middleware.requestId({ headers }),
    status: response.status,
    headers,
    get rateLimit() {
      return rateLimit ??= RateLimitHeaders.fromHeaders(headers)
    }
  }
}

// What telemetry reads off a result: the decoded body, or a stream's first element.
const decodedAnnotation: telemetry.Annotate<Decoded<unknown>> = {
  response: (d) => ({ ...telemetry.responseInfo(d.data), headers: d.headers })
}
const openedAnnotation: telemetry.Annotate<{
  readonly response: HttpClientResponse.HttpClientResponse
  readonly opened: stream.Opened<unknown>
}> = {
  stream: true,
  response: (o) => ({
    ...telemetry.responseInfo(Option.getOrUndefined(Chunk.head(o.opened.first))),
    headers: o.response.headers
  })
}

/** @internal */
export const make = (options: Options<unknown>): Effect.Effect<Service<Guarded>, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const base = yield* HttpClient.HttpClient
    const baseUrl = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, "")
    const fixedHeaders: Record<string, string> = {}
    if (nonEmpty(options.organization)) fixedHeaders["openai-organization"] = options.organization.trim()
    if (nonEmpty(options.project)) fixedHeaders["openai-project"] = options.project.trim()
    const extraSecrets = options.resilience?.secrets ?? []
    const secrets = revealAll([options.apiKey, ...extraSecrets])

    // URL, auth and account headers go on the request before the stack sees it: the limiter keys
    // its limits by the API key and model it reads there.
    const authorize = (request: HttpClientRequest.HttpClientRequest) =>
      HttpClientRequest.setHeaders(
        HttpClientRequest.bearerToken(HttpClientRequest.prependUrl(request, baseUrl), options.apiKey),
        fixedHeaders
      )
    // What one attempt sends through: the user's tweaks, on every attempt.
    let send: HttpClient.HttpClient = withTracing(base, options.tracing)
    if (options.transformClient !== undefined) send = options.transformClient(send)
    const resilient = resilience.make(send, { ...options.resilience, secrets: [options.apiKey, ...extraSecrets] })

    // A policy with requirements (a retry budget) gets them from where the client was built; a
    // service provided where the call runs wins.
    const built = yield* Effect.context<never>()
    const withBuilt = (here: Context.Context<never>): Context.Context<never> => Context.merge(built, here)
    // The internal stack is typed with `unknown` requirements; the policy's are met here.
    const provide = <A, E>(effect: Effect.Effect<A, E, unknown>): Effect.Effect<A, E> =>
      options.resilience?.retryPolicy === undefined
        ? effect as Effect.Effect<A, E>
        : Effect.mapInputContext(effect as Effect.Effect<A, E>, withBuilt)

    const consumeContext = { secrets }
    const streamContext: stream.StreamContext = {
      secrets,
      idle: Duration.decode(options.idleTimeout ?? DEFAULT_IDLE_TIMEOUT)
    }

    const call = <A, I>(outgoing: Outgoing, decoder: BodyDecoder<A, I>): Effect.Effect<Decoded<A>, Guarded> => {
      const consume = decodeBody(decoder, consumeContext)
      return provide(
        resilient.run(
          authorize(outgoing.request),
          (response) => Effect.map(consume(response), (data) => decoded(response, data)),
          outgoing.body,
          decodedAnnotation
        )
      )
    }

    // Opens a stream in the caller's scope: retried until its first element, then the response's
    // request id and headers beside a stream that starts with that element.
    const open = <A, I>(
      request: Effect.Effect<Outgoing, Failure>,
      spec: stream.StreamSpec<A, I>
    ): Effect.Effect<Decoded<Stream.Stream<A, Failure>>, Guarded, Scope.Scope> => {
      const first = stream.openFirst(spec, streamContext)
      return Effect.flatMap(Effect.scope, (outer) =>
        Effect.uninterruptibleMask((restore) =>
          restore(Effect.flatMap(request, (r) =>
            provide(resilient.run(
              authorize(r.request),
              (response) => Effect.map(first(response), (opened) => ({ response, opened })),
              r.body,
              openedAnnotation
            ))
          )).pipe(
            Effect.tap(({ opened }) => Scope.addFinalizerExit(outer, (exit) => Scope.close(opened.scope, exit)))
          )
        )).pipe(Effect.map(({ opened, response }) => decoded(response, stream.toStream(opened))))
    }

    const streamOf = <A, I>(
      request: Effect.Effect<Outgoing, Failure>,
      spec: stream.StreamSpec<A, I>
    ): Stream.Stream<A, Guarded> => Stream.unwrapScoped(Effect.map(open(request, spec), (d) => d.data))

    const service: Service<Guarded> = {
      httpClient: HttpClient.mapRequest(
        HttpClient.transformResponse(resilient.httpClient, provide) as HttpClient.HttpClient.With<Guarded>,
        authorize
      ),
      chat: {
        completions: {
          create: (request) =>
            Effect.flatMap(post("/chat/completions", withoutStream(request)), (r) => call(r, decodeChatCompletion)),
          stream: (request) => streamOf(streamRequest("/chat/completions", request), stream.chatSpec),
          open: (request) => open(streamRequest("/chat/completions", request), stream.chatSpec)
        }
      },
      embeddings: {
        create: (request) =>
          Effect.flatMap(
            post("/embeddings", { ...request, encoding_format: request.encoding_format ?? "base64" }),
            (r) => call(r, decodeEmbeddings)
          )
      },
      models: {
        list: call({ request: HttpClientRequest.get("/models", { acceptJson: true }) }, decodeModelsList),
        retrieve: (model) =>
          call({ request: HttpClientRequest.get(`/models/${encodeURIComponent(model)}`, { acceptJson: true }) }, decodeModel)
      },
      responses: {
        create: (request) => Effect.flatMap(post("/responses", withoutStream(request)), (r) => call(r, decodeResponse)),
        stream: (request) => streamOf(streamRequest("/responses", request), stream.responsesSpec),
        open: (request) => open(streamRequest("/responses", request), stream.responsesSpec)
      }
    }
    return service
  })
