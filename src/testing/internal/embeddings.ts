/**
 * The mock's `POST /v1/embeddings`: deterministic unit vectors per input, as floats or base64.
 *
 * @internal
 */
import * as Encoding from "effect/Encoding"
import type { MockResponse } from "../MockApi.js"
import type { JsonRecord } from "./content.js"
import { embeddingInputs, fnv, tokensOf } from "./content.js"
import type { Call } from "./wire.js"
import { json, missingParameter, respondJson } from "./wire.js"

const dimensionsOf = (body: JsonRecord, model: string): number => {
  const d = body.dimensions
  if (typeof d === "number" && Number.isInteger(d) && d >= 1 && d <= 3072) return d
  return model.includes("large") ? 3072 : 1536
}

/** A deterministic unit vector for a text, with float32 precision. @internal */
export const vectorOf = (text: string, dimensions: number): ReadonlyArray<number> => {
  let state = fnv(text) || 1
  const raw: Array<number> = []
  for (let i = 0; i < dimensions; i++) {
    // xorshift32: cheap and deterministic.
    state ^= state << 13
    state >>>= 0
    state ^= state >>> 17
    state ^= state << 5
    state >>>= 0
    raw.push(state / 0xffffffff - 0.5)
  }
  const norm = Math.sqrt(raw.reduce((s, x) => s + x * x, 0)) || 1
  return raw.map((x) => Math.fround(x / norm))
}

/** Float32 little-endian bytes, base64: what `encoding_format: "base64"` returns. @internal */
export const base64Of = (vector: ReadonlyArray<number>): string => {
  const bytes = new Uint8Array(vector.length * 4)
  const view = new DataView(bytes.buffer)
  vector.forEach((x, i) => view.setFloat32(i * 4, x, true))
  return Encoding.encodeBase64(bytes)
}

/** An embeddings list. @internal */
export const embeddings = (body: JsonRecord, model: string): JsonRecord => {
  const inputs = embeddingInputs(body)
  const dims = dimensionsOf(body, model)
  const base64 = body.encoding_format === "base64"
  const tokens = inputs.reduce((s, t) => s + tokensOf(t), 0)
  return {
    object: "list",
    data: inputs.map((text, index) => {
      const vector = vectorOf(text, dims)
      return { object: "embedding", index, embedding: base64 ? base64Of(vector) : vector }
    }),
    model,
    usage: { prompt_tokens: tokens, total_tokens: tokens }
  }
}


/** The API's 400 for a request it refuses, or undefined. @internal */
export const validate = (body: JsonRecord): unknown => {
  if (typeof body.model !== "string") return missingParameter("model")
  if (body.input === undefined) return missingParameter("input")
  if (embeddingInputs(body).some((t) => t.length === 0)) {
    return {
      message: "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
      type: "invalid_request_error",
      param: null,
      code: null
    }
  }
  return undefined
}

/** Answers an embeddings request. @internal */
export const respond = (call: Call): MockResponse =>
  respondJson({ ...call.headers("application/json"), ...call.okHeaders }, 200, json(embeddings(call.body, call.model)))
