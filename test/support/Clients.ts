/**
 * Third-party clients as a user runs them against a server (the mock, or a replay of recorded
 * responses), reduced to what they let the caller see: the error's class, status, code, type,
 * request id and message, and how many requests reached the server.
 */
import { ChatOpenAI } from "@langchain/openai"
import { createOpenAI } from "@ai-sdk/openai"
import { generateText } from "ai"
import { Effect, type Scope } from "effect"
import type * as http from "node:http"
import OpenAI4 from "openai-v4"
import OpenAI5 from "openai-v5"
import OpenAI6 from "openai"
import type { Faults } from "../../src/testing/index.js"
import { read } from "../utils/fixtures.js"
import * as LoopbackServer from "./httpServer.js"

/** What a client let through for one call. */
export interface Seen {
  /** The error's class name, `"ok"` when the call resolved (`"ok:undefined"` when to nothing), `"hangs"`. */
  readonly error: string
  readonly status?: number | undefined
  readonly code?: string | null | undefined
  readonly type?: string | null | undefined
  readonly requestId?: string | null | undefined
  readonly message?: string | undefined
}

const API_KEY = "sk-differential-0123456789abcdefghij"

/** Longer than any call should take, even on a busy machine: a call still pending then "hangs". */
const HANG_MS = 10_000

const settle = async (call: () => Promise<unknown>, hangMs = HANG_MS): Promise<Seen> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const hang = new Promise<Seen>((resolve) => {
    timer = setTimeout(() => resolve({ error: "hangs" }), hangMs)
  })
  const run = call().then(
    (value): Seen => ({ error: value === undefined ? "ok:undefined" : "ok" }),
    (e: unknown): Seen => describeError(e)
  )
  try {
    return await Promise.race([run, hang])
  } finally {
    clearTimeout(timer)
  }
}

const field = (e: object, key: string): unknown => (key in e ? (e as Record<string, unknown>)[key] : undefined)
const str = (u: unknown): string | null | undefined => (typeof u === "string" || u === null ? u : undefined)

const describeError = (e: unknown): Seen => {
  if (typeof e !== "object" || e === null) return { error: typeof e }
  const status = field(e, "status") ?? field(e, "statusCode")
  return {
    error: e.constructor.name === "Error" ? String(field(e, "name")) : e.constructor.name,
    status: typeof status === "number" ? status : undefined,
    code: str(field(e, "code")),
    type: str(field(e, "type")),
    requestId: str(field(e, "requestID") ?? field(e, "request_id")),
    message: str(field(e, "message")) ?? undefined
  }
}

/** The official SDK's majors, by the name the tests and `Faults.descriptions[f].sdk` use. */
export const sdkMajors: ReadonlyArray<Faults.SdkMajor> = ["4", "5", "6"]

interface SdkLike {
  readonly chat: { readonly completions: { readonly create: (body: object) => Promise<unknown> } }
  readonly responses: { readonly create: (body: object) => Promise<unknown> }
}
type SdkConstructor = new(options: {
  readonly apiKey: string
  readonly baseURL: string
  readonly maxRetries: number
  readonly timeout: number
  readonly defaultHeaders: Record<string, string>
}) => SdkLike

const constructors: Record<Faults.SdkMajor, SdkConstructor> = {
  "4": OpenAI4 as unknown as SdkConstructor,
  "5": OpenAI5 as unknown as SdkConstructor,
  "6": OpenAI6 as unknown as SdkConstructor
}

/** How a fault is reached: a plain chat call, a chat stream iterated, a Responses stream iterated. */
export type Call = "chat" | "chat-stream" | "responses-stream"

/** The call a fault needs for its effect to show. */
export const callFor = (fault: Faults.FaultName): Call =>
  fault === "response_failed" ? "responses-stream" : fault === "stream_error" || fault === "stream_cut" ? "chat-stream" : "chat"

const drain = async (stream: unknown): Promise<unknown> => {
  let last: unknown = "drained"
  for await (const event of stream as AsyncIterable<unknown>) last = event
  return last
}

/** One call with the official SDK of `major`. */
export const sdk = (
  major: Faults.SdkMajor,
  baseURL: string,
  headers: Record<string, string>,
  options: {
    readonly retries: number
    readonly call: Call
    /** The SDK's own timeout (default 10 s). */
    readonly timeoutMs?: number
    /** How long to wait before calling it a hang (default 10 s). */
    readonly hangMs?: number
  }
): Promise<Seen> => {
  const client = new constructors[major]({
    apiKey: API_KEY,
    baseURL,
    maxRetries: options.retries,
    timeout: options.timeoutMs ?? 10_000,
    defaultHeaders: headers
  })
  const messages = [{ role: "user", content: "Differential" }]
  return settle(() => {
    switch (options.call) {
      case "chat":
        return client.chat.completions.create({ model: "gpt-4o-mini", messages })
      case "chat-stream":
        return client.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true }).then(drain)
      case "responses-stream":
        return client.responses.create({ model: "gpt-4o-mini", input: "Differential", stream: true }).then(drain)
    }
  }, options.hangMs)
}

/** One `invoke` with LangChain's ChatOpenAI. */
export const langChain = (baseURL: string, headers: Record<string, string>, retries: number): Promise<Seen> => {
  const model = new ChatOpenAI({
    model: "gpt-4o-mini",
    apiKey: API_KEY,
    maxRetries: retries,
    timeout: 10_000,
    configuration: { baseURL, defaultHeaders: headers }
  })
  return settle(() => model.invoke("Differential"))
}

/** One `generateText` with the Vercel AI SDK's OpenAI provider (chat completions). */
export const vercel = (baseURL: string, headers: Record<string, string>, retries: number): Promise<Seen> => {
  const provider = createOpenAI({ apiKey: API_KEY, baseURL, headers })
  return settle(() => generateText({ model: provider.chat("gpt-4o-mini"), prompt: "Differential", maxRetries: retries }))
}

/** A recorded error of `../shared/fixtures/openai/errors`. */
interface Recording {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: unknown
  readonly body_raw?: string
}

/** The mock's faults that have a recording, and its file. */
export const recorded: Partial<Record<Faults.FaultName, string>> = {
  incorrect_api_key: "401_invalid_api_key.json",
  no_organization: "401_no_organization.json",
  unsupported_region: "403_unsupported_country_region_territory.json",
  insufficient_quota: "429_insufficient_quota.json",
  rate_limit_requests: "429_rate_limit_requests_rpm.json",
  server_error: "500_server_error.json",
  engine_overloaded: "503_model_overloaded.json"
}

/** The request id the replay sends (the recordings kept none; the real API always sends one). */
export const replayRequestId = (file: string): string => `req_replay_${file.replace(/\W/g, "_")}`

/**
 * A server on 127.0.0.1 that answers every request with the recording named by its `x-replay`
 * header, byte for byte (`body_raw` when recorded, else the JSON), and counts the requests of
 * each `x-run`.
 */
export const replayServer: Effect.Effect<
  { readonly url: string; readonly attempts: (run: string) => number; readonly server: http.Server },
  never,
  Scope.Scope
> = Effect.suspend(() => {
  const counts = new Map<string, number>()
  return Effect.map(
    LoopbackServer.serve((req, res) => {
      const run = String(req.headers["x-run"] ?? "")
      counts.set(run, (counts.get(run) ?? 0) + 1)
      req.resume()
      req.on("end", () => {
        const file = String(req.headers["x-replay"] ?? "")
        const recording = JSON.parse(read(`openai/errors/${file}`)) as Recording
        res.writeHead(recording.status, {
          "content-type": "application/json",
          "x-request-id": replayRequestId(file),
          ...recording.headers
        })
        res.end(recording.body_raw ?? JSON.stringify(recording.body))
      })
    }),
    ({ origin, server }) => ({ url: `${origin}/v1`, attempts: (run: string) => counts.get(run) ?? 0, server })
  )
})

/** A message with what differs between two servers (ids, organizations, keys, models, figures) blanked. */
export const normalize = (message: string | undefined): string =>
  (message ?? "")
    .replace(/req_[0-9a-z_]+|\b[0-9a-f]{32}\b/g, "<id>")
    .replace(/org-[A-Za-z0-9]+/g, "<org>")
    .replace(/sk-[^\s.]*/g, "<key>")
    .replace(/for [\w.-]+ in organization/g, "for <model> in organization")
    .replace(/\d+(\.\d+)?(ms|s)\b/g, "<t>")
    .replace(/\d+/g, "<n>")
