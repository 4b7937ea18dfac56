/**
 * Header normalisation shared by the classifier, the hint parsers and the middleware.
 * @internal
 */
import { scrubHead } from "./secrets.js"

/** Anything a caller may hand us as headers: a plain record (any case), a WHATWG `Headers`, or entries. */
export type HeadersInput =
  | Readonly<Record<string, string | ReadonlyArray<string> | number | undefined | null>>
  | { forEach(callback: (value: string, key: string) => void): void }
  | Iterable<readonly [string, string]>

const isForEachable = (u: unknown): u is { forEach(callback: (value: string, key: string) => void): void } =>
  typeof u === "object" && u !== null && typeof (u as { forEach?: unknown }).forEach === "function" &&
  !Array.isArray(u)

/** Lower-cased keys, first value of repeated headers, never throws. */
export const normalize = (input: HeadersInput | undefined | null): Readonly<Record<string, string>> => {
  const out: Record<string, string> = {}
  if (input === undefined || input === null || typeof input !== "object") return out
  try {
    if (isForEachable(input)) {
      input.forEach((value, key) => {
        if (typeof key === "string" && typeof value === "string") out[key.toLowerCase()] = value
      })
      return out
    }
    if (Symbol.iterator in input) {
      for (const entry of input as Iterable<unknown>) {
        if (Array.isArray(entry) && typeof entry[0] === "string" && typeof entry[1] === "string") {
          out[entry[0].toLowerCase()] = entry[1]
        }
      }
      return out
    }
    for (const [key, value] of Object.entries(input)) {
      if (typeof value === "string") out[key.toLowerCase()] = value
      else if (typeof value === "number" && Number.isFinite(value)) out[key.toLowerCase()] = String(value)
      else if (Array.isArray(value) && typeof value[0] === "string") out[key.toLowerCase()] = value[0]
    }
  } catch {
    // A hostile object (throwing getters, proxies) gives no headers rather than a defect.
  }
  return out
}

/**
 * The id a server gave a request: OpenAI's `x-request-id`, else Azure's `apim-request-id` or
 * `x-ms-request-id` (support asks for either). One rule for successes and errors alike. Scrubbed
 * and bounded: a proxy may echo the key in any header, and errors keep the id.
 */
export const requestIdOf = (
  headers: Readonly<Record<string, string | undefined>>,
  secrets: ReadonlyArray<string> = []
): string | undefined => {
  const value = (headers["x-request-id"] ?? headers["apim-request-id"] ?? headers["x-ms-request-id"])?.trim()
  return value === undefined || value.length === 0 ? undefined : scrubHead(value, 200, secrets)
}

/**
 * A header's count (`x-ratelimit-remaining-requests: 9999`): 1 to 15 digits, spaces around
 * allowed; anything else (Azure's `-1`, a float, garbage) is no count.
 */
export const parseCount = (value: string | undefined): number | undefined => {
  if (value === undefined) return undefined
  const text = value.trim()
  return /^\d{1,15}$/.test(text) ? Number(text) : undefined
}
