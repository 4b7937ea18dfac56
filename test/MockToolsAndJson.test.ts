/**
 * Tool calls and structured output on the mock: with `tools`, the assistant calls one, with
 * arguments valid for its parameters (streamed as `arguments` deltas on chat, as
 * `function_call` items and their events on Responses); with a JSON schema, the answer is a
 * value valid for it. Checked with effect's own Schema -> JSON Schema -> decode round trip, and
 * by the official SDK's zod helpers, which parse and validate what the mock sends.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, JSONSchema, Schema } from "effect"
import OpenAI from "openai"
import { zodFunction, zodResponseFormat, zodResponsesFunction, zodTextFormat } from "openai/helpers/zod"
import { z } from "zod"
import { MockServer } from "../src/testing/index.js"
import { generate } from "../src/testing/internal/jsonSchema.js"

const schemas = [
  Schema.Struct({ city: Schema.String, days: Schema.Int, metric: Schema.Boolean }),
  Schema.Struct({ unit: Schema.Literal("celsius", "fahrenheit"), at: Schema.NullOr(Schema.Number) }),
  Schema.Struct({ tags: Schema.Array(Schema.String), nested: Schema.Struct({ n: Schema.Number.pipe(Schema.greaterThan(3)) }) }),
  Schema.Struct({ name: Schema.String.pipe(Schema.minLength(12)), maybe: Schema.optional(Schema.Int.pipe(Schema.between(5, 9))) }),
  Schema.Struct({ items: Schema.NonEmptyArray(Schema.Struct({ id: Schema.Int, kind: Schema.Literal("a") })) }),
  Schema.Union(Schema.Struct({ a: Schema.String }), Schema.Struct({ b: Schema.Number })),
  Schema.Array(Schema.Null)
] as const

describe("the JSON Schema value generator", () => {
  it.each(schemas.map((s, i) => [i, s] as const))("schema %i: the value decodes with the schema it came from", (_, schema) => {
    const value = generate(JSONSchema.make(schema as Schema.Schema<unknown, unknown>))
    expect(() => Schema.decodeUnknownSync(schema as Schema.Schema<unknown, unknown>)(value)).not.toThrow()
  })

  it("follows local $refs, stops at recursion, and never throws on nonsense", () => {
    interface Tree {
      readonly label: string
      readonly children: ReadonlyArray<Tree>
    }
    const Tree: Schema.Schema<Tree> = Schema.Struct({
      label: Schema.String,
      children: Schema.Array(Schema.suspend((): Schema.Schema<Tree> => Tree))
    }).annotations({ identifier: "Tree" })
    const value = generate(JSONSchema.make(Tree))
    expect(() => Schema.decodeUnknownSync(Tree)(value)).not.toThrow()
    for (const junk of [null, 3, "x", [], { type: 7 }, { $ref: "#/$defs/missing" }, { anyOf: [] }]) {
      expect(() => JSON.stringify(generate(junk))).not.toThrow()
    }
  })
})

const Weather = z.object({ city: z.string(), unit: z.enum(["c", "f"]), days: z.number().int() })
const Answer = z.object({ summary: z.string(), score: z.number(), tags: z.array(z.string()), safe: z.boolean().nullable() })

const withSdk = (f: (sdk: OpenAI) => Promise<void>) =>
  Effect.gen(function*() {
    const { url } = yield* MockServer.MockServer
    yield* Effect.promise(() => f(new OpenAI({ apiKey: "sk-tools-0123456789abcdefghij", baseURL: url, maxRetries: 0 })))
  }).pipe(Effect.provide(MockServer.layer()))

const messages = [{ role: "user" as const, content: "What's the weather in Paris?" }]

describe("tool calls and structured output through the official SDK", () => {
  it.live("chat: a tool call the SDK parses with the tool's schema, the same streamed, then text after the result", () =>
    withSdk(async (sdk) => {
      const tools = [zodFunction({ name: "get_weather", parameters: Weather })]
      const parsed = await sdk.chat.completions.parse({ model: "gpt-4o-mini", messages, tools })
      const choice = parsed.choices[0]
      expect(choice?.finish_reason).toBe("tool_calls")
      const call = choice?.message.tool_calls?.[0]
      expect(call?.type === "function" && call.function.name).toBe("get_weather")
      const args = call?.type === "function" ? call.function.parsed_arguments : undefined
      expect(Weather.parse(args)).toEqual(args)

      const stream = await sdk.chat.completions.create({ model: "gpt-4o-mini", messages, tools, stream: true })
      let streamed = ""
      let deltas = 0
      let finish: string | null | undefined
      for await (const chunk of stream) {
        const piece = chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments
        if (piece) {
          streamed += piece
          deltas++
        }
        finish = chunk.choices[0]?.finish_reason ?? finish
      }
      expect(deltas).toBeGreaterThan(1)
      expect(finish).toBe("tool_calls")
      expect(JSON.parse(streamed)).toEqual(args)

      const after = await sdk.chat.completions.create({
        model: "gpt-4o-mini",
        tools,
        messages: [
          ...messages,
          choice?.message ?? { role: "assistant", content: null },
          { role: "tool", tool_call_id: call?.id ?? "", content: "Sunny, 21 C" }
        ]
      })
      expect(after.choices[0]?.message.content).toBe("Sunny, 21 C")
      expect(after.choices[0]?.finish_reason).toBe("stop")
    }))

  it.live("chat: tool_choice names the tool; x-mock-tool-arguments scripts the arguments; none answers text", () =>
    withSdk(async (sdk) => {
      const tools = [
        zodFunction({ name: "first", parameters: z.object({ a: z.string() }) }),
        zodFunction({ name: "second", parameters: Weather })
      ]
      const named = await sdk.chat.completions.create({
        model: "gpt-4o-mini",
        messages,
        tools,
        tool_choice: { type: "function", function: { name: "second" } }
      }, { headers: { "x-mock-tool-arguments": "{\"city\":\"Oslo\",\"unit\":\"c\",\"days\":2}" } })
      const call = named.choices[0]?.message.tool_calls?.[0]
      expect(call?.type === "function" && [call.function.name, call.function.arguments]).toEqual([
        "second",
        "{\"city\":\"Oslo\",\"unit\":\"c\",\"days\":2}"
      ])
      const none = await sdk.chat.completions.create({ model: "gpt-4o-mini", messages, tools, tool_choice: "none" })
      expect(none.choices[0]?.message.content).toBe("What's the weather in Paris?")
    }))

  it.live("chat: response_format json_schema gives a value the SDK parses with the schema, streamed too", () =>
    withSdk(async (sdk) => {
      const format = zodResponseFormat(Answer, "answer")
      const parsed = await sdk.chat.completions.parse({ model: "gpt-4o-mini", messages, response_format: format })
      const value = parsed.choices[0]?.message.parsed
      expect(Answer.parse(value)).toEqual(value)
      const stream = await sdk.chat.completions.create({ model: "gpt-4o-mini", messages, response_format: format, stream: true })
      let text = ""
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ""
      expect(JSON.parse(text)).toEqual(value)
    }))

  it.live("Responses: function_call items and their events, and text.format, parsed by the SDK", () =>
    withSdk(async (sdk) => {
      const tools = [zodResponsesFunction({ name: "get_weather", parameters: Weather })]
      const response = await sdk.responses.parse({ model: "gpt-4o-mini", input: "Weather in Rome?", tools })
      const item = response.output[0]
      expect(item?.type).toBe("function_call")
      if (item?.type !== "function_call") return
      expect(item.name).toBe("get_weather")
      expect(Weather.parse(item.parsed_arguments)).toEqual(item.parsed_arguments)

      const events: Array<string> = []
      let args = ""
      const stream = await sdk.responses.create({ model: "gpt-4o-mini", input: "Weather in Rome?", tools, stream: true })
      for await (const event of stream) {
        events.push(event.type)
        if (event.type === "response.function_call_arguments.delta") args += event.delta
      }
      expect(events).toContain("response.output_item.added")
      expect(events).toContain("response.function_call_arguments.done")
      expect(events.at(-1)).toBe("response.completed")
      expect(JSON.parse(args)).toEqual(item.parsed_arguments)

      const answered = await sdk.responses.create({
        model: "gpt-4o-mini",
        tools,
        input: [{ type: "function_call_output", call_id: item.call_id, output: "Cloudy" }]
      })
      expect(answered.output_text).toBe("Cloudy")

      const structured = await sdk.responses.parse({
        model: "gpt-4o-mini",
        input: "Summarise",
        text: { format: zodTextFormat(Answer, "answer") }
      })
      expect(Answer.parse(structured.output_parsed)).toEqual(structured.output_parsed)
      const streamedText = await sdk.responses.create({
        model: "gpt-4o-mini",
        input: "Summarise",
        text: { format: zodTextFormat(Answer, "answer") },
        stream: true
      })
      let jsonText = ""
      for await (const event of streamedText) if (event.type === "response.output_text.delta") jsonText += event.delta
      expect(JSON.parse(jsonText)).toEqual(structured.output_parsed)
    }))
})
