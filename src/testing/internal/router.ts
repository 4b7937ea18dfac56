/**
 * Which endpoint group answers a request: method and path to a route, a route to its group's
 * validation and answer.
 *
 * @internal
 */
import type { MockResponse } from "../MockApi.js"
import * as Chat from "./chat.js"
import type { JsonRecord } from "./content.js"
import * as Embeddings from "./embeddings.js"
import * as Models from "./models.js"
import * as Responses from "./responses.js"
import type { Call } from "./wire.js"

/** @internal */
export type Route =
  | { readonly _tag: "Chat" }
  | { readonly _tag: "Responses" }
  | { readonly _tag: "Embeddings" }
  | { readonly _tag: "Models" }
  | { readonly _tag: "Model"; readonly id: string }
  | { readonly _tag: "Unknown" }

/** @internal */
export const route = (method: string, path: string): Route => {
  if (method === "POST" && path === "/v1/chat/completions") return { _tag: "Chat" }
  if (method === "POST" && path === "/v1/responses") return { _tag: "Responses" }
  if (method === "POST" && path === "/v1/embeddings") return { _tag: "Embeddings" }
  if (method === "GET" && path === "/v1/models") return { _tag: "Models" }
  const m = /^\/v1\/models\/([^/]+)$/.exec(path)
  if (method === "GET" && m?.[1] !== undefined) {
    try {
      return { _tag: "Model", id: decodeURIComponent(m[1]) }
    } catch {
      // A malformed escape is a model id no one has: 404, never a defect.
      return { _tag: "Model", id: m[1] }
    }
  }
  return { _tag: "Unknown" }
}

/** The API's 400 for a body the route refuses, or undefined. @internal */
export const validate = (r: Route, body: JsonRecord): unknown => {
  switch (r._tag) {
    case "Chat":
      return Chat.validate(body)
    case "Responses":
      return Responses.validate(body)
    case "Embeddings":
      return Embeddings.validate(body)
    default:
      return undefined
  }
}

/** The answer of a known route (never `Unknown`: the caller answers 404 first). @internal */
export const respond = (r: Exclude<Route, { readonly _tag: "Unknown" }>, call: Call): MockResponse => {
  switch (r._tag) {
    case "Chat":
      return Chat.respond(call)
    case "Responses":
      return Responses.respond(call)
    case "Embeddings":
      return Embeddings.respond(call)
    case "Models":
      return Models.respondList(call)
    case "Model":
      return Models.respondOne(call, r.id)
  }
}
