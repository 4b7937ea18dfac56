import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Ref } from "effect"
import * as cl100k from "gpt-tokenizer/encoding/cl100k_base"
import * as o200k from "gpt-tokenizer/encoding/o200k_base"
import * as Tokenizer from "../src/Tokenizer.js"

describe("Tokenizer", () => {
  it("picks each model's encoding", () => {
    expect(Tokenizer.encodingFor("gpt-4o")).toBe("o200k_base")
    expect(Tokenizer.encodingFor("gpt-4o-mini-2024-07-18")).toBe("o200k_base")
    expect(Tokenizer.encodingFor("gpt-4.1-mini")).toBe("o200k_base")
    expect(Tokenizer.encodingFor("gpt-5")).toBe("o200k_base")
    expect(Tokenizer.encodingFor("o3-mini")).toBe("o200k_base")
    expect(Tokenizer.encodingFor("gpt-4")).toBe("cl100k_base")
    expect(Tokenizer.encodingFor("gpt-4-turbo-2024-04-09")).toBe("cl100k_base")
    expect(Tokenizer.encodingFor("gpt-3.5-turbo")).toBe("cl100k_base")
    expect(Tokenizer.encodingFor("text-embedding-3-small")).toBe("cl100k_base")
    expect(Tokenizer.encodingFor("ft:gpt-3.5-turbo-0125:acme::x")).toBe("cl100k_base")
    expect(Tokenizer.encodingFor("some-future-model")).toBe("o200k_base")
  })

  it.effect("load counts with gpt-tokenizer when it is installed (a devDependency here)", () =>
    Effect.gen(function*() {
      const text = "Hello, world! 你好，世界。 const x = { a: [1, 2, 3] }"
      const o = yield* Tokenizer.load("o200k_base")
      const c = yield* Tokenizer.forModel("gpt-4")
      expect(Option.map(o, (t) => t.count(text))).toEqual(Option.some(o200k.countTokens(text)))
      expect(Option.map(c, (t) => [t.encoding, t.count(text)])).toEqual(Option.some(["cl100k_base", cl100k.countTokens(text)]))
    }))

  it.effect("imports lazily, once per encoding, and reads a missing or broken package as None", () =>
    Effect.gen(function*() {
      const imports = yield* Ref.make<ReadonlyArray<string>>([])
      const record = (encoding: string) => Effect.runPromise(Ref.update(imports, (a) => [...a, encoding]))
      const load = Tokenizer.loader((encoding) =>
        record(encoding).then(() => import(`gpt-tokenizer/encoding/${encoding}`))
      )
      const pending = load("o200k_base")
      expect(yield* Ref.get(imports)).toEqual([]) // nothing imported until the Effect runs
      yield* Effect.forEach([pending, load("o200k_base"), load("cl100k_base"), load("o200k_base")], (e) => e)
      expect(yield* Ref.get(imports)).toEqual(["o200k_base", "cl100k_base"])

      const missing = Tokenizer.loader((encoding) => record(`missing ${encoding}`).then(() => Promise.reject(new Error("Cannot find package"))))
      expect(yield* missing("o200k_base")).toEqual(Option.none())
      expect(yield* missing("o200k_base")).toEqual(Option.none())
      expect((yield* Ref.get(imports)).filter((e) => e.startsWith("missing"))).toHaveLength(1)

      const broken = Tokenizer.loader(() => Promise.resolve({ countTokens: "not a function" }))
      expect(yield* broken("o200k_base")).toEqual(Option.none())
      const throwing = Tokenizer.loader(() => {
        throw new Error("synchronous throw")
      })
      expect(yield* throwing("cl100k_base")).toEqual(Option.none())
    }))
})
