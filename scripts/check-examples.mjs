#!/usr/bin/env node
// Proves that every TypeScript example a user can read compiles: the ```ts blocks of README.md and
// docs/**/*.md, and the @example blocks of the JSDoc in src/. Each block becomes its own module
// under .examples/ (git-ignored), importing the package by name, which a tsconfig `paths` entry
// maps to src/, so no build is needed. Then `tsc` checks them all at once.
//
// `node scripts/check-examples.mjs FILE.md...` checks only those Markdown files, in a directory of
// its own (test/checkExamples.test.ts uses it to prove the checker catches what a user would hit).
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..")
const only = process.argv.slice(2).map((file) => path.resolve(file))
const out = path.join(root, only.length === 0 ? ".examples" : `.examples-${process.pid}`)
fs.rmSync(out, { recursive: true, force: true })
fs.mkdirSync(out, { recursive: true })

const walk = (dir, ext) =>
  fs.existsSync(dir)
    ? fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const full = path.join(dir, entry.name)
      return entry.isDirectory() ? walk(full, ext) : full.endsWith(ext) ? [full] : []
    })
    : []

// Every block must compile as a user pastes it: alone, or, for a block fenced ```ts continued, in
// one file after the block it continues (and that block's own predecessors), text for text. Imports
// are never merged or deduplicated: a continued block that imports `Effect` again fails here as it
// fails in the user's editor.
const blocks = []
const fence = /```(?:ts|typescript)([^\n]*)\n([\s\S]*?)```/g

const markdown = only.length > 0 ? only : [path.join(root, "README.md"), ...walk(path.join(root, "docs"), ".md")]
for (const file of markdown) {
  if (!fs.existsSync(file)) continue
  const text = fs.readFileSync(file, "utf8")
  let previous = ""
  for (const match of text.matchAll(fence)) {
    const line = text.slice(0, match.index).split("\n").length
    const continued = /\bcontinued\b/.test(match[1])
    const code = continued ? `${previous}\n${match[2]}` : match[2]
    blocks.push({ source: `${path.relative(root, file)}:${line}`, code })
    previous = code
  }
}

for (const file of only.length > 0 ? [] : walk(path.join(root, "src"), ".ts")) {
  const text = fs.readFileSync(file, "utf8")
  for (const comment of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    const body = comment[0].split("\n").map((l) => l.replace(/^\s*\* ?/, "")).join("\n")
    for (const match of body.matchAll(fence)) {
      const line = text.slice(0, comment.index).split("\n").length
      blocks.push({ source: `${path.relative(root, file)}:${line}`, code: match[2] })
    }
  }
}

blocks.forEach((block, i) => {
  const name = `example_${String(i).padStart(4, "0")}.ts`
  // The source line is kept as the first line so that errors can be mapped back.
  fs.writeFileSync(path.join(out, name), `// ${block.source}\n${block.code}\nexport {}\n`)
})

fs.writeFileSync(
  path.join(out, "tsconfig.json"),
  JSON.stringify(
    {
      extends: "../tsconfig.base.json",
      compilerOptions: {
        noEmit: true,
        noUnusedLocals: false,
        noUnusedParameters: false,
        rootDir: "..",
        baseUrl: "..",
        paths: {
          "effect-openai-resilience": ["./src/index.ts"],
          "effect-openai-resilience/testing": ["./src/testing/index.ts"],
          "effect-openai-resilience/redis": ["./src/redis.ts"],
          "effect-openai-resilience/undici": ["./src/undici.ts"],
          "effect-openai-resilience/node": ["./src/node.ts"],
          "effect-openai-resilience/effect-ai": ["./src/effect-ai/index.ts"]
        }
      },
      include: ["./*.ts"]
    },
    null,
    2
  )
)
console.log(`check-examples: ${blocks.length} examples extracted to .examples/`)

// Run tsc and point each error back at the README, doc or source line the example came from.
import { spawnSync } from "node:child_process"
const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc")
const result = spawnSync(process.execPath, [tsc, "-p", path.join(out, "tsconfig.json")], { encoding: "utf8" })
if (only.length > 0) fs.rmSync(out, { recursive: true, force: true })
const output = `${result.stdout}${result.stderr}`.replace(/\.examples[-\d]*\/example_(\d{4})\.ts\((\d+),(\d+)\)/g, (_m, n, l, c) =>
  `${blocks[Number(n)].source} (example line ${Number(l) - 1}, col ${c})`
)
if (result.status !== 0) {
  console.error(output)
  console.error("check-examples: some examples do not compile")
  process.exit(1)
}
console.log("check-examples: all examples compile")
