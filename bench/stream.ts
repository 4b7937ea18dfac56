/**
 * What consuming a long stream costs, against a local server.
 *
 *   npx tsx bench/stream.ts
 *
 * A node:http server on 127.0.0.1 (port 0, keep-alive, in a worker thread so that its own work
 * does not run on the measured thread) serves a 20,000-chunk stream: realistic
 * `chat.completion.chunk` events of about 200 bytes for Chat Completions, and
 * `response.output_text.delta` events framed with `event:` for the Responses API. Two modes:
 * "bulk" (the whole body in one write) and "trickle" (one write per event, the server yielding to
 * its event loop every 16 events, so the client reads many small chunks).
 *
 * Three consumers read every event and add up the text of its delta:
 * - this client (`OpenAiClient` over `NodeHttpClient.layerUndici`, the layer the docs recommend on
 *   Node, default middleware), `Stream.runForEach` over `chat.completions.stream` /
 *   `responses.stream`;
 * - the official `openai` SDK, `for await` over `create({ stream: true })`;
 * - the floor: `fetch` + `eventsource-parser` + `JSON.parse`, no validation at all.
 *
 * After a warm-up, each figure is the median wall time of interleaved rounds (the order rotated
 * every round), so that load from elsewhere on a shared machine falls on every consumer alike.
 * Ratios come from this one run.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { createParser } from "eventsource-parser"
import { Worker } from "node:worker_threads"
import OpenAI from "openai"
import * as OpenAiClient from "../src/OpenAiClient.js"
import { targetLine } from "./support/target.js"

const API_KEY = "sk-bench-0000000000000000000000000000"
const CHUNKS = 20_000
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 7)

const words = ["The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", "."]

const chatBody = (): string => {
  const head = {
    id: "chatcmpl-AbCdEfGhIjKlMnOpQrStUvWxYz012",
    object: "chat.completion.chunk",
    created: 1727346142,
    model: "gpt-4o-mini-2024-07-18",
    system_fingerprint: "fp_0ba0d124f1"
  }
  let out = ""
  for (let i = 0; i < CHUNKS; i++) {
    const last = i === CHUNKS - 1
    const delta = i === 0 ? { role: "assistant", content: "", refusal: null } : last ? {} : { content: words[i % words.length] }
    const chunk = {
      ...head,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: last ? "stop" : null }]
    }
    out += `data: ${JSON.stringify(chunk)}\n\n`
  }
  return out + "data: [DONE]\n\n"
}

const responsesBody = (): string => {
  const response = (status: string) => ({
    id: "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
    object: "response",
    created_at: 1741476542,
    status,
    model: "gpt-4o-mini-2024-07-18",
    output: [],
    parallel_tool_calls: true,
    temperature: 1,
    tool_choice: "auto",
    tools: [],
    top_p: 1,
    usage: null
  })
  const frame = (e: { readonly type: string; readonly [key: string]: unknown }) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`
  let out = frame({ type: "response.created", sequence_number: 0, response: response("in_progress") })
  for (let i = 1; i <= CHUNKS; i++) {
    out += frame({
      type: "response.output_text.delta",
      sequence_number: i,
      item_id: "msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b",
      output_index: 0,
      content_index: 0,
      delta: words[i % words.length] ?? "",
      logprobs: []
    })
  }
  return out + frame({ type: "response.completed", sequence_number: CHUNKS + 1, response: response("completed") })
}

// The server, as plain JavaScript for a worker thread: it answers POST /v1/chat/completions and
// /v1/responses with the body of that API, in the mode named by the `x-bench-mode` header.
const serverSource = `
const http = require("node:http")
const { parentPort, workerData } = require("node:worker_threads")
const bodies = { "/v1/chat/completions": workerData.chat, "/v1/responses": workerData.responses }
const split = (body) => body.split(/(?<=\\n\\n)/)
const frames = { "/v1/chat/completions": split(workerData.chat), "/v1/responses": split(workerData.responses) }
const server = http.createServer((req, res) => {
  req.resume()
  req.on("end", async () => {
    const body = bodies[req.url]
    if (body === undefined) { res.writeHead(404); res.end(); return }
    res.writeHead(200, { "content-type": "text/event-stream", "x-request-id": "req_bench", "cache-control": "no-cache" })
    if (req.headers["x-bench-mode"] !== "trickle") { res.end(body); return }
    const list = frames[req.url]
    for (let i = 0; i < list.length; i++) {
      if (!res.write(list[i])) await new Promise((r) => res.once("drain", r))
      if (i % 16 === 15) await new Promise((r) => setImmediate(r))
    }
    res.end()
  })
})
server.keepAliveTimeout = 60000
server.listen(0, "127.0.0.1", () => parentPort.postMessage(server.address().port))
parentPort.on("message", () => server.close(() => process.exit(0)))
`

const startServer = (chat: string, responses: string) =>
  new Promise<{ worker: Worker; url: string }>((resolve, reject) => {
    const worker = new Worker(serverSource, { eval: true, workerData: { chat, responses } })
    worker.once("message", (port: number) => resolve({ worker, url: `http://127.0.0.1:${port}/v1` }))
    worker.once("error", reject)
  })

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
}

type Mode = "bulk" | "trickle"
type Api = "chat" | "responses"
// Each consumer returns the number of text characters it read, checked against the expected.
type Consumer = (api: Api, mode: Mode) => Promise<number>

interface Delta {
  readonly choices?: ReadonlyArray<{ readonly delta?: { readonly content?: string | null } }>
  readonly type?: string
  readonly delta?: string
}

const textOf = (event: Delta): number => {
  if (event.type === "response.output_text.delta") return event.delta?.length ?? 0
  return event.choices?.[0]?.delta?.content?.length ?? 0
}

const chatRequest = {
  model: "gpt-4o-mini",
  messages: [{ role: "user" as const, content: "Count to twenty thousand." }]
}
const responsesRequest = { model: "gpt-4o-mini", input: "Count to twenty thousand." }

const main = async () => {
  const chat = chatBody()
  const responses = responsesBody()
  const { url, worker } = await startServer(chat, responses)
  const modeHeader = (mode: Mode) => ({ "x-bench-mode": mode })

  // This client, over NodeHttpClient.layerUndici. The mode header is added by `transformClient`
  // (read from a module variable, since the same client serves both modes).
  let currentMode: Mode = "bulk"
  const clientLayer = OpenAiClient.layer({
    apiKey: Redacted.make(API_KEY),
    baseUrl: url,
    transformClient: HttpClient.mapRequest((request) => HttpClientRequest.setHeaders(request, modeHeader(currentMode)))
  })
  const runtime = ManagedRuntime.make(clientLayer.pipe(Layer.provide(NodeHttpClient.layerUndici)))
  const oursOf = (api: Api) =>
    Effect.flatMap(OpenAiClient.OpenAiClient, (openai) => {
      let n = 0
      const events: Stream.Stream<Delta, unknown> = api === "chat"
        ? openai.chat.completions.stream(chatRequest)
        : openai.responses.stream(responsesRequest)
      return Effect.map(Stream.runForEach(events, (e) => Effect.sync(() => {
        n += textOf(e)
      })), () => n)
    })
  const oursChat = oursOf("chat")
  const oursResponses = oursOf("responses")
  const ours: Consumer = (api, mode) => {
    currentMode = mode
    return runtime.runPromise(api === "chat" ? oursChat : oursResponses)
  }

  const sdk = new OpenAI({ apiKey: API_KEY, baseURL: url })
  const official: Consumer = async (api, mode) => {
    let n = 0
    if (api === "chat") {
      const s = await sdk.chat.completions.create({ ...chatRequest, stream: true }, { headers: modeHeader(mode) })
      for await (const e of s) n += e.choices[0]?.delta?.content?.length ?? 0
    } else {
      const s = await sdk.responses.create({ ...responsesRequest, stream: true }, { headers: modeHeader(mode) })
      for await (const e of s) if (e.type === "response.output_text.delta") n += e.delta.length
    }
    return n
  }

  const floor: Consumer = async (api, mode) => {
    const res = await fetch(`${url}/${api === "chat" ? "chat/completions" : "responses"}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "text/event-stream",
        authorization: `Bearer ${API_KEY}`,
        ...modeHeader(mode)
      },
      body: JSON.stringify({ ...(api === "chat" ? chatRequest : responsesRequest), stream: true })
    })
    if (res.status !== 200 || res.body === null) throw new Error(`status ${res.status}`)
    let n = 0
    const parser = createParser({
      onEvent: (event) => {
        if (event.data !== "[DONE]") n += textOf(JSON.parse(event.data) as Delta)
      }
    })
    const decoder = new TextDecoder()
    const reader = res.body.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      parser.feed(decoder.decode(value, { stream: true }))
    }
    return n
  }

  const consumers = { ours, official, floor }
  type Name = keyof typeof consumers
  // BENCH_ONLY=ours (a consumer's name) runs that one alone, for a CPU profile.
  const only = process.env["BENCH_ONLY"]
  const names = (Object.keys(consumers) as Array<Name>).filter((n) => only === undefined || n === only)
  // BENCH_CASES=responses/bulk,chat/bulk (api/mode, comma separated) runs those cases alone.
  const allCases: ReadonlyArray<readonly [Api, Mode]> = [["chat", "bulk"], ["chat", "trickle"], ["responses", "bulk"], [
    "responses",
    "trickle"
  ]]
  const onlyCases = process.env["BENCH_CASES"]?.split(",")
  const cases = allCases.filter(([api, mode]) => onlyCases === undefined || onlyCases.includes(`${api}/${mode}`))

  // Sanity and warm-up: every consumer reads the same text.
  const expected: Record<Api, number> = { chat: -1, responses: -1 }
  for (const [api, mode] of cases) {
    for (const name of names) {
      for (let i = 0; i < 2; i++) {
        const n = await consumers[name](api, mode)
        if (expected[api] === -1) expected[api] = n
        if (n !== expected[api] || n === 0) throw new Error(`${name} read ${n} characters of ${api}, expected ${expected[api]}`)
      }
    }
  }

  const times: Record<string, Array<number>> = {}
  const key = (name: Name, api: Api, mode: Mode) => `${name}/${api}/${mode}`
  for (let round = 0; round < ROUNDS; round++) {
    for (const [api, mode] of cases) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(i + round) % names.length] ?? "ours"
        const t0 = performance.now()
        await consumers[name](api, mode)
        ;(times[key(name, api, mode)] ??= []).push(performance.now() - t0)
      }
    }
  }

  if (names.length < 3 || cases.length < allCases.length) {
    for (const [k, xs] of Object.entries(times)) console.log(`  ${k.padEnd(28)} ${median(xs).toFixed(1)} ms`)
    await runtime.dispose()
    worker.postMessage("stop")
    return
  }
  const m = (name: Name, api: Api, mode: Mode) => median(times[key(name, api, mode)] ?? [])
  console.log(
    `${CHUNKS}-chunk streams from 127.0.0.1 (chat ${(chat.length / 1024 / 1024).toFixed(1)} MiB, responses ${
      (responses.length / 1024 / 1024).toFixed(1)
    } MiB): median wall time of ${ROUNDS} interleaved rounds`
  )
  console.log(`  ${"".padEnd(20)} ${"this client".padStart(12)} ${"openai SDK".padStart(12)} ${"floor".padStart(12)}   vs SDK  vs floor`)
  const targets: Array<string> = []
  for (const [api, mode] of cases) {
    const o = m("ours", api, mode)
    const s = m("official", api, mode)
    const f = m("floor", api, mode)
    console.log(
      `  ${`${api} ${mode}`.padEnd(20)} ${`${o.toFixed(1)} ms`.padStart(12)} ${`${s.toFixed(1)} ms`.padStart(12)} ${
        `${f.toFixed(1)} ms`.padStart(12)
      }   ${(o / s).toFixed(2).padStart(6)}  ${(o / f).toFixed(2).padStart(8)}`
    )
    const line = (name: string, value: number, goal: number) =>
      targets.push(targetLine(name, value, { op: "<=", goal, unit: "x" }))
    line(`stream ${api} ${mode} vs SDK`, o / s, 1)
    line(`stream ${api} ${mode} vs floor`, o / f, 2)
  }
  for (const t of targets) console.log(t)

  await runtime.dispose()
  worker.postMessage("stop")
  await new Promise((resolve) => worker.once("exit", resolve))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
