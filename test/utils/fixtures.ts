/**
 * Access to the recorded OpenAI traffic in `../shared/fixtures` (beside the checkout; never copied
 * into the repository). When the folder is absent (a user's own clone) the suites that need it skip
 * with a clear message; under CI (`CI` set) its absence is a failure, not a skip.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))

/** `../shared/fixtures` relative to the repository root, or `SHARED_FIXTURES` when set. */
export const fixturesRoot: string = process.env.SHARED_FIXTURES ??
  path.resolve(here, "..", "..", "..", "shared", "fixtures")

/** Whether the fixtures are present. Throws under CI when they are not, so CI never skips them. */
export const fixturesAvailable: boolean = (() => {
  const present = fs.existsSync(path.join(fixturesRoot, "openai"))
  if (!present && process.env.CI) {
    throw new Error(`CI is set but the shared fixtures are missing at ${fixturesRoot}`)
  }
  if (!present) {
    console.warn(`Skipping fixture conformance tests: ${fixturesRoot} not found (set SHARED_FIXTURES to point at it).`)
  }
  return present
})()

/** The reason given to `describe.skipIf` when the fixtures are absent. */
export const skipReason = "shared fixtures absent (../shared/fixtures); they are present in CI"

/** Lists the files of a fixtures sub-folder (e.g. `openai/errors`). */
export const list = (dir: string): ReadonlyArray<string> =>
  fixturesAvailable ? fs.readdirSync(path.join(fixturesRoot, dir)).sort() : []

/** Reads a fixture file as text. */
export const read = (file: string): string => fs.readFileSync(path.join(fixturesRoot, file), "utf8")

/** Reads a fixture file as JSON. */
export const readJson = (file: string): unknown => JSON.parse(read(file))
