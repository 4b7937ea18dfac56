/**
 * The event-stream parser behind `Sse`, in four parts: line splitting (line ends, partial lines,
 * the BOM), field parsing (which field a line names, where its value starts), event assembly
 * (data lines joined, `event`/`id`/`retry`, dispatch) and limits (the largest event, its excerpt).
 * Everything works on bytes; only values are turned into text.
 * @internal
 */
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as OpenAiError from "../OpenAiError.js"
import type * as Sse from "../Sse.js"
import { concat } from "./bytes.js"
import { scrubHead } from "./secrets.js"

/** @internal */
export const defaultMaxEventSize = 16 * 1024 * 1024

/** @internal */
export class EventTooLarge extends Error {
  constructor(readonly maxEventSize: number, readonly excerpt: string) {
    super(`A server-sent event exceeded the maximum size of ${maxEventSize} bytes`)
    this.name = "EventTooLarge"
  }
}

// ---------------------------------------------------------------------------------------------
// Field parsing
// ---------------------------------------------------------------------------------------------

const LF = 0x0a
const CR = 0x0d
const COLON = 0x3a
const SPACE = 0x20

const DATA = 1
const EVENT = 2
const ID = 3
const RETRY = 4

// The field a name names, read from its bytes `buf[start, end)`; 0 for any other name.
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

// Where the name of the field line `buf[start, end)` ends: its colon, or the line's end for a
// line that is a name alone; -1 for a line no known field can be. Known names are at most 5 bytes,
// so the colon is looked for that far only (a scan to the end would make a body of long
// colon-less lines quadratic).
const nameEndOf = (buf: Uint8Array, start: number, end: number): number => {
  const limit = Math.min(end, start + 6)
  for (let j = start; j < limit; j++) if (buf[j] === COLON) return j
  return end - start > 5 ? -1 : end
}

// Where the value after the name ending at `nameEnd` starts: past the colon and one space.
const valueStartOf = (buf: Uint8Array, nameEnd: number, end: number): number => {
  const valueStart = nameEnd + 1
  return valueStart < end && buf[valueStart] === SPACE ? valueStart + 1 : valueStart
}

// ---------------------------------------------------------------------------------------------
// Event assembly
// ---------------------------------------------------------------------------------------------

// The fields of the event being assembled and what the stream carries from event to event (the
// last id, the retry), and the dispatch of an event.
class Assembler {
  data = ""
  hasData = false
  eventName: string | undefined = undefined
  lastId: string | undefined = undefined
  retry: number | undefined = undefined
  events = 0
  // Streams repeat a few event names (`response.output_text.delta`): the last one's text is kept
  // and reused while the bytes are the same.
  private lastNameBytes = new Uint8Array(0)
  private lastName = ""

  constructor(readonly decoder: TextDecoder) {}

  // The value `buf[start, end)` as text: sliced from `text` (the whole of `buf` decoded, when
  // each of its bytes is one character) or else decoded on its own.
  private value(buf: Uint8Array, text: string | undefined, start: number, end: number): string {
    if (start >= end) return ""
    return text !== undefined ? text.slice(start, end) : this.decoder.decode(buf.subarray(start, end))
  }

  private eventNameOf(buf: Uint8Array, start: number, end: number): string {
    const length = end - start
    const last = this.lastNameBytes
    if (length === last.length) {
      let same = true
      for (let i = 0; i < length; i++) {
        if (buf[start + i] !== last[i]) {
          same = false
          break
        }
      }
      if (same) return this.lastName
    }
    const name = this.decoder.decode(buf.subarray(start, end))
    // Only a short name is kept (a hostile one could be as large as an event).
    if (length <= 64) {
      this.lastNameBytes = buf.slice(start, end)
      this.lastName = name
    }
    return name
  }

  /** A field line with a known field, its value at `buf[start, end)`. */
  field(field: number, buf: Uint8Array, text: string | undefined, start: number, end: number): void {
    switch (field) {
      case EVENT: {
        this.eventName = this.eventNameOf(buf, start, end)
        return
      }
      case DATA: {
        const value = this.value(buf, text, start, end)
        this.data = this.hasData ? `${this.data}\n${value}` : value
        this.hasData = true
        return
      }
      case ID: {
        const value = this.value(buf, text, start, end)
        if (!value.includes("\u0000")) this.lastId = value
        return
      }
      case RETRY: {
        const value = this.value(buf, text, start, end)
        if (/^\d+$/.test(value)) this.retry = Number(value)
        return
      }
    }
  }

  /** Dispatches the event assembled so far (if it has data) and starts the next one. */
  dispatch(out: Array<Sse.Event>, offset: number, complete: boolean): void {
    if (this.hasData) {
      // An empty `event:` field is the default type too (the spec sets the type only when the
      // buffer is not empty).
      const name = this.eventName
      const event = name === undefined || name.length === 0 ? "message" : name
      out.push({ event, data: this.data, id: this.lastId, retry: this.retry, index: this.events, offset, complete })
      this.events++
    }
    this.reset()
  }

  reset(): void {
    this.data = ""
    this.hasData = false
    this.eventName = undefined
  }
}

// ---------------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------------

const EXCERPT_SOURCE = 4096

// The first `max` bytes of `parts`, copied.
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

// The error for an event that outgrew `maxEventSize`. Its excerpt is read from the head of the
// event only, and copied (see `scrubHead`): the error must neither cost nor keep alive the
// megabytes that made it.
const tooLarge = (
  maxEventSize: number,
  secrets: ReadonlyArray<string>,
  data: string,
  partial: ReadonlyArray<Uint8Array>
): EventTooLarge => {
  const head = data.length >= EXCERPT_SOURCE
    ? data.slice(0, EXCERPT_SOURCE)
    : data + new TextDecoder("utf-8", { fatal: false }).decode(headOf(partial, EXCERPT_SOURCE - data.length))
  return new EventTooLarge(maxEventSize, scrubHead(head, 512, secrets))
}

// ---------------------------------------------------------------------------------------------
// Line splitting
// ---------------------------------------------------------------------------------------------

class Parser implements Sse.Parser {
  bytes = 0
  private firstLine = true
  private skipLF = false // the previous chunk ended with CR: a leading LF belongs to that CRLF
  private partial: Array<Uint8Array> = [] // bytes of an unterminated line
  private partialLength = 0
  private eventSize = 0 // bytes of the event being assembled, line ends included
  private readonly assembler: Assembler
  // `fatal: false`: an invalid byte becomes U+FFFD rather than failing the whole stream; the JSON
  // decoder downstream reports a damaged payload with its path.
  private readonly decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true })

  constructor(readonly maxEventSize: number, readonly secrets: ReadonlyArray<string>) {
    this.assembler = new Assembler(this.decoder)
  }

  get events(): number {
    return this.assembler.events
  }

  get pending(): string {
    return this.assembler.data
  }

  private fail(): never {
    const error = tooLarge(this.maxEventSize, this.secrets, this.assembler.data, this.partial)
    this.partial = []
    this.partialLength = 0
    this.eventSize = 0
    this.assembler.data = ""
    this.assembler.hasData = false
    throw error
  }

  // One line, as the bytes `buf[start, end)` (no line end): the field is recognised on the bytes.
  private line(buf: Uint8Array, text: string | undefined, start: number, end: number, out: Array<Sse.Event>, offset: number): void {
    if (this.firstLine) {
      this.firstLine = false
      if (end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3
    }
    if (start === end) {
      this.eventSize = 0
      return this.assembler.dispatch(out, offset, true)
    }
    if (buf[start] === COLON) return // comment
    const nameEnd = nameEndOf(buf, start, end)
    if (nameEnd === -1) return
    const field = fieldOf(buf, start, nameEnd)
    if (field !== 0) this.assembler.field(field, buf, text, valueStartOf(buf, nameEnd, end), end)
  }

  // A line that ends at `chunk[end]`, joined to the bytes of its start held from earlier chunks.
  private takeLine(chunk: Uint8Array, text: string | undefined, start: number, end: number, out: Array<Sse.Event>, offset: number): void {
    if (this.partialLength === 0) return this.line(chunk, text, start, end, out, offset)
    this.partial.push(chunk.subarray(start, end))
    const whole = concat(this.partial, this.partialLength + end - start)
    this.partial = []
    this.partialLength = 0
    this.line(whole, undefined, 0, whole.length, out, offset)
  }

  feed(chunk: Uint8Array): Array<Sse.Event> {
    const out: Array<Sse.Event> = []
    const base = this.bytes
    const length = chunk.length
    this.bytes += length
    let start = 0
    if (this.skipLF && length > 0) {
      this.skipLF = false
      if (chunk[0] === LF) start = 1
    }
    // One decoder call for the whole chunk, and each value a slice of it (a copy-free view for
    // all but the shortest): valid when every byte became one character, which UTF-8 gives only
    // when there is no multi-byte sequence (each of which becomes fewer characters than bytes).
    // Else (non-ASCII text, a character split across chunks) each value is decoded on its own.
    const whole = length > 0 ? this.decoder.decode(chunk) : ""
    const text = whole.length === length ? whole : undefined
    // Line ends are found with the native `indexOf`; a CR (rare: most servers send LF) is looked
    // for again only once passed.
    let cr = chunk.indexOf(CR, start)
    while (start < length) {
      const lf = chunk.indexOf(LF, start)
      if (cr !== -1 && cr < start) cr = chunk.indexOf(CR, start)
      const i = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr)
      if (i === -1) break
      this.eventSize += this.partialLength + i - start + 1
      if (this.eventSize > this.maxEventSize) this.fail()
      this.takeLine(chunk, text, start, i, out, base + i + 1)
      let next = i + 1
      if (chunk[i] === CR) {
        if (next < length) {
          if (chunk[next] === LF) next++
        } else {
          this.skipLF = true
        }
      }
      start = next
    }
    if (start < length) {
      this.partial.push(chunk.subarray(start, length))
      this.partialLength += length - start
      if (this.eventSize + this.partialLength > this.maxEventSize) this.fail()
    }
    return out
  }

  end(): Array<Sse.Event> {
    const out: Array<Sse.Event> = []
    if (this.partialLength > 0) {
      const whole = concat(this.partial, this.partialLength)
      this.partial = []
      this.partialLength = 0
      this.line(whole, undefined, 0, whole.length, out, this.bytes)
    }
    if (this.assembler.hasData) this.assembler.dispatch(out, this.bytes, false)
    return out
  }
}

/** @internal */
export const makeParser = (options?: Pick<Sse.DecodeOptions, "maxEventSize" | "secrets">): Sse.Parser =>
  new Parser(options?.maxEventSize ?? defaultMaxEventSize, options?.secrets ?? [])

// ---------------------------------------------------------------------------------------------
// As an Effect stream
// ---------------------------------------------------------------------------------------------

/** @internal */
export const tooLargeError = (e: EventTooLarge, progress: Sse.Progress): OpenAiError.ResponseDecodeError =>
  new OpenAiError.ResponseDecodeError({
    message: `${e.message} (after ${progress.bytes} bytes and ${progress.events} events)`,
    path: "",
    issue: e.message,
    body: e.excerpt
  })

/** @internal */
export const decode = <E, R>(
  self: Stream.Stream<Uint8Array, E, R>,
  options?: Sse.DecodeOptions
): Stream.Stream<Sse.Event, E | OpenAiError.ResponseDecodeError, R> =>
  Stream.suspend(() => {
    const parser = makeParser(options)
    const progress = options?.progress ?? { bytes: 0, events: 0 }
    const sync = () => {
      progress.bytes = parser.bytes
      progress.events = parser.events
    }
    const loop: Channel.Channel<
      Chunk.Chunk<Sse.Event>,
      Chunk.Chunk<Uint8Array>,
      E | OpenAiError.ResponseDecodeError,
      E,
      void,
      unknown
    > = Channel.readWithCause({
      onInput: (input: Chunk.Chunk<Uint8Array>) => {
        const out: Array<Sse.Event> = []
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

/** @internal */
export const parseAll = (
  body: string | Uint8Array,
  options?: Pick<Sse.DecodeOptions, "maxEventSize" | "secrets">
): Effect.Effect<Array<Sse.Event>, OpenAiError.ResponseDecodeError> =>
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

/** @internal */
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
