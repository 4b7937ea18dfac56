/**
 * The Response `ResilientFetch` hands a client over bytes it already read: every read a client
 * may make answers as a Response built by fetch would, and a second read fails as fetch's does.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { bufferedResponse } from "../src/internal/bufferedResponse.js"

const encoder = new TextEncoder()
const json = '{"id":"chatcmpl-1","choices":[{"index":0}]}'
const init = { status: 201, headers: { "content-type": "application/json", "x-request-id": "req_1" } }
const buffered = (text: string = json, i: ResponseInit = init) => bufferedResponse(encoder.encode(text), i)
const reference = (text: string = json, i: ResponseInit = init) => new Response(text, i)
const promise = <A>(f: () => Promise<A>) => Effect.promise(f)
const rejection = (f: () => Promise<unknown>) => Effect.promise(() => f().then(() => undefined, (e: unknown) => e))

describe("BufferedResponse", () => {
  it.effect("is a Response with the status and headers given", () =>
    Effect.sync(() => {
      const r = buffered()
      expect(r).toBeInstanceOf(Response)
      expect(r.status).toBe(201)
      expect(r.ok).toBe(true)
      expect(r.headers.get("x-request-id")).toBe("req_1")
      expect(r.bodyUsed).toBe(false)
    }))

  it.effect("text, json, arrayBuffer and bytes answer as fetch's Response does, a BOM and multi-byte text included", () =>
    Effect.gen(function*() {
      const text = "\uFEFFhé 日本 🦊"
      expect(yield* promise(() => buffered(text).text())).toBe(yield* promise(() => reference(text).text()))
      expect(yield* promise(() => buffered().json())).toEqual(JSON.parse(json))
      expect(new Uint8Array(yield* promise(() => buffered(text).arrayBuffer()))).toEqual(
        new Uint8Array(yield* promise(() => reference(text).arrayBuffer()))
      )
      expect(yield* promise(() => buffered(text).bytes())).toEqual(encoder.encode(text))
    }))

  it.effect("a second read is the TypeError fetch gives, whatever the reads; a bad JSON body is fetch's SyntaxError", () =>
    Effect.gen(function*() {
      const reads: ReadonlyArray<(r: Response) => Promise<unknown>> = [
        (r) => r.text(),
        (r) => r.json(),
        (r) => r.arrayBuffer(),
        (r) => r.bytes(),
        (r) => r.blob()
      ]
      for (const first of reads) {
        for (const second of reads) {
          const r = buffered()
          yield* promise(() => first(r))
          expect(r.bodyUsed).toBe(true)
          const error = yield* rejection(() => second(r))
          expect(error).toBeInstanceOf(TypeError)
        }
      }
      expect(yield* rejection(() => buffered("{ not json").json())).toBeInstanceOf(SyntaxError)
    }))

  it.effect("body is a stream of the bytes; once read through it, the body is used", () =>
    Effect.gen(function*() {
      const r = buffered()
      const body = r.body
      expect(r.body).toBe(body)
      expect(r.bodyUsed).toBe(false)
      const text = yield* promise(() => new Response(body).text())
      expect(text).toBe(json)
      expect(r.bodyUsed).toBe(true)
      expect(yield* rejection(() => r.text())).toBeInstanceOf(TypeError)
      // A body taken but not yet read can still be read by the methods.
      const fresh = buffered()
      void fresh.body
      expect(yield* promise(() => fresh.json())).toEqual(JSON.parse(json))
    }))

  it.effect("clone before a read gives two independent bodies; after a read it throws as fetch's does", () =>
    Effect.gen(function*() {
      const r = buffered()
      const copy = r.clone()
      expect(copy.status).toBe(201)
      expect(copy.headers.get("content-type")).toBe("application/json")
      expect(yield* promise(() => r.text())).toBe(json)
      expect(yield* promise(() => copy.json())).toEqual(JSON.parse(json))
      expect(() => r.clone()).toThrow(TypeError)
      expect(() => reference().clone()).not.toThrow()
      // Cloned after the stream was taken: both halves carry the bytes.
      const streamed = buffered()
      void streamed.body
      const twin = streamed.clone()
      expect(yield* promise(() => twin.text())).toBe(json)
      expect(yield* promise(() => streamed.text())).toBe(json)
    }))

  it.effect("blob keeps the content type; formData parses a url-encoded body as fetch's does", () =>
    Effect.gen(function*() {
      const blob = yield* promise(() => buffered().blob())
      expect(blob.type).toBe("application/json")
      expect(yield* promise(() => blob.text())).toBe(json)
      const form = { headers: { "content-type": "application/x-www-form-urlencoded" } }
      const data = yield* promise(() => buffered("a=1&b=two", form).formData())
      expect(data.get("b")).toBe("two")
      expect(yield* rejection(() => buffered("x", { headers: { "content-type": "text/plain" } }).formData())).toBeInstanceOf(
        TypeError
      )
    }))

  it.effect("reading one response does not change what a clone or a later read of another returns (bytes are copied out)", () =>
    Effect.gen(function*() {
      const r = buffered()
      const copy = r.clone()
      const bytes = yield* promise(() => r.bytes())
      bytes.fill(0)
      expect(yield* promise(() => copy.text())).toBe(json)
    }))
})

describe("BufferedResponse against the platform's Response, sequence by sequence", () => {
  type Step = (r: Response) => Promise<unknown> | unknown
  const outcome = async (step: Step, r: Response): Promise<string> => {
    try {
      const value = await step(r)
      return `ok ${value instanceof ArrayBuffer ? new TextDecoder().decode(value) : typeof value === "object" ? typeof value : String(value)}`
    } catch (error) {
      return `throws ${(error as Error).constructor.name}`
    }
  }
  const steps: Record<string, Step> = {
    text: (r) => r.text(),
    json: (r) => r.json().then(JSON.stringify),
    arrayBuffer: (r) => r.arrayBuffer(),
    bodyUsed: (r) => r.bodyUsed,
    readBody: (r) => new Response(r.body).text(),
    lockBody: (r) => {
      r.body?.getReader()
      return "locked"
    },
    clone: (r) => r.clone().text(),
    cancelBody: (r) => r.body?.cancel().then(() => "cancelled")
  }
  const names = Object.keys(steps)
  it.effect("every sequence of three reads gives what the platform's gives", () =>
    Effect.promise(async () => {
      for (const a of names) {
        for (const b of names) {
          for (const c of names) {
            const ours = buffered()
            const theirs = reference()
            const sequence = [a, b, c]
            const got: Array<string> = []
            const want: Array<string> = []
            for (const name of sequence) {
              const step = steps[name] as Step
              got.push(await outcome(step, ours))
              want.push(await outcome(step, theirs))
            }
            expect({ sequence, got }).toEqual({ sequence, got: want })
          }
        }
      }
    }))
})
