/**
 * What a streaming call does with a response inside its attempt: turn the body into decoded
 * elements (bytes, bounded by the idle timeout ▸ SSE events ▸ elements; an error event is the
 * typed error; an end without `[DONE]` or a terminal event is a cut) and pull until the first
 * element, so that a stream failing before anything reached the caller is retried as a unit.
 * @internal
 */
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as ParseResult from "effect/ParseResult"
import type * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Classify from "../Classify.js"
import * as Decode from "../Decode.js"
import * as OpenAiError from "../OpenAiError.js"
import * as ChatCompletionChunk from "../Schemas/ChatCompletionChunk.js"
import * as Responses from "../Schemas/Responses.js"
import * as Sse from "../Sse.js"
import { type ConsumeContext, withRequestId } from "./consume.js"
import { pageTitle } from "./html.js"
import * as middleware from "./httpMiddleware.js"
import { bound, scrub } from "./secrets.js"
import { timeoutWith } from "./timeout.js"
import { decodeEither } from "./validate.js"

type Failure = OpenAiError.OpenAiError

/** What a stream consumer needs: the secrets to scrub and the longest silence allowed. */
export interface StreamContext extends ConsumeContext {
  readonly idle: Duration.Duration
}

/** How a stream's events map to elements: what is an error, what ends it. */
export interface StreamSpec<A, I> {
  readonly schema: Schema.Schema<A, I, never>
  /** The schema's decoder, built once with the spec (compiling a union's fast check is not free). */
  readonly decode: (input: unknown) => Either.Either<A, ParseResult.ParseError>
  readonly isError: (json: unknown) => boolean
  /** An element after which the stream is complete (emitted, then the stream ends). */
  readonly isLast: (a: A) => boolean
}

/** Chat Completions chunks: an `error` member is an error event; `[DONE]` ends the stream. */
export const chatSpec: StreamSpec<
  ChatCompletionChunk.ChatCompletionChunk,
  typeof ChatCompletionChunk.ChatCompletionChunk.Encoded
> = {
  schema: ChatCompletionChunk.ChatCompletionChunk,
  decode: decodeEither(ChatCompletionChunk.ChatCompletionChunk, Decode.defaultParseOptions),
  isError: (json) => Predicate.isRecord(json) && json.error !== undefined && json.error !== null,
  isLast: () => false
}

/** Responses API events: `error` and `response.failed` are errors; a terminal event ends it. */
export const responsesSpec: StreamSpec<Responses.ResponseStreamEvent, typeof Responses.ResponseStreamEvent.Encoded> = {
  schema: Responses.ResponseStreamEvent,
  decode: decodeEither(Responses.ResponseStreamEvent, Decode.defaultParseOptions),
  isError: (json) =>
    Predicate.isRecord(json) &&
    (json.type === "error" || json.type === "response.failed" ||
      (json.type === undefined && json.error !== undefined && json.error !== null)),
  isLast: Responses.isTerminalEvent
}

/** Pulls a stream's elements a chunk at a time; `None` ends it. */
export type Pull<A> = Effect.Effect<Chunk.Chunk<A>, Option.Option<Failure>>

/**
 * One response's elements, as a pull over the response's bytes. Each pull reads a chunk of bytes
 * (bounded by the idle timeout) and frames, decodes and checks the end-of-stream rules for the
 * whole chunk synchronously, giving its elements as one `Chunk`: no stream stage runs per event,
 * and no channel sits between the bytes and the caller (each stage costs an effect per chunk and,
 * worse, keeps the chunks it passed on alive through young-generation collections).
 */
export const pullElements = <A, I>(
  response: HttpClientResponse.HttpClientResponse,
  spec: StreamSpec<A, I>,
  context: StreamContext
): Effect.Effect<Pull<A>, never, Scope.Scope> =>
  Effect.flatMap(Effect.clock, (clock) => {
    const { idle, secrets } = context
    const parser = Sse.makeParser({ secrets })
    const requestId = middleware.requestId(response)
    const decodeOptions: Decode.DecodeOptions = {
      status: response.status,
      requestId: Option.getOrUndefined(requestId),
      secrets
    }
    const decodeValue = spec.decode
    const received = () => ({ events: parser.events, bytes: parser.bytes })
    const failure = (e: Failure) => withRequestId(e, requestId)
    const streamError = (data: unknown) =>
      failure(Classify.classifyStreamError(data, {
        headers: response.headers,
        now: clock.unsafeCurrentTimeMillis(),
        secrets
      }))
    const cut = () =>
      failure(Classify.classifyTransportError(new Error("The server closed the stream before it was complete"), {
        received: received()
      }))

    // What the events of one chunk of bytes give: elements into `out`, and whether the stream is
    // over (`[DONE]` or a terminal element); a failure is returned, the first one ends it.
    let finished = false
    const take = (events: ReadonlyArray<Sse.Event>, out: Array<A>): Failure | undefined => {
      for (let i = 0; i < events.length && !finished; i++) {
        const event = events[i] as Sse.Event
        if (event.data === "[DONE]") {
          finished = true
          return undefined
        }
        if (event.event === "error") return streamError(event.data)
        if (event.data.length === 0) continue
        let json: unknown
        try {
          json = JSON.parse(event.data)
        } catch (cause) {
          // The input ended inside this event (no blank line after it) and what came is not
          // whole: the server was cut off, which a retry can mend. A whole last event without
          // its blank line (recorded streams end so) is still read.
          return event.complete ? failure(Decode.fromJsonError(event.data, cause, decodeOptions)) : cut()
        }
        if (spec.isError(json)) return streamError(json)
        const value = decodeValue(json)
        if (Either.isLeft(value)) return failure(Decode.fromParseError(value.left, json, { ...decodeOptions, body: event.data }))
        out.push(value.right)
        if (spec.isLast(value.right)) finished = true
      }
      return undefined
    }

    // The idle timeout bounds each pull of the body (`Stream.timeoutFail` races two new fibers
    // per pull; this takes one, started at once).
    const idleError = (): Option.Option<unknown> =>
      Option.some(
        new OpenAiError.TimeoutError({
          message: `No data arrived for ${Duration.format(idle)} after ${parser.events} event(s) and ${parser.bytes} byte(s)`,
          phase: "idle",
          timeout: idle
        })
      )
    const ended: Pull<A> = Effect.fail(Option.none())
    // Set once the stream is over: the elements before a failure or the end are given first, and
    // the next pull gets this.
    let next: Pull<A> | undefined
    const give = (out: Array<A>, error: Failure | undefined, more: Pull<A>): Pull<A> => {
      if (error !== undefined) next = Effect.fail(Option.some(error))
      else if (finished) next = ended
      if (out.length > 0) return Effect.succeed(Chunk.unsafeFromArray(out))
      return next ?? more
    }

    return Effect.map(Stream.toPull(response.stream), (upstream) => {
      const bytes = timeoutWith<Chunk.Chunk<Uint8Array>, Option.Option<unknown>, never, Option.Option<unknown>>(
        upstream,
        idle,
        idleError
      )
      const onInput = (input: Chunk.Chunk<Uint8Array>): Pull<A> => {
        const out: Array<A> = []
        let error: Failure | undefined
        try {
          for (const chunk of input) {
            error = take(parser.feed(chunk), out)
            if (error !== undefined || finished) break
          }
        } catch (e) {
          if (!(e instanceof Sse.EventTooLarge)) throw e
          error = failure(Sse.tooLargeError(e, received()))
        }
        return give(out, error, pull)
      }
      const onEnd = (): Pull<A> => {
        const out: Array<A> = []
        const error = take(parser.end(), out)
        return give(out, error ?? (finished ? undefined : cut()), ended)
      }
      const onFailure = (cause: Cause.Cause<Option.Option<unknown>>): Pull<A> =>
        Cause.isFailType(cause) && Option.isNone(cause.error)
          ? onEnd()
          : Effect.failCause(Cause.map(cause, Option.map((e) =>
            failure(OpenAiError.isOpenAiError(e) ? e : middleware.transportError(e, { received: received() }))
          )))
      const pull: Pull<A> = Effect.suspend(() =>
        next ?? Effect.matchCauseEffect(bytes, { onFailure, onSuccess: onInput })
      )
      return pull
    })
  })

/**
 * A stream whose first element has arrived: that element, the rest to pull, and the scope that
 * holds the response (closed by whoever takes the stream).
 */
export interface Opened<A> {
  readonly first: Chunk.Chunk<A>
  readonly ended: boolean
  readonly pull: Pull<A>
  readonly scope: Scope.CloseableScope
}

const pullFirst = <A>(
  pull: Pull<A>
): Effect.Effect<{ readonly first: Chunk.Chunk<A>; readonly ended: boolean }, Failure> =>
  Effect.matchEffect(pull, {
    onFailure: (e) => Option.isNone(e) ? Effect.succeed({ first: Chunk.empty<A>(), ended: true }) : Effect.fail(e.value),
    onSuccess: (chunk) => Chunk.isEmpty(chunk) ? pullFirst(pull) : Effect.succeed({ first: chunk, ended: false })
  })

const contentType = (response: HttpClientResponse.HttpClientResponse) =>
  (response.headers["content-type"] ?? "").toLowerCase()

// A 2xx JSON body where an event stream was asked for: a proxy or compatible server reporting
// an error with a 200, or a server that ignored `stream: true`. An error payload is the typed
// error; anything else is a decode error saying what came instead.
const notAStream = (
  response: HttpClientResponse.HttpClientResponse,
  context: ConsumeContext
): Effect.Effect<never, Failure> =>
  Effect.flatMap(
    Effect.zip(middleware.readBounded(response, middleware.MAX_ERROR_BODY_BYTES), Clock.currentTimeMillis),
    ([bytes, now]) => {
      const text = new TextDecoder().decode(bytes)
      let json: unknown = undefined
      try {
        json = JSON.parse(text)
      } catch {
        // not JSON after all: reported below
      }
      if (Option.isSome(Classify.errorPayload(json))) {
        return Effect.fail(Classify.classifyStreamError(json, { headers: response.headers, now, secrets: context.secrets }))
      }
      return Effect.fail(
        new OpenAiError.ResponseDecodeError({
          message: "Expected an event stream (text/event-stream) but the server sent a JSON body",
          path: "",
          issue: "the response is application/json, not text/event-stream: the server may not support streaming",
          body: bound(scrub(text, context.secrets), 1000),
          status: Option.some(response.status),
          requestId: middleware.requestId(response)
        })
      )
    }
  )

// A 2xx HTML page where an event stream was asked for: a proxy's login or error page. Not a
// cut connection (which would be retried): the same request would get the same page.
const htmlNotAStream = (
  response: HttpClientResponse.HttpClientResponse,
  context: ConsumeContext
): Effect.Effect<never, Failure> =>
  Effect.flatMap(middleware.readBounded(response, middleware.MAX_ERROR_BODY_BYTES), (bytes) => {
    const text = new TextDecoder().decode(bytes)
    const title = pageTitle(text)
    return Effect.fail(
      new OpenAiError.ResponseDecodeError({
        message: `Expected an event stream (text/event-stream) but the server sent an HTML page${
          title ? ` ("${bound(scrub(title, context.secrets), 120)}")` : ""
        }: probably a proxy or a wrong base URL`,
        path: "",
        issue: "the response is text/html, not text/event-stream",
        body: bound(scrub(text, context.secrets), 1000),
        status: Option.some(response.status),
        requestId: middleware.requestId(response)
      })
    )
  })

/**
 * The stream consumer of an attempt: a JSON or HTML body is the failure it carries; otherwise the
 * elements are pulled until the first one. The response lives in a scope of its own, closed here
 * on failure and by the caller on success.
 */
export const openFirst = <A, I>(spec: StreamSpec<A, I>, context: StreamContext) =>
(response: HttpClientResponse.HttpClientResponse): Effect.Effect<Opened<A>, Failure> =>
  Effect.flatMap(Scope.make(), (scope) =>
    Effect.gen(function*() {
      const type = contentType(response)
      if (type.includes("application/json")) return yield* notAStream(response, context)
      if (type.includes("text/html")) return yield* htmlNotAStream(response, context)
      const pull = yield* Scope.extend(pullElements(response, spec, context), scope)
      const { ended, first } = yield* pullFirst(pull)
      return { first, ended, pull, scope }
    }).pipe(Effect.onExit((exit) => Exit.isFailure(exit) ? Scope.close(scope, exit) : Effect.void)))

/** The stream an {@link Opened} stands for: its first element, then the rest. */
export const toStream = <A>(opened: Opened<A>): Stream.Stream<A, Failure> =>
  opened.ended
    ? Stream.fromChunk(opened.first)
    : Stream.concat(Stream.fromChunk(opened.first), Stream.repeatEffectChunkOption(opened.pull))
