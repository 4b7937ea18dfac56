/**
 * The mock's own request headers (`x-mock-*`), read once per request: which fault, how many
 * times, the delays, the status of a body fault, which hint headers, the shape of a Responses
 * `error` event, scripted tool arguments. A malformed one is the caller's mistake: a 400.
 *
 * @internal
 */
import * as Faults from "../Faults.js"
import type { ErrorShape } from "./wire.js"

/** @internal */
export interface Controls {
  /** The fault the `x-mock-fault` header names. */
  readonly fault: Faults.FaultName | undefined
  readonly times: number | undefined
  readonly retryAfterMs: number | undefined
  readonly delayMs: number | undefined
  readonly chunkDelayMs: number | undefined
  readonly status: number | undefined
  readonly hints: ReadonlyArray<Faults.Hint> | undefined
  readonly errorShape: ErrorShape | undefined
  readonly shouldRetry: "true" | "false" | undefined
  readonly toolArguments: string | undefined
}

/** What is wrong with a control header: the 400's message, `param` and `code`. @internal */
export interface Invalid {
  readonly _tag: "Invalid"
  readonly message: string
  readonly param: string
  readonly code: string
}

const INTEGER_HEADERS = [
  "x-mock-fault-times",
  "x-mock-retry-after-ms",
  "x-mock-delay-ms",
  "x-mock-chunk-delay-ms",
  "x-mock-status"
] as const

const invalid = (param: string, message: string, code = "invalid_mock_header"): Invalid => ({
  _tag: "Invalid",
  message,
  param,
  code
})

const nonNegativeInt = (text: string | undefined): number | undefined | "invalid" => {
  if (text === undefined) return undefined
  if (!/^\s*\d{1,9}\s*$/.test(text)) return "invalid"
  return Number(text)
}

const hintsOf = (text: string | undefined): ReadonlyArray<Faults.Hint> | undefined | "invalid" => {
  if (text === undefined) return undefined
  const names = text.split(",").map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0)
  if (names.length === 1 && names[0] === "none") return []
  const known: ReadonlyArray<string> = Faults.hints
  return names.every((n) => known.includes(n)) ? Faults.hints.filter((h) => names.includes(h)) : "invalid"
}

/** Reads the control headers (lower-case names). @internal */
export const parse = (headers: Readonly<Record<string, string>>): Controls | Invalid => {
  const faultHeader = headers["x-mock-fault"]?.trim()
  if (faultHeader !== undefined && faultHeader.length > 0 && !Faults.isFaultName(faultHeader)) {
    return invalid(
      "x-mock-fault",
      `Unknown mock fault '${faultHeader.slice(0, 100)}' in the x-mock-fault header. Known faults: ${Faults.names.join(", ")}.`,
      "unknown_mock_fault"
    )
  }
  const ints: Partial<Record<typeof INTEGER_HEADERS[number], number>> = {}
  for (const header of INTEGER_HEADERS) {
    const value = nonNegativeInt(headers[header])
    if (value === "invalid") return invalid(header, `The ${header} header must be a non-negative integer.`)
    if (value !== undefined) ints[header] = value
  }
  const status = ints["x-mock-status"]
  if (status !== undefined && (status < 200 || status > 599)) {
    return invalid("x-mock-status", "The x-mock-status header must be between 200 and 599.")
  }
  const hints = hintsOf(headers["x-mock-hints"])
  if (hints === "invalid") {
    return invalid("x-mock-hints", `The x-mock-hints header must be "none" or a list of: ${Faults.hints.join(", ")}.`)
  }
  const shape = headers["x-mock-error-shape"]?.trim().toLowerCase()
  if (shape !== undefined && shape !== "nested" && shape !== "flat") {
    return invalid("x-mock-error-shape", "The x-mock-error-shape header must be nested or flat.")
  }
  const shouldRetry = headers["x-mock-should-retry"]?.trim().toLowerCase()
  return {
    fault: faultHeader !== undefined && Faults.isFaultName(faultHeader) ? faultHeader : undefined,
    times: ints["x-mock-fault-times"],
    retryAfterMs: ints["x-mock-retry-after-ms"],
    delayMs: ints["x-mock-delay-ms"],
    chunkDelayMs: ints["x-mock-chunk-delay-ms"],
    status,
    hints,
    errorShape: shape,
    shouldRetry: shouldRetry === "true" || shouldRetry === "false" ? shouldRetry : undefined,
    toolArguments: headers["x-mock-tool-arguments"]
  }
}
