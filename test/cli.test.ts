/**
 * The command line through its real entry point, as a user runs it: a subprocess, its output and
 * its exit code. Each subprocess gets a clean environment without OPENAI_API_KEY, so nothing here
 * reaches the network: the commands use the embedded mock server on 127.0.0.1.
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { built, root } from "./utils/build.js"

// The package's `bin`: the built entry point, as an installed user runs it. `npm test` builds
// first; run alone, this file builds what is missing.
const entry = path.join(root, "dist", "cli", "main.js")

beforeAll(() => {
  built("cli/main.js")
}, 180_000)

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const cli = (
  args: ReadonlyArray<string>,
  options: {
    readonly env?: Record<string, string>
    /** Sends `signal` (default SIGINT, as Ctrl-C does) once standard output + error satisfy it. */
    readonly until?: (out: string) => boolean
    readonly signal?: NodeJS.Signals
  } = {}
): Promise<Run> =>
  new Promise((resolve, reject) => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? "", ...options.env }
    const child = spawn(process.execPath, [entry, ...args], { cwd: root, env })
    let stdout = ""
    let stderr = ""
    let signalled = false
    const watch = () => {
      if (options.until && !signalled && options.until(stdout + stderr)) {
        signalled = true
        child.kill(options.signal ?? "SIGINT")
      }
    }
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString()
      watch()
    })
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString()
      watch()
    })
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

const LISTENING = /http:\/\/127\.0\.0\.1:(\d+)\/v1/

const listening = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1")
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

// Lines wider than `columns`, counted in characters (the tables use "→").
const wider = (text: string, columns: number) => text.split("\n").filter((line) => [...line].length > columns)

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
    // Plain mode in a pipe: one line per row, whole, for grep.
    expect(run.stdout).toMatch(/^401 Invalid Authentication +401 invalid_request_error +InvalidAuthentication +AuthenticationError +failed fast/m)
  }, 120_000)

  it("demo's tables fit the terminal width (COLUMNS), wrapping cells and dropping columns", async () => {
    const run = await cli(["demo"], { env: { COLUMNS: "80" } })
    expect(run.code).toBe(0)
    expect(wider(run.stdout, 80)).toEqual([])
    // The walkthrough keeps what matters at 80 columns: the guide row, the typed error, the outcome.
    expect(run.stdout).toContain("typed error")
    expect(run.stdout).toContain("ok after 3 attempts")
    // It ends with the batch command over the sample requests, which runs as printed.
    const last = run.stdout.trim().split("\n").at(-1) ?? ""
    expect(last).toBe("node dist/cli/main.js batch docs/examples/requests.jsonl --out out.jsonl --mock")
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "demo-batch-")), "out.jsonl")
    const [, ...args] = last.replace("--out out.jsonl", `--out ${out}`).split(" ")
    execFileSync(process.execPath, args, { cwd: root, env: { PATH: process.env.PATH ?? "" }, stdio: "ignore" })
    expect(fs.readFileSync(out, "utf8").trim().split("\n").length).toBe(15)
    fs.rmSync(path.dirname(out), { recursive: true })
  }, 180_000)

  it("demo's burst shows on one screen what matters, says why pacing wins, and is the same on every run", async () => {
    const burst = async () => {
      const run = await cli(["demo", "--only", "burst"])
      expect(run.code).toBe(0)
      return run.stdout.slice(run.stdout.indexOf("2. A burst"))
    }
    const first = await burst()
    for (const label of ["like openai-node", "retries only", "paced + retries"]) expect(first).toContain(label)
    for (const column of ["failed for good", "wasted: 429s of sent", "tokens/min (of allowed)", "latency p50 / p99"]) {
      expect(first).toContain(column)
    }
    // The paced client never sends into a 429 and nothing of it fails for good.
    expect(first).toMatch(/^paced \+ retries +\d+ +0 +0 of \d+ \(0%\)/m)
    expect(first).toContain("Why pacing wins: the limit, not the client, sets the throughput")
    // One screen: heading, progress, table, verdict and legend in under 30 lines of 120.
    expect(first.trimEnd().split("\n").length).toBeLessThan(30)
    expect(wider(first, 120)).toEqual([])
    // A fixed seed: the second run prints the same table (only the real time differs).
    const table = (out: string) => out.slice(out.indexOf("client "), out.indexOf("Why pacing wins"))
    expect(table(await burst())).toBe(table(first))
  }, 180_000)

  it("mock-server reports its port and stops cleanly on Ctrl-C, with exit code 130", async () => {
    const run = await cli(["mock-server", "--port", "0", "--rpm", "60"], { until: (out) => LISTENING.test(out) })
    expect(run.stdout).toMatch(LISTENING)
    expect(run.stderr).not.toMatch(/\n\s+at /)
    expect(run.code).toBe(130)
  })

  it("mock-server stops on SIGTERM with exit code 143", async () => {
    const run = await cli(["mock-server", "--port", "0"], { until: (out) => LISTENING.test(out), signal: "SIGTERM" })
    expect(run.stdout).toMatch(LISTENING)
    expect(run.code).toBe(143)
  })

  it("mock-server started through npx stops when npx gets SIGTERM (no orphaned server)", async () => {
    // npm ends on SIGTERM without passing it on; the server notices its parent is gone.
    const npx = spawn("npx", ["--no-install", "effect-openai-resilience", "mock-server", "--port", "0"], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? os.tmpdir() }
    })
    let out = ""
    let err = ""
    npx.stderr.on("data", (d: Buffer) => {
      err += d.toString()
    })
    const port = await new Promise<number>((resolve, reject) => {
      npx.stdout.on("data", (d: Buffer) => {
        out += d.toString()
        const match = LISTENING.exec(out)
        if (match) resolve(Number(match[1]))
      })
      npx.on("close", () => reject(new Error(`npx ended before the server listened: ${out}${err}`)))
    })
    // The server's pid, to stop it if the test fails (it is a grandchild: npm, sh, node).
    const descendants = (pid: number): Array<number> => {
      let listed = ""
      try {
        listed = execFileSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" })
      } catch {
        // ps exits 1 when the process has no children
      }
      const children = listed.split("\n").map((line) => Number(line.trim())).filter((n) => n > 0)
      return children.flatMap((child) => [child, ...descendants(child)])
    }
    const tree = npx.pid === undefined ? [] : descendants(npx.pid)
    try {
      expect(await listening(port)).toBe(true)
      npx.kill("SIGTERM")
      let up = true
      for (let i = 0; i < 50 && up; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        up = await listening(port)
      }
      expect(up).toBe(false)
    } finally {
      if (npx.exitCode === null) npx.kill("SIGKILL")
      for (const pid of tree) {
        try {
          process.kill(pid, "SIGKILL")
        } catch {
          // already gone, as it should be
        }
      }
    }
  }, 60_000)

  it("Ctrl-C during demo exits 130", async () => {
    const run = await cli(["demo"], { until: (out) => out.includes("1. Every row") })
    expect(run.code).toBe(130)
    expect(run.stderr).not.toMatch(/\n\s+at /)
  })

  it("Ctrl-C during chat exits 130", async () => {
    // slow_headers holds the response for 30 s: the interrupt arrives while the request waits.
    const run = await cli(["chat", "hi", "--fault", "slow_headers"], { until: (out) => out.includes("embedded mock server") })
    expect(run.code).toBe(130)
    expect(run.stderr).not.toMatch(/\n\s+at /)
  })

  it("doctor without OPENAI_API_KEY says so and fails, instead of passing against the mock", async () => {
    const run = await cli(["doctor"])
    expect(run.code).toBe(1)
    expect(run.stdout).toContain("OPENAI_API_KEY is not set")
    expect(run.stdout).toContain("--mock")
    expect(run.stdout).not.toContain("All checks passed")
  })

  it("chat -m without a value is a usage error, not a prompt", async () => {
    const run = await cli(["chat", "-m"])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain("Option --model (-m) needs a value")
    expect(run.stderr).toContain("chat --help")
    expect(run.stdout).toBe("")
  })

  it("mock-server --port without a value is a usage error that names the option", async () => {
    const run = await cli(["mock-server", "--port"])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain("Option --port needs a value")
  })

  it("an unknown flag is reported as an unknown option, with the command's options", async () => {
    const sub = await cli(["demo", "--bogus"])
    expect(sub.code).toBe(2)
    expect(sub.stderr).toContain("Unknown option '--bogus' for 'demo'. Its options: --only.")
    const top = await cli(["--bogus"])
    expect(top.code).toBe(2)
    expect(top.stderr).toContain("Unknown option '--bogus'")
    expect(top.stderr).not.toContain("Invalid subcommand")
  })

  it("chat with debug logging shows each retry once, rounded to milliseconds, and no unhandled-error stack", async () => {
    const run = await cli(["chat", "hi", "--fault", "server_error", "--log-level", "debug"])
    expect(run.code).toBe(1)
    const all = run.stdout + run.stderr
    expect(all).not.toContain("Fiber terminated with an unhandled error")
    expect(all).not.toMatch(/\n\s+at /)
    expect(run.stderr).toMatch(/\(ServerError: retrying in \d+(ms|\.\d+s), backoff\)/)
    expect(all).toMatch(/ServerError on attempt 1; retrying in \d+(s|ms)( \d+ms)? \(backoff\)/)
    expect(all).not.toMatch(/\d+ns\b/)
  }, 60_000)

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
