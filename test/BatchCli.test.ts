/**
 * `batch` through the built entry point, killed with SIGKILL at random points and resumed: every
 * id ends up answered exactly once. The subprocesses use the embedded mock on 127.0.0.1.
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { built, root } from "./utils/build.js"

let entry = ""

beforeAll(() => {
  entry = built("cli/main.js")
}, 180_000)

const start = (args: ReadonlyArray<string>): ChildProcess =>
  spawn(process.execPath, [entry, "batch", ...args], { cwd: root, env: { PATH: process.env.PATH ?? "" }, stdio: "ignore" })

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal }))
  )

const countLines = (file: string): number => {
  try {
    return fs.readFileSync(file, "utf8").split("\n").length - 1
  } catch {
    return 0
  }
}
const idsIn = (file: string): Array<string> =>
  fs.existsSync(file)
    ? fs.readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0).map((l) => (JSON.parse(l) as { id: string }).id)
    : []

// A seeded generator, so a failure can be replayed.
const random = (seed: number) => () => {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
}

const N = 600
const writeInput = (dir: string) => {
  const lines = Array.from({ length: N }, (_, i) =>
    JSON.stringify({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: `request ${i} `.repeat(1 + (i % 5)) }],
      max_tokens: 8,
      metadata: { id: `r${i}` }
    }))
  const input = path.join(dir, "in.jsonl")
  fs.writeFileSync(input, `${lines.join("\n")}\n`)
  return input
}

describe("batch command", () => {
  it("killed with SIGKILL at random points and resumed, answers every id exactly once", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "batch-kill-"))
    const input = writeInput(dir)
    const out = path.join(dir, "out.jsonl")
    const errors = path.join(dir, "errors.jsonl")
    const args = [input, "--out", out, "--errors", errors, "--mock", "--resume", "--max-in-progress", "4"]
    const next = random(19)
    let kills = 0
    for (let round = 0; round < 4; round++) {
      const child = start(args)
      const exit = exited(child)
      const target = countLines(out) + 20 + Math.floor(next() * 80)
      // Watch the output grow; kill -9 once it passes the target.
      const watcher = setInterval(() => {
        if (countLines(out) >= target && child.exitCode === null) {
          child.kill("SIGKILL")
        }
      }, 2)
      const { signal } = await exit
      clearInterval(watcher)
      if (signal === "SIGKILL") kills++
    }
    expect(kills).toBeGreaterThanOrEqual(3)
    const last = await exited(start(args))
    expect(last.code).toBe(0)
    const ids = [...idsIn(out), ...idsIn(errors)]
    expect(ids.length).toBe(N)
    expect(new Set(ids).size).toBe(N)
    fs.rmSync(dir, { recursive: true })
  }, 60_000)

  it("an existing output without --resume is a usage error (2); a full disk stops the run (1), the errors file intact", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "batch-disk-"))
    const input = writeInput(dir)
    const out = path.join(dir, "out.jsonl")
    fs.writeFileSync(out, "{\"id\":\"r0\"}\n")
    expect((await exited(start([input, "--out", out, "--mock"]))).code).toBe(2)
    expect((await exited(start([input, "--out", "/nonexistent-dir/out.jsonl", "--mock"]))).code).toBe(2)
    const errors = path.join(dir, "errors.jsonl")
    expect((await exited(start([input, "--out", "/dev/full", "--errors", errors, "--mock"]))).code).toBe(1)
    fs.rmSync(dir, { recursive: true })
  }, 60_000)
})
