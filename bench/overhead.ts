/**
 * What the client costs over a bare request, against a local server.
 *
 *   npx tsx bench/overhead.ts
 *
 * A node:http server on 127.0.0.1 (port 0, keep-alive) serves the same canned chat completion to
 * the same request body from (a) raw `fetch` + `response.json()`, (b) this library's
 * `OpenAiClient` with its default middleware (classification, per-attempt timeout, retry policy,
 * idempotency key, attempt header, schema decoding) over `UndiciHttpClient.layer`, the layer the
 * docs recommend on Node, and (c) the official `openai` package. Reference rows help read the
 * figures: `undici.request` by hand, the bare clients (ours and the platform's), (b) over
 * `NodeHttpClient.layerUndici` and over `FetchHttpClient`, (b) with the tracer off. The CPU rows
 * measure each layer over the bare `UndiciHttpClient`, then the default and the full stack over a
 * client that answers from memory (what the stack's own code costs, without a socket).
 *
 * After a warm-up, latency is the median of sequential requests measured in short interleaved
 * blocks (a, b, c, ... then again, the order rotated every round), so that load from elsewhere on
 * a shared machine falls on every client alike; throughput is requests per second at concurrency
 * 16, the median of rounds interleaved the same way. Ratios come from this one run, and each
 * target ends the output as one `target ...: met|missed` line.
 *
 * Then embeddings decoding for 2048 vectors of 1536 dimensions: the base64 body decoded to
 * `Float32Array`s, the JSON-floats body decoded to `Float32Array`s, and plain `JSON.parse` of the
 * floats body as the baseline.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Undici from "@effect/platform-node/Undici"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import OpenAI from "openai"
import * as Bulkhead from "../src/Bulkhead.js"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as Decode from "../src/Decode.js"
import * as HttpMiddleware from "../src/HttpMiddleware.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as attemptTimer from "../src/internal/attemptTimer.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import * as UndiciHttpClient from "../src/UndiciHttpClient.js"
import * as Embeddings from "../src/Schemas/Embeddings.js"
import { API_KEY, body, type Call, completion, fmt, latencies, median, startServer } from "./support/loopback.js"
import { targetLine } from "./support/target.js"

const throughput = async (call: Call, total: number, concurrency: number): Promise<number> => {
  let next = 0
  const t0 = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < total) await call()
  }))
  return total / ((performance.now() - t0) / 1000)
}


const percentile = (xs: ReadonlyArray<number>, p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0
}


// CPU per call (process.cpuUsage, user + system, the server's share included and the same for
// every row): the median over interleaved rounds of sequential calls. "over bare" subtracts the
// bare platform client, so what is left is what a layer costs.
const cpuSection = async (url: string) => {
  const runtime = ManagedRuntime.make(Layer.mergeAll(UndiciHttpClient.layer, RateLimiter.layerStoreMemory))
  const scope = await Effect.runPromise(Scope.make())
  const request = HttpClientRequest.bodyUnsafeJson(
    HttpClientRequest.bearerToken(HttpClientRequest.post(`${url}/chat/completions`), API_KEY),
    body
  )
  const made = await runtime.runPromise(Effect.gen(function*() {
    const base = yield* HttpClient.HttpClient
    const limiter = yield* RateLimiter.make({ requestsPerMinute: 1e9, tokensPerMinute: 1e12 })
    const breaker = yield* Scope.extend(CircuitBreaker.make(), scope)
    const bulkhead = yield* Bulkhead.make({ maxConcurrent: 64 })
    const plain = yield* OpenAiClient.make({ apiKey: Redacted.make(API_KEY), baseUrl: url })
    const full = yield* OpenAiClient.make({ apiKey: Redacted.make(API_KEY), baseUrl: url, resilience: { bulkhead, breaker, limiter } })
    return { base, limiter, breaker, bulkhead, plain, full }
  }))
  const { base, breaker, bulkhead, limiter } = made
  type Client = HttpClient.HttpClient.With<unknown>
  const via = (client: Client): Call => () => runtime.runPromise(Effect.flatMap(client.execute(request), (r) => r.json))
  const classified = base.pipe(HttpMiddleware.classify)
  const sdk = new OpenAI({ apiKey: API_KEY, baseURL: url })
  const rows = {
    bare: via(base),
    classify: via(classified),
    timeout: via(base.pipe(HttpMiddleware.timeout("10 minutes"))),
    retry: via(classified.pipe(HttpMiddleware.retry(RetryPolicy.default))),
    idempotencyKey: via(base.pipe(HttpMiddleware.idempotencyKey)),
    attemptHeader: via(base.pipe(HttpMiddleware.attemptHeader())),
    breaker: via(base.pipe(CircuitBreaker.middleware(breaker))),
    limiter: via(base.pipe(RateLimiter.middleware(limiter))),
    bulkhead: via(base.pipe(Bulkhead.middleware(bulkhead))),
    resilient: via(base.pipe(HttpMiddleware.resilient())),
    fullStack: via(base.pipe(HttpMiddleware.resilient({ bulkhead, breaker, limiter }))),
    client: () => runtime.runPromise(made.plain.chat.completions.create(body)),
    clientFull: () => runtime.runPromise(made.full.chat.completions.create(body)),
    sdk: () => sdk.chat.completions.create(body)
  }
  type Row = keyof typeof rows
  const names = Object.keys(rows) as Array<Row>
  for (const name of names) await latencies(rows[name], 200, [])
  const cpu = Object.fromEntries(names.map((n) => [n, [] as Array<number>])) as Record<Row, Array<number>>
  const ROUNDS = 21
  const CALLS = 300
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length] ?? "bare"
      const t0 = process.cpuUsage()
      for (let k = 0; k < CALLS; k++) await rows[name]()
      const d = process.cpuUsage(t0)
      cpu[name].push((d.user + d.system) / CALLS)
    }
  }
  const us = Object.fromEntries(names.map((n) => [n, median(cpu[n])])) as Record<Row, number>
  const over = (n: Row) => us[n] - us.bare
  console.log(`\nCPU per call (process.cpuUsage, median of ${ROUNDS} interleaved rounds of ${CALLS} sequential calls)`)
  const label: Record<Row, string> = {
    bare: "bare UndiciHttpClient.layer (+ response.json)",
    classify: "  + HttpMiddleware.classify alone",
    timeout: "  + HttpMiddleware.timeout alone",
    retry: "  + classify + HttpMiddleware.retry(default)",
    idempotencyKey: "  + HttpMiddleware.idempotencyKey alone",
    attemptHeader: "  + HttpMiddleware.attemptHeader alone",
    breaker: "  + CircuitBreaker.middleware alone",
    limiter: "  + RateLimiter.middleware alone",
    bulkhead: "  + Bulkhead.middleware alone",
    resilient: "  HttpMiddleware.resilient() (defaults)",
    fullStack: "  resilient({ bulkhead, breaker, limiter }): full stack",
    client: "OpenAiClient, default stack (+ schema decoding)",
    clientFull: "OpenAiClient, resilience { bulkhead, breaker, limiter }",
    sdk: "openai (official SDK)"
  }
  for (const n of names) {
    console.log(`  ${label[n].padEnd(58)} ${fmt(us[n], 0).padStart(5)} us   over bare ${fmt(over(n), 0).padStart(5)} us`)
  }
  await runtime.dispose()
  await Effect.runPromise(Scope.close(scope, Exit.void))
  return { fullStack: over("fullStack"), resilient: over("resilient") }
}

// The same stack over a client that answers at once from memory (it never waits, so it ends
// every wait on the attempt's timer, as this library's transports do): what the stack's own code
// costs with no socket, no parser and no server sharing the caches.
const memorySection = async () => {
  const text = completion
  const inMemory = attemptTimer.cooperating(HttpClient.make((request) =>
    Effect.sync(() =>
      HttpClientResponse.fromWeb(request, new Response(text, { status: 200, headers: { "content-type": "application/json" } }))
    )
  ))
  const runtime = ManagedRuntime.make(RateLimiter.layerStoreMemory)
  const scope = await Effect.runPromise(Scope.make())
  const layers = await runtime.runPromise(Effect.gen(function*() {
    const limiter = yield* RateLimiter.make({ requestsPerMinute: 1e9, tokensPerMinute: 1e12 })
    const breaker = yield* Scope.extend(CircuitBreaker.make(), scope)
    const bulkhead = yield* Bulkhead.make({ maxConcurrent: 64 })
    return { bulkhead, breaker, limiter }
  }))
  const request = HttpClientRequest.bodyUnsafeJson(
    HttpClientRequest.bearerToken(HttpClientRequest.post("http://127.0.0.1/v1/chat/completions"), API_KEY),
    body
  )
  type Client = HttpClient.HttpClient.With<unknown>
  const via = (client: Client): Call => () => runtime.runPromise(Effect.flatMap(client.execute(request), (r) => r.json))
  const rows = {
    bare: via(inMemory),
    resilient: via(inMemory.pipe(HttpMiddleware.resilient())),
    fullStack: via(inMemory.pipe(HttpMiddleware.resilient(layers)))
  }
  type Row = keyof typeof rows
  const names = Object.keys(rows) as Array<Row>
  for (const name of names) await latencies(rows[name], 1000, [])
  const cpu = Object.fromEntries(names.map((n) => [n, [] as Array<number>])) as Record<Row, Array<number>>
  for (let round = 0; round < 15; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length] ?? "bare"
      const t0 = process.cpuUsage()
      for (let k = 0; k < 1000; k++) await rows[name]()
      const d = process.cpuUsage(t0)
      cpu[name].push((d.user + d.system) / 1000)
    }
  }
  const us = Object.fromEntries(names.map((n) => [n, median(cpu[n])])) as Record<Row, number>
  console.log("\nCPU per call in memory (a client that answers at once; median of 15 interleaved rounds of 1000 calls)")
  console.log(`  bare client (+ response.json)                              ${fmt(us.bare, 0).padStart(5)} us`)
  console.log(`  HttpMiddleware.resilient() (defaults)                      ${fmt(us.resilient, 0).padStart(5)} us   over bare ${fmt(us.resilient - us.bare, 0).padStart(5)} us`)
  console.log(`  resilient({ bulkhead, breaker, limiter }): full stack      ${fmt(us.fullStack, 0).padStart(5)} us   over bare ${fmt(us.fullStack - us.bare, 0).padStart(5)} us`)
  await runtime.dispose()
  await Effect.runPromise(Scope.close(scope, Exit.void))
}

const main = async () => {
  const { server, url } = await startServer()
  const requestBody = JSON.stringify(body)
  const headers = { "content-type": "application/json", accept: "application/json", authorization: `Bearer ${API_KEY}` }

  // (a) raw fetch (Node's global fetch: undici's fetch, keep-alive by default)
  const raw: Call = async () => {
    const res = await fetch(`${url}/chat/completions`, { method: "POST", headers, body: requestBody })
    if (res.status !== 200) throw new Error(`status ${res.status}`)
    return res.json()
  }

  // (b) this client with its default middleware over UndiciHttpClient.layer, the layer the docs
  // recommend on Node. The runtime is built once and outlives every call.
  const clientLayer = OpenAiClient.layer({ apiKey: Redacted.make(API_KEY), baseUrl: url })
  const runtime = ManagedRuntime.make(clientLayer.pipe(Layer.provide(UndiciHttpClient.layer)))
  const create = Effect.flatMap(OpenAiClient.OpenAiClient, (openai) => openai.chat.completions.create(body))
  const ours: Call = () => runtime.runPromise(create)

  // (c) the official SDK (over fetch)
  const sdk = new OpenAI({ apiKey: API_KEY, baseURL: url })
  const official: Call = () => sdk.chat.completions.create(body)

  // For reading the figures: undici.request by hand, the bare platform clients (no middleware,
  // no schema), and this client over FetchHttpClient.
  const agent = new Undici.Agent()
  const rawUndici: Call = async () => {
    const res = await agent.request({
      origin: new URL(url).origin,
      path: "/v1/chat/completions",
      method: "POST",
      headers,
      body: requestBody
    })
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`)
    return res.body.json()
  }
  const bareCall = Effect.flatMap(HttpClient.HttpClient, (client) =>
    Effect.flatMap(
      client.execute(
        HttpClientRequest.bodyUnsafeJson(
          HttpClientRequest.bearerToken(HttpClientRequest.post(`${url}/chat/completions`), API_KEY),
          body
        )
      ),
      (response) => response.json
    ))
  const undiciRuntime = ManagedRuntime.make(NodeHttpClient.layerUndici)
  const platformUndici: Call = () => undiciRuntime.runPromise(bareCall)
  const leanRuntime = ManagedRuntime.make(UndiciHttpClient.layer)
  const leanUndici: Call = () => leanRuntime.runPromise(bareCall)
  const oursPlatformRuntime = ManagedRuntime.make(clientLayer.pipe(Layer.provide(NodeHttpClient.layerUndici)))
  const oursPlatform: Call = () => oursPlatformRuntime.runPromise(create)
  const fetchRuntime = ManagedRuntime.make(FetchHttpClient.layer)
  const platformFetch: Call = () => fetchRuntime.runPromise(bareCall)
  const oursFetchRuntime = ManagedRuntime.make(clientLayer.pipe(Layer.provide(FetchHttpClient.layer)))
  const oursFetch: Call = () => oursFetchRuntime.runPromise(create)

  // And (b) with Effect's tracer off: @effect/platform opens a span per request (with the
  // request and response headers as attributes) even when nothing exports it.
  const untraced: Call = () => runtime.runPromise(Effect.withTracerEnabled(create, false))

  const calls = { raw, ours, official, rawUndici, leanUndici, platformUndici, platformFetch, oursPlatform, oursFetch, untraced }
  type Name = keyof typeof calls
  const names = Object.keys(calls) as Array<Name>

  // Sanity: every client gets the same completion.
  for (const name of names) {
    const r = await calls[name]()
    const c = name === "ours" || name === "oursPlatform" || name === "oursFetch" || name === "untraced"
      ? (r as { data: unknown }).data
      : r
    if ((c as { id?: string }).id !== "chatcmpl-bench") throw new Error(`unexpected response from ${name}`)
  }

  // Warm up JITs and connection pools.
  for (const name of names) await latencies(calls[name], 300, [])

  const lat = Object.fromEntries(names.map((n) => [n, [] as Array<number>])) as Record<Name, Array<number>>
  const tput = Object.fromEntries(names.map((n) => [n, [] as Array<number>])) as Record<Name, Array<number>>
  // Sequential latency in short interleaved blocks (a, b, c, ... then again, the order rotated
  // each round) so that load from elsewhere on the machine falls on every client alike.
  const LAT_ROUNDS = 100
  const BLOCK = 20
  for (let round = 0; round < LAT_ROUNDS; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length] ?? "raw"
      await latencies(calls[name], BLOCK, lat[name])
    }
  }
  const TPUT_ROUNDS = 10
  for (let round = 0; round < TPUT_ROUNDS; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length] ?? "raw"
      tput[name].push(await throughput(calls[name], 200, 16))
    }
  }

  const m = Object.fromEntries(names.map((n) => [n, median(lat[n])])) as Record<Name, number>
  const t = Object.fromEntries(names.map((n) => [n, median(tput[n])])) as Record<Name, number>
  const row = (label: string, n: Name) =>
    console.log(`  ${label.padEnd(52)} ${fmt(m[n])} ms  ${fmt(t[n], 0).padStart(6)} req/s`)
  console.log(
    `chat completion against 127.0.0.1: median latency of ${LAT_ROUNDS * BLOCK} sequential requests each ` +
      `(interleaved), throughput at concurrency 16 (median of ${TPUT_ROUNDS} rounds)`
  )
  row("(a) raw fetch", "raw")
  row("(b) OpenAiClient, default stack, UndiciHttpClient", "ours")
  row("(c) openai (official SDK)", "official")
  console.log("  for reading the figures:")
  row("raw undici.request", "rawUndici")
  row("bare UndiciHttpClient.layer (no middleware)", "leanUndici")
  row("bare NodeHttpClient.layerUndici (no middleware)", "platformUndici")
  row("bare FetchHttpClient (no middleware)", "platformFetch")
  row("OpenAiClient, default stack, NodeHttpClient.layerUndici", "oursPlatform")
  row("OpenAiClient, default stack, FetchHttpClient", "oursFetch")
  row("(b) with Effect's tracer off", "untraced")
  const latA = m.ours / m.raw
  const latC = m.ours / m.official
  const p99Ours = percentile(lat.ours, 0.99)
  const p99Sdk = percentile(lat.official, 0.99)
  console.log(`  p99 latency: (b) ${fmt(p99Ours)} ms, (c) ${fmt(p99Sdk)} ms, raw fetch ${fmt(percentile(lat.raw, 0.99))} ms`)
  console.log(`  latency    (b)/(c) = ${fmt(latC)}   throughput (b)/(a) = ${fmt(t.ours / t.raw)}   (b)/(c) = ${fmt(t.ours / t.official)}`)
  console.log(
    `  over NodeHttpClient.layerUndici instead: latency /(a) = ${fmt(m.oursPlatform / m.raw)}, /(c) = ${
      fmt(m.oursPlatform / m.official)
    }; over FetchHttpClient: /(a) = ${fmt(m.oursFetch / m.raw)}, /(c) = ${fmt(m.oursFetch / m.official)}`
  )
  const targets = [
    targetLine("p50 latency (b)/(a) raw fetch", latA, { op: "<=", goal: 1.1, digits: 3 }),
    targetLine("p99 latency (b)/(c) SDK", p99Ours / p99Sdk, { op: "<=", goal: 1, digits: 3 })
  ]
  await runtime.dispose()
  await undiciRuntime.dispose()
  await leanRuntime.dispose()
  await oursPlatformRuntime.dispose()
  await fetchRuntime.dispose()
  await oursFetchRuntime.dispose()
  await agent.close()

  const cpu = await cpuSection(url)
  targets.push(targetLine("CPU per call, full stack over bare", cpu.fullStack, { op: "<=", goal: 100, unit: " us", digits: 0 }))
  targets.push(targetLine("CPU per call, resilient() over bare", cpu.resilient, { op: "<=", goal: 50, unit: " us", digits: 0 }))
  await memorySection()
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
  // The floats as the API prints them: the shortest decimal that reads back as the same float32
  // (`0.0023064255`), not the float64 expansion `JSON.stringify` would give (`0.002306425478309393`).
  const float32Text = (x: number): string => {
    for (let p = 6; p < 9; p++) {
      const text = x.toPrecision(p)
      if (Math.fround(Number(text)) === x) return String(Number(text))
    }
    return String(Number(x.toPrecision(9)))
  }
  const floatBody = JSON.stringify({
    object: "list",
    data: vectors.map((_, index) => ({ object: "embedding", index, embedding: `@${index}` })),
    model: "text-embedding-3-small",
    usage: { prompt_tokens: N, total_tokens: N }
  }).replace(/"@(\d+)"/g, (_, i: string) => `[${Array.from(vectors[Number(i)] ?? [], float32Text).join(",")}]`)
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
  console.log(`  bytes on the wire: base64 / floats = ${fmt(Buffer.byteLength(base64Body) / Buffer.byteLength(floatBody), 2)}`)
  console.log(`  base64 / JSON.parse = ${fmt(tBase64 / tParse)}   floats / JSON.parse = ${fmt(tFloats / tParse)}   base64 / floats = ${fmt(tBase64 / tFloats)}`)
  console.log()
  for (const line of targets) console.log(line)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
