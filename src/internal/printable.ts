/**
 * Values made safe for `JSON.stringify`: what an error's `toJSON` returns must never throw,
 * whatever its caller put in it (a cyclic cause, a `BigInt`, a throwing getter or `toJSON`).
 * @internal
 */
import { stringifyCircular } from "effect/Inspectable"

const MAX_DEPTH = 8
const MAX_KEYS = 100

const convert = (u: unknown, depth: number, seen: Set<object>): unknown => {
  switch (typeof u) {
    case "string":
    case "boolean":
      return u
    case "number":
      return Number.isFinite(u) ? u : String(u)
    case "bigint":
      return `${u}n`
    case "symbol":
      return u.toString()
    case "function":
    case "undefined":
      return undefined
  }
  if (u === null) return null
  const object = u as object
  if (seen.has(object)) return "[Circular]"
  if (depth >= MAX_DEPTH) return "[Object]"
  seen.add(object)
  try {
    const toJSON = (object as { toJSON?: unknown }).toJSON
    if (typeof toJSON === "function" && !(object instanceof Error)) {
      return convert(toJSON.call(object), depth + 1, seen)
    }
    if (Array.isArray(object)) return object.slice(0, MAX_KEYS).map((v) => convert(v, depth + 1, seen) ?? null)
    const out: Record<string, unknown> = {}
    if (object instanceof Error) {
      // An Error's own `name` and `message` are not enumerable: a plain copy would read `{}`.
      out.name = convert(object.name, depth + 1, seen)
      out.message = convert(object.message, depth + 1, seen)
    }
    for (const key of Object.keys(object).slice(0, MAX_KEYS)) {
      const value = convert((object as Record<string, unknown>)[key], depth + 1, seen)
      if (value !== undefined) out[key] = value
    }
    if (object instanceof Error && !("cause" in out) && object.cause !== undefined) {
      out.cause = convert(object.cause, depth + 1, seen)
    }
    return out
  } catch {
    return "[Unreadable]"
  } finally {
    seen.delete(object)
  }
}

/**
 * A copy of `u` that `JSON.stringify` always accepts: cycles read `"[Circular]"`, a `BigInt` its
 * digits and `n`, an `Error` its name, message, own fields and cause, anything unreadable
 * `"[Unreadable]"`. Bounded in depth and width. Never throws.
 * @internal
 */
export const jsonSafe = (u: unknown): unknown => convert(u, 0, new Set())

/**
 * A cause that Effect's `Cause.pretty` (hence its default logger) can render: it prints a
 * non-Error cause, and every `cause` under an Error, with `JSON.stringify`, which throws on a
 * `BigInt` or a throwing `toJSON`/getter. Such a link is replaced by its {@link jsonSafe} copy
 * (an Error above it is copied with its prototype); anything else is returned as it is.
 * @internal
 */
export const renderableCause = (u: unknown, depth = 0): unknown => {
  if (typeof u === "bigint") return jsonSafe(u)
  if (typeof u !== "object" || u === null || depth > MAX_DEPTH) return u
  try {
    if (u instanceof Error) {
      const inner: unknown = u.cause
      const fixed = renderableCause(inner, depth + 1)
      if (fixed === inner) return u
      const descriptors = Object.getOwnPropertyDescriptors(u)
      descriptors.cause = { value: fixed, writable: true, enumerable: false, configurable: true }
      return Object.create(Object.getPrototypeOf(u), descriptors) as unknown
    }
    stringifyCircular(u)
    return u
  } catch {
    return jsonSafe(u)
  }
}
