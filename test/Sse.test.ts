import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, FastCheck, Stream } from "effect"
import * as Sse from "../src/Sse.js"

const utf8 = (text: string) => new TextEncoder().encode(text)

/** Frames `body` fed as the given byte chunks. */
const frame = (chunks: ReadonlyArray<Uint8Array>, options?: Sse.DecodeOptions) =>
  Stream.fromIterable(chunks).pipe(Sse.decode(options), Stream.runCollect, Effect.map(Chunk.toReadonlyArray))

/** Splits bytes at the given (sorted, deduplicated) positions. */
const splitAt = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Array<Uint8Array> = []
  let start = 0
  for (const p of points) {
    out.push(bytes.subarray(start, p))
    start = p
  }
  out.push(bytes.subarray(start))
  return out
}

const view = (events: ReadonlyArray<Sse.Event>) => events.map((e) => ({ event: e.event, data: e.data, id: e.id }))

describe("Sse.decode", () => {
  it.effect("frames data lines, joins multi-line data with \\n and defaults the event name to message", () =>
    Effect.gen(function*() {
      const events = yield* frame([utf8("data: {\"a\":1}\n\ndata: line 1\ndata: line 2\n\nevent: ping\ndata: x\n\n")])
      expect(view(events)).toEqual([
        { event: "message", data: "{\"a\":1}", id: undefined },
        { event: "message", data: "line 1\nline 2", id: undefined },
        { event: "ping", data: "x", id: undefined }
      ])
      expect(events.map((e) => e.index)).toEqual([0, 1, 2])
      expect(events.every((e) => e.complete)).toBe(true)
    }))

  it.effect("accepts LF, CRLF and CR line ends, mixed", () =>
    Effect.gen(function*() {
      const events = yield* frame([utf8("data: a\r\n\r\ndata: b\r\rdata: c\n\ndata: d\r\ndata: e\n\r\n")])
      expect(events.map((e) => e.data)).toEqual(["a", "b", "c", "d\ne"])
    }))

  it.effect("a CRLF split across two chunks is one line end, not a blank line", () =>
    Effect.gen(function*() {
      // "data: a\r" | "\ndata: b\r\n\r\n": a naive parser sees "\n" as an empty line and dispatches "a"
      // alone, then "b" alone.
      const events = yield* frame([utf8("data: a\r"), utf8("\ndata: b\r"), utf8("\n\r"), utf8("\n")])
      expect(events.map((e) => e.data)).toEqual(["a\nb"])
    }))

  it.effect("ignores comment lines and unknown fields, strips one leading space only", () =>
    Effect.gen(function*() {
      const events = yield* frame([utf8(": keep-alive\n: another\nfoo: bar\ndata:  two spaces\ndata:none\n...\n\n")])
      expect(events.map((e) => e.data)).toEqual([" two spaces\nnone"])
    }))

  it.effect("blank lines without data dispatch nothing; an empty data line is an empty event", () =>
    Effect.gen(function*() {
      const events = yield* frame([utf8("\n\n: ping\n\nevent: x\n\ndata:\n\ndata\n\n")])
      expect(view(events)).toEqual([
        { event: "message", data: "", id: undefined },
        { event: "message", data: "", id: undefined }
      ])
    }))

  it.effect("keeps the last id across events, ignores ids with NUL, keeps retry digits only", () =>
    Effect.gen(function*() {
      const events = yield* frame([
        utf8("id: 1\nretry: 1500\ndata: a\n\ndata: b\n\nid: bad\u0000id\nretry: 2s\ndata: c\n\nid\ndata: d\n\n")
      ])
      expect(events.map((e) => [e.id, e.retry, e.data])).toEqual([
        ["1", 1500, "a"],
        ["1", 1500, "b"],
        ["1", 1500, "c"],
        ["", 1500, "d"]
      ])
    }))

  it.effect("an empty `event:` field gives the default type, as the specification says", () =>
    Effect.gen(function*() {
      const events = yield* frame([utf8("event:\ndata: a\n\nevent: \ndata: b\n\nevent: ping\nevent:\ndata: c\n\n")])
      expect(events.map((e) => [e.event, e.data])).toEqual([["message", "a"], ["message", "b"], ["message", "c"]])
    }))

  it.effect("`[DONE]` is just data", () =>
    Effect.gen(function*() {
      const events = yield* frame([utf8("data: {}\n\ndata: [DONE]\n\n")])
      expect(events.map(Sse.isDone)).toEqual([false, true])
    }))

  it.effect("emits a final event without its trailing blank line, marked incomplete", () =>
    Effect.gen(function*() {
      const noBlank = yield* frame([utf8("data: a\n\ndata: b\n")])
      expect(noBlank.map((e) => [e.data, e.complete])).toEqual([["a", true], ["b", false]])
      const noNewline = yield* frame([utf8("data: a\n\ndata: {\"cut")])
      expect(noNewline.map((e) => [e.data, e.complete])).toEqual([["a", true], ["{\"cut", false]])
    }))

  it.effect("strips a UTF-8 BOM at the start, even split across chunks, and only there", () =>
    Effect.gen(function*() {
      const bom = new Uint8Array([0xef, 0xbb, 0xbf])
      const body = utf8("data: a\n\n")
      const whole = yield* frame([new Uint8Array([...bom, ...body])])
      expect(whole.map((e) => e.data)).toEqual(["a"])
      const split = yield* frame([bom.subarray(0, 1), bom.subarray(1), body])
      expect(split.map((e) => e.data)).toEqual(["a"])
      // With the BOM the first line would read "\uFEFFdata" (an unknown field) and "a" would be lost.
      const later = yield* frame([utf8("data: a\n\n"), new Uint8Array([...bom, ...utf8("data: b\n\n")])])
      expect(later.map((e) => e.data)).toEqual(["a"])
    }))

  it.prop(
    "chunk boundaries anywhere (inside multi-byte characters, CRLFs, field names) give the same events",
    [FastCheck.array(FastCheck.nat({ max: 400 }), { maxLength: 12 })],
    ([cuts]) => {
      const body = utf8(
        "\uFEFFevent: grüße\r\ndata: {\"text\":\"héllo 🌍 日本語\"}\r\n\r\n: comment ✓\nid: ünï\ndata: 😀\rdata: two\r\r" +
          "data: {\"emoji\":\"👩‍👩‍👧\"}\n\ndata: [DONE]\n\n"
      )
      const expected = Effect.runSync(frame([body]))
      const actual = Effect.runSync(frame(splitAt(body, cuts)))
      expect(view(actual)).toEqual(view(expected))
      expect(actual.map((e) => e.offset)).toEqual(expected.map((e) => e.offset))
      expect(view(expected)).toEqual([
        { event: "grüße", data: "{\"text\":\"héllo 🌍 日本語\"}", id: undefined },
        { event: "message", data: "😀\ntwo", id: "ünï" },
        { event: "message", data: "{\"emoji\":\"👩‍👩‍👧\"}", id: "ünï" },
        { event: "message", data: "[DONE]", id: "ünï" }
      ])
    }
  )

  // A chunk whose bytes each decode to one character is decoded once and its values sliced: with
  // any byte, valid UTF-8 or not, the values must still read as each decoded on its own.
  it.prop(
    "values of any bytes (invalid UTF-8, split characters) read as each value decoded alone, split anywhere",
    [
      FastCheck.array(
        FastCheck.uint8Array({ maxLength: 24 }).map((b) => b.filter((x) => x !== 0x0a && x !== 0x0d)),
        { minLength: 1, maxLength: 6 }
      ),
      FastCheck.array(FastCheck.nat({ max: 200 }), { maxLength: 6 })
    ],
    ([values, cuts]) => {
      const body = new Uint8Array(values.flatMap((v) => [...utf8("data: "), ...v, 0x0a, 0x0a]))
      const expected = values.map((v) => new TextDecoder("utf-8", { ignoreBOM: true }).decode(v))
      expect(Effect.runSync(frame([body])).map((e) => e.data)).toEqual(expected)
      expect(Effect.runSync(frame(splitAt(body, cuts))).map((e) => e.data)).toEqual(expected)
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.effect("fed one byte at a time, a body frames like the whole", () =>
    Effect.gen(function*() {
      const body = utf8("data: ✓ one\n\nevent: e\ndata: two\r\n\r\ndata: three\n\n")
      const bytes = Array.from(body, (b) => new Uint8Array([b]))
      expect(view(yield* frame(bytes))).toEqual(view(yield* frame([body])))
    }))

  it.effect("each event carries the byte offset reached and the progress counts bytes and events", () =>
    Effect.gen(function*() {
      const first = "data: é\n\n" // 10 bytes: é is two
      const second = "data: b\n\n"
      const progress = Sse.makeProgress()
      const events = yield* frame([utf8(first + second.slice(0, 4)), utf8(second.slice(4))], { progress })
      expect(events.map((e) => e.offset)).toEqual([10, 19])
      expect(progress).toEqual({ bytes: 19, events: 2 })
    }))

  it.effect("an upstream failure passes through unchanged, after the events before it, and progress says how far", () =>
    Effect.gen(function*() {
      const progress = Sse.makeProgress()
      const bytes = Stream.make(utf8("data: a\n\ndata: partial")).pipe(
        Stream.concat(Stream.fail("ECONNRESET" as const))
      )
      const seen: Array<string> = []
      const result = yield* bytes.pipe(
        Sse.decode({ progress }),
        Stream.runForEach((e) => Effect.sync(() => seen.push(e.data))),
        Effect.either
      )
      expect(result).toEqual(Either.left("ECONNRESET"))
      // The cut event is not emitted: it never ended.
      expect(seen).toEqual(["a"])
      expect(progress).toEqual({ bytes: 22, events: 1 })
    }))

  it.effect("an event larger than maxEventSize is a ResponseDecodeError, not unbounded memory", () =>
    Effect.gen(function*() {
      const big = `data: ${"x".repeat(100)}`
      const error = yield* Effect.flip(frame([utf8(big.slice(0, 50)), utf8(big.slice(50)), utf8("\n\n")], { maxEventSize: 64 }))
      expect(error._tag).toBe("ResponseDecodeError")
      expect(error.message).toContain("maximum size of 64 bytes")
      expect(error.body.length).toBeLessThan(700)
      // Many small data lines of one event count together.
      const lines = "data: 0123456789\n".repeat(10)
      const error2 = yield* Effect.flip(frame([utf8(lines)], { maxEventSize: 64 }))
      expect(error2._tag).toBe("ResponseDecodeError")
      // The same lines as separate events are fine.
      const ok = yield* frame([utf8("data: 0123456789\n\n".repeat(10))], { maxEventSize: 64 })
      expect(ok).toHaveLength(10)
    }))

  it.effect("the excerpt of an oversized event has secrets scrubbed", () =>
    Effect.gen(function*() {
      const key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123"
      const error = yield* Effect.flip(frame([utf8(`data: ${key}${"x".repeat(100)}`)], { maxEventSize: 64 }))
      expect(error.body).not.toContain(key)
      expect(JSON.stringify(error)).not.toContain(key)
    }))

  it.effect("data-first and data-last forms, and decodeText for text streams", () =>
    Effect.gen(function*() {
      const a = yield* Stream.runCollect(Sse.decode(Stream.make(utf8("data: 1\n\n"))))
      const b = yield* Stream.runCollect(Stream.make("data: 1\n", "\n").pipe(Sse.decodeText()))
      expect(Chunk.toReadonlyArray(a).map((e) => e.data)).toEqual(["1"])
      expect(Chunk.toReadonlyArray(b).map((e) => e.data)).toEqual(["1"])
    }))

  it.effect("an empty stream gives no events", () =>
    Effect.gen(function*() {
      expect(yield* frame([])).toEqual([])
      expect(yield* frame([new Uint8Array(0)])).toEqual([])
    }))
})

// A direct reading of the WHATWG algorithm on a whole string, to compare the incremental parser
// against on random input.
const reference = (text: string) => {
  if (text.startsWith("\uFEFF")) text = text.slice(1)
  const lines = text.split(/\r\n|\r|\n/)
  // A trailing line end leaves an empty last element that is not a line.
  const endsWithNewline = /[\r\n]$/.test(text)
  if (endsWithNewline || text.length === 0) lines.pop()
  const out: Array<{ event: string; data: string; id: string | undefined; retry: number | undefined }> = []
  let data: Array<string> | undefined
  let name: string | undefined
  let id: string | undefined
  let retry: number | undefined
  const dispatch = () => {
    // The spec: the type is the event type buffer unless that is empty.
    if (data !== undefined) out.push({ event: name || "message", data: data.join("\n"), id, retry })
    data = undefined
    name = undefined
  }
  for (const line of lines) {
    if (line === "") {
      dispatch()
      continue
    }
    if (line.startsWith(":")) continue
    const colon = line.indexOf(":")
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? "" : line.slice(colon + 1)
    if (value.startsWith(" ")) value = value.slice(1)
    if (field === "data") (data ??= []).push(value)
    else if (field === "event") name = value
    else if (field === "id" && !value.includes("\u0000")) id = value
    else if (field === "retry" && /^\d+$/.test(value)) retry = Number(value)
  }
  dispatch() // the final event without a blank line, which this library keeps
  return out
}

const lineArb = FastCheck.oneof(
  FastCheck.constant(""),
  FastCheck.string({ unit: "grapheme", maxLength: 12 }).map((v) => `data: ${v}`),
  FastCheck.string({ unit: "grapheme", maxLength: 12 }).map((v) => `data:${v}`),
  FastCheck.constant("data"),
  FastCheck.constantFrom("event: ping", "event:error", "event:", "event", "id: 42", "id", "retry: 100", "retry: x", ": comment", "foo: bar", "dat: x", "eventx: y")
).map((l) => l.replace(/[\r\n]/g, ""))

const bodyArb = FastCheck.tuple(
  FastCheck.boolean(),
  FastCheck.array(FastCheck.tuple(lineArb, FastCheck.constantFrom("\n", "\r", "\r\n")), { maxLength: 20 }),
  FastCheck.boolean()
).map(([bom, lines, lastTerminated]) => {
  const text = lines.map(([l, end], i) => (i === lines.length - 1 && !lastTerminated ? l : l + end)).join("")
  return (bom ? "\uFEFF" : "") + text
})

describe("Sse.decode against the specification's algorithm", () => {
  it.prop(
    "random bodies, split anywhere, frame as the reference reads them whole",
    [bodyArb, FastCheck.array(FastCheck.nat({ max: 300 }), { maxLength: 8 })],
    ([text, cuts]) => {
      const events = Effect.runSync(frame(splitAt(utf8(text), cuts)))
      expect(events.map((e) => ({ event: e.event, data: e.data, id: e.id, retry: e.retry }))).toEqual(reference(text))
      expect(events.map((e) => e.index)).toEqual(events.map((_, i) => i))
      const offsets = events.map((e) => e.offset)
      expect([...offsets].sort((a, b) => a - b)).toEqual(offsets)
      for (const offset of offsets) expect(offset).toBeLessThanOrEqual(utf8(text).length)
    },
    { fastCheck: { numRuns: 300 } }
  )
})

describe("Sse.parseAll, encode", () => {
  it.effect("parseAll frames a whole body given as text or bytes", () =>
    Effect.gen(function*() {
      const fromText = yield* Sse.parseAll("data: a\n\ndata: b\n\n")
      const fromBytes = yield* Sse.parseAll(utf8("data: a\n\ndata: b\n\n"))
      expect(fromText.map((e) => e.data)).toEqual(["a", "b"])
      expect(view(fromBytes)).toEqual(view(fromText))
      expect(Sse.lastEventId(yield* Sse.parseAll("id: 7\ndata: x\n\n"))._tag).toBe("Some")
    }))

  it.effect("parseAll fails with a ResponseDecodeError on an oversized event", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Sse.parseAll(`data: ${"x".repeat(100)}\n\n`, { maxEventSize: 10 }))
      expect(error._tag).toBe("ResponseDecodeError")
    }))

  it("encode writes the wire format", () => {
    expect(Sse.encode({ data: "[DONE]" })).toBe("data: [DONE]\n\n")
    expect(Sse.encode({ event: "error", id: "3", retry: 10, data: "a\nb" })).toBe(
      "id: 3\nevent: error\nretry: 10\ndata: a\ndata: b\n\n"
    )
  })

  it.prop(
    "encode then decode gives the event back",
    [FastCheck.array(
      FastCheck.record({
        event: FastCheck.constantFrom("message", "error", "response.output_text.delta"),
        data: FastCheck.string({ unit: "grapheme", maxLength: 40 }).map((s) => s.replace(/\r\n?/g, "\n"))
      }),
      { maxLength: 8 }
    )],
    ([events]) => {
      const body = events.map((e) => Sse.encode(e)).join("")
      const parsed = Effect.runSync(Sse.parseAll(body))
      expect(parsed.map((e) => ({ event: e.event, data: e.data }))).toEqual(events)
    }
  )
})
