/**
 * The command line through its real entry point, as a user runs it: a subprocess, its output and
 * its exit code. Each subprocess gets a clean environment without OPENAI_API_KEY, so nothing here
 * reaches the network: the commands use the embedded mock server on 127.0.0.1.
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
// The package's `bin`: the built entry point, as an installed user runs it. `npm test` builds
// first; run alone, this file builds what is missing.
const entry = path.join(root, "dist", "cli", "main.js")

beforeAll(() => {
  if (!fs.existsSync(entry)) {
    execFileSync(process.execPath, [path.join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"], {
      cwd: root,
      stdio: "inherit"
    })
  }
}, 180_000)

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const cli = (
  args: ReadonlyArray<string>,
  options: { readonly env?: Record<string, string>; readonly until?: (out: string) => boolean } = {}
): Promise<Run> =>
  new Promise((resolve, reject) => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? "", ...options.env }
    const child = spawn(process.execPath, [entry, ...args], { cwd: root, env })
    let stdout = ""
    let stderr = ""
    let signalled = false
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString()
      if (options.until && !signalled && options.until(stdout)) {
        signalled = true
        child.kill("SIGINT")
      }
    })
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString()
    })
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

const KEY = "sk-test-NEVERPRINTME0000000000000000"

describe("command line", () => {
  it("--help lists every command and exits 0", async () => {
    const run = await cli(["--help"])
    expect(run.code).toBe(0)
    for (const command of ["demo", "doctor", "chat", "mock-server"]) expect(run.stdout).toContain(command)
    // eslint-disable-next-line no-control-regex
    expect(run.stdout).not.toMatch(/\x1b\[/)
  })

  it("a bad flag is a usage error: exit 2, a clear message, no stack trace", async () => {
    const run = await cli(["demo", "--only", "nonsense"])
    expect(run.code).toBe(2)
    expect(run.stdout + run.stderr).toMatch(/walkthrough|burst/)
    expect(run.stdout + run.stderr).not.toMatch(/\n\s+at /)
  })

  it("an unknown command is a usage error", async () => {
    const run = await cli(["frobnicate"])
    expect(run.code).toBe(2)
    expect(run.stdout + run.stderr).not.toMatch(/\n\s+at /)
  })

  it("doctor --mock passes every check and exits 0", async () => {
    const run = await cli(["doctor", "--mock"])
    expect(run.stdout).toContain("All checks passed")
    expect(run.stdout).toContain("GET /models answered")
    expect(run.stdout).toContain("Rate-limit headroom: requests")
    expect(run.code).toBe(0)
  })

  it("doctor explains a failure with its typed error, cause and solution, and exits 1", async () => {
    const run = await cli(["doctor", "--mock", "--fault", "incorrect_api_key"])
    expect(run.code).toBe(1)
    expect(run.stdout).toContain("IncorrectApiKey (AuthenticationError)")
    expect(run.stdout).toContain("solution:")
    expect(run.stdout).toContain("Some checks failed")
  })

  it("doctor with an unknown fault name is a usage error", async () => {
    const run = await cli(["doctor", "--mock", "--fault", "nope"])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain("Unknown fault 'nope'")
  })

  it("doctor checks the key's shape without printing it", async () => {
    // The key is set but the base URL points at a closed port: the key checks run, the requests
    // fail as connection errors, and the key itself appears nowhere.
    const run = await cli(["doctor"], { env: { OPENAI_API_KEY: ` ${KEY}`, OPENAI_BASE_URL: "http://127.0.0.1:1/v1" } })
    expect(run.code).toBe(1)
    expect(run.stdout).toContain("leading or trailing whitespace")
    expect(run.stdout).toContain("ConnectionError (APIConnectionError)")
    expect(run.stdout + run.stderr).not.toContain("NEVERPRINTME")
  })

  it("doctor prints the base URL without its credentials or query key", async () => {
    const run = await cli(["doctor"], {
      env: { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: "http://me:URLPASSWORD@127.0.0.1:1/v1?api-key=QUERYSECRET" }
    })
    expect(run.code).toBe(1)
    expect(run.stdout).toContain("Base URL http://redacted:redacted@127.0.0.1:1/v1?api-key=redacted")
    expect(run.stdout + run.stderr).not.toContain("URLPASSWORD")
    expect(run.stdout + run.stderr).not.toContain("QUERYSECRET")
  })

  it("chat streams a completion from the mock and exits 0", async () => {
    const run = await cli(["chat", "hello there", "--mock"])
    expect(run.code).toBe(0)
    expect(run.stdout).toContain("hello there")
  })

  it("chat prints the support report when the error persists, and exits 1", async () => {
    const run = await cli(["chat", "hi", "--fault", "insufficient_quota"], { env: { OPENAI_API_KEY: KEY } })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain("OpenAI support report")
    expect(run.stderr).toContain("QuotaExceeded (RateLimitError)")
    expect(run.stderr).toContain("Request id")
    expect(run.stdout + run.stderr).not.toContain("NEVERPRINTME")
  })

  it("demo walks through every row of the error guide and exits 0, without colour codes in a log", async () => {
    const run = await cli(["demo", "--only", "walkthrough"])
    expect(run.code).toBe(0)
    for (
      const tag of [
        "InvalidAuthentication",
        "IncorrectApiKey",
        "NoOrganization",
        "UnsupportedRegion",
        "RateLimitReached",
        "QuotaExceeded",
        "RequestTooLarge",
        "ServerError",
        "EngineOverloaded",
        "BadRequest",
        "ContextLengthExceeded",
        "NotFound",
        "Conflict",
        "UnprocessableEntity",
        "ResponseDecodeError",
        "TimeoutError",
        "ConnectionError"
      ]
    ) expect(run.stdout).toContain(tag)
    expect(run.stdout).toMatch(/failed fast \(server said/)
    expect(run.stdout).toContain("ok after 3 attempts")
    // eslint-disable-next-line no-control-regex
    expect(run.stdout).not.toMatch(/\x1b\[/)
  }, 120_000)

  it("demo's burst compares three clients under the mock's rate limits and exits 0", async () => {
    const run = await cli(["demo", "--only", "burst"])
    expect(run.code).toBe(0)
    for (const label of ["like openai-node", "retries only", "paced + retries"]) expect(run.stdout).toContain(label)
    expect(run.stdout).toContain("goodput: tokens (of allowed)")
    // The paced client never sees a 429 at the start of a run (it learns the limits first).
    expect(run.stdout).toMatch(/paced \+ retries\s+\d+\s+\d+\s+\d+\s+0 \(0\.0%\)/)
  }, 180_000)

  it("mock-server reports its port and stops cleanly on Ctrl-C", async () => {
    const run = await cli(["mock-server", "--port", "0", "--rpm", "60"], {
      until: (out) => /127\.0\.0\.1:\d+/.test(out)
    })
    expect(run.stdout).toMatch(/http:\/\/127\.0\.0\.1:\d+\/v1/)
    expect(run.stderr).not.toMatch(/\n\s+at /)
    expect([0, 130]).toContain(run.code)
  })

  it("mock-server on a port already in use says why, and exits 1", async () => {
    const taken = net.createServer()
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve))
    const { port } = taken.address() as net.AddressInfo
    try {
      const run = await cli(["mock-server", "--port", String(port)])
      expect(run.code).toBe(1)
      expect(run.stderr).toContain("EADDRINUSE")
    } finally {
      await new Promise((resolve) => taken.close(resolve))
    }
  })

  it("mock-server rejects a bad option with exit 2", async () => {
    const run = await cli(["mock-server", "--fault-rate", "2", "--fault", "server_error"])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain("--fault-rate must be between 0 and 1")
  })
})
