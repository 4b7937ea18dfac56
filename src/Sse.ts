/**
 * Server-sent events framing: a byte stream in, `Sse.Event`s out.
 *
 * Why not `@effect/experimental/Sse`: its parser (0.61) works on already decoded strings, checks
 * the BOM against byte values on a string (so never strips it), drops a final event that has no
 * trailing blank line, loses a CRLF split across two chunks (the LF is read as a blank line and
 * dispatches the event early), turns `retry:` into a sleep-and-resubscribe, and reports no byte
 * counts. This parser works on bytes, so chunk boundaries anywhere (even inside a multi-byte UTF-8
 * character) are harmless, and every event carries the byte offset reached, which a client reports
 * when a stream is cut.
 *
 * Follows the WHATWG event-stream grammar: LF, CR and CRLF line ends; `:` comment lines; `data`
 * lines joined with `\n`; `event` (default `"message"`); `id` (kept until changed); `retry`
 * (digits only); other field names ignored; a leading UTF-8 BOM stripped. `[DONE]` is just the
 * `data` of an event: the consumer decides what it means.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as internal from "./internal/sse.js"
import type * as OpenAiError from "./OpenAiError.js"

/**
 * One dispatched server-sent event.
 *
 * @example
 * ```ts
 * import { Sse } from "effect-openai-resilience"
 *
 * const isDone = (event: Sse.Event) => event.data === "[DONE]"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Event {
  /** The `event:` field, or `"message"` when the event had none. */
  readonly event: string
  /** The `data:` lines joined with `"\n"`. */
  readonly data: string
  /** The last `id:` seen in the stream so far (the spec's "last event ID"), if any. */
  readonly id: string | undefined
  /** The last valid `retry:` (milliseconds) seen in the stream so far, if any. */
  readonly retry: number | undefined
  /** 0-based position of this event among the events of the stream. */
  readonly index: number
  /** Bytes of the stream consumed when this event was dispatched (just past its blank line). */
  readonly offset: number
  /**
   * `false` only for a last event flushed at the end of input without its terminating blank line
   * (the server closed the stream mid-event, or does not send the final blank line).
   */
  readonly complete: boolean
}

/**
 * How much of a stream was seen. Updated in place by {@link decode} as bytes arrive, so a client
 * can say how much it received when the stream fails.
 *
 * @example
 * ```ts
 * import { Sse } from "effect-openai-resilience"
 *
 * const progress = Sse.makeProgress()
 * // ... Sse.decode(bytes, { progress }) ...
 * const received = `${progress.bytes} bytes, ${progress.events} events`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Progress {
  /** Bytes received from the upstream byte stream. */
  bytes: number
  /** Events dispatched. */
  events: number
}

/**
 * A fresh {@link Progress} at zero.
 *
 * @example
 * ```ts
 * import { Sse } from "effect-openai-resilience"
 *
 * const progress = Sse.makeProgress() // { bytes: 0, events: 0 }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeProgress = (): Progress => ({ bytes: 0, events: 0 })

/**
 * Options of {@link decode} and {@link makeParser}.
 *
 * @example
 * ```ts
 * import { Sse } from "effect-openai-resilience"
 *
 * const options: Sse.DecodeOptions = { maxEventSize: 1024 * 1024, progress: Sse.makeProgress() }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodeOptions {
  /**
   * The largest event (its pending bytes) kept in memory before failing with a
   * `ResponseDecodeError`. Default 16 MiB.
   */
  readonly maxEventSize?: number | undefined
  /** Updated in place with the bytes and events seen (see {@link Progress}). */
  readonly progress?: Progress | undefined
  /**
   * Strings to scrub from the excerpt an oversized event's error keeps, besides anything shaped
   * like a key (the API key in use).
   */
  readonly secrets?: ReadonlyArray<string> | undefined
}

/**
 * The default {@link DecodeOptions.maxEventSize}: 16 MiB.
 *
 * @example
 * ```ts
 * import { Sse } from "effect-openai-resilience"
 *
 * const generous = Sse.makeParser({ maxEventSize: 4 * Sse.defaultMaxEventSize })
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxEventSize: number = internal.defaultMaxEventSize

/**
 * An incremental, synchronous event-stream parser: feed it bytes, get events. {@link decode} wraps
 * it as a `Stream` transformation; use it directly outside Effect (a mock server's own checks).
 *
 * @example
 * ```ts
 * import { Sse } from "effect-openai-resilience"
 *
 * const parser = Sse.makeParser()
 * const events = [
 *   ...parser.feed(new TextEncoder().encode("data: a\n\nda")),
 *   ...parser.feed(new TextEncoder().encode("ta: b\n")),
 *   ...parser.end()
 * ]
 * // events.map((e) => e.data) => ["a", "b"]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Parser {
  /** Consumes a chunk and returns the events it completed; fails with an `EventTooLarge`. */
  feed(chunk: Uint8Array): Array<Event>
  /** Ends the input: a pending line is processed and a pending event dispatched (`complete: false`). */
  end(): Array<Event>
  /** Bytes fed so far. */
  readonly bytes: number
  /** Events dispatched so far. */
  readonly events: number
  /** The bytes of the event being assembled (for error excerpts). */
  readonly pending: string
}

/**
 * Thrown by {@link Parser.feed} when an event outgrows `maxEventSize`; {@link decode} turns it into
 * a `ResponseDecodeError`.
 *
 * @example
 * ```ts
 * import { Sse } from "effect-openai-resilience"
 *
 * const parser = Sse.makeParser({ maxEventSize: 4 })
 * try {
 *   parser.feed(new TextEncoder().encode("data: too long"))
 * } catch (e) {
 *   if (e instanceof Sse.EventTooLarge) console.log(e.maxEventSize)
 * }
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export interface EventTooLarge extends Error {
  /** The limit that was exceeded, in bytes. */
  readonly maxEventSize: number
  /** The head of the event, bounded and scrubbed of secrets. */
  readonly excerpt: string
}

/**
 * The constructor of {@link EventTooLarge} (for `instanceof`).
 *
 * @example
 * ```ts
 * import { Sse } from "effect-openai-resilience"
 *
 * const isTooLarge = (e: unknown): e is Sse.EventTooLarge => e instanceof Sse.EventTooLarge
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export const EventTooLarge: new(maxEventSize: number, excerpt: string) => EventTooLarge = internal.EventTooLarge

/**
 * Creates a {@link Parser}.
 *
 * @example
 * ```ts
 * import { Sse } from "effect-openai-resilience"
 *
 * const parser = Sse.makeParser({ maxEventSize: 1024 * 1024 })
 * const [event] = parser.feed(new TextEncoder().encode("event: ping\r\ndata: 1\r\n\r\n"))
 * // event?.event === "ping", event?.data === "1"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeParser: (options?: Pick<DecodeOptions, "maxEventSize" | "secrets">) => Parser = internal.makeParser

/**
 * The `ResponseDecodeError` that {@link decode} fails with for an {@link EventTooLarge}, saying how
 * far the stream got: for callers that drive a {@link Parser} themselves.
 *
 * @example
 * ```ts
 * import { Sse } from "effect-openai-resilience"
 *
 * const parser = Sse.makeParser({ maxEventSize: 4 })
 * try {
 *   parser.feed(new TextEncoder().encode("data: too long"))
 * } catch (e) {
 *   if (e instanceof Sse.EventTooLarge) {
 *     const error = Sse.tooLargeError(e, { bytes: parser.bytes, events: parser.events })
 *   }
 * }
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export const tooLargeError: (e: EventTooLarge, progress: Progress) => OpenAiError.ResponseDecodeError =
  internal.tooLargeError

/**
 * Frames a byte stream as server-sent events. Upstream errors pass through unchanged (the
 * {@link Progress} says how far the stream got); an event larger than `maxEventSize` fails with a
 * `ResponseDecodeError`. When the input ends, a pending event without its final blank line is
 * still emitted, with `complete: false`.
 *
 * @example
 * ```ts
 * import { Sse } from "effect-openai-resilience"
 * import { Effect, Stream } from "effect"
 *
 * const bytes = Stream.make(new TextEncoder().encode("data: {\"a\":1}\n\ndata: [DONE]\n\n"))
 * const program = bytes.pipe(
 *   Sse.decode(),
 *   Stream.takeWhile((event) => event.data !== "[DONE]"),
 *   Stream.map((event) => JSON.parse(event.data) as unknown),
 *   Stream.runCollect
 * )
 * Effect.runPromise(program)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const decode: {
  (
    options?: DecodeOptions
  ): <E, R>(self: Stream.Stream<Uint8Array, E, R>) => Stream.Stream<Event, E | OpenAiError.ResponseDecodeError, R>
  <E, R>(
    self: Stream.Stream<Uint8Array, E, R>,
    options?: DecodeOptions
  ): Stream.Stream<Event, E | OpenAiError.ResponseDecodeError, R>
} = dual(
  (args) => Stream.StreamTypeId in Object(args[0]),
  internal.decode
)

/**
 * Frames a stream of text (already decoded) as server-sent events; see {@link decode}.
 *
 * @example
 * ```ts
 * import { Sse } from "effect-openai-resilience"
 * import { Stream } from "effect"
 *
 * const events = Stream.make("event: ping\n", "data: 1\n\n").pipe(Sse.decodeText())
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const decodeText = (options?: DecodeOptions) =>
<E, R>(self: Stream.Stream<string, E, R>): Stream.Stream<Event, E | OpenAiError.ResponseDecodeError, R> =>
  decode(Stream.encodeText(self), options)

/**
 * Frames a complete body held in memory (a recorded stream, a test fixture) as events.
 *
 * @example
 * ```ts
 * import { Sse } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const events = Effect.runSync(Sse.parseAll("data: a\n\ndata: b\n\n"))
 * // events.map((e) => e.data) => ["a", "b"]
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseAll: (
  body: string | Uint8Array,
  options?: Pick<DecodeOptions, "maxEventSize" | "secrets">
) => Effect.Effect<Array<Event>, OpenAiError.ResponseDecodeError> = internal.parseAll

/**
 * Writes an event in the wire format (`id`, `event`, `retry`, one `data:` line per line of data,
 * then a blank line). The inverse of {@link decode}, for mock servers and tests.
 *
 * @example
 * ```ts
 * import { Sse } from "effect-openai-resilience"
 *
 * Sse.encode({ data: "[DONE]" }) // "data: [DONE]\n\n"
 * Sse.encode({ event: "error", data: "{}" }) // "event: error\ndata: {}\n\n"
 * ```
 *
 * @since 0.1.0
 * @category encoding
 */
export const encode: (event: {
  readonly data: string
  readonly event?: string | undefined
  readonly id?: string | undefined
  readonly retry?: number | undefined
}) => string = internal.encode

/**
 * Whether an event is the `[DONE]` sentinel that ends a chat completions stream.
 *
 * @example
 * ```ts
 * import { Sse } from "effect-openai-resilience"
 * import { Stream } from "effect"
 *
 * const untilDone = <E, R>(events: Stream.Stream<Sse.Event, E, R>) =>
 *   events.pipe(Stream.takeWhile((e) => !Sse.isDone(e)))
 * ```
 *
 * @since 0.1.0
 * @category predicates
 */
export const isDone = (event: Event): boolean => event.data === "[DONE]"

/**
 * The last event id of a list of events, if any (for `Last-Event-ID` on a reconnect).
 *
 * @example
 * ```ts
 * import { Sse } from "effect-openai-resilience"
 * import { Effect, Option } from "effect"
 *
 * const id = Sse.lastEventId(Effect.runSync(Sse.parseAll("id: 7\ndata: x\n\n"))) // Option.some("7")
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const lastEventId = (events: ReadonlyArray<Event>): Option.Option<string> =>
  Option.fromNullable(events[events.length - 1]?.id)
