/**
 * The package as a user installs it: `npm pack`, then a scratch project (ESM, no lockfile) that
 * installs the tarball beside its peers `effect` and `@effect/platform`, at the versions this
 * repository runs (npm's cache serves them after `npm ci`; the registry fills any gap). In it:
 * the README's first example, text for text, compiles under `moduleResolution` NodeNext and
 * bundler and runs against the mock server; `require()` gets the one-line ESM-only error; the
 * optional peers are not installed, and the bin says what it needs.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as MockServer from "../src/testing/MockServer.js"
import { built, root, tsc } from "./utils/build.js"

const versionOf = (name: string): string =>
  (JSON.parse(fs.readFileSync(path.join(root, "node_modules", name, "package.json"), "utf8")) as { version: string }).version

const npm = (args: ReadonlyArray<string>, cwd: string): string => {
  const run = spawnSync("npm", [...args], { cwd, encoding: "utf8", env: { ...process.env, npm_config_update_notifier: "false" } })
  if (run.status !== 0) throw new Error(`npm ${args.join(" ")} failed (${run.status}):\n${run.stdout}\n${run.stderr}`)
  return run.stdout
}

// The README's first example as a user pastes it, followed by a line that runs it.
const readmeExample = (): string => {
  const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
  const start = readme.indexOf("## A call")
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(start))
  if (start < 0 || block === null) throw new Error("README.md has no '## A call' example")
  return `${block[1]}\nEffect.runPromise(main).then((result) => console.log(JSON.stringify(result)))\n`
}

let scratch = ""

beforeAll(() => {
  built("index.js")
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "eor-install-"))
  // dist/ is fresh (npm test builds before the suite): pack it as is, without running prepack.
  const packed = JSON.parse(npm(["pack", "--json", "--ignore-scripts", "--pack-destination", scratch], root)) as Array<
    { readonly filename: string; readonly files: ReadonlyArray<{ readonly path: string }> }
  >
  const tarball = packed[0]
  if (tarball === undefined) throw new Error("npm pack produced nothing")
  expect(tarball.files.map((f) => f.path)).toContain("dist/index.js")
  fs.writeFileSync(
    path.join(scratch, "package.json"),
    JSON.stringify({
      name: "scratch",
      private: true,
      type: "module",
      dependencies: {
        "effect-openai-resilience": `file:./${path.basename(tarball.filename)}`,
        effect: versionOf("effect"),
        "@effect/platform": versionOf("@effect/platform")
      }
    })
  )
  npm(["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"], scratch)
  fs.writeFileSync(path.join(scratch, "example.ts"), readmeExample())
  const base = { target: "ES2022", lib: ["ES2022", "DOM"], strict: true, skipLibCheck: true, types: [] }
  fs.writeFileSync(
    path.join(scratch, "tsconfig.nodenext.json"),
    JSON.stringify({
      compilerOptions: { ...base, module: "NodeNext", moduleResolution: "NodeNext", outDir: "out" },
      files: ["example.ts"]
    })
  )
  fs.writeFileSync(
    path.join(scratch, "tsconfig.bundler.json"),
    JSON.stringify({
      compilerOptions: { ...base, module: "ESNext", moduleResolution: "bundler", noEmit: true },
      files: ["example.ts"]
    })
  )
}, 120_000)

afterAll(() => {
  if (scratch !== "") fs.rmSync(scratch, { recursive: true, force: true })
})

const compile = (config: string) => {
  const run = spawnSync(process.execPath, [tsc, "-p", config], { cwd: scratch, encoding: "utf8" })
  return { code: run.status, output: `${run.stdout}${run.stderr}` }
}

describe("installed from the packed tarball", () => {
  it("has one copy of effect, shared with the project, and none of the CLI's optional peers", () => {
    expect(fs.existsSync(path.join(scratch, "node_modules", "effect-openai-resilience", "node_modules", "effect"))).toBe(false)
    expect(fs.existsSync(path.join(scratch, "node_modules", "@effect", "platform-node"))).toBe(false)
    expect(fs.existsSync(path.join(scratch, "node_modules", "@effect", "cli"))).toBe(false)
    const manifest = JSON.parse(
      fs.readFileSync(path.join(scratch, "node_modules", "effect-openai-resilience", "package.json"), "utf8")
    ) as { readonly scripts: Record<string, string>; readonly peerDependencies: Record<string, string> }
    expect(Object.keys(manifest.peerDependencies)).toEqual(expect.arrayContaining(["effect", "@effect/platform"]))
    // npm pack on an unbuilt checkout builds first.
    expect(manifest.scripts.prepack).toBe("npm run build")
  })

  it("compiles the README's first example under moduleResolution bundler", () => {
    const run = compile("tsconfig.bundler.json")
    expect(run.output).toBe("")
    expect(run.code).toBe(0)
  }, 60_000)

  it.live("compiles it under NodeNext and runs it against the mock server", () =>
    Effect.gen(function*() {
      const run = compile("tsconfig.nodenext.json")
      expect(run.output).toBe("")
      expect(run.code).toBe(0)
      const server = yield* MockServer.MockServer
      // Asynchronously: the mock server answers from this process's event loop.
      const result = yield* Effect.promise(() =>
        new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
          const child = spawn(process.execPath, [path.join(scratch, "out", "example.js")], {
            cwd: scratch,
            env: { PATH: process.env.PATH ?? "", OPENAI_API_KEY: "sk-install-test-0000", OPENAI_BASE_URL: server.url }
          })
          let stdout = ""
          let stderr = ""
          child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
          child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
          child.on("error", reject)
          child.on("close", (code) => resolve({ code, stdout, stderr }))
        })
      )
      expect(result.stderr).toBe("")
      expect(result.code).toBe(0)
      // The mock echoes the prompt; the request id comes back beside the data.
      expect(JSON.parse(result.stdout)).toEqual({
        text: "Say hi",
        requestId: { _id: "Option", _tag: "Some", value: expect.stringMatching(/^req_/) }
      })
    }).pipe(Effect.provide(MockServer.layer())), 60_000)

  it("refuses require() with one line saying it is ESM-only", () => {
    const run = spawnSync(process.execPath, ["-e", "require('effect-openai-resilience')"], { cwd: scratch, encoding: "utf8" })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain("effect-openai-resilience is ESM-only")
  })

  it("its bin, without the optional peers, says what to install", () => {
    const bin = path.join(scratch, "node_modules", ".bin", "effect-openai-resilience")
    const run = spawnSync(process.execPath, [bin, "--help"], { cwd: scratch, encoding: "utf8" })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain("the command line needs @effect/cli")
    expect(run.stderr).toContain("npm install -D @effect/cli@^0.77.2 @effect/platform-node@^0.108.2")
  })
})
