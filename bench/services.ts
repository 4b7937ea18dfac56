/**
 * What the rate limiter, the circuit breaker and the bulkhead each cost on a successful call.
 *
 *   npx tsx bench/services.ts
 *
 * Two settings, each measured as CPU per call (process.cpuUsage, user + system) over the same
 * client without the layer, in interleaved rounds (the order rotated every round) so that load
 * from elsewhere on a shared machine falls on every row alike; the figure is the median of the
 * rounds.
 *
 * - In memory: an `HttpClient` that answers every request at once with a canned chat completion
 *   (the headers a real server sends, rate-limit headers included). Nothing else runs, so the
 *   difference is the layer's own cost, to a microsecond or so. The targets are read here.
 * - Loopback: the same request to a node:http server on 127.0.0.1 over `NodeHttpClient.layerUndici`,
 *   the body read, as `bench/overhead.ts` measures it (noisier: the server's share and the
 *   socket are in every row).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scope from "effect/Scope"
import * as Bulkhead from "../src/Bulkhead.js"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as RateLimiter from "../src/RateLimiter.js"
import { API_KEY, body, completion, fmt, median, startServer } from "./support/loopback.js"
import * as target from "./support/target.js"

const responseHeaders = {
  "content-type": "application/json",
  "x-request-id": "req_1",
  "x-ratelimit-limit-requests": "10000",
  "x-ratelimit-remaining-requests": "9999",
  "x-ratelimit-reset-requests": "6ms"
}

/** An HttpClient that answers at once, without a socket. */
const memoryClient: HttpClient.HttpClient = HttpClient.make((request) =>
  Effect.sync(() => HttpClientResponse.fromWeb(request, new Response(completion, { headers: responseHeaders })))
)

const targetLine = (name: string, value: number, goal: number) =>
  target.targetLine(name, value, { op: "<=", goal, unit: " us", digits: 1 })

type Rows<K extends string> = Record<K, (n: number) => Promise<void>>

/** Median CPU microseconds per call of each row, over interleaved rounds. */
const measure = async <K extends string>(rows: Rows<K>, rounds: number, calls: number): Promise<Record<K, number>> => {
  const names = Object.keys(rows) as Array<K>
  for (const name of names) await rows[name](calls)
  const cpu = Object.fromEntries(names.map((n) => [n, [] as Array<number>])) as Record<K, Array<number>>
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length] as K
      const t0 = process.cpuUsage()
      await rows[name](calls)
      const d = process.cpuUsage(t0)
      cpu[name].push((d.user + d.system) / calls)
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(cpu[n])])) as Record<K, number>
}

const main = async () => {
  const { server, url } = await startServer()
  const request = HttpClientRequest.bodyUnsafeJson(
    HttpClientRequest.bearerToken(HttpClientRequest.post(`${url}/chat/completions`), API_KEY),
    body
  )
  const scope = await Effect.runPromise(Scope.make())
  const runtime = ManagedRuntime.make(Layer.mergeAll(NodeHttpClient.layerUndici, RateLimiter.layerStoreMemory))
  const { breaker, bulkhead, limiter, undici } = await runtime.runPromise(Effect.gen(function*() {
    return {
      undici: yield* HttpClient.HttpClient,
      limiter: yield* RateLimiter.make({ requestsPerMinute: 1e9, tokensPerMinute: 1e12 }),
      breaker: yield* Scope.extend(CircuitBreaker.make(), scope),
      bulkhead: yield* Bulkhead.make({ maxConcurrent: 64 })
    }
  }))
  type Client = HttpClient.HttpClient.With<unknown>
  const layers = {
    bare: (c: Client): Client => c,
    limiter: (c: Client): Client => c.pipe(RateLimiter.middleware(limiter)),
    breaker: (c: Client): Client => c.pipe(CircuitBreaker.middleware(breaker)),
    bulkhead: (c: Client): Client => c.pipe(Bulkhead.middleware(bulkhead))
  }
  type Row = keyof typeof layers
  const names = Object.keys(layers) as Array<Row>
  // n sequential calls in one run: the cost of starting a run is spread over them.
  const rowsOf = (base: Client, read: boolean): Rows<Row> =>
    Object.fromEntries(names.map((name) => {
      const client = layers[name](base)
      const call = read ? Effect.flatMap(client.execute(request), (r) => r.json) : client.execute(request)
      return [name, (n: number) => runtime.runPromise(Effect.repeatN(call, n - 1)).then(() => undefined)]
    })) as Rows<Row>

  const label: Record<Row, string> = {
    bare: "bare client",
    limiter: "+ RateLimiter.middleware",
    breaker: "+ CircuitBreaker.middleware",
    bulkhead: "+ Bulkhead.middleware"
  }
  const print = (title: string, us: Record<Row, number>) => {
    console.log(title)
    for (const n of names) {
      console.log(`  ${label[n].padEnd(30)} ${fmt(us[n], 1).padStart(7)} us   over bare ${fmt(us[n] - us.bare, 1).padStart(6)} us`)
    }
  }

  const MEM_ROUNDS = 15
  const MEM_CALLS = 2000
  const memory = await measure(rowsOf(memoryClient, false), MEM_ROUNDS, MEM_CALLS)
  print(`CPU per call, in-memory HttpClient (median of ${MEM_ROUNDS} interleaved rounds of ${MEM_CALLS} calls)`, memory)

  const NET_ROUNDS = 9
  const NET_CALLS = 300
  const loopback = await measure(rowsOf(undici, true), NET_ROUNDS, NET_CALLS)
  print(
    `\nCPU per call, NodeHttpClient.layerUndici to 127.0.0.1, body read (median of ${NET_ROUNDS} interleaved rounds of ${NET_CALLS} calls)`,
    loopback
  )

  await runtime.dispose()
  await Effect.runPromise(Scope.close(scope, Exit.void))
  server.close()
  server.closeAllConnections()

  console.log()
  console.log(targetLine("RateLimiter.middleware over bare, in memory", memory.limiter - memory.bare, 15))
  console.log(targetLine("CircuitBreaker.middleware over bare, in memory", memory.breaker - memory.bare, 8))
  console.log(targetLine("Bulkhead.middleware over bare, in memory", memory.bulkhead - memory.bare, 5))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
