/**
 * Where the adapters (`ResilientFetch`, `EffectAi`) leave the typed error of a call for the
 * caller to read back from whatever error its client raised: a weak map from the objects handed
 * to the client (a Response, its Headers, a thrown TypeError, the typed error itself), and a
 * bounded map from an opaque id sent in the response header {@link HEADER}, for clients that copy
 * headers into their own errors (the Vercel AI SDK, @effect/ai).
 * @internal
 */
import { globalValue } from "effect/GlobalValue"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Bulkhead from "../Bulkhead.js"
import type * as CircuitBreaker from "../CircuitBreaker.js"
import * as OpenAiError from "../OpenAiError.js"
import type * as RetryPolicy from "../RetryPolicy.js"

/** @internal */
export type Failure = OpenAiError.OpenAiError | CircuitBreaker.CircuitOpen | Bulkhead.BulkheadFull

/** @internal */
export interface Explanation {
  readonly error: Failure
  readonly attempts: number
  readonly decisions: ReadonlyArray<RetryPolicy.Decision>
}

/** @internal */
export const HEADER = "x-resilience-id"

// Enough for every error still being handled; older ids fall out first.
const MAX_IDS = 4096
const MAX_DEPTH = 8

const byObject = globalValue("effect-openai-resilience/explain/byObject", () => new WeakMap<object, Explanation>())
const byId = globalValue("effect-openai-resilience/explain/byId", () => new Map<string, Explanation>())

/**
 * Records `explanation` for `objects` and returns the id to send in {@link HEADER}. The id is a
 * random UUID: a server cannot forge one that names another call's error.
 * @internal
 */
export const register = (explanation: Explanation, objects: ReadonlyArray<object>): string =>
  registerAs(newId(), explanation, objects)

/**
 * An id for a call whose header must go out before its outcome is known (a stream, whose error
 * may come later); {@link registerAs} fills it in.
 * @internal
 */
export const newId = (): string => globalThis.crypto.randomUUID()

/** @internal */
export const registerAs = (id: string, explanation: Explanation, objects: ReadonlyArray<object>): string => {
  byId.set(id, explanation)
  if (byId.size > MAX_IDS) {
    const oldest = byId.keys().next()
    if (oldest.done !== true) byId.delete(oldest.value)
  }
  byObject.set(explanation.error, explanation)
  for (const o of objects) byObject.set(o, explanation)
  return id
}

/** @internal */
export const attach = (explanation: Explanation, object: object): void => {
  byObject.set(object, explanation)
}

const isFailure = (u: unknown): u is Failure =>
  OpenAiError.isOpenAiError(u) || Predicate.isTagged(u, "CircuitOpen") || Predicate.isTagged(u, "BulkheadFull")

const headerOf = (headers: unknown): string | undefined => {
  if (typeof Headers !== "undefined" && headers instanceof Headers) return headers.get(HEADER) ?? undefined
  if (Predicate.isRecord(headers)) {
    const value = headers[HEADER]
    return typeof value === "string" ? value : undefined
  }
  return undefined
}

// The places clients keep what they were given: openai-node `headers` (the Response's Headers)
// and `cause`; Vercel `responseHeaders`, `lastError`, `errors`; @effect/ai `response.headers`.
const children = (node: Record<string, unknown>): ReadonlyArray<unknown> => {
  const out: Array<unknown> = [node.cause, node.lastError, node.error]
  if (Array.isArray(node.errors)) out.push(...node.errors)
  return out
}

/** @internal */
export const explain = (u: unknown): Option.Option<Explanation> => {
  const seen = new Set<unknown>()
  let level: Array<unknown> = [u]
  let bare: Failure | undefined
  for (let depth = 0; depth < MAX_DEPTH && level.length > 0; depth++) {
    const next: Array<unknown> = []
    for (const node of level) {
      if (node === null || typeof node !== "object" || seen.has(node)) continue
      seen.add(node)
      const known = byObject.get(node)
      if (known !== undefined) return Option.some(known)
      if (!Predicate.isRecord(node)) continue
      const response = Predicate.isRecord(node.response) ? node.response : undefined
      for (const headers of [node.headers, node.responseHeaders, response?.headers]) {
        const id = headerOf(headers)
        const found = id === undefined ? undefined : byId.get(id)
        if (found !== undefined) return Option.some(found)
      }
      if (bare === undefined && isFailure(node)) bare = node
      next.push(...children(node))
    }
    level = next
  }
  // A typed error that did not come through an adapter: no attempts are known.
  return bare === undefined ? Option.none() : Option.some({ error: bare, attempts: 0, decisions: [] })
}

/** @internal */
export const isDecision = (u: unknown): u is RetryPolicy.Decision =>
  Predicate.isRecord(u) && (u._tag === "Retry" || u._tag === "Stop") && typeof u.attempt === "number"

/** @internal */
export const explanationOf = (
  error: Failure,
  call: { readonly attempts: number; readonly decisions: ReadonlyArray<RetryPolicy.Decision> }
): Explanation => ({
  error,
  attempts: call.attempts,
  decisions: call.decisions
})
