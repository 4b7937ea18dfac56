/**
 * The mock's `GET /v1/models` and `GET /v1/models/{id}`.
 *
 * @internal
 */
import type { MockResponse } from "../MockApi.js"
import type { JsonRecord } from "./content.js"
import type { Call } from "./wire.js"
import { json, respondJson } from "./wire.js"

/** The models the mock lists. @internal */
export const defaultModels: ReadonlyArray<string> = [
  "gpt-4o-mini",
  "gpt-4o",
  "gpt-4.1-mini",
  "gpt-4.1",
  "o4-mini",
  "text-embedding-3-small",
  "text-embedding-3-large"
]

/** A model object. @internal */
export const model = (id: string): JsonRecord => ({
  id,
  object: "model",
  created: 1686935002,
  owned_by: id.startsWith("text-embedding") ? "system" : "openai"
})

/** The models list. @internal */
export const modelList = (ids: ReadonlyArray<string>): JsonRecord => ({ object: "list", data: ids.map(model) })

/** Answers the models list. @internal */
export const respondList = (call: Call): MockResponse =>
  respondJson({ ...call.headers("application/json"), ...call.okHeaders }, 200, json(modelList(call.models)))

/** Answers one model, or the API's 404 for one it does not list. @internal */
export const respondOne = (call: Call, id: string): MockResponse => {
  const headers = { ...call.headers("application/json"), ...call.okHeaders }
  return call.models.includes(id)
    ? respondJson(headers, 200, json(model(id)))
    : respondJson(
      headers,
      404,
      json({
        error: {
          message: `The model '${id.slice(0, 200)}' does not exist`,
          type: "invalid_request_error",
          param: "model",
          code: "model_not_found"
        }
      }, true)
    )
}
