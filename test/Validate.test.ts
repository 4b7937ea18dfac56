import { assert, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import * as Decode from "../src/Decode.js"
import { compile, decodeEither } from "../src/internal/validate.js"
import * as Sse from "../src/Sse.js"
import * as ChatCompletion from "../src/Schemas/ChatCompletion.js"
import * as ChatCompletionChunk from "../src/Schemas/ChatCompletionChunk.js"
import * as Embeddings from "../src/Schemas/Embeddings.js"
import * as Responses from "../src/Schemas/Responses.js"
import { fixturesAvailable, list, read } from "./utils/fixtures.js"

const options = Decode.defaultParseOptions

// The fast path's promise: whenever the predicate accepts an input, the schema's own decoder
// succeeds on it and returns an equal value; whatever the decoder rejects, the predicate rejects.
const agrees = <A, I>(schema: Schema.Schema<A, I, never>, input: unknown): boolean => {
  const check = compile(schema.ast, options)
  if (check === undefined) return true
  let full: Either.Either<A, unknown>
  try {
    full = Schema.decodeUnknownEither(schema, options)(input)
  } catch (e) {
    // Effect's union decoder throws on some inputs (`String()` of a hostile `type`).
    expect(check(input)).toBe(false)
    return false
  }
  if (check(input)) {
    expect(Either.isRight(full)).toBe(true)
    if (Either.isRight(full)) expect(full.right).toStrictEqual(input)
    return true
  }
  return false
}

const chunk = {
  id: "chatcmpl-1",
  object: "chat.completion.chunk",
  created: 1,
  model: "gpt-4o-mini",
  system_fingerprint: "fp_1",
  choices: [{ index: 0, delta: { role: "assistant", content: "Hi", tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "f", arguments: "{}" } }] }, logprobs: null, finish_reason: null }],
  usage: null,
  brand_new_field: { kept: true }
}

// Replaces the value at a random path of `value` with `replacement`.
const mutate = (value: unknown, path: ReadonlyArray<number>, replacement: unknown): unknown => {
  if (path.length === 0 || typeof value !== "object" || value === null) return replacement
  const keys = Object.keys(value)
  if (keys.length === 0) return replacement
  const key = keys[(path[0] ?? 0) % keys.length] as string
  const copy: Record<string, unknown> = Array.isArray(value) ? [...value] as unknown as Record<string, unknown> : { ...value }
  copy[key] = mutate((value as Record<string, unknown>)[key], path.slice(1), replacement)
  return copy
}

describe("validate (the decoding fast path)", () => {
  it("accepts a valid chunk, unknown fields included, and returns it as the decoder would", () => {
    assert.isTrue(agrees(ChatCompletionChunk.ChatCompletionChunk, chunk))
    const decode = decodeEither(ChatCompletionChunk.ChatCompletionChunk, options)
    const result = decode(chunk)
    assert.isTrue(Either.isRight(result) && result.right === (chunk as unknown))
  })

  it("rejects what the decoder rejects, and the decoder still explains it", () => {
    const bad = { ...chunk, choices: [{ index: "0", delta: {} }] }
    assert.isFalse(agrees(ChatCompletionChunk.ChatCompletionChunk, bad))
    const result = decodeEither(ChatCompletionChunk.ChatCompletionChunk, options)(bad)
    assert.isTrue(Either.isLeft(result) && Decode.pathOf(result.left) === "choices.0.index")
  })

  it.prop(
    "never accepts what the decoder rejects, nor accepts with a different value (chunks)",
    [FastCheck.array(FastCheck.nat({ max: 20 }), { maxLength: 6 }), FastCheck.jsonValue()],
    ([path, replacement]) => {
      agrees(ChatCompletionChunk.ChatCompletionChunk, mutate(chunk, path, replacement))
    },
    { fastCheck: { numRuns: 2000 } }
  )

  it.prop(
    "the same for Responses events",
    [
      FastCheck.array(FastCheck.nat({ max: 20 }), { maxLength: 5 }),
      FastCheck.jsonValue(),
      FastCheck.constantFrom(
        { type: "response.output_text.delta", sequence_number: 1, item_id: "m", output_index: 0, content_index: 0, delta: "x", logprobs: [] },
        { type: "response.created", sequence_number: 0, response: { id: "r", object: "response", created_at: 1, status: "in_progress", model: "m", output: [] } },
        { type: "error", code: "rate_limit_exceeded", message: "slow down", param: null, sequence_number: 2 },
        { type: "response.web_search_call.searching", sequence_number: 3, item_id: "ws" }
      )
    ],
    ([path, replacement, event]) => {
      agrees(Responses.ResponseStreamEvent, mutate(event, path, replacement))
    },
    { fastCheck: { numRuns: 2000 } }
  )

  it("a decoder that throws on hostile input gives a parse error, not a defect", () => {
    const hostile = { type: { toString: [] }, sequence_number: 1 }
    const result = decodeEither(Responses.ResponseStreamEvent, options)(hostile)
    assert.isTrue(Either.isLeft(result))
  })

  it("has no fast path for a schema that transforms, or without preserved excess properties", () => {
    assert.isUndefined(compile(Embeddings.CreateEmbeddingResponseFloat32.ast, options))
    assert.isUndefined(compile(Schema.Struct({ n: Schema.NumberFromString }).ast, options))
    assert.isUndefined(compile(Schema.Struct({ a: Schema.String }).ast, { onExcessProperty: "ignore" }))
    assert.isDefined(compile(ChatCompletion.ChatCompletion.ast, options))
    assert.isDefined(compile(Responses.ResponseStreamEvent.ast, options))
  })

  it("a property given as undefined, inherited or named like Object.prototype's is judged as the decoder does", () => {
    const schema = Schema.Struct({ a: Schema.String, b: Schema.optionalWith(Schema.UndefinedOr(Schema.String), { exact: true }) })
    for (
      const input of [
        { a: "x" },
        { a: "x", b: undefined },
        { a: undefined },
        Object.create({ a: "inherited" }),
        Object.assign(Object.create({ a: "inherited" }), { b: "own" })
      ]
    ) agrees(schema, input)
    const named = Schema.Struct({ constructor: Schema.String, toString: Schema.optionalWith(Schema.String, { exact: true }) })
    assert.isFalse(agrees(named, {}))
    assert.isTrue(agrees(named, { constructor: "x" }))
    assert.isFalse(agrees(named, JSON.parse("{\"constructor\": 1}")))
  })

  it("follows recursive schemas", () => {
    interface Tree {
      readonly value: number
      readonly children: ReadonlyArray<Tree>
    }
    const Tree: Schema.Schema<Tree> = Schema.Struct({
      value: Schema.Number,
      children: Schema.Array(Schema.suspend(() => Tree))
    })
    const check = compile(Tree.ast, options)
    assert.isTrue(check?.({ value: 1, children: [{ value: 2, children: [] }] }))
    assert.isFalse(check?.({ value: 1, children: [{ value: "2", children: [] }] }))
  })
})

describe.skipIf(!fixturesAvailable)("validate on recorded traffic", () => {
  it("accepts every recorded event and body, each equal to what the decoder returns", () => {
    let accepted = 0
    for (const file of list("openai/responses")) {
      const text = read(`openai/responses/${file}`)
      if (file.endsWith(".sse")) {
        const schema: Schema.Schema<unknown, unknown> = file.startsWith("responses_")
          ? Responses.ResponseStreamEvent as Schema.Schema<unknown, unknown>
          : ChatCompletionChunk.ChatCompletionChunk as Schema.Schema<unknown, unknown>
        for (const event of Effect.runSync(Sse.parseAll(text))) {
          const data = event.data
          if (data === "" || data === "[DONE]" || event.event === "error") continue
          const json: unknown = JSON.parse(data)
          if (typeof json === "object" && json !== null && "error" in json) continue
          if (agrees(schema, json)) accepted++
        }
      } else if (file.startsWith("chat_completion") && file.endsWith(".json")) {
        if (agrees(ChatCompletion.ChatCompletion, JSON.parse(text))) accepted++
      }
    }
    assert.isAbove(accepted, 10)
  })
})
