/**
 * The implementation behind `UndiciHttpClient`: an `HttpClient` that sends each request with one
 * call of undici's `Dispatcher.request`, and responses whose headers are read once.
 *
 * @effect/platform-node's `NodeHttpClient.layerUndici` goes through `HttpClient.make`, which per
 * request decides on (or opens) an `http.client` span, wraps the response for interruption and
 * registers it for garbage collection; its response then rebuilds its `headers` object on every
 * read and runs every body read through `Effect.cached` and `Effect.runSync`. Here the same work
 * is done once each: one `AbortController` per request, shared by the send and the body reads, so
 * that interrupting either aborts the request.
 * @internal
 */
import * as Cookies from "@effect/platform/Cookies"
import * as Headers from "@effect/platform/Headers"
import type * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as UrlParams from "@effect/platform/UrlParams"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import { globalValue } from "effect/GlobalValue"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { type Dispatcher, FormData as UndiciFormData, getGlobalDispatcher } from "undici"
import * as attemptTimer from "./attemptTimer.js"

// What the platform's undici client sets on every request: the waits are left to Effect (the
// client's own timeouts), whatever the dispatcher's defaults (300 s each on undici's global one).
const headersTimeout = 60 * 60 * 1000
const bodyTimeout = 0

// The context key of `NodeHttpClient.UndiciRequestOptions`, read per request as the platform does.
const optionsKey = NodeHttpClient.UndiciRequestOptions.key

// A response dropped unread would hold its socket (undici pauses a body nobody reads): abort its
// request when it is collected, as the platform's `HttpClient.make` does. Unregistered by the
// first read, which then owns the request.
const unread = globalValue("effect-openai-resilience/UndiciHttpClient/unread", () =>
  typeof FinalizationRegistry === "function"
    ? new FinalizationRegistry<AbortController>((controller) => controller.abort())
    : undefined)

const noop = (_: unknown) => {}

type Read = "text" | "arrayBuffer" | "formData" | "stream"

/** @internal */
export class UndiciResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly status: number
  readonly headers: Headers.Headers
  // How the body was (or is being) read, and that read's promise: a second read of the same kind
  // shares it (as the platform's cached reads do); a read of another kind fails.
  private read: Read | undefined = undefined
  private body: Promise<unknown> | undefined = undefined
  private textValue: string | undefined = undefined
  private cookiesValue: Cookies.Cookies | undefined = undefined

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    readonly source: Dispatcher.ResponseData,
    readonly controller: AbortController
  ) {
    super()
    this.status = source.statusCode
    this.headers = Headers.fromInput(source.headers)
    // A body that errors with no reader (an aborted request) must not crash the process.
    source.body.on("error", noop)
    unread?.register(this, controller, this)
  }

  get cookies(): Cookies.Cookies {
    if (this.cookiesValue !== undefined) return this.cookiesValue
    const header = this.source.headers["set-cookie"]
    return this.cookiesValue = header === undefined
      ? Cookies.empty
      : Cookies.fromSetCookie(Array.isArray(header) ? header : [header])
  }

  get remoteAddress(): Option.Option<string> {
    return Option.none()
  }

  private fail(cause: unknown): HttpClientError.ResponseError {
    return new HttpClientError.ResponseError({ request: this.request, response: this, reason: "Decode", cause })
  }

  // Claims the body for a read of `kind`: undefined when it may go ahead, else why not.
  private claim(kind: Read): HttpClientError.ResponseError | undefined {
    if (this.read === undefined) {
      this.read = kind
      unread?.unregister(this)
      return undefined
    }
    if (this.read === kind && kind !== "stream") return undefined
    return this.fail(new Error(`The response body was already read (as ${this.read}); it can be read once.`))
  }

  // One body read: one promise (shared by a second read of the same kind), one resumption, and an
  // interruption that aborts the request.
  private consume<B, A>(kind: Read, start: () => Promise<B>, map: (b: B) => A): Effect.Effect<A, HttpClientError.ResponseError> {
    return Effect.async<A, HttpClientError.ResponseError>((resume) => {
      const refused = this.claim(kind)
      if (refused !== undefined) return resume(Effect.fail(refused))
      // The abort ends the read itself, whether or not the dispatcher heeds it (one of the
      // user's that never hands undici its abort, say).
      const signal = this.controller.signal
      let settled = false
      const settle = (effect: Effect.Effect<A, HttpClientError.ResponseError>) => {
        if (settled) return
        settled = true
        signal.removeEventListener("abort", onAbort)
        resume(effect)
      }
      const onAbort = () => settle(Effect.fail(this.fail(signal.reason)))
      if (signal.aborted) return onAbort()
      signal.addEventListener("abort", onAbort, { once: true })
      const body = (this.body ??= start()) as Promise<B>
      body.then(
        (b) => {
          let a: A
          try {
            a = map(b)
          } catch (cause) {
            return settle(Effect.fail(this.fail(cause)))
          }
          settle(Effect.succeed(a))
        },
        (cause) => settle(Effect.fail(this.fail(cause)))
      )
      return Effect.sync(() => this.controller.abort())
    })
  }

  private readText(): Promise<string> {
    return this.source.body.text().then((text) => this.textValue = text)
  }

  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return this.consume("text", () => this.readText(), identity)
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return this.consume("text", () => this.readText(), parseJson)
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return this.consume("text", () => this.readText(), parseUrlParams)
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return this.consume("arrayBuffer", () => this.source.body.arrayBuffer(), identity)
  }

  // undici's `body.formData()` is not implemented (it rejects with NotSupportedError): the bytes
  // are parsed by the runtime's own `Response`, under the response's content type.
  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return this.consume("formData", () =>
      this.source.body.arrayBuffer().then((bytes) => {
        const type = this.headers["content-type"]
        return new Response(bytes, type === undefined ? {} : { headers: { "content-type": type } }).formData()
      }), identity)
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return Stream.suspend(() => {
      const refused = this.claim("stream")
      if (refused !== undefined) return Stream.fail(refused)
      // `fromReadable` destroys the body when the stream ends early, which aborts undici's request;
      // the abort covers an interruption before the body was ever pulled.
      const signal = this.controller.signal
      const aborted = Effect.async<never, HttpClientError.ResponseError>((resume) => {
        const onAbort = () => resume(Effect.fail(this.fail(signal.reason)))
        if (signal.aborted) return onAbort()
        signal.addEventListener("abort", onAbort, { once: true })
        return Effect.sync(() => signal.removeEventListener("abort", onAbort))
      })
      return Stream.ensuring(
        Stream.interruptWhen(
          NodeStream.fromReadable<HttpClientError.ResponseError, Uint8Array>(() => this.source.body, (cause) => this.fail(cause)),
          aborted
        ),
        Effect.sync(() => this.controller.abort())
      )
    })
  }

  toJSON(): unknown {
    // The body is shown only when a read already holds it: inspecting a response must not read it.
    return {
      _id: "@effect/platform/HttpClientResponse",
      request: this.request.toJSON(),
      status: this.status,
      headers: Inspectable.redact(this.headers),
      remoteAddress: this.remoteAddress.toJSON(),
      ...(this.textValue === undefined ? {} : { body: this.textValue })
    }
  }
}

const identity = <A>(a: A): A => a
const parseJson = (text: string): unknown => text === "" ? null : JSON.parse(text)
const parseUrlParams = (text: string): UrlParams.UrlParams => UrlParams.fromInput(new URLSearchParams(text))

type Body = Exclude<Dispatcher.DispatchOptions["body"], undefined>

// The request body as undici takes it, as the platform converts it (a stream body is converted
// by `execute`: that takes an Effect).
const bodyOf = (body: Exclude<HttpBody.HttpBody, HttpBody.Stream>): Body => {
  switch (body._tag) {
    case "Empty":
      return null
    case "Uint8Array":
    case "Raw":
      return body.body as Body
    case "FormData":
      return undiciFormData(body.formData)
  }
}

// undici encodes only its own FormData: the runtime's (Node 20's global one, from the undici copy
// bundled in Node) fails part-way through the send ("action is not a function"), as it does
// through the platform's client. Its entries are copied into one of undici's, files keeping their
// names.
const undiciFormData = (form: FormData): UndiciFormData => {
  if (form instanceof UndiciFormData) return form
  const copy = new UndiciFormData()
  form.forEach((value, name) => {
    if (typeof value === "string") copy.append(name, value)
    else copy.append(name, value, value.name)
  })
  return copy
}

const send = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  dispatcher: Dispatcher,
  request: HttpClientRequest.HttpClientRequest,
  url: URL,
  body: Body,
  options: Dispatcher.RequestOptions | undefined
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError> =>
  Effect.async<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError>((resume) => {
    const controller = new AbortController()
    const settle = attemptTimer.once(resume)
    const failed = (cause: unknown) =>
      settle(Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause })))
    // The attempt's timer (the stack's per-attempt timeout) ends the send and every body read:
    // the send here, whether or not the dispatcher heeds the abort.
    attemptTimer.register(fiber, () => {
      controller.abort()
      failed(controller.signal.reason)
    })
    try {
      dispatcher.request({
        ...options,
        signal: controller.signal,
        method: request.method,
        headers: request.headers,
        origin: url.origin,
        // Without the fragment, which HTTP keeps on the client's side (the platform's client sends it).
        path: url.pathname + url.search,
        body,
        headersTimeout,
        bodyTimeout
      }, (error, data) => {
        if (error !== null) failed(error)
        else settle(Effect.succeed(new UndiciResponse(request, data, controller)))
      })
    } catch (cause) {
      // A dispatcher of the user's that throws rather than calling back.
      failed(cause)
    }
    return Effect.sync(() => controller.abort())
  })

const execute = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  dispatcher: Dispatcher | undefined,
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError> => {
  const url = UrlParams.makeUrl(request.url, request.urlParams, request.hash)
  if (url._tag === "Left") {
    return Effect.fail(new HttpClientError.RequestError({ request, reason: "InvalidUrl", cause: url.left }))
  }
  // The global dispatcher is looked up per request, as Node's fetch does, so that
  // `setGlobalDispatcher` (a proxy agent, say) applies to requests already built.
  const to = dispatcher ?? getGlobalDispatcher()
  const options = fiber.currentContext.unsafeMap.get(optionsKey) as Dispatcher.RequestOptions | undefined
  return request.body._tag === "Stream"
    ? Effect.flatMap(NodeStream.toReadable(request.body.stream), (readable) => send(fiber, to, request, url.right, readable, options))
    : send(fiber, to, request, url.right, bodyOf(request.body), options)
}

/**
 * The client, marked as one whose every wait ends when the attempt's timer aborts its request, so
 * that the stack bounds an attempt over it without a fiber (./attemptTimer.ts).
 * @internal
 */
export const make = (dispatcher?: Dispatcher): HttpClient.HttpClient =>
  attemptTimer.cooperating(HttpClient.makeWith(
    (effect: Effect.Effect<HttpClientRequest.HttpClientRequest>) =>
      Effect.flatMap(effect, (request) =>
        Effect.withFiberRuntime<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError>((fiber) =>
          execute(fiber, dispatcher, request)
        )),
    Effect.succeed
  ))

/** @internal */
export const layer: Layer.Layer<HttpClient.HttpClient> = Layer.sync(HttpClient.HttpClient, () => make())

/** @internal */
export const layerDispatcher = (dispatcher: Dispatcher): Layer.Layer<HttpClient.HttpClient> =>
  Layer.sync(HttpClient.HttpClient, () => make(dispatcher))
