import { describe, expect, it } from "@effect/vitest"
import { Effect, FastCheck, Option, Schema } from "effect"
import * as Decode from "../src/Decode.js"
import * as ChatCompletion from "../src/Schemas/ChatCompletion.js"

const KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"

const completion = {
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1,
  model: "gpt-4o",
  choices: [{ index: 0, message: { role: "assistant", content: "Hi", refusal: null }, finish_reason: "stop" }]
}

const decodeCompletion = Decode.decodeText(ChatCompletion.ChatCompletion, { status: 200, requestId: "req_123" })

describe("Decode.parseJson / decodeText: bodies that are not JSON", () => {
  it.effect.each<readonly [string, string, string]>([
    ["empty", "", "the body is empty"],
    ["whitespace", "  \n ", "the body is empty"],
    ["HTML", "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", "HTML page"],
    ["doctype", "<!DOCTYPE html><html></html>", "HTML page"],
    ["cut off", "{\"id\": \"chatcmpl-1\", \"choices\": [{\"index\"", "ends before its JSON does"],
    ["cut off in a string", "{\"id\": \"chatcm", "ends before its JSON does"],
    ["cut off after a value", "{\"id\": 1", "ends before its JSON does"],
    ["cut off in an array", "{\"a\": [1, 2", "ends before its JSON does"],
    ["garbage", "not json at all", "not valid JSON"],
    ["trailing comma", "{\"a\": [1,],}", "not valid JSON"]
  ])("%s gives a ResponseDecodeError", ([, body, expected]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(decodeCompletion(body))
      expect(error._tag).toBe("ResponseDecodeError")
      expect(error.issue).toContain(expected)
      expect(error.message).toContain(expected)
      expect(error.path).toBe("")
      expect(error.status).toEqual(Option.some(200))
      expect(error.requestId).toEqual(Option.some("req_123"))
      expect(error.body).toBe(body)
      expect(error.category).toBe("APIError")
    }))

  it.effect("without context, status and requestId are None", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Decode.parseJson("{"))
      expect(error.status).toEqual(Option.none())
      expect(error.requestId).toEqual(Option.none())
    }))

  it.effect("the excerpt and the issue are bounded and scrubbed of keys (JSON.parse quotes the body)", () =>
    Effect.gen(function*() {
      const body = `<html>${KEY} ${"x".repeat(5000)}`
      const error = yield* Effect.flip(Decode.decodeText(ChatCompletion.ChatCompletion)(body))
      expect(error.body.length).toBeLessThan(1100)
      expect(error.body).toContain("more characters")
      const bad = `{"key": "${KEY}" oops}`
      const error2 = yield* Effect.flip(Decode.decodeText(ChatCompletion.ChatCompletion, { maxExcerpt: 20 })(bad))
      for (const e of [error, error2]) {
        expect(JSON.stringify(e)).not.toContain(KEY)
        expect(e.message).not.toContain(KEY)
        expect(e.issue).not.toContain(KEY)
        expect(e.body).not.toContain(KEY)
        expect(String(e)).not.toContain(KEY)
      }
      expect(error2.body.startsWith("{\"key\": \"sk-proj-<re")).toBe(true)
    }))

  it.effect("extra secrets given in options are scrubbed too", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Decode.decodeText(Schema.Number, { secrets: ["hunter2-token"] })("\"hunter2-token\""))
      expect(error.body).not.toContain("hunter2-token")
    }))
})

describe("Decode: schema mismatches", () => {
  it.effect("a missing required field names its path", () =>
    Effect.gen(function*() {
      const body = JSON.stringify({ ...completion, choices: [{ index: 0, finish_reason: "stop" }] })
      const error = yield* Effect.flip(decodeCompletion(body))
      expect(error._tag).toBe("ResponseDecodeError")
      expect(error.path).toBe("choices.0.message")
      expect(error.message).toContain("\"choices.0.message\"")
      expect(error.message).toContain("is missing")
      expect(error.message).toContain("status 200")
      expect(error.issue).toContain("[\"message\"]")
      expect(error.body).toBe(body)
      expect(error.requestId).toEqual(Option.some("req_123"))
    }))

  it.effect("a wrong type names its path, deep inside arrays", () =>
    Effect.gen(function*() {
      const body = JSON.stringify({ ...completion, usage: { prompt_tokens: "9", completion_tokens: 1, total_tokens: 10 } })
      const error = yield* Effect.flip(decodeCompletion(body))
      expect(error.path).toBe("usage.prompt_tokens")
      expect(error.message).toContain("Expected number, actual \"9\"")
    }))

  it.effect("a key echoed in a mismatching value is scrubbed from message, issue and body", () =>
    Effect.gen(function*() {
      const body = JSON.stringify({ ...completion, created: KEY })
      const error = yield* Effect.flip(decodeCompletion(body))
      expect(error.path).toBe("created")
      expect(error.message).toContain("Expected number")
      for (const text of [error.message, error.issue, error.body, JSON.stringify(error), String(error)]) {
        expect(text).not.toContain(KEY)
      }
      const fromValue = yield* Effect.flip(Decode.decodeUnknown(ChatCompletion.ChatCompletion)({ ...completion, created: KEY }))
      expect(JSON.stringify(fromValue)).not.toContain(KEY)
    }))

  it.effect("the root being the wrong type has the empty path", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(decodeCompletion("[]"))
      expect(error.path).toBe("")
      expect(error.message).toContain("the root")
    }))

  it.effect("the issue is bounded", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Decode.decodeText(ChatCompletion.ChatCompletion, { maxIssue: 50 })("{}"))
      expect(error.issue.length).toBeLessThan(100)
    }))

  it.effect("decodeUnknown takes an already parsed value; its excerpt is the offending value", () =>
    Effect.gen(function*() {
      const value = { ...completion, choices: [{ index: 0, message: { role: 7 }, finish_reason: "stop" }] }
      const error = yield* Effect.flip(Decode.decodeUnknown(ChatCompletion.ChatCompletion, { status: 200 })(value))
      expect(error.path).toBe("choices.0.message.role")
      expect(error.body).toBe("7")
      const ok = yield* Decode.decodeUnknown(ChatCompletion.ChatCompletion)(completion)
      expect(ok.choices[0]?.message.content).toBe("Hi")
    }))

  it.effect("body() decodes text or a parsed value, data-first or data-last", () =>
    Effect.gen(function*() {
      const a = yield* Decode.body(JSON.stringify(completion), ChatCompletion.ChatCompletion)
      const b = yield* Decode.body(completion, ChatCompletion.ChatCompletion)
      const c = yield* Decode.body(ChatCompletion.ChatCompletion)(completion)
      expect([a.id, b.id, c.id]).toEqual(["chatcmpl-1", "chatcmpl-1", "chatcmpl-1"])
    }))

  it.effect("unknown fields are preserved, at every level", () =>
    Effect.gen(function*() {
      const body = JSON.stringify({
        ...completion,
        brand_new: { x: 1 },
        choices: [{ ...completion.choices[0], extra_choice_field: true }]
      })
      const decoded = yield* decodeCompletion(body)
      expect((decoded as unknown as Record<string, unknown>).brand_new).toEqual({ x: 1 })
      expect((decoded.choices[0] as unknown as Record<string, unknown>).extra_choice_field).toBe(true)
    }))

  it.effect("parse options can be overridden (onExcessProperty: ignore drops unknown fields)", () =>
    Effect.gen(function*() {
      const decoded = yield* Decode.decodeUnknown(ChatCompletion.ChatCompletion, {
        parseOptions: { onExcessProperty: "ignore" }
      })({ ...completion, brand_new: 1 })
      expect("brand_new" in decoded).toBe(false)
    }))

  it("pathOf reports the deepest issue of a union", () => {
    const S = Schema.Struct({ v: Schema.Union(Schema.String, Schema.Array(Schema.Number)) })
    const result = Schema.decodeUnknownEither(S)({ v: [1, "x"] })
    expect(result._tag).toBe("Left")
    if (result._tag === "Left") expect(Decode.pathOf(result.left)).toBe("v.1")
  })

  it.prop("any text decodes to a value or a ResponseDecodeError, never a defect", [FastCheck.string()], ([text]) => {
    const exit = Effect.runSyncExit(Effect.either(decodeCompletion(text)))
    expect(exit._tag).toBe("Success")
  })

  it.prop("any JSON value decodes to a value or a ResponseDecodeError", [FastCheck.jsonValue()], ([value]) => {
    const exit = Effect.runSyncExit(Effect.either(Decode.body(value, ChatCompletion.ChatCompletion)))
    expect(exit._tag).toBe("Success")
  })
})
