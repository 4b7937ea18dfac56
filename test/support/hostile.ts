/**
 * Bodies built to make a scan of server text backtrack: runs of openings with no closing (`<`,
 * `<title`, `"code": "`), of key and URL prefixes the scrubber looks for, of whitespace between
 * a name and its missing value. A shape is a prefix (what makes the classifier read the body as
 * HTML, JSON or SSE) and a few units repeated up to a size.
 */
import * as FastCheck from "effect/FastCheck"

export interface HostileShape {
  readonly prefix: string
  readonly units: ReadonlyArray<string>
}

const prefixes = ["", "<html>", "<!doctype html>", "</title>", "{", "[", "data: ", "event: error\ndata: {"]

const units = [
  "<",
  "< a",
  "<title",
  "<title>",
  "<TITLE ",
  "<h1",
  "<h1>",
  "</",
  ">",
  " ",
  "\n",
  "x",
  "sk-",
  "sk-proj-",
  "sk-aaaa",
  "bearer ",
  "Bearer  ",
  "http://",
  "https://u:",
  "@",
  "?api-key=",
  "&key=",
  "api-key:",
  "\"api_key\": \"",
  "\"code\"",
  "\"code\": \"",
  "\"message\":",
  "\\",
  "\\\"",
  "\"",
  "try again in ",
  "1",
  "1.",
  "1s",
  "Limit ",
  "rate limit reached ",
  "data:",
  "\u00ff",
  "\ud800"
]

/** A hostile shape: one of the prefixes and one to four units. */
export const hostileShape: FastCheck.Arbitrary<HostileShape> = FastCheck.record({
  prefix: FastCheck.constantFrom(...prefixes),
  units: FastCheck.array(FastCheck.constantFrom(...units), { minLength: 1, maxLength: 4 })
})

/** The shape's prefix, then its units repeated, cut to `size` characters. */
export const hostileBody = (shape: HostileShape, size: number): string => {
  const unit = shape.units.join("")
  const body = shape.prefix + unit.repeat(Math.ceil(Math.max(0, size - shape.prefix.length) / Math.max(1, unit.length)))
  return body.slice(0, size)
}
