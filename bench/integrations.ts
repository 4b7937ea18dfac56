/**
 * What `ResilientFetch` costs the official SDK, against a local server.
 *
 *   npx tsx bench/integrations.ts
 *
 * A node:http server on 127.0.0.1 (port 0, keep-alive) serves the same canned chat completion to
 * (a) `new OpenAI({ maxRetries: 0 })` on its own fetch, the baseline, and the same SDK with a
 * `ResilientFetch` running the default stack (classification, the default retry policy,
 * per-attempt timeout, idempotency key, attempt header) over each transport: (b)
 * `UndiciHttpClient.make()`, which the docs advise on Node, (b1) the global fetch (the default of
 * `fromOptions()`), (b2) `NodeHttpClient.layerUndici` in context under `ResilientFetch.make()`.
 * For reading the figures: (c) (b1) with a breaker, a limiter and a bulkhead as well, the bare
 * global `fetch`, and two floors with no resilience at all, each one Effect fiber per call that
 * reads the whole body (as the adapter must, to retry a body cut part-way) and hands the client a
 * new Response: (d) over the global fetch, (e) through `NodeHttpClient.layerUndici`. (b1) - (d) and
 * (b2) - (e) are what the adapter and its stack cost over the least any Effect fetch over that
 * transport does.
 *
 * After a warm-up, latency is the median (p50) of sequential requests measured in short
 * interleaved blocks (a, b, c, ... then again, the order rotated every round), so that load from
 * elsewhere on a shared machine falls on every client alike. Ratios come from this one run.
 */
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scope from "effect/Scope"
import OpenAI from "openai"
import * as ResilientFetch from "../src/ResilientFetch.js"
import * as UndiciHttpClient from "../src/UndiciHttpClient.js"
import { API_KEY, body, type Call, fmt, latencies, median, startServer } from "./support/loopback.js"
import { printTarget } from "./support/target.js"

const percentile = (xs: ReadonlyArray<number>, p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0
}

const main = async () => {
  const { server, url } = await startServer()

  const plain = new OpenAI({ apiKey: API_KEY, baseURL: url, maxRetries: 0 })
  const defaultFetch = ResilientFetch.fromOptions()
  const resilient = new OpenAI({ apiKey: API_KEY, baseURL: url, maxRetries: 0, fetch: defaultFetch })
  const fullFetch = ResilientFetch.fromOptions({
    breaker: {},
    bulkhead: { maxConcurrent: 64, maxQueue: 256 },
    limiter: { requestsPerMinute: 1_000_000, tokensPerMinute: 1_000_000_000 }
  })
  const full = new OpenAI({ apiKey: API_KEY, baseURL: url, maxRetries: 0, fetch: fullFetch })
  // The same stack over the HttpClient in context: NodeHttpClient's undici, as on Node the docs advise.
  const undiciRuntime = ManagedRuntime.make(NodeHttpClient.layerUndici)
  const undiciScope = Effect.runSync(Scope.make())
  const undiciFetch = await undiciRuntime.runPromise(Scope.extend(ResilientFetch.make(), undiciScope))
  const overUndici = new OpenAI({ apiKey: API_KEY, baseURL: url, maxRetries: 0, fetch: undiciFetch })
  // And over this library's own undici client, which the docs advise on Node, from plain options.
  const leanFetch = ResilientFetch.fromOptions({ httpClient: UndiciHttpClient.make() })
  const overLean = new OpenAI({ apiKey: API_KEY, baseURL: url, maxRetries: 0, fetch: leanFetch })
  // The floors: what an Effect-based fetch costs before any resilience.
  const fiberFetch = (input: string | URL | Request, init?: RequestInit) =>
    Effect.runPromise(
      Effect.flatMap(Effect.promise(() => fetch(input, init)), (response) =>
        Effect.map(
          Effect.promise(() => response.arrayBuffer()),
          (bytes) => new Response(bytes, { status: response.status, headers: response.headers })
        ))
    )
  const overFiber = new OpenAI({ apiKey: API_KEY, baseURL: url, maxRetries: 0, fetch: fiberFetch })
  const undiciClient = await undiciRuntime.runPromise(HttpClient.HttpClient)
  const bareUndiciFetch = (input: string | URL | Request, init?: RequestInit) =>
    Effect.runPromise(
      Effect.flatMap(
        undiciClient.execute(
          HttpClientRequest.make("POST")(String(input), {
            headers: new Headers(init?.headers),
            body: HttpBody.text(String(init?.body), "application/json")
          })
        ),
        (response) =>
          Effect.map(response.arrayBuffer, (bytes) => new Response(bytes, { status: response.status, headers: response.headers }))
      )
    )
  const overBareUndici = new OpenAI({ apiKey: API_KEY, baseURL: url, maxRetries: 0, fetch: bareUndiciFetch })
  const requestBody = JSON.stringify(body)
  const headers = { "content-type": "application/json", authorization: `Bearer ${API_KEY}` }

  const calls = {
    sdk: () => plain.chat.completions.create(body),
    lean: () => overLean.chat.completions.create(body),
    resilient: () => resilient.chat.completions.create(body),
    undici: () => overUndici.chat.completions.create(body),
    full: () => full.chat.completions.create(body),
    fiberFloor: () => overFiber.chat.completions.create(body),
    undiciFloor: () => overBareUndici.chat.completions.create(body),
    fetch: async () => (await fetch(`${url}/chat/completions`, { method: "POST", headers, body: requestBody })).json()
  } satisfies Record<string, Call>
  type Name = keyof typeof calls
  const names = Object.keys(calls) as Array<Name>

  for (const name of names) {
    const r = (await calls[name]()) as { id?: string }
    if (r.id !== "chatcmpl-bench") throw new Error(`unexpected response from ${name}`)
  }
  for (const name of names) await latencies(calls[name], 300, [])

  const lat = Object.fromEntries(names.map((n) => [n, [] as Array<number>])) as Record<Name, Array<number>>
  const ROUNDS = 40
  const BLOCK = 20
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length] ?? "sdk"
      await latencies(calls[name], BLOCK, lat[name])
    }
  }

  const p50 = Object.fromEntries(names.map((n) => [n, median(lat[n])])) as Record<Name, number>
  const p99 = Object.fromEntries(names.map((n) => [n, percentile(lat[n], 0.99)])) as Record<Name, number>
  const row = (label: string, n: Name) =>
    console.log(`  ${label.padEnd(60)} p50 ${fmt(p50[n])} ms  p99 ${fmt(p99[n])} ms`)
  console.log(`official SDK chat completion against 127.0.0.1, ${ROUNDS * BLOCK} sequential requests each (interleaved)`)
  row("(a) openai, maxRetries: 0, its own fetch", "sdk")
  row("(b) fromOptions({ httpClient: UndiciHttpClient.make() })", "lean")
  row("(b1) ResilientFetch.fromOptions() (the global fetch)", "resilient")
  row("(b2) ResilientFetch.make() over NodeHttpClient.layerUndici", "undici")
  console.log("  for reading the figures:")
  row("(c) (b1) with breaker, limiter and bulkhead", "full")
  row("bare global fetch + json()", "fetch")
  row("(d) floor: global fetch in one fiber, body copied, no stack", "fiberFloor")
  row("(e) floor: layerUndici in one fiber, body copied, no stack", "undiciFloor")
  const leanRatio = p50.lean / p50.sdk
  const ratio = p50.resilient / p50.sdk
  const undiciRatio = p50.undici / p50.sdk
  console.log(`  (c)/(a) at p50 = ${fmt(p50.full / p50.sdk)}, (d)/(a) = ${fmt(p50.fiberFloor / p50.sdk)}, (e)/(a) = ${fmt(p50.undiciFloor / p50.sdk)}`)
  console.log(
    `  adapter + stack at p50: (b1) - (d) = ${fmt(p50.resilient - p50.fiberFloor)} ms, (b2) - (e) = ${fmt(p50.undici - p50.undiciFloor)} ms`
  )
  printTarget("resilient-fetch-sdk-p50 (UndiciHttpClient)", leanRatio, { op: "<=", goal: 1.2, unit: "x", digits: 3 })
  printTarget("resilient-fetch-sdk-p50 (global fetch)", ratio, { op: "<=", goal: 1.2, unit: "x", digits: 3 })
  printTarget("resilient-fetch-sdk-p50 (NodeHttpClient.layerUndici)", undiciRatio, { op: "<=", goal: 1.2, unit: "x", digits: 3 })

  await Effect.runPromise(Scope.close(undiciScope, Exit.void))
  await undiciRuntime.dispose()
  await defaultFetch.close()
  await leanFetch.close()
  await fullFetch.close()
  server.close()
  server.closeAllConnections()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
