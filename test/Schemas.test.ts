import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, FastCheck, Schema } from "effect"
import * as Decode from "../src/Decode.js"
import * as ChatCompletion from "../src/Schemas/ChatCompletion.js"
import * as ChatCompletionChunk from "../src/Schemas/ChatCompletionChunk.js"
import * as Common from "../src/Schemas/Common.js"
import * as Embeddings from "../src/Schemas/Embeddings.js"
import * as Models from "../src/Schemas/Models.js"
import * as Responses from "../src/Schemas/Responses.js"

const decode = <A, I>(schema: Schema.Schema<A, I>, value: unknown) =>
  Effect.runSync(Effect.either(Decode.decodeUnknown(schema)(value)))

const ok = <A, I>(schema: Schema.Schema<A, I>, value: unknown): A => {
  const result = decode(schema, value)
  if (Either.isLeft(result)) throw new Error(`expected success, got: ${result.left.message}`)
  return result.right
}

const failPath = <A, I>(schema: Schema.Schema<A, I>, value: unknown): string => {
  const result = decode(schema, value)
  if (Either.isRight(result)) throw new Error("expected a ResponseDecodeError, got a value")
  expect(result.left._tag).toBe("ResponseDecodeError")
  return result.left.path
}

const completion = {
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1,
  model: "gpt-4o",
  choices: [{ index: 0, message: { role: "assistant", content: "Hi", refusal: null }, logprobs: null, finish_reason: "stop" }]
}

const chunk = (choices: ReadonlyArray<unknown>, extra: object = {}) => ({
  id: "chatcmpl-1",
  object: "chat.completion.chunk",
  created: 1,
  model: "gpt-4o",
  choices,
  ...extra
})

describe("Common", () => {
  it("OpenString accepts its known values and any other string, nothing else", () => {
    const S = Common.OpenString("a", "b")
    expect(Schema.decodeUnknownSync(S)("a")).toBe("a")
    expect(Schema.decodeUnknownSync(S)("brand-new")).toBe("brand-new")
    expect(Schema.decodeUnknownEither(S)(1)._tag).toBe("Left")
    expect(Schema.decodeUnknownEither(S)(null)._tag).toBe("Left")
  })

  it("UnknownVariant refuses the known types so they cannot bypass their own schema", () => {
    const S = Common.UnknownVariant(["text"])
    expect(Schema.decodeUnknownEither(S)({ type: "text" })._tag).toBe("Left")
    expect(Schema.decodeUnknownEither(S)({ type: "other", x: 1 })._tag).toBe("Right")
    expect(Schema.decodeUnknownEither(S)({})._tag).toBe("Left")
  })
})

describe("ChatCompletion", () => {
  it("decodes a minimal completion and keeps unknown fields", () => {
    const decoded = ok(ChatCompletion.ChatCompletion, { ...completion, future_field: [1] })
    expect(decoded.choices[0]?.message.content).toBe("Hi")
    expect((decoded as unknown as { future_field: unknown }).future_field).toEqual([1])
  })

  it("accepts unknown finish_reason, role, object and service_tier values", () => {
    const decoded = ok(ChatCompletion.ChatCompletion, {
      ...completion,
      object: "chat.completion.v2",
      service_tier: "turbo",
      choices: [{ index: 0, message: { role: "oracle", content: "x" }, finish_reason: "thought_budget" }]
    })
    expect(decoded.choices[0]?.finish_reason).toBe("thought_budget")
    expect(decoded.choices[0]?.message.role).toBe("oracle")
  })

  it.each(["id", "created", "model", "choices"])("requires %s", (field) => {
    const { [field as keyof typeof completion]: _, ...rest } = completion
    expect(failPath(ChatCompletion.ChatCompletion, rest)).toBe(field)
  })

  it("requires each choice's index, message and finish_reason key; checks field types", () => {
    const base = completion.choices[0]
    expect(failPath(ChatCompletion.ChatCompletion, { ...completion, choices: [{ ...base, message: undefined }] }))
      .toBe("choices.0.message")
    const { finish_reason: _, ...noReason } = base ?? {}
    expect(failPath(ChatCompletion.ChatCompletion, { ...completion, choices: [noReason] })).toBe("choices.0.finish_reason")
    expect(failPath(ChatCompletion.ChatCompletion, { ...completion, choices: [{ ...base, index: "0" }] }))
      .toBe("choices.0.index")
    expect(failPath(ChatCompletion.ChatCompletion, { ...completion, choices: [base, { ...base, message: { content: "x" } }] }))
      .toBe("choices.1.message.role")
  })

  it("decodes a refusal, tool calls of every kind, logprobs, annotations and usage details", () => {
    const decoded = ok(ChatCompletion.ChatCompletion, {
      ...completion,
      choices: [{
        index: 0,
        message: {
          role: "assistant",
          content: null,
          refusal: "I can't help with that.",
          annotations: [{ type: "url_citation", url_citation: { url: "https://x" } }],
          tool_calls: [
            { id: "call_1", type: "function", function: { name: "f", arguments: "{}" } },
            { id: "call_2", type: "custom", custom: { name: "sql", input: "select 1" } },
            { id: "call_3", type: "hologram", hologram: { frames: 3 } }
          ]
        },
        logprobs: { content: null, refusal: [{ token: "I", logprob: -0.1, bytes: [73], top_logprobs: [] }] },
        finish_reason: "tool_calls"
      }],
      usage: {
        prompt_tokens: 1,
        completion_tokens: 2,
        total_tokens: 3,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: null },
        completion_tokens_details: null
      }
    })
    const message = decoded.choices[0]?.message
    expect(message?.refusal).toBe("I can't help with that.")
    expect(message?.tool_calls?.map((c) => c.type)).toEqual(["function", "custom", "hologram"])
    expect((message?.tool_calls?.[2] as unknown as { hologram: unknown }).hologram).toEqual({ frames: 3 })
    expect(decoded.choices[0]?.logprobs?.refusal?.[0]?.bytes).toEqual([73])
  })

  it("a known tool call type with a missing field fails instead of falling back", () => {
    const value = {
      ...completion,
      choices: [{
        index: 0,
        message: { role: "assistant", content: null, tool_calls: [{ id: "c", type: "function" }] },
        finish_reason: "tool_calls"
      }]
    }
    expect(failPath(ChatCompletion.ChatCompletion, value)).toBe("choices.0.message.tool_calls.0.function")
  })

  it("the request accepts any further parameter and checks the known ones", () => {
    const request: ChatCompletion.ChatCompletionRequest = {
      model: "gpt-4o-mini",
      messages: [
        { role: "developer", content: "Be brief." },
        { role: "user", content: [{ type: "text", text: "Hi" }, { type: "image_url", image_url: { url: "https://x/a.png" } }] },
        { role: "assistant", content: null, tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "c", content: "42" }
      ],
      tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }],
      tool_choice: "auto",
      response_format: { type: "json_schema", json_schema: { name: "x", schema: {}, strict: true } },
      stream_options: { include_usage: true },
      a_parameter_from_next_month: { nested: true }
    }
    const encoded = Schema.encodeSync(ChatCompletion.ChatCompletionRequest)(request)
    expect(encoded).toEqual(request)
    expect(ok(ChatCompletion.ChatCompletionRequest, request)).toEqual(request)
    expect(failPath(ChatCompletion.ChatCompletionRequest, { messages: [] })).toBe("model")
    expect(failPath(ChatCompletion.ChatCompletionRequest, { model: "m", messages: [{ role: "user" }] })).toBe("messages.0.content")
    expect(failPath(ChatCompletion.ChatCompletionRequest, { model: "m", messages: [], temperature: "hot" }))
      .toBe("temperature")
  })

  it("request content parts: newer part types pass with their fields, known ones are checked", () => {
    const request = {
      model: "m",
      messages: [{ role: "user", content: [{ type: "input_video", video: { url: "https://x/v.mp4" } }] }]
    }
    expect(ok(ChatCompletion.ChatCompletionRequest, request)).toEqual(request)
    expect(failPath(ChatCompletion.ChatCompletionRequest, {
      model: "m",
      messages: [{ role: "user", content: [{ type: "image_url", image_url: {} }] }]
    })).toBe("messages.0.content.0.image_url.url")
  })

  it("request types: extra parameters compile, a missing model does not", () => {
    const withExtra: ChatCompletion.ChatCompletionRequest = { model: "m", messages: [], brand_new: 1 }
    // @ts-expect-error model is required
    const noModel: ChatCompletion.ChatCompletionRequest = { messages: [] }
    // @ts-expect-error a user message needs content
    const badMessage: ChatCompletion.Message = { role: "user" }
    expect([withExtra, noModel, badMessage]).toHaveLength(3)
  })
})

describe("ChatCompletionChunk", () => {
  it("decodes role, content, refusal and tool call fragments", () => {
    const first = ok(
      ChatCompletionChunk.ChatCompletionChunk,
      chunk([{
        index: 0,
        delta: {
          role: "assistant",
          content: null,
          tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "f", arguments: "" } }]
        },
        logprobs: null,
        finish_reason: null
      }])
    )
    expect(first.choices[0]?.delta.tool_calls?.[0]?.function?.name).toBe("f")
    const next = ok(
      ChatCompletionChunk.ChatCompletionChunk,
      chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: "{\"a\"" } }] }, finish_reason: null }])
    )
    expect(next.choices[0]?.delta.tool_calls?.[0]?.id).toBeUndefined()
    const refusal = ok(
      ChatCompletionChunk.ChatCompletionChunk,
      chunk([{ index: 0, delta: { refusal: "No" }, logprobs: { content: null, refusal: [] }, finish_reason: null }])
    )
    expect(refusal.choices[0]?.delta.refusal).toBe("No")
  })

  it("decodes the usage chunk with choices: [] and recognises it", () => {
    const usage = ok(
      ChatCompletionChunk.ChatCompletionChunk,
      chunk([], { usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } })
    )
    expect(ChatCompletionChunk.isUsageChunk(usage)).toBe(true)
    const normal = ok(ChatCompletionChunk.ChatCompletionChunk, chunk([{ index: 0, delta: {} }], { usage: null }))
    expect(ChatCompletionChunk.isUsageChunk(normal)).toBe(false)
    expect(ChatCompletionChunk.isUsageChunk(ok(ChatCompletionChunk.ChatCompletionChunk, chunk([])))).toBe(false)
  })

  it("keeps obfuscation and unknown fields; requires the delta", () => {
    const decoded = ok(ChatCompletionChunk.ChatCompletionChunk, chunk([{ index: 0, delta: {} }], { obfuscation: "abc" }))
    expect(decoded.obfuscation).toBe("abc")
    expect(failPath(ChatCompletionChunk.ChatCompletionChunk, chunk([{ index: 0 }]))).toBe("choices.0.delta")
    expect(failPath(ChatCompletionChunk.ChatCompletionChunk, chunk([{ index: 0, delta: { content: 1 } }])))
      .toBe("choices.0.delta.content")
  })
})

describe("Embeddings", () => {
  const values = [0, 1, -1, 0.5, -0.099287055, 3.4028234663852886e38, 1e-45]

  it("base64 decodes to the same Float32Array as floats", () => {
    const base64 = Embeddings.encodeBase64Float32(values)
    const fromBase64 = Either.getOrThrow(Embeddings.decodeBase64Float32(base64))
    expect(fromBase64).toBeInstanceOf(Float32Array)
    expect(Array.from(fromBase64)).toEqual(Array.from(Float32Array.from(values)))
    expect(Either.getOrThrow(Embeddings.toFloat32Array(values))).toEqual(fromBase64)
    expect(Embeddings.encodeBase64Float32([1, 2])).toBe("AACAPwAAAEA=")
  })

  it.prop(
    "encode then decode is the identity on float32 values",
    [FastCheck.array(FastCheck.float({ noNaN: true }), { maxLength: 64 })],
    ([floats]) => {
      const f32 = Float32Array.from(floats)
      const decoded = Either.getOrThrow(Embeddings.decodeBase64Float32(Embeddings.encodeBase64Float32(f32)))
      expect(Array.from(decoded)).toEqual(Array.from(f32))
    }
  )

  it("decodes from an unaligned Buffer slice correctly (the copy realigns)", () => {
    // Short base64 strings are decoded into Node's shared pool at arbitrary offsets.
    for (let n = 1; n < 12; n++) {
      const f32 = Float32Array.from({ length: n }, (_, i) => i + 0.25)
      const decoded = Either.getOrThrow(Embeddings.decodeBase64Float32(Embeddings.encodeBase64Float32(f32)))
      expect(Array.from(decoded)).toEqual(Array.from(f32))
    }
  })

  it.each([
    ["a character outside base64", "AACA*wAAAEA=", "not valid base64"],
    ["a length that is not a multiple of 4 bytes", Buffer.from([1, 2, 3, 4, 5, 6]).toString("base64"), "not a whole number"],
    ["3 bytes", "AAAA", "not a whole number"],
    ["a dangling character", "AAAAA", "cannot be whole bytes"],
    ["misplaced padding", "AA=A", "not valid base64"],
    ["padding in the middle", "AA==AAAAAAAA", "not valid base64"],
    ["a newline inside", "AACAPwAAAE\nA", "not valid base64"],
    ["a space inside", "AACA wAAAEA=", "not valid base64"],
    ["padding on a bad length", "AAAAA=", "with padding"]
  ])("rejects %s", (_, input, expected) => {
    const result = Embeddings.decodeBase64Float32(input)
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) expect(result.left).toContain(expected)
  })

  it("the empty string is an empty vector", () => {
    expect(Either.getOrThrow(Embeddings.decodeBase64Float32(""))).toEqual(new Float32Array(0))
  })

  const response = (embedding: unknown) => ({
    object: "list",
    data: [{ object: "embedding", index: 0, embedding }],
    model: "text-embedding-3-small",
    usage: { prompt_tokens: 2, total_tokens: 2 }
  })

  it("CreateEmbeddingResponseFloat32 gives one type for both wire formats", () => {
    const a = ok(Embeddings.CreateEmbeddingResponseFloat32, response(values))
    const b = ok(Embeddings.CreateEmbeddingResponseFloat32, response(Embeddings.encodeBase64Float32(values)))
    expect(a.data[0]?.embedding).toBeInstanceOf(Float32Array)
    expect(a.data[0]?.embedding).toEqual(b.data[0]?.embedding)
    const raw = ok(Embeddings.CreateEmbeddingResponse, response("AACAPwAAAEA="))
    expect(raw.data[0]?.embedding).toBe("AACAPwAAAEA=")
  })

  it("invalid base64 or a bad length is a ResponseDecodeError at data.N.embedding", () =>
    Effect.gen(function*() {
      for (const bad of ["AACA*wAAAEA=", "AAAA"]) {
        const body = JSON.stringify(response(bad))
        const error = yield* Effect.flip(Decode.decodeText(Embeddings.CreateEmbeddingResponseFloat32)(body))
        expect(error._tag).toBe("ResponseDecodeError")
        expect(error.path).toBe("data.0.embedding")
      }
      const notNumbers = yield* Effect.flip(
        Decode.decodeUnknown(Embeddings.CreateEmbeddingResponseFloat32)(response([0.1, "x"]))
      )
      expect(notNumbers.path).toBe("data.0.embedding.1")
    }).pipe(Effect.runSync))

  it("Float32Vector encodes back to numbers", () => {
    expect(Schema.encodeSync(Embeddings.Float32Vector)(Float32Array.from([1, 2]))).toEqual([1, 2])
  })

  it("the request accepts every input shape and further parameters", () => {
    for (const input of ["a", ["a", "b"], [1, 2], [[1], [2, 3]]]) {
      ok(Embeddings.EmbeddingsRequest, { model: "m", input, encoding_format: "base64", dimensions: 8, extra: 1 })
    }
    expect(failPath(Embeddings.EmbeddingsRequest, { model: "m" })).toBe("input")
  })
})

describe("Models", () => {
  it("decodes a model and a list, keeping newer fields", () => {
    const model = ok(Models.Model, { id: "gpt-4o", object: "model", created: 1, owned_by: "system", capabilities: ["x"] })
    expect((model as unknown as { capabilities: unknown }).capabilities).toEqual(["x"])
    const list = ok(Models.ModelsList, { object: "list", data: [model] })
    expect(list.data.map((m) => m.id)).toEqual(["gpt-4o"])
    expect(failPath(Models.ModelsList, { object: "list", data: [{ id: "x", object: "model", created: 1 }] }))
      .toBe("data.0.owned_by")
    ok(Models.ModelDeleted, { id: "ft:x", object: "model", deleted: true })
  })
})

describe("Responses", () => {
  const response = {
    id: "resp_1",
    object: "response",
    created_at: 1,
    status: "completed",
    error: null,
    incomplete_details: null,
    model: "gpt-4o",
    output: [
      { type: "reasoning", id: "rs_1", summary: [{ type: "summary_text", text: "thinking" }] },
      {
        type: "message",
        id: "msg_1",
        role: "assistant",
        status: "completed",
        content: [
          { type: "output_text", text: "Hello ", annotations: [] },
          { type: "output_text", text: "world", annotations: [] },
          { type: "refusal", refusal: "no" }
        ]
      },
      { type: "function_call", id: "fc_1", call_id: "call_1", name: "f", arguments: "{}", status: "completed" },
      { type: "web_search_call", id: "ws_1", status: "completed", action: { query: "x" } }
    ],
    usage: { input_tokens: 1, output_tokens: 2, total_tokens: 3 },
    temperature: 1
  }

  it("decodes a response with every modelled item type and an unknown one", () => {
    const decoded = ok(Responses.Response, response)
    expect(decoded.output.map((i) => i.type)).toEqual(["reasoning", "message", "function_call", "web_search_call"])
    expect(Responses.outputText(decoded)).toBe("Hello world")
    expect((decoded.output[3] as unknown as { action: unknown }).action).toEqual({ query: "x" })
    expect((decoded as unknown as { temperature: unknown }).temperature).toBe(1)
  })

  it("accepts new statuses; requires id, model and output", () => {
    expect(ok(Responses.Response, { ...response, status: "paused" }).status).toBe("paused")
    for (const field of ["id", "model", "output", "created_at"]) {
      const { [field as keyof typeof response]: _, ...rest } = response
      expect(failPath(Responses.Response, rest)).toBe(field)
    }
  })

  it("a known output item type with a missing field fails at its path", () => {
    const broken = { ...response, output: [{ type: "function_call", call_id: "c", name: "f" }] }
    expect(failPath(Responses.Response, broken)).toBe("output.0.arguments")
  })

  it("decodes stream events by type, unknown types through the fallback", () => {
    const events = [
      { type: "response.created", response: { ...response, status: "in_progress", output: [] }, sequence_number: 0 },
      { type: "response.output_item.added", output_index: 0, item: response.output[1], sequence_number: 1 },
      { type: "response.content_part.added", item_id: "msg_1", output_index: 0, content_index: 0, part: { type: "output_text", text: "" } },
      { type: "response.output_text.delta", item_id: "msg_1", output_index: 0, content_index: 0, delta: "Hi" },
      { type: "response.output_text.done", item_id: "msg_1", output_index: 0, content_index: 0, text: "Hi" },
      { type: "response.refusal.delta", item_id: "msg_1", output_index: 0, content_index: 1, delta: "N" },
      { type: "response.refusal.done", item_id: "msg_1", output_index: 0, content_index: 1, refusal: "No" },
      { type: "response.function_call_arguments.delta", item_id: "fc_1", output_index: 1, delta: "{" },
      { type: "response.function_call_arguments.done", item_id: "fc_1", output_index: 1, arguments: "{}" },
      { type: "response.web_search_call.searching", item_id: "ws_1", output_index: 2, sequence_number: 9 },
      { type: "response.completed", response },
      { type: "error", code: "server_error", message: "boom", param: null, sequence_number: 12 },
      { type: "response.failed", response: { ...response, status: "failed", error: { code: "server_error", message: "x" } } }
    ]
    const decoded = events.map((e) => ok(Responses.ResponseStreamEvent, e))
    expect(decoded.map((e) => e.type)).toEqual(events.map((e) => e.type))
    expect((decoded[9] as unknown as { item_id: unknown }).item_id).toBe("ws_1")
    expect(decoded.map(Responses.isTerminalEvent)).toEqual([...Array(10).fill(false), true, true, true])
    expect(decoded.map(Responses.isFailureEvent)).toEqual([...Array(11).fill(false), true, true])
  })

  it("a known event type with a missing field fails instead of falling back", () => {
    expect(failPath(Responses.ResponseStreamEvent, { type: "response.output_text.delta", item_id: "m", output_index: 0 }))
      .toBe("delta")
    expect(failPath(Responses.ResponseStreamEvent, { type: "response.completed" })).toBe("response")
    expect(failPath(Responses.ResponseStreamEvent, { type: "error", code: null })).toBe("message")
    expect(failPath(Responses.ResponseStreamEvent, { no_type: true })).toBe("type")
  })

  it("knownEventTypes lists the modelled types", () => {
    expect(Responses.knownEventTypes).toContain("response.completed")
    expect(Responses.knownEventTypes).toContain("error")
    expect(Responses.knownEventTypes).not.toContain("response.web_search_call.searching")
  })

  it("the request accepts text or items and further parameters", () => {
    const request: Responses.ResponsesRequest = {
      model: "gpt-4o-mini",
      input: [
        { role: "user", content: [{ type: "input_text", text: "Hi" }] },
        { type: "function_call_output", call_id: "c", output: "42" }
      ],
      reasoning: { effort: "low" },
      brand_new: true
    }
    expect(ok(Responses.ResponsesRequest, request)).toEqual(request)
    ok(Responses.ResponsesRequest, { model: "m", input: "Hi" })
    expect(failPath(Responses.ResponsesRequest, { model: "m", input: 3 })).toBe("input")
  })
})
