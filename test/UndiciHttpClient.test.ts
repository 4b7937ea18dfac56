/**
 * `UndiciHttpClient` against `NodeHttpClient.layerUndici`: the same table of requests and reads
 * through both clients, against a node:http server on 127.0.0.1 (port 0), compared outcome for
 * outcome, each also checked against what the server was sent or sent. Then what the lean client
 * does on purpose differently (a second read of another kind fails; `formData` parses), its
 * errors, and interruption: a send or a body read interrupted aborts the request, and the server
 * sees its connection closed.
 */
import * as Cookies from "@effect/platform/Cookies"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as Supervisor from "effect/Supervisor"
import type * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type * as http from "node:http"
import * as HttpMiddleware from "../src/HttpMiddleware.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import * as UndiciHttpClient from "../src/UndiciHttpClient.js"
import { type LoopbackServer, serve } from "./support/httpServer.js"

const big = Buffer.alloc(512 * 1024, "abcdefghijklmnopqrstuvwxyz")
const multipart = [
  "--XyZ",
  "Content-Disposition: form-data; name=\"a\"",
  "",
  "1",
  "--XyZ",
  "Content-Disposition: form-data; name=\"file\"; filename=\"f.txt\"",
  "Content-Type: text/plain",
  "",
  "file body",
  "--XyZ--",
  ""
].join("\r\n")

// What the server saw of a request, for /echo; the multipart boundary (random) is replaced.
const echo = (req: http.IncomingMessage, res: http.ServerResponse) => {
  const chunks: Array<Buffer> = []
  req.on("data", (c: Buffer) => chunks.push(c))
  req.on("end", () => {
    const type = req.headers["content-type"] ?? ""
    const boundary = /boundary=(.+)$/.exec(type)?.[1]
    const text = Buffer.concat(chunks).toString("latin1")
    const unbound = (s: string) => boundary === undefined ? s : s.split(boundary).join("BOUNDARY")
    res.setHeader("content-type", "application/json")
    res.end(JSON.stringify({
      method: req.method,
      url: req.url,
      contentType: unbound(type),
      contentLength: req.headers["content-length"] ?? null,
      chunked: req.headers["transfer-encoding"] === "chunked",
      connection: req.headers["connection"] ?? null,
      test: req.headers["x-test"] ?? null,
      body: unbound(text)
    }))
  })
}

// Requests the server holds (never answered), and whether their connection closed unanswered.
interface Held {
  readonly arrived: Deferred.Deferred<void>
  readonly closed: Deferred.Deferred<boolean>
}

const routes = (held: { current: Held | undefined }): http.RequestListener => (req, res) => {
  const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname
  switch (path) {
    case "/echo":
      return echo(req, res)
    case "/headers":
      res.setHeader("x-multi", ["a", "b"])
      res.setHeader("X-Mixed-Case", "Value")
      res.setHeader("set-cookie", ["session=abc; Path=/; HttpOnly", "theme=dark"])
      return res.end("ok")
    case "/empty":
      res.setHeader("content-type", "application/json")
      return res.end()
    case "/text":
      res.setHeader("content-type", "text/plain; charset=utf-8")
      return res.end("héllo wörld ✓")
    case "/json":
      res.setHeader("content-type", "application/json")
      return res.end(JSON.stringify({ a: [1, 2], b: { c: null } }))
    case "/badjson":
      res.setHeader("content-type", "application/json")
      return res.end("{\"a\": ")
    case "/form":
      res.setHeader("content-type", "application/x-www-form-urlencoded")
      return res.end("a=1&b=two%20words&a=3")
    case "/multipart":
      res.setHeader("content-type", "multipart/form-data; boundary=XyZ")
      return res.end(multipart)
    case "/big":
      res.setHeader("content-type", "application/octet-stream")
      for (let i = 0; i < big.length; i += 16384) res.write(big.subarray(i, i + 16384))
      return res.end()
    case "/status/404":
      res.statusCode = 404
      return res.end("{\"error\": \"none\"}")
    case "/cut":
      // A length promised, half of it sent, then the connection closed.
      res.writeHead(200, { "content-type": "text/plain", "content-length": "100" })
      res.write("x".repeat(50))
      return setTimeout(() => req.socket.destroy(), 20)
    case "/reset":
      return req.socket.resetAndDestroy()
    case "/hold":
    case "/trickle":
    case "/v1/chat/completions": {
      const h = held.current
      if (h === undefined) return res.end()
      res.on("close", () => Deferred.unsafeDone(h.closed, Exit.succeed(res.writableFinished)))
      if (path === "/trickle") {
        res.writeHead(200, { "content-type": "text/plain" })
        res.write("first chunk")
      } else if (path === "/v1/chat/completions") {
        // A completion whose body stops part-way.
        res.writeHead(200, { "content-type": "application/json", "x-request-id": "req_slow_body" })
        res.write("{\"id\": \"chatcmpl-1\", ")
      }
      return Deferred.unsafeDone(h.arrived, Exit.void)
    }
    default:
      res.statusCode = 500
      return res.end()
  }
}

const server = Effect.gen(function*() {
  const held: { current: Held | undefined } = { current: undefined }
  const listening = yield* serve(routes(held))
  const hold = Effect.gen(function*() {
    const h: Held = { arrived: yield* Deferred.make<void>(), closed: yield* Deferred.make<boolean>() }
    held.current = h
    return h
  })
  return { ...listening, hold }
})

type Read = (response: HttpClientResponse.HttpClientResponse) => Effect.Effect<unknown, HttpClientError.ResponseError>

const bytes = (stream: Stream.Stream<Uint8Array, HttpClientError.ResponseError>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => Buffer.concat(Chunk.toArray(chunks)))

const reads = {
  text: (r) => r.text,
  json: (r) => r.json,
  arrayBuffer: (r) => Effect.map(r.arrayBuffer, (b) => Buffer.from(b).toString("latin1")),
  stream: (r) => Effect.map(bytes(r.stream), (b) => b.toString("latin1")),
  urlParamsBody: (r) => r.urlParamsBody,
  status: () => Effect.void
} satisfies Record<string, Read>

interface Case {
  readonly name: string
  readonly request: (origin: string) => HttpClientRequest.HttpClientRequest
  readonly read: Read
  readonly options?: Partial<NodeHttpClient.UndiciRequestOptions["Type"]>
  // What the lean client must give (the outcome below), beyond equalling the platform's.
  readonly expected: (outcome: Outcome) => void
  // Where the platform's client is known to do otherwise: what it gives instead of the same.
  readonly platform?: (outcome: Outcome) => void
}

type Outcome =
  | { readonly _tag: "Response"; readonly status: number; readonly headers: Record<string, string>; readonly cookies: Record<string, string>; readonly body: unknown }
  | { readonly _tag: string; readonly reason: string; readonly cause: unknown }

// A failure's cause as comparable data: undici's errors by name and code, others by message.
const causeOf = (cause: unknown): unknown =>
  cause instanceof Error
    ? "code" in cause ? { name: cause.name, code: cause.code } : { name: cause.name }
    : cause

const outcome = (
  http: Layer.Layer<HttpClient.HttpClient>,
  c: Pick<Case, "request" | "read" | "options">,
  origin: string
): Effect.Effect<Outcome> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const sent = client.execute(c.request(origin))
    const response = yield* c.options === undefined
      ? sent
      : Effect.provideService(sent, NodeHttpClient.UndiciRequestOptions, c.options as NodeHttpClient.UndiciRequestOptions["Type"])
    const body = yield* c.read(response)
    const { date: _date, "keep-alive": _keepAlive, ...headers } = response.headers
    return { _tag: "Response", status: response.status, headers, cookies: Cookies.toRecord(response.cookies), body } as const
  }).pipe(
    Effect.catchAll((e) => Effect.succeed({ _tag: e._tag, reason: e.reason, cause: causeOf(e.cause) })),
    Effect.provide(http),
    Effect.scoped
  )

const isResponse = (o: Outcome): o is Extract<Outcome, { _tag: "Response" }> => o._tag === "Response"
const bodyOf = (o: Outcome): unknown => (isResponse(o) ? o.body : o)
const echoed = (o: Outcome) => {
  const body = bodyOf(o)
  return (typeof body === "string" ? JSON.parse(body) : body) as Record<string, unknown>
}

const post = (origin: string) => HttpClientRequest.post(`${origin}/echo`)

const cases: ReadonlyArray<Case> = [
  {
    name: "GET, empty body",
    request: (o) => HttpClientRequest.get(`${o}/echo`).pipe(HttpClientRequest.setHeader("X-Test", "yes")),
    read: reads.json,
    expected: (o) => expect(echoed(o)).toMatchObject({ method: "GET", url: "/echo", test: "yes", body: "" })
  },
  {
    name: "POST, Uint8Array body",
    request: (o) => HttpClientRequest.bodyUint8Array(post(o), new Uint8Array([104, 105, 0, 255]), "application/x-bytes"),
    read: reads.json,
    expected: (o) =>
      expect(echoed(o)).toMatchObject({ contentType: "application/x-bytes", contentLength: "4", body: "hi\u0000\u00ff" })
  },
  {
    name: "POST, text body",
    request: (o) => HttpClientRequest.bodyText(post(o), "héllo", "text/plain"),
    read: reads.json,
    expected: (o) => expect(echoed(o)).toMatchObject({ contentType: "text/plain", contentLength: "6" })
  },
  {
    name: "POST, Raw string body",
    request: (o) => HttpClientRequest.setBody(post(o), HttpBody.raw("raw text", { contentType: "text/x-raw" })),
    read: reads.json,
    expected: (o) => expect(echoed(o)).toMatchObject({ contentType: "text/x-raw", body: "raw text" })
  },
  {
    name: "POST, Raw Uint8Array body",
    request: (o) => HttpClientRequest.setBody(post(o), HttpBody.raw(new Uint8Array([1, 2, 3]), { contentLength: 3 })),
    read: reads.json,
    expected: (o) => expect(echoed(o)).toMatchObject({ contentLength: "3", body: "\u0001\u0002\u0003" })
  },
  {
    name: "POST, FormData body",
    request: (o) => {
      const form = new FormData()
      form.append("a", "1")
      form.append("file", new Blob(["file body"], { type: "text/plain" }), "f.txt")
      return HttpClientRequest.bodyFormData(post(o), form)
    },
    read: reads.json,
    expected: (o) => {
      const e = echoed(o)
      expect(e["contentType"]).toBe("multipart/form-data; boundary=BOUNDARY")
      expect(e["body"]).toContain("name=\"a\"\r\n\r\n1\r\n")
      expect(e["body"]).toContain("filename=\"f.txt\"\r\nContent-Type: text/plain\r\n\r\nfile body\r\n")
      expect(Number(e["contentLength"])).toBeGreaterThan(0)
    },
    // undici 7 cannot encode Node 20's global FormData (another undici's): the send fails.
    platform: (o) => expect(o).toMatchObject({ _tag: "RequestError", reason: "Transport", cause: { name: "TypeError" } })
  },
  {
    name: "POST, Stream body (chunked)",
    request: (o) =>
      HttpClientRequest.bodyStream(post(o), Stream.make("one ", "two ", "three").pipe(Stream.encodeText), {
        contentType: "text/plain"
      }),
    read: reads.json,
    expected: (o) => expect(echoed(o)).toMatchObject({ chunked: true, contentType: "text/plain", body: "one two three" })
  },
  {
    name: "URL parameters and hash",
    request: (o) =>
      HttpClientRequest.get(`${o}/echo?x=0`).pipe(
        HttpClientRequest.setUrlParams({ a: "1 2", b: ["3", "4"] }),
        HttpClientRequest.setHash("fragment")
      ),
    read: reads.json,
    // The fragment stays on the client's side, as HTTP says.
    expected: (o) => expect(echoed(o)).toMatchObject({ url: "/echo?x=0&a=1+2&b=3&b=4" }),
    // The platform's client sends it in the request line.
    platform: (o) => expect(echoed(o)).toMatchObject({ url: "/echo?x=0&a=1+2&b=3&b=4#fragment" })
  },
  {
    name: "an invalid URL",
    request: () => HttpClientRequest.get("not a url"),
    read: reads.text,
    expected: (o) => expect(o).toMatchObject({ _tag: "RequestError", reason: "InvalidUrl" })
  },
  {
    name: "NodeHttpClient.UndiciRequestOptions in context",
    request: (o) => HttpClientRequest.get(`${o}/echo`),
    read: reads.json,
    options: { reset: true },
    expected: (o) => expect(echoed(o)).toMatchObject({ connection: "close" })
  },
  {
    name: "headers: lowercased, repeated ones joined, set-cookie as cookies",
    request: (o) => HttpClientRequest.get(`${o}/headers`),
    read: reads.text,
    expected: (o) => {
      expect(isResponse(o) && o.headers).toMatchObject({
        "x-multi": "a, b",
        "x-mixed-case": "Value",
        "set-cookie": "session=abc; Path=/; HttpOnly, theme=dark"
      })
      expect(isResponse(o) && o.cookies).toEqual({ session: "abc", theme: "dark" })
    }
  },
  {
    name: "json of an empty body",
    request: (o) => HttpClientRequest.get(`${o}/empty`),
    read: reads.json,
    expected: (o) => expect(bodyOf(o)).toBeNull()
  },
  {
    name: "text, UTF-8",
    request: (o) => HttpClientRequest.get(`${o}/text`),
    read: reads.text,
    expected: (o) => expect(bodyOf(o)).toBe("héllo wörld ✓")
  },
  {
    name: "json",
    request: (o) => HttpClientRequest.get(`${o}/json`),
    read: reads.json,
    expected: (o) => expect(bodyOf(o)).toEqual({ a: [1, 2], b: { c: null } })
  },
  {
    name: "json that does not parse",
    request: (o) => HttpClientRequest.get(`${o}/badjson`),
    read: reads.json,
    expected: (o) => expect(o).toMatchObject({ _tag: "ResponseError", reason: "Decode", cause: { name: "SyntaxError" } })
  },
  {
    name: "urlParamsBody",
    request: (o) => HttpClientRequest.get(`${o}/form`),
    read: reads.urlParamsBody,
    expected: (o) => expect(bodyOf(o)).toEqual([["a", "1"], ["b", "two words"], ["a", "3"]])
  },
  {
    name: "arrayBuffer of a large body",
    request: (o) => HttpClientRequest.get(`${o}/big`),
    read: reads.arrayBuffer,
    expected: (o) => expect(bodyOf(o)).toBe(big.toString("latin1"))
  },
  {
    name: "stream of a large body",
    request: (o) => HttpClientRequest.get(`${o}/big`),
    read: reads.stream,
    expected: (o) => expect(bodyOf(o)).toBe(big.toString("latin1"))
  },
  {
    name: "an error status",
    request: (o) => HttpClientRequest.get(`${o}/status/404`),
    read: reads.text,
    expected: (o) => expect(isResponse(o) && [o.status, o.body]).toEqual([404, "{\"error\": \"none\"}"])
  },
  {
    name: "HEAD",
    request: (o) => HttpClientRequest.head(`${o}/text`),
    read: reads.text,
    expected: (o) => expect(isResponse(o) && [o.status, o.body]).toEqual([200, ""])
  },
  {
    name: "a body cut part-way",
    request: (o) => HttpClientRequest.get(`${o}/cut`),
    read: reads.text,
    expected: (o) => expect(o).toMatchObject({ _tag: "ResponseError", reason: "Decode", cause: { code: "UND_ERR_SOCKET" } })
  },
  {
    name: "a stream cut part-way",
    request: (o) => HttpClientRequest.get(`${o}/cut`),
    read: reads.stream,
    expected: (o) => expect(o).toMatchObject({ _tag: "ResponseError", reason: "Decode", cause: { code: "UND_ERR_SOCKET" } })
  },
  {
    name: "a connection reset",
    request: (o) => HttpClientRequest.get(`${o}/reset`),
    read: reads.text,
    expected: (o) => expect(o).toMatchObject({ _tag: "RequestError", reason: "Transport", cause: { code: "ECONNRESET" } })
  }
]

const platform = NodeHttpClient.layerUndici
const lean = UndiciHttpClient.layer

describe("UndiciHttpClient and NodeHttpClient.layerUndici, the same table", () => {
  for (const c of cases) {
    it.live(c.name, () =>
      Effect.gen(function*() {
        const { origin } = yield* server
        const ours = yield* outcome(lean, c, origin)
        const theirs = yield* outcome(platform, c, origin)
        c.expected(ours)
        if (c.platform === undefined) expect(ours).toEqual(theirs)
        else c.platform(theirs)
      }).pipe(Effect.scoped))
  }

  it.live("a refused connection is a RequestError Transport with undici's error as cause, on both", () =>
    Effect.gen(function*() {
      // A port that was free a moment ago and is now closed.
      const origin = yield* Effect.scoped(Effect.map(serve(() => {}), (s) => s.origin))
      const c = { request: (o: string) => HttpClientRequest.get(`${o}/`), read: reads.text }
      const ours = yield* outcome(lean, c, origin)
      expect(ours).toMatchObject({ _tag: "RequestError", reason: "Transport", cause: { code: "ECONNREFUSED" } })
      expect(ours).toEqual(yield* outcome(platform, c, origin))
    }))
})

const withResponse = <A, E>(
  http: Layer.Layer<HttpClient.HttpClient>,
  path: string,
  use: (response: HttpClientResponse.HttpClientResponse, server: LoopbackServer) => Effect.Effect<A, E>
) =>
  Effect.gen(function*() {
    const s = yield* server
    const response = yield* Effect.flatMap(HttpClient.HttpClient, (client) => client.get(`${s.origin}${path}`))
    return yield* use(response, s)
  }).pipe(Effect.provide(http), Effect.scoped)

describe("a body read twice", () => {
  for (const [name, http] of [["lean", lean], ["platform", platform]] as const) {
    it.live(`${name}: the same read twice, or text then json, gives the body again`, () =>
      withResponse(http, "/json", (response) =>
        Effect.gen(function*() {
          const [a, b] = yield* Effect.all([response.text, response.text], { concurrency: 2 })
          expect(a).toBe(b)
          expect(yield* response.json).toEqual({ a: [1, 2], b: { c: null } })
        })))

    it.live(`${name}: arrayBuffer after text fails as a ResponseError`, () =>
      withResponse(http, "/json", (response) =>
        Effect.gen(function*() {
          yield* response.text
          const e = yield* Effect.flip(response.arrayBuffer)
          expect([e._tag, e.reason]).toEqual(["ResponseError", "Decode"])
        })))

    it.live(`${name}: text after the stream fails as a ResponseError`, () =>
      withResponse(http, "/big", (response) =>
        Effect.gen(function*() {
          yield* Stream.runDrain(response.stream)
          const e = yield* Effect.flip(response.text)
          expect([e._tag, e.reason]).toEqual(["ResponseError", "Decode"])
        })))
  }

  it.live("lean: the stream after text fails as a ResponseError (the platform's is silently empty)", () =>
    Effect.gen(function*() {
      const ours = yield* withResponse(lean, "/text", (response) =>
        Effect.zipRight(response.text, Effect.flip(Stream.runCollect(response.stream))))
      expect([ours._tag, ours.reason]).toEqual(["ResponseError", "Decode"])
      expect(String(ours.cause)).toContain("already read (as text)")
      const theirs = yield* withResponse(platform, "/text", (response) =>
        Effect.zipRight(response.text, Stream.runCollect(response.stream)))
      expect(Chunk.size(theirs)).toBe(0)
    }))

  it.live("lean: a second stream fails as a ResponseError", () =>
    withResponse(lean, "/text", (response) =>
      Effect.gen(function*() {
        expect(Buffer.from((yield* bytes(response.stream))).toString()).toBe("héllo wörld ✓")
        const e = yield* Effect.flip(Stream.runDrain(response.stream))
        expect([e._tag, e.reason]).toEqual(["ResponseError", "Decode"])
      })))
})

describe("formData", () => {
  it.live("lean: a multipart body is parsed (the platform's undici formData() is not implemented)", () =>
    Effect.gen(function*() {
      const form = yield* withResponse(lean, "/multipart", (response) => response.formData)
      expect(form.get("a")).toBe("1")
      const file = form.get("file")
      expect(file instanceof Blob && (yield* Effect.promise(() => file.text()))).toBe("file body")
      const theirs = yield* withResponse(platform, "/multipart", (response) => Effect.flip(response.formData))
      expect([theirs._tag, theirs.reason]).toEqual(["ResponseError", "Decode"])
    }))

  it.live("lean: an urlencoded body is parsed", () =>
    Effect.gen(function*() {
      const form = yield* withResponse(lean, "/form", (response) => response.formData)
      expect(form.getAll("a")).toEqual(["1", "3"])
    }))
})

// Waits until `fiber` is suspended (in its read), so that an interruption finds the read started.
const suspended = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
  Effect.gen(function*() {
    while ((yield* fiber.status)._tag !== "Suspended") yield* Effect.yieldNow()
  })

describe("interruption aborts the request: the server sees its connection closed, unanswered", () => {
  for (const [name, http] of [["lean", lean], ["platform", platform]] as const) {
    it.live(`${name}: a send waiting for headers`, () =>
      Effect.gen(function*() {
        const s = yield* server
        const held = yield* s.hold
        const client = yield* HttpClient.HttpClient
        const send = yield* Effect.fork(client.get(`${s.origin}/hold`))
        yield* Deferred.await(held.arrived)
        yield* Fiber.interrupt(send)
        expect(yield* Deferred.await(held.closed)).toBe(false)
      }).pipe(Effect.provide(http), Effect.scoped))

    for (const [read, body] of [
      ["text", (r: HttpClientResponse.HttpClientResponse) => r.text],
      ["json", (r: HttpClientResponse.HttpClientResponse) => r.json],
      ["arrayBuffer", (r: HttpClientResponse.HttpClientResponse) => r.arrayBuffer],
      ["stream", (r: HttpClientResponse.HttpClientResponse) => Stream.runDrain(r.stream)]
    ] as const) {
      it.live(`${name}: a ${read} read part-way`, () =>
        Effect.gen(function*() {
          const s = yield* server
          const held = yield* s.hold
          const response = yield* Effect.flatMap(HttpClient.HttpClient, (client) => client.get(`${s.origin}/trickle`))
          const reading = yield* Effect.fork(body(response))
          yield* suspended(reading)
          yield* Fiber.interrupt(reading)
          expect(yield* Deferred.await(held.closed)).toBe(false)
        }).pipe(Effect.provide(http), Effect.scoped))
    }

    it.live(`${name}: a stream left after its first chunk`, () =>
      Effect.gen(function*() {
        const s = yield* server
        const held = yield* s.hold
        const response = yield* Effect.flatMap(HttpClient.HttpClient, (client) => client.get(`${s.origin}/trickle`))
        const first = yield* bytes(Stream.take(response.stream, 1))
        expect(first.toString()).toBe("first chunk")
        expect(yield* Deferred.await(held.closed)).toBe(false)
      }).pipe(Effect.provide(http), Effect.scoped))
  }
})

describe("the lean client's own behaviour", () => {
  it.live("headers are a plain field, read once per response", () =>
    withResponse(lean, "/headers", (response) =>
      Effect.sync(() => {
        expect(response.headers).toBe(response.headers)
        expect(Object.getOwnPropertyDescriptor(response, "headers")?.value).toBe(response.headers)
      })))

  it.live("a dispatcher that throws instead of calling back is a RequestError Transport", () =>
    Effect.gen(function*() {
      const broken = { request: () => { throw new Error("no dispatch") } } as unknown as Parameters<typeof UndiciHttpClient.make>[0]
      const e = yield* Effect.flip(UndiciHttpClient.make(broken).get("http://127.0.0.1:9/"))
      expect([e._tag, e.reason, String(e.cause)]).toEqual(["RequestError", "Transport", "Error: no dispatch"])
    }))

  it.live("inspecting a response does not read its body", () =>
    withResponse(lean, "/json", (response) =>
      Effect.gen(function*() {
        const shown = JSON.stringify(response)
        expect(shown).toContain("\"status\":200")
        expect(shown).not.toContain("\"body\":\"")
        expect(yield* response.json).toEqual({ a: [1, 2], b: { c: null } })
        expect(JSON.stringify(response)).toContain("\"body\":\"{\\\"a\\\"")
      })))
})

class Forks extends Supervisor.AbstractSupervisor<number> {
  count = 0
  value = Effect.sync(() => this.count)
  override onStart() {
    this.count++
  }
}

// The stack bounds an attempt over this client without a fiber: the attempt's timer aborts the
// request (src/internal/attemptTimer.ts). Short real timeouts: that timer runs on the live clock.
describe("under the stack's per-attempt timeout", () => {
  const once = RetryPolicy.make({ maxRetries: 0 })

  it.live("no fiber is forked per attempt", () =>
    Effect.gen(function*() {
      const { origin } = yield* server
      const client = UndiciHttpClient.make().pipe(HttpMiddleware.resilient({ timeout: "1 minute" }))
      const forks = new Forks()
      yield* Effect.supervised(Effect.repeatN(client.get(`${origin}/text`), 4), forks)
      expect(forks.count).toBe(0)
    }).pipe(Effect.scoped))

  it.live("a send held past the timeout is aborted and is the client's TimeoutError", () =>
    Effect.gen(function*() {
      const s = yield* server
      const held = yield* s.hold
      const client = UndiciHttpClient.make().pipe(HttpMiddleware.resilient({ timeout: "250 millis", retryPolicy: once }))
      const e = yield* Effect.flip(client.get(`${s.origin}/hold`))
      expect(e._tag === "TimeoutError" && [e.phase, e.message]).toEqual(["headers", expect.stringContaining("per-attempt timeout")])
      expect(yield* Deferred.await(held.closed)).toBe(false)
    }).pipe(Effect.scoped))

  it.live("a body stopped part-way is aborted when the attempt's time is up: OpenAiClient's TimeoutError", () =>
    Effect.gen(function*() {
      const s = yield* server
      const held = yield* s.hold
      const openai = yield* OpenAiClient.make({
        apiKey: Redacted.make("sk-proj-UNDICITIMERKEY000000000000000"),
        baseUrl: `${s.origin}/v1`,
        resilience: { timeout: "250 millis", retryPolicy: once }
      }).pipe(Effect.provide(UndiciHttpClient.layer))
      const e = yield* Effect.flip(openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] }))
      expect(e._tag === "TimeoutError" && Duration.toMillis(e.timeout)).toBe(250)
      expect(yield* Deferred.await(held.closed)).toBe(false)
    }).pipe(Effect.scoped))
})
