/**
 * Every real recorded response in ../shared/fixtures/openai/responses decodes with our schemas,
 * framed by our SSE parser; the published spec examples that are not valid JSON give the typed
 * ResponseDecodeError. Skipped (with a message) when the fixtures are absent, never under CI.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Schema, Stream } from "effect"
import * as Decode from "../src/Decode.js"
import * as ChatCompletion from "../src/Schemas/ChatCompletion.js"
import * as ChatCompletionChunk from "../src/Schemas/ChatCompletionChunk.js"
import * as Embeddings from "../src/Schemas/Embeddings.js"
import * as Models from "../src/Schemas/Models.js"
import * as Responses from "../src/Schemas/Responses.js"
import * as Sse from "../src/Sse.js"
import { fixturesAvailable, list, read } from "./utils/fixtures.js"

const DIR = "openai/responses"
const files = list(DIR).filter((f) => !f.endsWith(".source.txt"))
const file = (name: string) => `${DIR}/${name}`
const matching = (re: RegExp) => files.filter((f) => re.test(f))

/** Frames a recorded body through `Sse.decode`, fed in chunks of `size` bytes. */
const frame = (body: string, size: number) => {
  const bytes = new TextEncoder().encode(body)
  const chunks: Array<Uint8Array> = []
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size))
  return Stream.fromIterable(chunks).pipe(Sse.decode(), Stream.runCollect, Effect.map(Chunk.toReadonlyArray))
}

const expectDecodeError = <A, I>(schema: Schema.Schema<A, I>, body: string) =>
  Effect.gen(function*() {
    const result = yield* Effect.either(Decode.decodeText(schema, { status: 200 })(body))
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) {
      expect(result.left._tag).toBe("ResponseDecodeError")
      expect(result.left.path).toBe("")
      expect(result.left.issue).toContain("not valid JSON")
      expect(result.left.body.length).toBeGreaterThan(0)
    }
  })

// Which file is checked by which test. A new fixture that matches none fails the coverage test, so
// recordings added later are not silently left out.
const categories: ReadonlyArray<readonly [string, RegExp]> = [
  ["chat completion objects", /^chat_completion_.*\.json$/],
  ["chat completion streams", /^chat_stream_.*\.sse$/],
  ["invalid spec examples", /_spec_example\.txt$/],
  ["embeddings", /^embeddings_(float|base64)\.json$/],
  ["model object", /^model_object_.*\.json$/],
  ["Responses objects", /^response_object_.*\.json$/],
  ["Responses stream", /^responses_stream_.*\.sse$/],
  ["Responses stream events", /^responses_stream_.*_event_spec_example\.json$/],
  // Error bodies from the OpenAPI spec: not a 2xx response; the classifier's tests read them.
  ["error shapes (Classify)", /^error_schemas_from_spec\.json$/]
]

describe.skipIf(!fixturesAvailable)("conformance with recorded OpenAI responses", () => {
  it("every fixture is covered by a test below", () => {
    expect(files.length).toBeGreaterThan(0)
    const uncovered = files.filter((f) => !categories.some(([, re]) => re.test(f)))
    expect(uncovered).toEqual([])
  })

  describe("chat completions", () => {
    const names = matching(/^chat_completion_.*\.json$/)

    it("has recordings", () => {
      expect(names.length).toBeGreaterThanOrEqual(5)
    })

    it.effect.each(names)("%s decodes", (name) =>
      Effect.gen(function*() {
        const completion = yield* Decode.decodeText(ChatCompletion.ChatCompletion)(read(file(name)))
        expect(completion.choices.length).toBeGreaterThan(0)
        const choice = completion.choices[0]
        if (name.includes("refusal")) {
          expect(choice?.message.content).toBeNull()
          expect(choice?.message.refusal).toBeTruthy()
        }
        if (name.includes("finish_length")) expect(choice?.finish_reason).toBe("length")
        expect(completion.usage?.total_tokens).toBeGreaterThan(0)
      }))
  })

  describe("chat completion streams", () => {
    const names = matching(/^chat_stream_.*\.sse$/)

    it("has the 12 live recordings", () => {
      expect(names).toHaveLength(12)
    })

    it.effect.each(names)("%s: framed, every chunk decodes, usage chunk then [DONE]", (name) =>
      Effect.gen(function*() {
        const body = read(file(name))
        const events = yield* frame(body, 7)
        // Framing does not depend on where the network cut the bytes.
        const whole = yield* frame(body, 1 << 20)
        expect(events.map((e) => e.data)).toEqual(whole.map((e) => e.data))
        expect(events.at(-1)?.offset).toBe(new TextEncoder().encode(body).length)

        expect(events.length).toBeGreaterThanOrEqual(3)
        expect(events.every((e) => e.event === "message" && e.complete)).toBe(true)
        const last = events.at(-1)
        expect(last && Sse.isDone(last)).toBe(true)
        expect(events.slice(0, -1).some(Sse.isDone)).toBe(false)

        const chunks = []
        for (const event of events.slice(0, -1)) {
          chunks.push(yield* Decode.decodeText(ChatCompletionChunk.ChatCompletionChunk)(event.data))
        }
        const usage = chunks.at(-1)
        expect(usage && ChatCompletionChunk.isUsageChunk(usage)).toBe(true)
        expect(usage?.choices).toEqual([])
        expect(usage?.usage?.total_tokens).toBeGreaterThan(0)
        expect(chunks.slice(0, -1).some(ChatCompletionChunk.isUsageChunk)).toBe(false)

        // Reassemble per choice: the fragments make sense together.
        const text = new Map<number, string>()
        const args = new Map<string, string>()
        const finish = new Map<number, string>()
        for (const chunk of chunks) {
          expect(chunk.id).toBe(chunks[0]?.id)
          for (const choice of chunk.choices) {
            text.set(choice.index, (text.get(choice.index) ?? "") + (choice.delta.content ?? choice.delta.refusal ?? ""))
            for (const call of choice.delta.tool_calls ?? []) {
              const key = `${choice.index}/${call.index}`
              args.set(key, (args.get(key) ?? "") + (call.function?.arguments ?? ""))
            }
            if (choice.finish_reason != null) finish.set(choice.index, choice.finish_reason)
          }
        }
        expect(finish.size).toBe(text.size)
        if (name.includes("tool_call")) {
          expect(args.size).toBeGreaterThan(0)
          for (const json of args.values()) expect(() => JSON.parse(json)).not.toThrow()
          expect([...finish.values()]).toContain("tool_calls")
        }
        if (name.includes("parallel_tool_calls")) expect(args.size).toBeGreaterThanOrEqual(2)
        if (name.includes("n3_multiple_choices")) expect(text.size).toBe(3)
        if (name.includes("finish_length")) expect([...finish.values()]).toEqual(["length"])
        if (name.includes("json_schema")) expect(() => JSON.parse(text.get(0) ?? "")).not.toThrow()
        if (name.includes("logprobs")) expect(chunks.some((c) => c.choices.some((ch) => ch.logprobs != null))).toBe(true)
        if (name.includes("refusal")) expect(chunks.some((c) => c.choices.some((ch) => ch.delta.refusal))).toBe(true)
      }))
  })

  describe("embeddings", () => {
    it.effect("the float and base64 recordings decode to the same 256 float32 values", () =>
      Effect.gen(function*() {
        const decode = Decode.decodeText(Embeddings.CreateEmbeddingResponseFloat32)
        const fromFloat = yield* decode(read(file("embeddings_float.json")))
        const fromBase64 = yield* decode(read(file("embeddings_base64.json")))
        const a = fromFloat.data[0]?.embedding
        const b = fromBase64.data[0]?.embedding
        expect(a).toBeInstanceOf(Float32Array)
        expect(b).toBeInstanceOf(Float32Array)
        expect(a?.length).toBe(256)
        expect(Array.from(b ?? [])).toEqual(Array.from(a ?? []))
        expect(fromBase64.model).toBe(fromFloat.model)

        const raw = yield* Decode.decodeText(Embeddings.CreateEmbeddingResponse)(read(file("embeddings_base64.json")))
        expect(typeof raw.data[0]?.embedding).toBe("string")
      }))
  })

  describe("models", () => {
    it.effect.each(matching(/^model_object_.*\.json$/))("%s decodes, keeping shutdown_date", (name) =>
      Effect.gen(function*() {
        const model = yield* Decode.decodeText(Models.Model)(read(file(name)))
        expect(model.object).toBe("model")
        expect(model.shutdown_date).toBeDefined()
      }))
  })

  describe("Responses API", () => {
    it.effect.each(matching(/^response_object_.*\.json$/))("%s decodes", (name) =>
      Effect.gen(function*() {
        const response = yield* Decode.decodeText(Responses.Response)(read(file(name)))
        expect(response.status).toBe("completed")
        expect(Responses.outputText(response).length).toBeGreaterThan(0)
        expect(response.usage?.total_tokens).toBeGreaterThan(0)
      }))

    it.effect.each(matching(/^responses_stream_.*\.sse$/))("%s: framed, every event decodes by its type", (name) =>
      Effect.gen(function*() {
        const events = yield* frame(read(file(name)), 5)
        expect(events.length).toBeGreaterThanOrEqual(3)
        const decoded = []
        for (const event of events) {
          const value = yield* Decode.decodeText(Responses.ResponseStreamEvent)(event.data)
          // The SSE event name repeats the payload's type.
          expect(value.type).toBe(event.event)
          decoded.push(value)
        }
        expect(decoded[0]?.type).toBe("response.created")
        const last = decoded.at(-1)
        expect(last && Responses.isTerminalEvent(last)).toBe(true)
        const deltas = decoded.flatMap((e) => e.type === "response.output_text.delta" && "delta" in e ? [e.delta] : [])
        const done = decoded.find((e): e is Responses.TextDoneEvent => e.type === "response.output_text.done")
        expect(done?.text.startsWith(deltas.join(""))).toBe(true)
      }))

    it.effect.each(matching(/^responses_stream_.*_event_spec_example\.json$/))("%s decodes", (name) =>
      Effect.gen(function*() {
        const event = yield* Decode.decodeText(Responses.ResponseStreamEvent)(read(file(name)))
        expect(Responses.isTerminalEvent(event)).toBe(true)
        if (name.includes("error") || name.includes("failed")) expect(Responses.isFailureEvent(event)).toBe(true)
        if (event.type === "response.failed" && "response" in event) {
          expect(event.response.error?.code).toBe("server_error")
        }
        if (event.type === "response.incomplete" && "response" in event) {
          expect(event.response.incomplete_details?.reason).toBe("max_tokens")
        }
      }))
  })

  describe("forward compatibility on real shapes", () => {
    // Every object gains a field, every open enum a value the API may send one day.
    const OPEN = new Set(["finish_reason", "role", "status", "object", "service_tier"])
    const evolve = (value: unknown, key?: string): unknown => {
      if (Array.isArray(value)) return value.map((v) => evolve(v))
      if (typeof value === "string" && key !== undefined && OPEN.has(key)) return `${value}_v2`
      if (typeof value !== "object" || value === null) return value
      const out: Record<string, unknown> = { zz_future_field: "new" }
      for (const [k, v] of Object.entries(value)) out[k] = evolve(v, k)
      return out
    }
    const cases: ReadonlyArray<readonly [string, Schema.Schema.AnyNoContext]> = [
      ...matching(/^chat_completion_.*\.json$/).map((f) => [f, ChatCompletion.ChatCompletion] as const),
      ...matching(/^embeddings_(float|base64)\.json$/).map((f) => [f, Embeddings.CreateEmbeddingResponseFloat32] as const),
      ...matching(/^model_object_.*\.json$/).map((f) => [f, Models.Model] as const),
      ...matching(/^response_object_.*\.json$/).map((f) => [f, Responses.Response] as const),
      ...matching(/^responses_stream_.*_event_spec_example\.json$/).map((f) => [f, Responses.ResponseStreamEvent] as const)
    ]

    it.effect.each(cases)("%s still decodes with new fields and enum values, and keeps them", ([name, schema]) =>
      Effect.gen(function*() {
        const evolved = evolve(JSON.parse(read(file(name)))) as Record<string, unknown>
        const decoded: unknown = yield* Decode.decodeUnknown(schema)(evolved)
        expect((decoded as Record<string, unknown>).zz_future_field).toBe("new")
      }))

    it.effect.each(matching(/^chat_stream_.*\.sse$/))("%s: every evolved chunk still decodes", (name) =>
      Effect.gen(function*() {
        const events = yield* Sse.parseAll(read(file(name)))
        for (const event of events.filter((e) => !Sse.isDone(e))) {
          const chunk = yield* Decode.decodeUnknown(ChatCompletionChunk.ChatCompletionChunk)(evolve(JSON.parse(event.data)))
          expect((chunk as unknown as Record<string, unknown>).zz_future_field).toBe("new")
        }
      }))
  })

  describe("published spec examples that are not valid JSON", () => {
    it("there are some", () => {
      expect(matching(/_spec_example\.txt$/).length).toBeGreaterThanOrEqual(3)
    })

    it.effect("embeddings_spec_example.txt (elided floats) gives a ResponseDecodeError", () =>
      expectDecodeError(Embeddings.CreateEmbeddingResponseFloat32, read(file("embeddings_spec_example.txt"))))

    it.effect("models_list_spec_example.txt (trailing comma) gives a ResponseDecodeError", () =>
      expectDecodeError(Models.ModelsList, read(file("models_list_spec_example.txt"))))

    it.effect("chat_chunk_obfuscation_spec_example.txt as one body gives a ResponseDecodeError; its JSON lines are chunks", () =>
      Effect.gen(function*() {
        const body = read(file("chat_chunk_obfuscation_spec_example.txt"))
        yield* expectDecodeError(ChatCompletionChunk.ChatCompletionChunk, body)
        const lines = body.split("\n").filter((l) => l.startsWith("{"))
        expect(lines.length).toBeGreaterThanOrEqual(3)
        for (const line of lines) {
          const chunk = yield* Decode.decodeText(ChatCompletionChunk.ChatCompletionChunk)(line)
          expect(typeof chunk.obfuscation).toBe("string")
        }
      }))

    it.effect.each(matching(/_spec_example\.txt$/))("%s is not valid JSON (so the typed error is the right outcome)", (name) =>
      Effect.gen(function*() {
        const parsed = yield* Effect.either(Decode.parseJson(read(file(name))))
        expect(Either.isLeft(parsed)).toBe(true)
      }))
  })
})
