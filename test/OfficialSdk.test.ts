/**
 * Proof against a client no one here wrote: the official `openai` package, pointed at the mock
 * server, raises for every fault the class the real API would make it raise.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import OpenAI, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  InternalServerError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
  UnprocessableEntityError
} from "openai"
import { Faults, MockApi, MockServer } from "../src/testing/index.js"

const API_KEY = "sk-official-sdk-test-0123456789abcdef"

const classes: Record<string, abstract new(...args: never) => Error> = {
  AuthenticationError,
  PermissionDeniedError,
  RateLimitError,
  InternalServerError,
  BadRequestError,
  NotFoundError,
  ConflictError,
  UnprocessableEntityError,
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError
}

interface Env {
  readonly client: (options?: Partial<ConstructorParameters<typeof OpenAI>[0]>) => OpenAI
  readonly lastRequestId: () => Promise<string | undefined>
  readonly log: () => Promise<ReadonlyArray<MockApi.LogEntry>>
}

/** Runs `f` against a fresh mock server (real HTTP, live clock). */
const withSdk = (f: (env: Env) => Promise<void>, options: MockServer.ServerOptions = {}) =>
  Effect.gen(function*() {
    const { url } = yield* MockServer.MockServer
    const mock = yield* MockApi.MockApi
    const log = () => Effect.runPromise(mock.log)
    const env: Env = {
      client: (o = {}) => new OpenAI({ apiKey: API_KEY, baseURL: url, maxRetries: 0, ...o }),
      log,
      lastRequestId: async () => (await log()).at(-1)?.requestId
    }
    yield* Effect.promise(() => f(env))
  }).pipe(Effect.provide(MockServer.layer(options)))

const failure = (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e)

const chatParams = { model: "gpt-4o-mini", messages: [{ role: "user" as const, content: "Hello from openai-node" }] }

describe("the official openai package against the mock server", () => {
  it.live("raises the class the real API would cause for every status fault, with status, code and request id", () =>
    withSdk(async ({ client, lastRequestId }) => {
      const sdk = client()
      for (const fault of Faults.names.filter((n) => Faults.descriptions[n].kind === "status" || n === "html_502")) {
        const d = Faults.descriptions[fault]
        const error = await failure(sdk.chat.completions.create(chatParams, { headers: { "x-mock-fault": fault } }))
        const expected = classes[d.sdkError ?? "APIError"]
        expect(expected, fault).toBeDefined()
        if (expected === undefined) continue
        expect(error, fault).toBeInstanceOf(expected)
        if (!(error instanceof APIError)) continue
        expect(error.status, fault).toBe(d.status)
        expect(error.code ?? undefined, fault).toBe(d.code ?? undefined)
        expect(error.type ?? undefined, fault).toBe(fault === "html_502" ? undefined : d.type ?? undefined)
        if (fault === "html_502") {
          // The proxy's page carries none of OpenAI's headers.
          expect(error.requestID ?? undefined, fault).toBeUndefined()
        } else {
          expect(error.requestID, fault).toBe(await lastRequestId())
          expect(error.requestID, fault).toMatch(/^req_[0-9a-f]{32}$/)
        }
        expect(String(error.message), fault).not.toContain(API_KEY)
      }
    }))

  it.live("a reset connection is an APIConnectionError; slow headers time out", () =>
    withSdk(async ({ client }) => {
      const reset = await failure(client().models.list({ headers: { "x-mock-fault": "connection_reset" } }))
      expect(reset).toBeInstanceOf(APIConnectionError)
      const slow = await failure(
        client({ timeout: 200 }).chat.completions.create(chatParams, {
          headers: { "x-mock-fault": "slow_headers", "x-mock-delay-ms": "2000" }
        })
      )
      expect(slow).toBeInstanceOf(APIConnectionTimeoutError)
    }))

  it.live("a malformed 200 body is a SyntaxError; an empty one with content-length: 0 resolves to nothing", () =>
    withSdk(async ({ client }) => {
      const malformed = await failure(
        client().chat.completions.create(chatParams, { headers: { "x-mock-fault": "malformed_json" } })
      )
      expect(malformed).toBeInstanceOf(SyntaxError)
      // A chunked empty body is a SyntaxError too, but with content-length: 0 openai-node 6.x reads
      // "no content" and resolves with undefined: a caller that reads `.choices` then fails far
      // from the cause. Worth a test of one's own.
      const chunked = await failure(client().chat.completions.create(chatParams, { headers: { "x-mock-fault": "empty_body" } }))
      expect(chunked).toBeInstanceOf(SyntaxError)
      const empty: unknown = await client().chat.completions.create(chatParams, {
        headers: { "x-mock-fault": "empty_body_content_length" }
      })
      expect(empty).toBeUndefined()
    }))

  it.live("streaming works: deltas, the usage chunk, and the end", () =>
    withSdk(async ({ client }) => {
      const stream = await client().chat.completions.create({
        ...chatParams,
        stream: true,
        stream_options: { include_usage: true }
      })
      let text = ""
      let usage: OpenAI.CompletionUsage | null | undefined
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? ""
        if (chunk.usage) usage = chunk.usage
      }
      expect(text).toBe("Hello from openai-node")
      expect(usage?.completion_tokens).toBe(Math.ceil(text.length / 4))
      const events: Array<string> = []
      const responses = await client().responses.create({ model: "gpt-4o-mini", input: "Stream me", stream: true })
      let output = ""
      for await (const event of responses) {
        events.push(event.type)
        if (event.type === "response.output_text.delta") output += event.delta
      }
      expect(events[0]).toBe("response.created")
      expect(events.at(-1)).toBe("response.completed")
      expect(output).toBe("Stream me")
    }))

  it.live("errors inside a stream: stream_error raises an APIError, stream_cut lets undici's TypeError through", () =>
    withSdk(async ({ client }) => {
      const consume = async (fault: string) => {
        const stream = await client().chat.completions.create({ ...chatParams, stream: true }, {
          headers: { "x-mock-fault": fault }
        })
        let chunks = 0
        for await (const _ of stream) chunks++
        return chunks
      }
      const streamError = await failure(consume("stream_error"))
      expect(streamError).toBeInstanceOf(APIError)
      expect((streamError as APIError).type).toBe("server_error")
      // openai-node does not wrap a connection lost mid-stream: undici's own error comes through.
      const cut = await failure(consume("stream_cut"))
      expect(cut).toBeInstanceOf(TypeError)
      expect((cut as TypeError).message).toBe("terminated")
      expect((cut as TypeError).cause).toMatchObject({ code: "UND_ERR_SOCKET" })
    }))

  it.live("plain endpoints decode: models, embeddings (base64 by default), responses", () =>
    withSdk(async ({ client }) => {
      const sdk = client()
      const models = await sdk.models.list()
      expect(models.data.map((m) => m.id)).toContain("gpt-4o-mini")
      expect((await sdk.models.retrieve("gpt-4o")).id).toBe("gpt-4o")
      const base64 = await sdk.embeddings.create({ model: "text-embedding-3-small", input: "vector", dimensions: 16 })
      const floats = await sdk.embeddings.create({
        model: "text-embedding-3-small",
        input: "vector",
        dimensions: 16,
        encoding_format: "float"
      })
      expect(base64.data[0]?.embedding).toEqual(floats.data[0]?.embedding)
      expect(base64.data[0]?.embedding).toHaveLength(16)
      const response = await sdk.responses.create({ model: "gpt-4o-mini", input: "Plain response" })
      expect(response.output_text).toBe("Plain response")
    }))

  it.live("with retries on, it honours retry-after-ms and succeeds after the faults", () =>
    withSdk(async ({ client, log }) => {
      const started = Date.now()
      const result = await client({ maxRetries: 2 }).chat.completions.create(chatParams, {
        headers: { "x-mock-fault": "rate_limit_requests", "x-mock-fault-times": "2", "x-mock-retry-after-ms": "1100" }
      })
      expect(result.choices[0]?.message.content).toBe("Hello from openai-node")
      const entries = await log()
      expect(entries.map((e) => e.attempt)).toEqual([1, 2, 3])
      const gaps = entries.slice(1).map((e, i) => e.at - (entries[i]?.at ?? 0))
      // openai-node's own backoff would be 0.375-0.5 s then 0.75-1 s: 1.1 s each means it read the header.
      for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(1050)
      expect(Date.now() - started).toBeLessThan(10_000)
      expect(entries[1]?.headers["x-stainless-retry-count"]).toBe("1")
    }))

  it.live("x-should-retry: false stops its retries", () =>
    withSdk(async ({ client, log }) => {
      // Headers set once for the client reach every request too.
      const sdk = client({
        maxRetries: 2,
        defaultHeaders: { "x-mock-fault": "server_error", "x-mock-should-retry": "false" }
      })
      const error = await failure(sdk.chat.completions.create(chatParams))
      expect(error).toBeInstanceOf(InternalServerError)
      expect(await log()).toHaveLength(1)
    }))

  it.live("the stateful rate limiter's 429 is a RateLimitError carrying the limit headers", () =>
    withSdk(async ({ client }) => {
      const sdk = client()
      await sdk.models.list()
      const error = await failure(sdk.models.list())
      expect(error).toBeInstanceOf(RateLimitError)
      const e = error as RateLimitError
      expect(e.code).toBe("rate_limit_exceeded")
      expect(e.type).toBe("requests")
      expect(e.headers.get("x-ratelimit-remaining-requests")).toBe("0")
      expect(Number(e.headers.get("retry-after-ms"))).toBeGreaterThan(0)
    }, { rpm: 1 }))
})
