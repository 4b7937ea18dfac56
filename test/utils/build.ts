/**
 * The built package, for the tests that run it as a user would (the bin, the browser bundle, the
 * packed tarball). `npm test` builds before the suite; a file run alone builds what is missing.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** The repository root. */
export const root: string = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..")

/** The repository's TypeScript compiler. */
export const tsc: string = path.join(root, "node_modules", "typescript", "bin", "tsc")

/** The absolute path of `file` (relative to the root) under dist/, building dist/ when it is missing. */
export const built = (file: string): string => {
  const full = path.join(root, "dist", file)
  // Through npm's build script: it also marks the bin executable, which npx needs.
  if (!fs.existsSync(full)) execFileSync("npm", ["run", "build", "--silent"], { cwd: root, stdio: "inherit" })
  return full
}
