/**
 * scripts/check-examples.mjs compiles every Markdown example as a user pastes it: a block alone,
 * a ```ts continued block in one file after the block it continues. It must therefore fail where
 * the user's editor fails, e.g. on a continued block that imports `Effect` a second time.
 */
import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

const check = (markdown: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "check-examples-"))
  try {
    const file = path.join(dir, "doc.md")
    fs.writeFileSync(file, markdown)
    const run = spawnSync(process.execPath, [path.join(root, "scripts", "check-examples.mjs"), file], {
      cwd: root,
      encoding: "utf8"
    })
    return { code: run.status, output: `${run.stdout}${run.stderr}` }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const first = [
  "```ts",
  'import { Effect } from "effect"',
  "",
  "const program = Effect.succeed(1)",
  "```",
  ""
].join("\n")

describe("check-examples", () => {
  it("fails on a continued block that repeats an import of the block it continues", () => {
    const run = check(`${first}\n\`\`\`ts continued\nimport { Effect } from "effect"\n\nexport const more = Effect.map(program, (n) => n + 1)\n\`\`\`\n`)
    expect(run.code).toBe(1)
    expect(run.output).toContain("Duplicate identifier 'Effect'")
  }, 60_000)

  it("fails on a block that relies on an earlier, not continued block's imports", () => {
    const run = check(`${first}\n\`\`\`ts\nexport const other = Effect.succeed(2)\n\`\`\`\n`)
    expect(run.code).toBe(1)
    expect(run.output).toContain("Cannot find name 'Effect'")
  }, 60_000)

  it("passes a continued block that uses what the previous block imported", () => {
    const run = check(`${first}\n\`\`\`ts continued\nimport { Option } from "effect"\n\nexport const more = Effect.map(program, Option.some)\n\`\`\`\n`)
    expect(run.output).toContain("all examples compile")
    expect(run.code).toBe(0)
  }, 60_000)
})
