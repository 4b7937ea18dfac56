/**
 * The mock cannot drift from real traffic: every fault goes through third-party clients (the
 * official `openai` 4.x, 5.x and 6.x (7.x needs Node 22; this project runs on 20), LangChain's ChatOpenAI, the Vercel AI SDK) against the
 * mock server, and, for every fault with a recording in ../shared/fixtures/openai/errors,
 * against a server replaying that recording byte for byte. Both must give the client the same
 * error class, status, code, type, request id and message, after the same number of attempts.
 * Every client runs with one retry, so that "retried or not" is part of what is compared.
 *
 * Real sockets and the live clock; all calls of a block run at once, so a block costs about one
 * client's retry delay (0.5 s for openai-node, 1-2 s for LangChain and the Vercel AI SDK).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Faults, MockApi, MockServer } from "../src/testing/index.js"
import * as C from "./support/Clients.js"
import { fixturesAvailable } from "./utils/fixtures.js"

const recordedFaults = Faults.names.filter((f) => C.recorded[f] !== undefined)

interface Env {
  readonly mockUrl: string
  readonly replayUrl: string
  readonly mockLog: (run: string) => Promise<ReadonlyArray<MockApi.LogEntry>>
  readonly replayAttempts: (run: string) => number
}

let runs = 0

/** Runs `observe` once against the mock serving `fault` and once against its recording. */
const both = async (
  env: Env,
  fault: Faults.FaultName,
  observe: (url: string, headers: Record<string, string>) => Promise<C.Seen>
) => {
  const file = C.recorded[fault] ?? ""
  const run = `run-${++runs}`
  const [mock, replay] = await Promise.all([
    observe(env.mockUrl, { "x-mock-fault": fault, "x-mock-key": run, "x-run": run }),
    observe(env.replayUrl, { "x-replay": file, "x-run": run })
  ])
  const log = await env.mockLog(run)
  return {
    mock: { ...mock, attempts: log.length },
    mockRequestId: log.at(-1)?.requestId,
    replay: { ...replay, attempts: env.replayAttempts(run) },
    file
  }
}

/** What is compared: the request id as "the server's own", the message with ids and figures blanked. */
const comparable = (seen: C.Seen & { readonly attempts: number }, requestId: string | undefined) => ({
  error: seen.error,
  status: seen.status,
  code: seen.code ?? undefined,
  type: seen.type ?? undefined,
  requestId: seen.requestId === undefined || seen.requestId === null
    ? "none"
    : seen.requestId === requestId
    ? "the server's"
    : seen.requestId,
  attempts: seen.attempts
})

const withServers = (f: (env: Env) => Promise<void>) =>
  Effect.gen(function*() {
    const { url } = yield* MockServer.MockServer
    const mock = yield* MockApi.MockApi
    const replay = yield* C.replayServer
    const env: Env = {
      mockUrl: url,
      replayUrl: replay.url,
      mockLog: async (run) => (await Effect.runPromise(mock.log)).filter((e) => e.key === run),
      replayAttempts: replay.attempts
    }
    yield* Effect.promise(() => f(env))
  }).pipe(Effect.provide(MockServer.layer()), Effect.scoped)

describe.skipIf(!fixturesAvailable)("differential: the mock against recorded OpenAI errors", () => {
  it("every recording of openai/errors is the recording of one of the mock's faults", () => {
    expect(recordedFaults.length).toBe(Object.keys(C.recorded).length)
    expect(recordedFaults.length).toBeGreaterThanOrEqual(7)
  })

  for (const major of C.sdkMajors) {
    it.live(`openai ${major}.x sees the same on the mock as on the recording, for every recorded fault`, () =>
      withServers(async (env) => {
        const results = await Promise.all(recordedFaults.map(async (fault) => ({
          fault,
          ...(await both(env, fault, (url, headers) => C.sdk(major, url, headers, { retries: 1, call: "chat" })))
        })))
        for (const { fault, file, mock, mockRequestId, replay } of results) {
          expect(comparable(mock, mockRequestId), fault).toEqual(comparable(replay, C.replayRequestId(file)))
          expect(mock.requestId, fault).toMatch(/^req_[0-9a-f]{32}$/)
          // The recorded message is all there (a newer wording may add to its end).
          expect(C.normalize(mock.message).startsWith(C.normalize(replay.message)), `${fault}: ${mock.message}`).toBe(true)
        }
      }))
  }

  it.live("LangChain's ChatOpenAI sees the same on the mock as on the recording (class, status, code, attempts)", () =>
    withServers(async (env) => {
      const results = await Promise.all(recordedFaults.map(async (fault) => ({
        fault,
        ...(await both(env, fault, (url, headers) => C.langChain(url, headers, 1)))
      })))
      for (const { fault, mock, replay } of results) {
        expect({ error: mock.error, status: mock.status, code: mock.code, attempts: mock.attempts }, fault).toEqual({
          error: replay.error,
          status: replay.status,
          code: replay.code,
          attempts: replay.attempts
        })
      }
      // The recorded RPM message mentions billing: LangChain gives up at once, on both.
      expect(results.find((r) => r.fault === "rate_limit_requests")?.mock.attempts).toBe(1)
    }))

  it.live("the Vercel AI SDK sees the same on the mock as on the recording (class, status, attempts)", () =>
    withServers(async (env) => {
      const results = await Promise.all(recordedFaults.map(async (fault) => ({
        fault,
        ...(await both(env, fault, (url, headers) => C.vercel(url, headers, 1)))
      })))
      for (const { fault, mock, replay } of results) {
        expect({ error: mock.error, status: mock.status, attempts: mock.attempts }, fault).toEqual({
          error: replay.error,
          status: replay.status,
          attempts: replay.attempts
        })
      }
    }))
})

describe("every fault through every major of the official SDK, as Faults.descriptions says", () => {
  it.live("class per major, and status, code and type where the SDK reads them", () =>
    Effect.gen(function*() {
      const { url } = yield* MockServer.MockServer
      const seen = yield* Effect.promise(() =>
        Promise.all(Faults.names.flatMap((fault) =>
          C.sdkMajors.map(async (major) => ({
            fault,
            major,
            seen: await C.sdk(major, url, { "x-mock-fault": fault, "x-mock-delay-ms": "3000" }, {
              retries: 0,
              call: C.callFor(fault),
              // Only slow_headers is meant to time out; the others get room on a busy machine.
              timeoutMs: fault === "slow_headers" ? 1000 : 10_000,
              // openai 4.x never settles on body_cut: a few seconds tell a hang from a slow answer.
              hangMs: fault === "body_cut" ? 3000 : 10_000
            })
          }))
        ))
      )
      for (const { fault, major, seen: s } of seen) {
        const d = Faults.descriptions[fault]
        const label = `${fault} on openai ${major}.x`
        expect(s.error.startsWith("ok") ? undefined : s.error, label).toBe(d.sdk[major])
        if (d.kind === "status") {
          expect([s.status, s.code ?? undefined, s.type ?? undefined], label).toEqual([d.status, d.code ?? undefined, d.type ?? undefined])
        }
      }
    }).pipe(Effect.provide(MockServer.layer())))

  it.live("a Responses stream's error event: every major raises on the nested shape; 5.x and 6.x miss the flat one", () =>
    Effect.gen(function*() {
      const { url } = yield* MockServer.MockServer
      const per = (shape: "nested" | "flat") =>
        Promise.all(C.sdkMajors.map((major) =>
          C.sdk(major, url, { "x-mock-fault": "stream_error", "x-mock-error-shape": shape }, {
            retries: 0,
            call: "responses-stream"
          }).then((s) => s.error)
        ))
      const [nested, flat] = yield* Effect.promise(() => Promise.all([per("nested"), per("flat")]))
      expect(nested).toEqual(["APIError", "APIError", "APIError"])
      expect(flat).toEqual(["APIError", "ok", "ok"])
    }).pipe(Effect.provide(MockServer.layer())))

  it.live("LangChain and the Vercel AI SDK: every status fault arrives as the error of its status", () =>
    Effect.gen(function*() {
      const { url } = yield* MockServer.MockServer
      const statusFaults = Faults.names.filter((f) => Faults.descriptions[f].kind === "status")
      const seen = yield* Effect.promise(() =>
        Promise.all(statusFaults.map(async (fault) => ({
          fault,
          langChain: await C.langChain(url, { "x-mock-fault": fault }, 0),
          vercel: await C.vercel(url, { "x-mock-fault": fault }, 0)
        })))
      )
      for (const { fault, langChain, vercel } of seen) {
        const d = Faults.descriptions[fault]
        // LangChain wraps openai 6.x and names a context overflow itself.
        expect(langChain.error, fault).toBe(fault === "context_length_exceeded" ? "ContextOverflowError" : d.sdk["6"])
        expect([vercel.error, vercel.status], fault).toEqual(["APICallError", d.status])
      }
    }).pipe(Effect.provide(MockServer.layer())))
})
