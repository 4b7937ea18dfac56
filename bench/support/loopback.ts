/**
 * What the loopback benches share: a node:http server on 127.0.0.1 (port 0, keep-alive) that
 * serves one canned chat completion, and the timing helpers.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export const API_KEY = "sk-bench-0000000000000000000000000000"

export const completion = JSON.stringify({
  id: "chatcmpl-bench",
  object: "chat.completion",
  created: 1727346142,
  model: "gpt-4o-mini-2024-07-18",
  choices: [{
    index: 0,
    message: {
      role: "assistant",
      content: "The quick brown fox jumps over the lazy dog. ".repeat(8).trim(),
      refusal: null
    },
    logprobs: null,
    finish_reason: "stop"
  }],
  usage: { prompt_tokens: 19, completion_tokens: 80, total_tokens: 99 },
  system_fingerprint: "fp_bench"
})

export const body = {
  model: "gpt-4o-mini",
  messages: [{ role: "user" as const, content: "Write one sentence about a fox." }]
}

export const startServer = () =>
  new Promise<{ server: http.Server; url: string }>((resolve) => {
    let n = 0
    const server = http.createServer((req, res) => {
      req.resume()
      req.on("end", () => {
        res.writeHead(200, {
          "content-type": "application/json",
          "x-request-id": `req_${++n}`,
          "x-ratelimit-limit-requests": "10000",
          "x-ratelimit-remaining-requests": "9999",
          "x-ratelimit-reset-requests": "6ms"
        })
        res.end(completion)
      })
    })
    server.keepAliveTimeout = 60_000
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({ server, url: `http://127.0.0.1:${port}/v1` })
    })
  })

export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
}

export type Call = () => Promise<unknown>

export const latencies = async (call: Call, n: number, out: Array<number>) => {
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await call()
    out.push(performance.now() - t0)
  }
}

export const fmt = (x: number, digits = 3) => x.toFixed(digits)
