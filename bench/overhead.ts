/**
 * What the client costs over a bare request, against a local server.
 *
 *   npx tsx bench/overhead.ts
 *
 * A node:http server on 127.0.0.1 (port 0) serves a canned chat completion. The same request is
 * sent by (a) raw `fetch` + `response.json()`, (b) this library's `OpenAiClient` with its default
 * middleware (classification, per-attempt timeout, retry policy, idempotency key, attempt header,
 * schema decoding) over `FetchHttpClient`, and (c) the official `openai` package. Latency is the
 * median of sequential requests, throughput is requests per second at a fixed concurrency; rounds
 * alternate (a, b, c) so that drift on a shared machine hits all three alike. Printed as ratios
 * measured in this one run.
 *
 * Then embeddings decoding for 2048 vectors of 1536 dimensions: the base64 body decoded to
 * `Float32Array`s, the JSON-floats body decoded to `Float32Array`s, and plain `JSON.parse` of the
 * floats body as the baseline.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import OpenAI from "openai"
import * as Decode from "../src/Decode.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as Embeddings from "../src/Schemas/Embeddings.js"

const API_KEY = "sk-bench-0000000000000000000000000000"

const completion = JSON.stringify({
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

const body = {
  model: "gpt-4o-mini",
  messages: [{ role: "user" as const, content: "Write one sentence about a fox." }]
}

const startServer = () =>
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

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
}

type Call = () => Promise<unknown>

const latencies = async (call: Call, n: number, out: Array<number>) => {
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await call()
    out.push(performance.now() - t0)
  }
}

const throughput = async (call: Call, total: number, concurrency: number): Promise<number> => {
  let next = 0
  const t0 = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < total) await call()
  }))
  return total / ((performance.now() - t0) / 1000)
}

const fmt = (x: number, digits = 3) => x.toFixed(digits)

const main = async () => {
  const { server, url } = await startServer()

  // (a) raw fetch
  const raw: Call = async () => {
    const res = await fetch(`${url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify(body)
    })
    if (res.status !== 200) throw new Error(`status ${res.status}`)
    return res.json()
  }

  // (b) this client, default middleware
  const runtime = ManagedRuntime.make(
    OpenAiClient.layer({ apiKey: Redacted.make(API_KEY), baseUrl: url }).pipe(Layer.provide(FetchHttpClient.layer))
  )
  const create = Effect.flatMap(OpenAiClient.OpenAiClient, (openai) => openai.chat.completions.create(body))
  const ours: Call = () => runtime.runPromise(create)

  // For reading the figures: the same platform client with no middleware and no decoding, and
  // this client with Effect's tracer off (@effect/platform opens a span per request).
  const platformRuntime = ManagedRuntime.make(FetchHttpClient.layer)
  const platformCall = Effect.flatMap(HttpClient.HttpClient, (client) =>
    Effect.flatMap(
      client.execute(
        HttpClientRequest.bodyUnsafeJson(
          HttpClientRequest.bearerToken(HttpClientRequest.post(`${url}/chat/completions`), API_KEY),
          body
        )
      ),
      (response) => response.json
    ))
  const platform: Call = () => platformRuntime.runPromise(platformCall)
  const untraced: Call = () => runtime.runPromise(Effect.withTracerEnabled(create, false))

  // (c) the official SDK
  const sdk = new OpenAI({ apiKey: API_KEY, baseURL: url })
  const official: Call = () => sdk.chat.completions.create(body)

  // Sanity: all three get the same completion.
  const check = [await raw(), (await runtime.runPromise(create)).data, await official()] as const
  for (const c of check) {
    if ((c as { id?: string }).id !== "chatcmpl-bench") throw new Error("unexpected response")
  }

  const calls = { raw, ours, official, platform, untraced }
  const names = ["raw", "ours", "official", "platform", "untraced"] as const
  // Warm up JITs and connection pools.
  for (const name of names) await latencies(calls[name], 200, [])

  const lat: Record<(typeof names)[number], Array<number>> = { raw: [], ours: [], official: [], platform: [], untraced: [] }
  const tput: Record<(typeof names)[number], Array<number>> = { raw: [], ours: [], official: [], platform: [], untraced: [] }
  const ROUNDS = 3
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order each round so no client always runs first.
    const order = names.map((_, i) => names[(i + round) % names.length] ?? "raw")
    for (const name of order) await latencies(calls[name], 150, lat[name])
    for (const name of order) tput[name].push(await throughput(calls[name], 400, 16))
  }

  const m = {
    raw: median(lat.raw),
    ours: median(lat.ours),
    official: median(lat.official),
    platform: median(lat.platform),
    untraced: median(lat.untraced)
  }
  const t = {
    raw: median(tput.raw),
    ours: median(tput.ours),
    official: median(tput.official),
    platform: median(tput.platform),
    untraced: median(tput.untraced)
  }
  console.log("chat completion against 127.0.0.1 (median latency of sequential requests; throughput at concurrency 16)")
  console.log(`  (a) raw fetch         ${fmt(m.raw)} ms   ${fmt(t.raw, 0)} req/s`)
  console.log(`  (b) OpenAiClient      ${fmt(m.ours)} ms   ${fmt(t.ours, 0)} req/s`)
  console.log(`  (c) openai (official) ${fmt(m.official)} ms   ${fmt(t.official, 0)} req/s`)
  console.log(`  for reference: bare @effect/platform FetchHttpClient (no middleware, no schema) ${fmt(m.platform)} ms   ${
    fmt(t.platform, 0)
  } req/s; (b) with the tracer off ${fmt(m.untraced)} ms   ${fmt(t.untraced, 0)} req/s`)
  console.log(`  latency    (b)/(a) = ${fmt(m.ours / m.raw)}  (target <= 1.10)   (b)/(c) = ${fmt(m.ours / m.official)}  (target <= 1.00)`)
  console.log(`  throughput (b)/(a) = ${fmt(t.ours / t.raw)}                     (b)/(c) = ${fmt(t.ours / t.official)}  (target >= 1.00)`)

  await runtime.dispose()
  await platformRuntime.dispose()
  server.close()
  server.closeAllConnections()

  // Embeddings decoding: 2048 x 1536.
  const N = 2048
  const D = 1536
  let seed = 42
  const rand = () => {
    seed = (seed * 1664525 + 1013904223) >>> 0
    return seed / 2 ** 32 - 0.5
  }
  const vectors = Array.from({ length: N }, () => Float32Array.from({ length: D }, () => rand() * 0.1))
  const envelope = (embedding: (v: Float32Array) => unknown) =>
    JSON.stringify({
      object: "list",
      data: vectors.map((v, index) => ({ object: "embedding", index, embedding: embedding(v) })),
      model: "text-embedding-3-small",
      usage: { prompt_tokens: N, total_tokens: N }
    })
  const base64Body = envelope((v) => Embeddings.encodeBase64Float32(v))
  const floatBody = envelope((v) => Array.from(v))
  const decode = Decode.decodeText(Embeddings.CreateEmbeddingResponseFloat32)
  const time = (f: () => unknown, runs: number) => {
    const xs: Array<number> = []
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now()
      f()
      xs.push(performance.now() - t0)
    }
    return median(xs)
  }
  const decoded = Effect.runSync(decode(base64Body))
  if (decoded.data.length !== N || decoded.data[0]?.embedding[0] !== vectors[0]?.[0]) {
    throw new Error("base64 decode mismatch")
  }
  const RUNS = 3
  const tBase64 = time(() => Effect.runSync(decode(base64Body)), RUNS)
  const tFloats = time(() => Effect.runSync(decode(floatBody)), RUNS)
  const tParse = time(() => JSON.parse(floatBody), RUNS)
  const mb = (s: string) => (Buffer.byteLength(s) / 1024 / 1024).toFixed(1)
  console.log(`\nembeddings decode, ${N} vectors x ${D} dims (median of ${RUNS})`)
  console.log(`  base64 body (${mb(base64Body)} MiB) -> Float32Array    ${fmt(tBase64, 1)} ms`)
  console.log(`  floats body (${mb(floatBody)} MiB) -> Float32Array    ${fmt(tFloats, 1)} ms`)
  console.log(`  JSON.parse of the floats body (baseline)      ${fmt(tParse, 1)} ms`)
  console.log(`  base64 / JSON.parse = ${fmt(tBase64 / tParse)}   floats / JSON.parse = ${fmt(tFloats / tParse)}   base64 / floats = ${fmt(tBase64 / tFloats)}`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
