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
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as OpenAiError from "./OpenAiError.js"
import { concat } from "./internal/bytes.js"
import { scrubHead } from "./internal/secrets.js"

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
export const defaultMaxEventSize = 16 * 1024 * 1024

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
export class EventTooLarge extends Error {
  constructor(readonly maxEventSize: number, readonly excerpt: string) {
    super(`A server-sent event exceeded the maximum size of ${maxEventSize} bytes`)
    this.name = "EventTooLarge"
  }
}

const LF = 0x0a
const CR = 0x0d
const COLON = 0x3a
const SPACE = 0x20

const DATA = 1
const EVENT = 2
const ID = 3
const RETRY = 4

// The field a line names, read from its bytes `buf[start, end)`; 0 for any other name.
const fieldOf = (buf: Uint8Array, start: number, end: number): number => {
  switch (end - start) {
    case 4:
      return buf[start] === 0x64 && buf[start + 1] === 0x61 && buf[start + 2] === 0x74 && buf[start + 3] === 0x61
        ? DATA
        : 0
    case 5:
      if (buf[start] === 0x65) {
        return buf[start + 1] === 0x76 && buf[start + 2] === 0x65 && buf[start + 3] === 0x6e && buf[start + 4] === 0x74
          ? EVENT
          : 0
      }
      return buf[start] === 0x72 && buf[start + 1] === 0x65 && buf[start + 2] === 0x74 && buf[start + 3] === 0x72 &&
          buf[start + 4] === 0x79
        ? RETRY
        : 0
    case 2:
      return buf[start] === 0x69 && buf[start + 1] === 0x64 ? ID : 0
    default:
      return 0
  }
}

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
export const makeParser = (options?: Pick<DecodeOptions, "maxEventSize" | "secrets">): Parser => {
  const maxEventSize = options?.maxEventSize ?? defaultMaxEventSize
  const secrets = options?.secrets ?? []
  // `fatal: false`: an invalid byte becomes U+FFFD rather than failing the whole stream; the JSON
  // decoder downstream reports a damaged payload with its path.
  const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true })

  let bytes = 0
  let events = 0
  let firstLine = true
  let skipLF = false // the previous chunk ended with CR: a leading LF belongs to that CRLF
  let partial: Array<Uint8Array> = [] // bytes of an unterminated line
  let partialLength = 0

  let data = ""
  let hasData = false
  let eventName: string | undefined
  let lastId: string | undefined
  let retry: number | undefined
  let eventSize = 0

  const dispatch = (out: Array<Event>, offset: number, complete: boolean): void => {
    if (hasData) {
      // An empty `event:` field is the default type too (the spec sets the type only when the
      // buffer is not empty).
      const event = eventName === undefined || eventName.length === 0 ? "message" : eventName
      out.push({ event, data, id: lastId, retry, index: events, offset, complete })
      events++
    }
    data = ""
    hasData = false
    eventName = undefined
    eventSize = 0
  }

  // One line, as the bytes `buf[start, end)` (no line end): the field is recognised on the bytes,
  // and only its value is decoded to text, sliced from `text` (the whole of `buf` decoded, when
  // each of its bytes is one character) or else decoded on its own.
  const line = (
    buf: Uint8Array,
    text: string | undefined,
    start: number,
    end: number,
    out: Array<Event>,
    offset: number
  ): void => {
    if (firstLine) {
      firstLine = false
      if (end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3
    }
    if (start === end) return dispatch(out, offset, true)
    if (buf[start] === COLON) return // comment
    // Known field names are at most 5 bytes: the colon is looked for that far only (a scan to
    // the line's end would make a body of long colon-less lines quadratic).
    let colon = -1
    const limit = Math.min(end, start + 6)
    for (let j = start; j < limit; j++) {
      if (buf[j] === COLON) {
        colon = j
        break
      }
    }
    if (colon === -1) {
      if (end - start > 5) return
      colon = end
    }
    let valueStart = colon + 1
    if (valueStart < end && buf[valueStart] === SPACE) valueStart++
    const field = fieldOf(buf, start, colon)
    if (field === 0) return
    if (field === EVENT) {
      eventName = eventNameOf(buf, valueStart, end)
      return
    }
    const value = valueStart >= end
      ? ""
      : text !== undefined
      ? text.slice(valueStart, end)
      : decoder.decode(buf.subarray(valueStart, end))
    switch (field) {
      case DATA: {
        data = hasData ? `${data}\n${value}` : value
        hasData = true
        return
      }
      case ID: {
        if (!value.includes("\u0000")) lastId = value
        return
      }
      case RETRY: {
        if (/^\d+$/.test(value)) retry = Number(value)
        return
      }
    }
  }

  // Streams repeat a few event names (`response.output_text.delta`): the last one's text is kept
  // and reused while the bytes are the same.
  let lastNameBytes = new Uint8Array(0)
  let lastName = ""
  const eventNameOf = (buf: Uint8Array, start: number, end: number): string => {
    const length = end - start
    if (length === lastNameBytes.length) {
      let same = true
      for (let i = 0; i < length; i++) {
        if (buf[start + i] !== lastNameBytes[i]) {
          same = false
          break
        }
      }
      if (same) return lastName
    }
    const name = decoder.decode(buf.subarray(start, end))
    // Only a short name is kept (a hostile one could be as large as an event).
    if (length <= 64) {
      lastNameBytes = buf.slice(start, end)
      lastName = name
    }
    return name
  }

  // The excerpt is read from the head of the event only, and copied (see `scrubHead`): the error
  // must neither cost nor keep alive the megabytes that made it.
  const tooLarge = (): never => {
    const head = data.length >= EXCERPT_SOURCE
      ? data.slice(0, EXCERPT_SOURCE)
      : data + new TextDecoder("utf-8", { fatal: false }).decode(headOf(partial, EXCERPT_SOURCE - data.length))
    const excerpt = scrubHead(head, 512, secrets)
    partial = []
    partialLength = 0
    data = ""
    hasData = false
    eventSize = 0
    throw new EventTooLarge(maxEventSize, excerpt)
  }

  const takeLine = (
    chunk: Uint8Array,
    text: string | undefined,
    start: number,
    end: number,
    out: Array<Event>,
    offset: number
  ): void => {
    if (partialLength === 0) return line(chunk, text, start, end, out, offset)
    partial.push(chunk.subarray(start, end))
    const whole = concat(partial, partialLength + end - start)
    partial = []
    partialLength = 0
    line(whole, undefined, 0, whole.length, out, offset)
  }

  const feed = (chunk: Uint8Array): Array<Event> => {
    const out: Array<Event> = []
    const base = bytes
    const length = chunk.length
    bytes += length
    let start = 0
    if (skipLF && length > 0) {
      skipLF = false
      if (chunk[0] === LF) start = 1
    }
    // One decoder call for the whole chunk, and each value a slice of it (a copy-free view for
    // all but the shortest): valid when every byte became one character, which UTF-8 gives only
    // when there is no multi-byte sequence (each of which becomes fewer characters than bytes).
    // Else (non-ASCII text, a character split across chunks) each value is decoded on its own.
    const whole = length > 0 ? decoder.decode(chunk) : ""
    const text = whole.length === length ? whole : undefined
    // Line ends are found with the native `indexOf`; a CR (rare: most servers send LF) is looked
    // for again only once passed.
    let cr = chunk.indexOf(CR, start)
    while (start < length) {
      const lf = chunk.indexOf(LF, start)
      if (cr !== -1 && cr < start) cr = chunk.indexOf(CR, start)
      const i = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr)
      if (i === -1) break
      eventSize += partialLength + i - start + 1
      if (eventSize > maxEventSize) tooLarge()
      takeLine(chunk, text, start, i, out, base + i + 1)
      let next = i + 1
      if (chunk[i] === CR) {
        if (next < length) {
          if (chunk[next] === LF) next++
        } else {
          skipLF = true
        }
      }
      start = next
    }
    if (start < length) {
      partial.push(chunk.subarray(start, length))
      partialLength += length - start
      if (eventSize + partialLength > maxEventSize) tooLarge()
    }
    return out
  }

  const end = (): Array<Event> => {
    const out: Array<Event> = []
    if (partialLength > 0) {
      const whole = concat(partial, partialLength)
      partial = []
      partialLength = 0
      line(whole, undefined, 0, whole.length, out, bytes)
    }
    if (hasData) dispatch(out, bytes, false)
    return out
  }

  return {
    feed,
    end,
    get bytes() {
      return bytes
    },
    get events() {
      return events
    },
    get pending() {
      return data
    }
  }
}

const EXCERPT_SOURCE = 4096

// The first `max` bytes of `parts`.
const headOf = (parts: ReadonlyArray<Uint8Array>, max: number): Uint8Array => {
  const out: Array<Uint8Array> = []
  let length = 0
  for (const part of parts) {
    if (length >= max) break
    const piece = part.subarray(0, max - length)
    out.push(piece)
    length += piece.length
  }
  return concat(out, length).slice()
}

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
export const tooLargeError = (e: EventTooLarge, progress: Progress): OpenAiError.ResponseDecodeError =>
  new OpenAiError.ResponseDecodeError({
    message: `${e.message} (after ${progress.bytes} bytes and ${progress.events} events)`,
    path: "",
    issue: e.message,
    body: e.excerpt
  })

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
  <E, R>(
    self: Stream.Stream<Uint8Array, E, R>,
    options?: DecodeOptions
  ): Stream.Stream<Event, E | OpenAiError.ResponseDecodeError, R> =>
    Stream.suspend(() => {
      const parser = makeParser(options)
      const progress = options?.progress ?? makeProgress()
      const sync = () => {
        progress.bytes = parser.bytes
        progress.events = parser.events
      }
      const loop: Channel.Channel<
        Chunk.Chunk<Event>,
        Chunk.Chunk<Uint8Array>,
        E | OpenAiError.ResponseDecodeError,
        E,
        void,
        unknown
      > = Channel.readWithCause({
        onInput: (input: Chunk.Chunk<Uint8Array>) => {
          const out: Array<Event> = []
          try {
            for (const chunk of input) {
              for (const event of parser.feed(chunk)) out.push(event)
            }
          } catch (e) {
            sync()
            if (e instanceof EventTooLarge) return Channel.fail(tooLargeError(e, progress))
            throw e
          }
          sync()
          return out.length === 0 ? loop : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), loop)
        },
        onFailure: (cause) => Channel.failCause(cause),
        onDone: () =>
          Channel.suspend(() => {
            const out = parser.end()
            sync()
            return out.length === 0 ? Channel.void : Channel.write(Chunk.unsafeFromArray(out))
          })
      })
      return Stream.pipeThroughChannelOrFail(self, loop)
    })
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
export const parseAll = (
  body: string | Uint8Array,
  options?: Pick<DecodeOptions, "maxEventSize" | "secrets">
): Effect.Effect<Array<Event>, OpenAiError.ResponseDecodeError> =>
  Effect.suspend(() => {
    const parser = makeParser(options)
    try {
      const out = parser.feed(typeof body === "string" ? new TextEncoder().encode(body) : body)
      for (const event of parser.end()) out.push(event)
      return Effect.succeed(out)
    } catch (e) {
      if (e instanceof EventTooLarge) {
        return Effect.fail(tooLargeError(e, { bytes: parser.bytes, events: parser.events }))
      }
      return Effect.die(e)
    }
  })

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
export const encode = (event: {
  readonly data: string
  readonly event?: string | undefined
  readonly id?: string | undefined
  readonly retry?: number | undefined
}): string => {
  let out = ""
  if (event.id !== undefined) out += `id: ${event.id}\n`
  if (event.event !== undefined && event.event !== "message") out += `event: ${event.event}\n`
  if (event.retry !== undefined) out += `retry: ${event.retry}\n`
  out += `data: ${event.data.replace(/\r\n|\r|\n/g, "\ndata: ")}\n\n`
  return out
}

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
