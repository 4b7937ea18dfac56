/**
 * The Vercel AI SDK and LangChain over a ResilientFetch, against the mock server on real sockets:
 * for each fault, the attempts the mock saw, the error class the client raised and the typed error
 * read back from it.
 */
import { createOpenAI } from "@ai-sdk/openai"
import { ChatOpenAI } from "@langchain/openai"
import { describe, expect, it } from "@effect/vitest"
import { APICallError, generateText, streamText } from "ai"
import { Effect, Option, Scope } from "effect"
import { ResilientFetch, RetryPolicy } from "../src/index.js"
import { MockApi, MockServer } from "../src/testing/index.js"

const API_KEY = "sk-integrations-test-0123456789abcdef"
const policy = RetryPolicy.make({ maxRetries: 2, base: "1 millis", maxDelay: "2 millis" })
const PROMPT = "Hello from a client"

interface Case {
  readonly fault: string
  readonly headers?: Record<string, string>
  /** Requests the mock should see. */
  readonly attempts: number
  /** The typed error read back. */
  readonly tag: string
}

const cases: ReadonlyArray<Case> = [
  { fault: "rate_limit_requests", headers: { "x-mock-retry-after-ms": "5" }, attempts: 3, tag: "RateLimitReached" },
  { fault: "rate_limit_headerless", headers: { "x-mock-hints": "none" }, attempts: 3, tag: "RateLimitReached" },
  { fault: "insufficient_quota", attempts: 1, tag: "QuotaExceeded" },
  { fault: "server_error", attempts: 3, tag: "ServerError" },
  { fault: "engine_overloaded", attempts: 3, tag: "EngineOverloaded" },
  { fault: "connection_reset", attempts: 3, tag: "ConnectionError" },
  { fault: "slow_headers", headers: { "x-mock-delay-ms": "5000" }, attempts: 3, tag: "TimeoutError" }
]

const withFetch = <A>(f: (env: {
  readonly url: string
  readonly fetch: ResilientFetch.ResilientFetch
  readonly sent: () => Effect.Effect<number>
  readonly failures: ReadonlyArray<ResilientFetch.Explanation>
}) => Effect.Effect<A, never, Scope.Scope>) =>
  Effect.gen(function*() {
    const { url } = yield* MockServer.MockServer
    const mock = yield* MockApi.MockApi
    const failures: Array<ResilientFetch.Explanation> = []
    const fetch = yield* ResilientFetch.make({
      retryPolicy: policy,
      timeout: "500 millis",
      secrets: [API_KEY],
      onFailure: (x: ResilientFetch.Explanation) => failures.push(x)
    })
    return yield* f({ url, fetch, sent: () => Effect.map(mock.log, (l) => l.length), failures })
  }).pipe(Effect.scoped, Effect.provide(MockServer.layer()))

const settle = (p: () => Promise<unknown>) => Effect.promise(() => p().then((v) => ({ ok: v }), (error: unknown) => ({ error })))

const typedTag = (e: unknown) => Option.map(ResilientFetch.explain(e), (x) => x.error._tag).pipe(Option.getOrUndefined)

describe("the Vercel AI SDK over ResilientFetch", () => {
  it.live("every fault: APICallError (status when the server answered), the attempts the policy allows, the typed error", () =>
    withFetch(({ fetch, sent, url }) =>
      Effect.gen(function*() {
        const provider = createOpenAI({ apiKey: API_KEY, baseURL: url, fetch })
        let before = 0
        for (const c of cases) {
          const outcome = yield* settle(() =>
            generateText({
              model: provider("gpt-4o-mini"),
              prompt: PROMPT,
              maxRetries: 0,
              headers: { "x-mock-fault": c.fault, ...c.headers }
            })
          )
          expect("error" in outcome, c.fault).toBe(true)
          const error = "error" in outcome ? outcome.error : undefined
          expect(APICallError.isInstance(error), c.fault).toBe(true)
          const status = (error as APICallError).statusCode
          expect(status, c.fault).toBe(c.tag === "ConnectionError" || c.tag === "TimeoutError" ? undefined : status)
          expect(typedTag(error), c.fault).toBe(c.tag)
          const now = yield* sent()
          expect(now - before, c.fault).toBe(c.attempts)
          before = now
        }
        // A 429 that clears is ridden out: the SDK sees the answer.
        const ok = yield* Effect.promise(() =>
          generateText({
            model: provider("gpt-4o-mini"),
            prompt: PROMPT,
            maxRetries: 0,
            headers: { "x-mock-fault": "rate_limit_requests", "x-mock-fault-times": "2", "x-mock-retry-after-ms": "5" }
          })
        )
        expect(ok.text).toBe(PROMPT)
        expect((yield* sent()) - before).toBe(3)
      })
    ))

  it.live("a caller retrying around the fetch is warned about once: the request it gave up on arrives again", () =>
    Effect.gen(function*() {
      const { url } = yield* MockServer.MockServer
      const warnings: Array<string> = []
      const noRetry = RetryPolicy.make({ maxRetries: 0 })
      const fetch = yield* ResilientFetch.make({ retryPolicy: noRetry, onWarning: (m: string) => warnings.push(m) })
      const provider = createOpenAI({ apiKey: API_KEY, baseURL: url, fetch })
      // What the SDK's own retry does (its maxRetries above 0): send the same request again, after
      // a wait of its own, which this test skips by sending it twice itself.
      const call = () =>
        generateText({ model: provider("gpt-4o-mini"), prompt: PROMPT, maxRetries: 0, headers: { "x-mock-fault": "server_error" } })
      yield* settle(call)
      yield* settle(call)
      yield* settle(call)
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toContain("arrived again")
    }).pipe(Effect.scoped, Effect.provide(MockServer.layer())))

  it.live("streams: a started stream is never replayed; its error event and its cut reach the SDK as without the adapter", () =>
    withFetch(({ fetch, sent, url }) =>
      Effect.gen(function*() {
        const provider = createOpenAI({ apiKey: API_KEY, baseURL: url, fetch })
        for (const fault of ["stream_error", "stream_cut"]) {
          const before = yield* sent()
          const parts = yield* Effect.promise(async () => {
            const result = streamText({
              model: provider("gpt-4o-mini"),
              prompt: PROMPT,
              maxRetries: 0,
              headers: { "x-mock-fault": fault },
              onError: () => {}
            })
            const types: Array<string> = []
            try {
              for await (const part of result.fullStream) types.push(part.type)
            } catch (e) {
              types.push(`thrown ${String(e)} ${String((e as Error).cause)}`)
            }
            return types
          })
          // As without the adapter: an error event is an error part, a cut makes the stream throw
          // the SDK's APICallError around undici's own "terminated".
          if (fault === "stream_error") expect(parts).toContain("error")
          else expect(parts.at(-1)).toBe("thrown AI_APICallError: Failed to process successful response TypeError: terminated")
          expect((yield* sent()) - before, fault).toBe(1)
        }
      })
    ))
})

describe("LangChain over ResilientFetch", () => {
  it.live("every fault: the openai class LangChain raises, the attempts the policy allows, the typed error", () =>
    withFetch(({ failures, fetch, sent, url }) =>
      Effect.gen(function*() {
        let before = 0
        // LangChain bundles its own copy of openai (6.x): its classes, compared by name.
        const expected: Record<string, string> = {
          RateLimitReached: "RateLimitError",
          QuotaExceeded: "RateLimitError",
          ServerError: "InternalServerError",
          EngineOverloaded: "InternalServerError",
          ConnectionError: "APIConnectionError",
          // LangChain turns openai's APIConnectionTimeoutError into an Error named TimeoutError.
          TimeoutError: "Error"
        }
        for (const c of cases) {
          const model = new ChatOpenAI({
            model: "gpt-4o-mini",
            apiKey: API_KEY,
            maxRetries: 0,
            configuration: { baseURL: url, fetch, defaultHeaders: { "x-mock-fault": c.fault, ...c.headers } }
          })
          const outcome = yield* settle(() => model.invoke(PROMPT))
          expect("error" in outcome, c.fault).toBe(true)
          const error = "error" in outcome ? outcome.error : undefined
          expect((error as Error).constructor.name, c.fault).toBe(expected[c.tag])
          if (c.tag === "TimeoutError") {
            // ... a bare Error with openai's message: nothing leads back to the call, but onFailure saw it.
            expect((error as Error).name).toBe("TimeoutError")
            expect(typedTag(error)).toBeUndefined()
            expect(failures.at(-1)?.error._tag).toBe("TimeoutError")
          } else {
            expect(typedTag(error), c.fault).toBe(c.tag)
          }
          const now = yield* sent()
          expect(now - before, c.fault).toBe(c.attempts)
          before = now
        }
      })
    ))

  it.live("a 429 that clears is ridden out; a started stream's error reaches LangChain as the server sent it", () =>
    withFetch(({ fetch, sent, url }) =>
      Effect.gen(function*() {
        const flaky = new ChatOpenAI({
          model: "gpt-4o-mini",
          apiKey: API_KEY,
          maxRetries: 0,
          configuration: {
            baseURL: url,
            fetch,
            defaultHeaders: { "x-mock-fault": "rate_limit_requests", "x-mock-fault-times": "2", "x-mock-retry-after-ms": "5" }
          }
        })
        const answer = yield* Effect.promise(() => flaky.invoke(PROMPT))
        expect(answer.content).toBe(PROMPT)
        expect(yield* sent()).toBe(3)
        const streaming = new ChatOpenAI({
          model: "gpt-4o-mini",
          apiKey: API_KEY,
          maxRetries: 0,
          configuration: { baseURL: url, fetch, defaultHeaders: { "x-mock-fault": "stream_error" } }
        })
        const outcome = yield* settle(async () => {
          let text = ""
          for await (const chunk of await streaming.stream(PROMPT)) text += String(chunk.content)
          return text
        })
        expect("error" in outcome && (outcome.error as Error).constructor.name).toBe("APIError")
        expect(yield* sent()).toBe(4)
      })
    ))
})
