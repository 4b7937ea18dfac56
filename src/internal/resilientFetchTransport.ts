/**
 * What each attempt of a `ResilientFetch` call is sent with: the given WHATWG fetch called
 * directly, and responses whose headers are read once.
 *
 * @effect/platform's `FetchHttpClient` is built for any request: per attempt it parses the URL,
 * opens (or, with Effect's default tracer, decides not to open) a span, registers the response
 * with a `FinalizationRegistry` and wraps it twice; its response rebuilds its `headers` object on
 * every read, and the stack reads them three times a call. Through the adapter none of that is
 * needed unless spans are wanted; with a tracer that records spans, the platform's client (and
 * its `http.client` span) is used as before.
 * @internal
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as PlatformHeaders from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as attemptTimer from "./attemptTimer.js"

type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

/**
 * A platform response with its headers read once. Over a web response it also owns the attempt's
 * `AbortController`: a read interrupted part-way (the per-attempt timeout, the caller's abort)
 * aborts the request, so no socket keeps reading a body nobody waits for.
 * @internal
 */
export class KeptResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly headers: PlatformHeaders.Headers
  private bytes: Promise<ArrayBuffer> | undefined

  constructor(
    readonly original: HttpClientResponse.HttpClientResponse,
    /** The web response under `original`, when the transport is a fetch. */
    readonly source: globalThis.Response | undefined,
    private readonly controller: AbortController | undefined
  ) {
    super()
    this.headers = original.headers
  }

  private decodeError(cause: unknown): HttpClientError.ResponseError {
    return new HttpClientError.ResponseError({ request: this.request, response: this, reason: "Decode", cause })
  }

  // Fails once the request is aborted (the attempt's timer, the caller): a read ends then even
  // when the fetch underneath does not heed its signal (a test's stub, a hand-made fetch).
  private get aborted(): Effect.Effect<never, HttpClientError.ResponseError> {
    const signal = this.controller?.signal
    return signal === undefined ? Effect.never : Effect.async<never, HttpClientError.ResponseError>((resume) => {
      const onAbort = () => resume(Effect.fail(this.decodeError(signal.reason)))
      if (signal.aborted) return onAbort()
      signal.addEventListener("abort", onAbort, { once: true })
      return Effect.sync(() => signal.removeEventListener("abort", onAbort))
    })
  }

  private guard<A>(effect: Effect.Effect<A, HttpClientError.ResponseError>): Effect.Effect<A, HttpClientError.ResponseError> {
    const controller = this.controller
    return controller === undefined
      ? effect
      : Effect.raceFirst(Effect.onInterrupt(effect, () => Effect.sync(() => controller.abort())), this.aborted)
  }

  get request(): HttpClientRequest.HttpClientRequest {
    return this.original.request
  }
  get status(): number {
    return this.original.status
  }
  get cookies() {
    return this.original.cookies
  }
  get remoteAddress(): Option.Option<string> {
    return this.original.remoteAddress
  }
  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return this.guard(this.original.formData)
  }
  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return this.guard(this.original.text)
  }
  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return this.guard(this.original.json)
  }
  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return this.guard(this.original.urlParamsBody)
  }
  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    const { controller, source } = this
    if (source === undefined || controller === undefined) return this.original.arrayBuffer
    // One promise and one resumption: the platform's goes through `Effect.cached` and an
    // interruption guard, several times the cost of the read on loopback.
    return Effect.async<ArrayBuffer, HttpClientError.ResponseError>((resume) => {
      const signal = controller.signal
      const onAbort = () => resume(Effect.fail(this.decodeError(signal.reason)))
      if (signal.aborted) return onAbort()
      signal.addEventListener("abort", onAbort, { once: true })
      this.bytes ??= source.arrayBuffer()
      this.bytes.then(
        (bytes) => {
          signal.removeEventListener("abort", onAbort)
          resume(Effect.succeed(bytes))
        },
        (cause) => {
          signal.removeEventListener("abort", onAbort)
          resume(Effect.fail(this.decodeError(cause)))
        }
      )
      return Effect.sync(() => controller.abort())
    })
  }
  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    const controller = this.controller
    const stream = this.original.stream
    return controller === undefined
      ? stream
      : Stream.ensuring(Stream.interruptWhen(stream, this.aborted), Effect.sync(() => controller.abort()))
  }
  toJSON(): unknown {
    return this.original.toJSON()
  }
}

/**
 * The inner client's responses with their headers read once (`NodeHttpClient`'s undici response
 * builds a new object on every read too).
 * @internal
 */
export const keepingHeaders = <E, R>(client: HttpClient.HttpClient.With<E, R>): HttpClient.HttpClient.With<E, R> =>
  attemptTimer.cooperatingAs(
    HttpClient.transformResponse(client, Effect.map((response) => new KeptResponse(response, undefined, undefined))),
    client
  )

const bodyOf = (body: HttpClientRequest.HttpClientRequest["body"]): BodyInit | null => {
  switch (body._tag) {
    case "Raw":
    case "Uint8Array":
      return body.body as BodyInit
    case "FormData":
      return body.formData
    default:
      return null
  }
}

const send = (
  fetch: Fetch,
  request: HttpClientRequest.HttpClientRequest,
  init: RequestInit | undefined,
  fiber: Fiber.RuntimeFiber<unknown, unknown>
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError> => {
  let url: string | URL = request.url
  if (request.urlParams.length > 0 || Option.isSome(request.hash)) {
    const made = UrlParams.makeUrl(request.url, request.urlParams, request.hash)
    if (made._tag === "Left") {
      return Effect.fail(new HttpClientError.RequestError({ request, reason: "InvalidUrl", cause: made.left }))
    }
    url = made.right
  }
  let headers = init?.headers === undefined
    ? request.headers
    : PlatformHeaders.merge(PlatformHeaders.fromInput(init.headers as PlatformHeaders.Input), request.headers)
  // The body's own length is sent; a stale one from the caller's headers would not match it.
  if (headers["content-length"] !== undefined) headers = PlatformHeaders.remove(headers, "content-length")
  return Effect.async<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError>((resume) => {
    const controller = new AbortController()
    const settle = attemptTimer.once(resume)
    // The attempt's timer ends the wait itself, whether or not the fetch heeds its signal.
    attemptTimer.register(fiber, () => {
      controller.abort()
      settle(Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause: controller.signal.reason })))
    })
    fetch(url, { ...init, method: request.method, headers, body: bodyOf(request.body), signal: controller.signal }).then(
      (response) => settle(Effect.succeed(new KeptResponse(HttpClientResponse.fromWeb(request, response), response, controller))),
      (cause) => settle(Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause })))
    )
    return Effect.sync(() => controller.abort())
  })
}

/**
 * An `HttpClient` over `fetch`: called directly unless `spans` asks for @effect/platform's
 * `http.client` span (then through its `FetchHttpClient`, as for a stream body, which it knows how
 * to send). The `RequestInit` in context (`FetchHttpClient.RequestInit`) is passed on.
 * @internal
 */
export const fetchClient = (fetch: Fetch, spans: boolean): HttpClient.HttpClient => {
  const platform = Effect.runSync(Effect.provide(HttpClient.HttpClient, FetchHttpClient.layer))
  const traced = (request: HttpClientRequest.HttpClientRequest, fiber: Fiber.RuntimeFiber<unknown, unknown>) =>
    Effect.provideService(
      Effect.map(platform.execute(request), (response) => new KeptResponse(response, undefined, undefined)),
      FetchHttpClient.Fetch,
      timed(fetch, fiber) as typeof globalThis.fetch
    )
  const direct = (request: HttpClientRequest.HttpClientRequest) =>
    Effect.withFiberRuntime<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>((fiber) =>
      spans || request.body._tag === "Stream"
        ? traced(request, fiber)
        : send(fetch, request, fiber.currentContext.unsafeMap.get(FetchHttpClient.RequestInit.key) as RequestInit | undefined, fiber)
    )
  const client = HttpClient.makeWith(
    (effect: Effect.Effect<HttpClientRequest.HttpClientRequest>) => Effect.flatMap(effect, direct),
    Effect.succeed
  )
  // Through the platform's client (spans) the reads are its own, which end only if the fetch
  // heeds its signal: those attempts keep the child fiber.
  return spans ? client : attemptTimer.cooperating(client)
}

// Through the platform's client, the request's signal is its own (aborted on interruption): the
// attempt's timer aborts a signal of ours that follows it.
const timed = (fetch: Fetch, fiber: Fiber.RuntimeFiber<unknown, unknown>): Fetch => {
  const timer = attemptTimer.current(fiber)
  if (timer === undefined) return fetch
  return (input, init) => {
    const controller = new AbortController()
    const outer = init?.signal
    if (outer?.aborted) controller.abort(outer.reason)
    else outer?.addEventListener("abort", () => controller.abort(outer.reason), { once: true })
    timer.onFire(() => controller.abort())
    return fetch(input, { ...init, signal: controller.signal })
  }
}
