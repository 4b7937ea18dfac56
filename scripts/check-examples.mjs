#!/usr/bin/env node
// Proves that every TypeScript example a user can read compiles: the ```ts blocks of README.md and
// docs/**/*.md, and the @example blocks of the JSDoc in src/. Each block becomes its own module
// under .examples/ (git-ignored), importing the package by name, which a tsconfig `paths` entry
// maps to src/, so no build is needed. Then `tsc` checks them all at once.
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..")
const out = path.join(root, ".examples")
fs.rmSync(out, { recursive: true, force: true })
fs.mkdirSync(out, { recursive: true })

const walk = (dir, ext) =>
  fs.existsSync(dir)
    ? fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const full = path.join(dir, entry.name)
      return entry.isDirectory() ? walk(full, ext) : full.endsWith(ext) ? [full] : []
    })
    : []

// A block of a Markdown file may rely on the imports shown in the file's earlier blocks (docs
// often list imports once), and a block fenced ```ts continued also sees the previous block's
// code. JSDoc examples stand alone.
const IMPORT = /^import\s+(type\s+)?([\s\S]*?)\s+from\s+["']([^"']+)["'];?[ \t]*$/gm

const splitImports = (code) => {
  const imports = []
  const body = code.replace(IMPORT, (whole, typeOnly, clause, source) => {
    imports.push({ typeOnly: Boolean(typeOnly), clause: clause.trim(), source })
    return ""
  })
  return { imports, body }
}

// One import line per binding, first binding of a name wins, so merged blocks never clash.
const renderImports = (imports) => {
  const seen = new Set()
  const lines = []
  for (const { typeOnly, clause, source } of imports) {
    const named = /^\{([\s\S]*)\}$/.exec(clause)
    if (named) {
      for (const spec of named[1].split(",").map((x) => x.trim()).filter(Boolean)) {
        const local = spec.split(/\s+as\s+/).pop().replace(/^type\s+/, "")
        if (seen.has(local)) continue
        seen.add(local)
        lines.push(`import ${typeOnly ? "type " : ""}{ ${spec} } from "${source}"`)
      }
      continue
    }
    const local = clause.replace(/^\*\s+as\s+/, "").trim()
    if (seen.has(local)) continue
    seen.add(local)
    lines.push(`import ${typeOnly ? "type " : ""}${clause} from "${source}"`)
  }
  return lines.join("\n")
}

const blocks = []
const fence = /```(?:ts|typescript)([^\n]*)\n([\s\S]*?)```/g

for (const file of [path.join(root, "README.md"), ...walk(path.join(root, "docs"), ".md")]) {
  if (!fs.existsSync(file)) continue
  const text = fs.readFileSync(file, "utf8")
  const fileImports = []
  let previous = { imports: [], body: "" }
  for (const match of text.matchAll(fence)) {
    const line = text.slice(0, match.index).split("\n").length
    const { imports, body } = splitImports(match[2])
    const continued = /\bcontinued\b/.test(match[1])
    const own = { imports: [...(continued ? previous.imports : []), ...imports], body: `${continued ? previous.body : ""}\n${body}` }
    fileImports.push(...imports)
    blocks.push({ source: `${path.relative(root, file)}:${line}`, code: `${renderImports([...own.imports, ...fileImports])}\n${own.body}` })
    previous = own
  }
}

for (const file of walk(path.join(root, "src"), ".ts")) {
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
const output = `${result.stdout}${result.stderr}`.replace(/\.examples\/example_(\d{4})\.ts\((\d+),(\d+)\)/g, (_m, n, l, c) =>
  `${blocks[Number(n)].source} (example line ${Number(l) - 1}, col ${c})`
)
if (result.status !== 0) {
  console.error(output)
  console.error("check-examples: some examples do not compile")
  process.exit(1)
}
console.log("check-examples: all examples compile")
