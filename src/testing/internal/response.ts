/**
 * The in-memory response both test clients serve: the mock-backed `MockHttpClient` and the
 * step-script `ScriptedHttpClient`. It behaves as `HttpClientResponse.fromWeb(request, new
 * Response(...))` does, without a web `Response` (its streams cost tens of microseconds per
 * request, several milliseconds under load), and its pauses sleep on the Effect clock, so
 * `TestClock` drives a slow body.
 *
 * @internal
 */
import * as Cookies from "@effect/platform/Cookies"
import * as Headers from "@effect/platform/Headers"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { concat } from "../../internal/bytes.js"

/** A piece of a body: bytes, a pause on the Effect clock, or a cut (the body fails with `cause`). @internal */
export type BodyPart =
  | Uint8Array
  | { readonly _tag: "Pause"; readonly duration: Duration.DurationInput }
  | { readonly _tag: "Cut"; readonly cause: unknown }

/** What a response needs: `body` is `null` for a response without one (204, 304). @internal */
export interface Init {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: ReadonlyArray<BodyPart> | null
  /** Told the size of every chunk of bytes the reader pulls. */
  readonly onPull?: ((bytes: number) => void) | undefined
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
const noPull = (_bytes: number): void => {}

/**
 * A response served from memory. The body can be consumed once, as a web body can: `text` and
 * `arrayBuffer` are cached, any other second read fails with the `ResponseError` (reason "Decode")
 * a web body gives. `formData`, which no test client is asked for, goes through a web `Response`.
 *
 * @internal
 */
class InMemoryResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly status: number
  private consumed = false
  private readonly rawHeaders: Readonly<Record<string, string>>
  private readonly body: ReadonlyArray<BodyPart> | null
  private readonly onPull: (bytes: number) => void
  /** The whole body when it has neither pause nor cut: read at once, synchronously. */
  private readonly whole: Uint8Array | undefined

  constructor(readonly request: HttpClientRequest.HttpClientRequest, init: Init) {
    super()
    this.status = init.status
    this.rawHeaders = init.headers
    this.body = init.body
    this.onPull = init.onPull ?? noPull
    this.whole = init.body !== null && init.body.every((part) => part instanceof Uint8Array)
      ? concat(init.body as ReadonlyArray<Uint8Array>)
      : undefined
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

  /** Marks the body read, once: a web body that was read is unusable. */
  private take(): Effect.Effect<void, HttpClientError.ResponseError> {
    return Effect.suspend(() => {
      if (this.consumed) {
        return Effect.fail(this.decodeError(new TypeError("Body is unusable: Body has already been read")))
      }
      this.consumed = true
      return Effect.void
    })
  }

  // One part as it is read: a chunk (reported to `onPull`), nothing after a pause, or the cut.
  private read(part: BodyPart): Effect.Effect<Uint8Array | undefined, HttpClientError.ResponseError> {
    if (part instanceof Uint8Array) {
      return Effect.sync(() => {
        this.onPull(part.length)
        return part
      })
    }
    if (part._tag === "Pause") {
      return Duration.isZero(Duration.decode(part.duration))
        ? Effect.succeed(undefined)
        : Effect.as(Effect.sleep(part.duration), undefined)
    }
    return Effect.fail(this.decodeError(part.cause))
  }

  // The chunks in order; each is a copy, as a web body's is (the same bytes may be served again),
  // and an empty one is left out, as a web body leaves it.
  private chunks(body: ReadonlyArray<BodyPart>): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return Stream.fromIterable(body).pipe(
      Stream.mapEffect((part) => this.read(part)),
      Stream.filterMap((bytes) => bytes === undefined || bytes.length === 0 ? Option.none() : Option.some(bytes.slice()))
    )
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    const body = this.body
    if (body === null) {
      return Stream.fail(
        new HttpClientError.ResponseError({
          request: this.request,
          response: this,
          reason: "EmptyBody",
          description: "can not create stream from empty body"
        })
      )
    }
    return Stream.unwrap(Effect.as(this.take(), this.chunks(body)))
  }

  /**
   * The whole body, read once. A plain loop rather than `Stream.runCollect`, whose fiber would log
   * "Fiber terminated with an unhandled error" (with the request's URL) for every cut body.
   */
  private bytes(): Effect.Effect<Uint8Array, HttpClientError.ResponseError> {
    const { body, whole } = this
    if (body === null) return Effect.as(this.take(), new Uint8Array())
    if (whole !== undefined) {
      return Effect.zipRight(
        this.take(),
        Effect.sync(() => {
          this.onPull(whole.length)
          return whole
        })
      )
    }
    return Effect.suspend(() => {
      const read: Array<Uint8Array> = []
      return this.take().pipe(
        Effect.zipRight(Effect.forEach(body, (part) =>
          Effect.map(this.read(part), (bytes) => {
            if (bytes !== undefined) read.push(bytes)
          }), { discard: true })),
        Effect.map(() => concat(read))
      )
    })
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.tryMap(this.text, {
      try: (text) => text === "" ? null : JSON.parse(text) as unknown,
      catch: (cause) => this.decodeError(cause)
    })
  }

  private textBody?: Effect.Effect<string, HttpClientError.ResponseError>
  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return this.textBody ??= Effect.map(this.bytes(), (bytes) => decoder.decode(bytes)).pipe(Effect.cached, Effect.runSync)
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
    return this.formDataBody ??= Effect.flatMap(this.bytes(), (bytes) =>
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
      this.bytes(),
      (bytes) => bytes.slice().buffer as ArrayBuffer
    ).pipe(Effect.cached, Effect.runSync)
  }
}

// The statuses a web Response gives no body (a body for them is dropped, as a server drops it).
const nullBodyStatus = (status: number): boolean => status === 204 || status === 205 || status === 304

/**
 * A response served from memory. A status a web `Response` refuses (outside 200-599) throws the
 * `RangeError` it throws, so a test client fails on it as a real one would.
 *
 * @internal
 */
export const make = (request: HttpClientRequest.HttpClientRequest, init: Init): HttpClientResponse.HttpClientResponse => {
  if (init.status < 200 || init.status > 599) new Response(null, { status: init.status })
  return new InMemoryResponse(request, nullBodyStatus(init.status) ? { ...init, body: null } : init)
}
