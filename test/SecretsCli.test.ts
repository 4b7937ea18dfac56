/**
 * The secrets scan of test/Secrets.test.ts, for the command line: the built CLI runs as a
 * subprocess with a canary key in its environment (and, in some runs, canaries in the base URL's
 * user-info and query), against a server on 127.0.0.1 that fails in the ways that echo secrets: a
 * 401 quoting the key, 429s, HTML pages, cut bodies, request ids made of the key. Everything a user
 * sees (standard output and error, at debug log level, and the files `batch` writes) must hold no
 * canary.
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import type * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { type LoopbackServer, withServer } from "./support/httpServer.js"
import { built, root } from "./utils/build.js"

const entry = path.join(root, "dist", "cli", "main.js")

beforeAll(() => {
  built("cli/main.js")
}, 180_000)

const KEY = "sk-proj-CliCanaryK3y0123456789abcdefghijKLMNOPQRSTuvwx"
const URL_PASSWORD = "CanaryUrlPassw0rd"
const QUERY_KEY = "CanaryQueryKey1234"

// Any of these in the output is a leak. A server's own masking keeps a key's last four characters
// (`sk-proj-<redacted>uvwx`), so the key is looked for by its first characters after the prefix.
const canaries = [KEY, KEY.slice(8, 24), URL_PASSWORD, QUERY_KEY]

const leaks = (text: string): Array<string> => canaries.filter((c) => text.includes(c))

const completionChunk = {
  id: "chatcmpl-1",
  object: "chat.completion.chunk",
  created: 1727346142,
  model: "gpt-4o-mini",
  choices: [{ index: 0, delta: { role: "assistant", content: "partial " }, finish_reason: null }]
}

type Mode = "echo401" | "rate429" | "html" | "cut"

// The failures, by mode (the first path segment after /m/). Every response carries the key as its
// request id, as a proxy that echoes headers does. After the first failure (or two, for cuts) the
// server answers a non-retryable error that also quotes the key, so that retries stay few.
const failingServer = (): http.RequestListener => {
  const seen = new Map<string, number>()
  return (req, res) => {
    let body = ""
    req.on("data", (d: Buffer) => body += d.toString())
    req.on("end", () => {
      const auth = req.headers.authorization ?? ""
      const echoed = `${auth} ${req.url ?? ""}`
      const mode = (/^\/m\/(\w+)\//.exec(req.url ?? "")?.[1] ?? "echo401") as Mode
      const route = `${mode} ${(req.url ?? "").replace(/\?.*/, "")}`
      const n = (seen.get(route) ?? 0) + 1
      seen.set(route, n)
      const streaming = body.includes("\"stream\":true")
      const headers = { "x-request-id": `req_${auth.replace(/^Bearer /, "")}`, "www-authenticate": `Bearer realm="${echoed}"` }
      const json = (status: number, error: Record<string, unknown>, extra: Record<string, string> = {}) => {
        res.writeHead(status, { ...headers, ...extra, "content-type": "application/json" })
        res.end(JSON.stringify({ error }))
      }
      const final = () =>
        json(500, { message: `Upstream failed for ${echoed}`, type: "server_error", code: null }, { "x-should-retry": "false" })
      switch (mode) {
        case "echo401":
          return json(401, {
            message: `Incorrect API key provided: ${echoed}. You can find your API key at https://platform.openai.com/account/api-keys.`,
            type: "invalid_request_error",
            param: null,
            code: "invalid_api_key"
          })
        case "rate429":
          return n === 1
            ? json(429, {
              message: `Rate limit reached for gpt-4o-mini (key ${echoed}) on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 1ms.`,
              type: "requests",
              param: null,
              code: "rate_limit_exceeded"
            }, { "retry-after-ms": "1" })
            : json(429, {
              message: `You exceeded your current quota with key ${echoed}, please check your plan and billing details.`,
              type: "insufficient_quota",
              param: null,
              code: "insufficient_quota"
            })
        case "html": {
          const page = `<!DOCTYPE html><html><head><title>Gateway error for ${echoed}</title></head>` +
            `<body><h1>Bad gateway</h1><p>Authorization: ${auth}</p></body></html>`
          res.writeHead(n === 1 ? 502 : 200, { ...headers, "content-type": "text/html" })
          return res.end(page)
        }
        case "cut":
          if (n > 2) return final()
          if (streaming) {
            res.writeHead(200, { ...headers, "content-type": "text/event-stream" })
            res.write(`data: ${JSON.stringify(completionChunk)}\n\n`)
            res.write(`data: {"id": "chatcmpl-${auth}", "choices": [{"delta": {"content": "`)
          } else {
            res.writeHead(200, { ...headers, "content-type": "application/json", "content-length": "4096" })
            res.write(`{"id": "chatcmpl-1", "object": "list", "owner": "${echoed}", "data": [`)
          }
          return setImmediate(() => res.socket?.destroy())
      }
    })
  }
}

const urls = ({ port }: LoopbackServer) => ({
  base: (mode: Mode) => `http://127.0.0.1:${port}/m/${mode}/v1`,
  withCredentials: (mode: Mode) => `http://canary:${URL_PASSWORD}@127.0.0.1:${port}/m/${mode}/v1`,
  withQueryKey: (mode: Mode) => `http://127.0.0.1:${port}/m/${mode}/v1?api-key=${QUERY_KEY}`
})

interface Run {
  readonly name: string
  readonly code: number | null
  readonly output: string
}

const cli = (name: string, args: ReadonlyArray<string>, baseUrl: string): Promise<Run> =>
  new Promise((resolve, reject) => {
    const env = { PATH: process.env.PATH ?? "", OPENAI_API_KEY: KEY, OPENAI_BASE_URL: baseUrl }
    const child = spawn(process.execPath, [entry, ...args, "--log-level", "debug"], { cwd: root, env })
    let output = ""
    child.stdout.on("data", (d: Buffer) => output += d.toString())
    child.stderr.on("data", (d: Buffer) => output += d.toString())
    child.on("error", reject)
    child.on("close", (code) => resolve({ name, code, output }))
  })

type Server = ReturnType<typeof urls>

// Every failure mode with the key in the environment, and two with canaries in the URL too.
const targets = (server: Server): ReadonlyArray<readonly [string, string]> => [
  ["401 echoing the key", server.base("echo401")],
  ["429 then quota", server.base("rate429")],
  ["HTML pages", server.base("html")],
  ["cut bodies", server.base("cut")],
  ["URL user-info", server.withCredentials("echo401")],
  ["?api-key= in the URL", server.withQueryKey("echo401")]
]

const expectNoLeak = (runs: ReadonlyArray<Run>) => {
  for (const run of runs) {
    // A run that printed nothing would pass any scan: each must have said why it failed.
    expect(run.output.length, run.name).toBeGreaterThan(0)
    expect(leaks(run.output), `${run.name}:\n${run.output}`).toEqual([])
  }
}

describe("the command line shows no secret, whatever the server echoes", () => {
  it("chat, at debug log level", () =>
    withServer(failingServer(), async (server) => {
      const runs = await Promise.all(targets(urls(server)).map(([name, url]) => cli(`chat, ${name}`, ["chat", "hello"], url)))
      expectNoLeak(runs)
      for (const run of runs) expect(run.code, `${run.name}:\n${run.output}`).toBe(1)
      // The support report was printed (and scanned) for the persistent failures.
      expect(runs.filter((r) => r.output.includes("\"requestId\"")).length).toBeGreaterThan(0)
    }), 120_000)

  it("doctor, at debug log level", () =>
    withServer(failingServer(), async (server) => {
      const runs = await Promise.all(targets(urls(server)).map(([name, url]) => cli(`doctor, ${name}`, ["doctor"], url)))
      expectNoLeak(runs)
      for (const run of runs) expect(run.code, `${run.name}:\n${run.output}`).toBe(1)
    }), 120_000)

  it("batch, at debug log level, and the files it writes", () =>
    withServer(failingServer(), async (server) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "secrets-cli-"))
      try {
        const input = path.join(dir, "in.jsonl")
        const lines = [0, 1].map((i) =>
          JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: `hi ${i}` }], max_tokens: 4, metadata: { id: `r${i}` } })
        )
        fs.writeFileSync(input, `${lines.join("\n")}\n`)
        const runs = await Promise.all(targets(urls(server)).map(async ([name, url], i) => {
          const out = path.join(dir, `out${i}.jsonl`)
          const errors = path.join(dir, `errors${i}.jsonl`)
          const run = await cli(`batch, ${name}`, ["batch", input, "--out", out, "--errors", errors], url)
          const files = [out, errors].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f, "utf8")).join("\n")
          return { ...run, output: `${run.output}\n${files}`, files }
        }))
        expectNoLeak(runs)
        for (const run of runs) {
          expect(run.code, `${run.name}:\n${run.output}`).toBe(1)
          // The errors file holds a record (with its support report) per failed request.
          expect(run.files, run.name).toContain("\"r0\"")
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }), 120_000)
})
