/**
 * A small generator of JSON values from a JSON Schema, so that the mock answers a structured
 * output request (`response_format: json_schema`, Responses `text.format`) or a tool call with
 * a value the caller's own schema accepts. Deterministic: the same schema gives the same value.
 *
 * Covers what structured outputs allow: `type` (one or a list), `properties` / `required`,
 * `items`, `enum`, `const`, `anyOf` / `oneOf` / `allOf` (the first branch), local `$ref`
 * (`#/$defs/...`, `#/definitions/...`), and the bounds `minimum` / `maximum` /
 * `exclusiveMinimum`, `minLength`, `minItems`, `format` (`date-time`, `date`, `email`, `uuid`).
 *
 * @internal
 */
import type { Json, JsonRecord } from "./content.js"
import { isRecord } from "./content.js"

/** How deep a recursive schema is followed before the generator answers with the simplest value. */
const MAX_DEPTH = 8

/** A value valid for `schema` (`{}` when the schema says nothing). @internal */
export const generate = (schema: unknown): Json => valueOf(schema, isRecord(schema) ? schema : {}, "value", 0)

const resolve = (schema: JsonRecord, root: JsonRecord, depth: number): JsonRecord => {
  const ref = schema.$ref
  if (typeof ref !== "string" || depth > MAX_DEPTH) return schema
  const match = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref)
  const table = match?.[1] === undefined ? undefined : root[match[1]]
  const target = match?.[2] !== undefined && isRecord(table) ? table[decodeURIComponent(match[2])] : undefined
  if (!isRecord(target)) return {}
  // Keywords beside the `$ref` (a bound, a description) refine what it points at.
  const { $ref: _, ...siblings } = schema
  return { ...resolve(target, root, depth + 1), ...siblings }
}

const firstType = (schema: JsonRecord): string | undefined => {
  const t = schema.type
  if (typeof t === "string") return t
  // ["string", "null"]: the first non-null type, so that a nullable field still carries a value.
  if (Array.isArray(t)) return t.find((x): x is string => typeof x === "string" && x !== "null") ?? "null"
  if (isRecord(schema.properties)) return "object"
  if (schema.items !== undefined) return "array"
  return undefined
}

const valueOf = (raw: unknown, root: JsonRecord, name: string, depth: number): Json => {
  if (!isRecord(raw)) return name
  const schema = resolve(raw, root, depth)
  if ("const" in schema) return toJson(schema.const)
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return toJson(schema.enum[0])
  for (const key of ["anyOf", "oneOf", "allOf"] as const) {
    const branches = schema[key]
    if (Array.isArray(branches) && branches.length > 0) {
      const branch = branches.find((b) => !(isRecord(b) && b.type === "null")) ?? branches[0]
      return valueOf(branch, root, name, depth + 1)
    }
  }
  switch (firstType(schema)) {
    case "object":
      return depth >= MAX_DEPTH ? {} : objectOf(schema, root, depth)
    case "array":
      return depth >= MAX_DEPTH ? [] : arrayOf(schema, root, name, depth)
    case "string":
      return stringOf(schema, name)
    case "integer":
      return numberOf(schema, true)
    case "number":
      return numberOf(schema, false)
    case "boolean":
      return true
    case "null":
      return null
    default:
      return {}
  }
}

const objectOf = (schema: JsonRecord, root: JsonRecord, depth: number): Json => {
  const properties = isRecord(schema.properties) ? schema.properties : {}
  const out: Record<string, Json> = {}
  // Every property, not only the required ones: strict mode requires all of them, and a
  // non-strict schema accepts them too.
  for (const [key, sub] of Object.entries(properties)) out[key] = valueOf(sub, root, key, depth + 1)
  if (Array.isArray(schema.required)) {
    for (const key of schema.required) {
      if (typeof key === "string" && !(key in out)) out[key] = key
    }
  }
  return out
}

/** Past this depth an array holds only the items it must, so that a recursive schema ends. */
const FULL_ARRAY_DEPTH = 3

const arrayOf = (schema: JsonRecord, root: JsonRecord, name: string, depth: number): Json => {
  const required = typeof schema.minItems === "number" && schema.minItems > 0 ? Math.min(Math.ceil(schema.minItems), 16) : 0
  const min = depth < FULL_ARRAY_DEPTH ? Math.max(1, required) : required
  const max = typeof schema.maxItems === "number" ? Math.max(0, Math.floor(schema.maxItems)) : Infinity
  return Array.from({ length: Math.min(min, max) }, () => valueOf(schema.items ?? {}, root, name, depth + 1))
}

const stringOf = (schema: JsonRecord, name: string): string => {
  const base = (() => {
    switch (schema.format) {
      case "date-time":
        return "2024-01-01T00:00:00Z"
      case "date":
        return "2024-01-01"
      case "time":
        return "00:00:00Z"
      case "email":
        return "mock@example.com"
      case "uuid":
        return "00000000-0000-4000-8000-000000000000"
      case "uri":
        return "https://example.com/"
      default:
        return name
    }
  })()
  const min = typeof schema.minLength === "number" ? Math.min(Math.ceil(schema.minLength), 1024) : 0
  const max = typeof schema.maxLength === "number" ? Math.max(0, Math.floor(schema.maxLength)) : Infinity
  const padded = base.length >= min ? base : base + "x".repeat(min - base.length)
  return padded.slice(0, max)
}

const numberOf = (schema: JsonRecord, integer: boolean): number => {
  const num = (k: string) => (typeof schema[k] === "number" && Number.isFinite(schema[k]) ? (schema[k] as number) : undefined)
  const exclusiveMin = num("exclusiveMinimum")
  const min = num("minimum") ?? (exclusiveMin === undefined ? undefined : exclusiveMin + (integer ? 1 : 0.5))
  const max = num("maximum") ?? num("exclusiveMaximum")
  let value = min ?? (max !== undefined && max < 1 ? max - (num("exclusiveMaximum") === undefined ? 0 : 1) : 1)
  if (integer) value = min !== undefined ? Math.ceil(value) : Math.floor(value)
  return value
}

const toJson = (u: unknown): Json => {
  if (u === null || typeof u === "string" || typeof u === "boolean") return u
  if (typeof u === "number") return Number.isFinite(u) ? u : 0
  if (Array.isArray(u)) return u.map(toJson)
  if (isRecord(u)) return Object.fromEntries(Object.entries(u).map(([k, v]) => [k, toJson(v)]))
  return null
}
