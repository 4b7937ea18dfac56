/**
 * The mock API's implementation: see `../MockApi.ts` for the public types and documentation.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Faults from "../Faults.js"
import type { LogEntry, MockApiService, MockOptions, MockRequest, MockResponse } from "../MockApi.js"
import * as MockRateLimits from "../MockRateLimits.js"
import { secretHeaderNames } from "../../internal/secrets.js"
import * as E from "./endpoints.js"

interface State {
  readonly sequence: number
  readonly limits: MockRateLimits.State
  readonly attempts: HashMap.HashMap<string, number>
  readonly scenario: ReadonlyArray<Faults.FaultName | "ok">
}

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: false })

/** Bytes of a JSON value. Errors are pretty-printed with 4 spaces, as the real API does. */
const json = (value: unknown, pretty = false): Uint8Array =>
  encoder.encode(pretty ? `${JSON.stringify(value, null, 4)}\n` : JSON.stringify(value))

const REDACTED_HEADERS: ReadonlySet<string> = new Set(secretHeaderNames)

const redactHeaders = (headers: Readonly<Record<string, string>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) out[k] = REDACTED_HEADERS.has(k) ? "<redacted>" : v
  return out
}

const lowerCase = (headers: Readonly<Record<string, string>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v
  return out
}

const bearerOf = (headers: Readonly<Record<string, string>>): string | undefined => {
  const auth = headers["authorization"] ?? ""
  const m = /^Bearer\s+(\S+)\s*$/i.exec(auth)
  if (m?.[1] !== undefined) return m[1]
  const azure = headers["api-key"]
  return azure !== undefined && azure.length > 0 ? azure : undefined
}

/** Masks a key as the real API echoes it (first 8 and last 4 characters), or entirely when short. */
const maskKey = (key: string | undefined): string => {
  if (key === undefined) return ""
  if (key.length < 24) return "*".repeat(key.length)
  return `${key.slice(0, 8)}${"*".repeat(key.length - 12)}${key.slice(-4)}`
}

const nonNegativeInt = (text: string | undefined): number | undefined | "invalid" => {
  if (text === undefined) return undefined
  if (!/^\s*\d{1,9}\s*$/.test(text)) return "invalid"
  return Number(text)
}

const toMillis = (d: Duration.DurationInput | undefined, fallback: number): number =>
  d === undefined ? fallback : Math.max(0, Duration.toMillis(Duration.decode(d)))

const mockError = (message: string, param: string | null, code: string | null): Uint8Array =>
  json({ error: { message, type: "invalid_request_error", param, code } }, true)

const INVALID_JSON =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)"

type Route =
  | { readonly _tag: "Chat" }
  | { readonly _tag: "Responses" }
  | { readonly _tag: "Embeddings" }
  | { readonly _tag: "Models" }
  | { readonly _tag: "Model"; readonly id: string }
  | { readonly _tag: "Unknown" }

const route = (method: string, path: string): Route => {
  if (method === "POST" && path === "/v1/chat/completions") return { _tag: "Chat" }
  if (method === "POST" && path === "/v1/responses") return { _tag: "Responses" }
  if (method === "POST" && path === "/v1/embeddings") return { _tag: "Embeddings" }
  if (method === "GET" && path === "/v1/models") return { _tag: "Models" }
  const m = /^\/v1\/models\/([^/]+)$/.exec(path)
  if (method === "GET" && m?.[1] !== undefined) {
    try {
      return { _tag: "Model", id: decodeURIComponent(m[1]) }
    } catch {
      // A malformed escape is a model id no one has: 404 below, never a defect.
      return { _tag: "Model", id: m[1] }
    }
  }
  return { _tag: "Unknown" }
}

/** @internal */
export const make = (options: MockOptions = {}): Effect.Effect<MockApiService> =>
  Effect.gen(function*() {
    const seed = options.seed ?? 0
    const organization = options.organization ?? "org-mock"
    const models = options.models ?? E.defaultModels
    const maxLog = Math.max(1, options.maxLogEntries ?? 10_000)
    const rates = Faults.names
      .map((name) => [name, Math.min(1, Math.max(0, options.faultRates?.[name] ?? 0))] as const)
      .filter(([, p]) => p > 0)
    const initial = (): State => ({
      sequence: 0,
      limits: MockRateLimits.empty({ rpm: options.rpm, tpm: options.tpm }),
      attempts: HashMap.empty(),
      scenario: options.scenario ?? []
    })
    const state = yield* Ref.make(initial())
    // The log only grows, so it is a plain array appended in place (a persistent structure
    // would copy on every request); readers get a copy.
    const entries: Array<LogEntry> = []
    const rngRef = yield* Ref.make(Random.make(seed))

    const drawFault: Effect.Effect<Faults.FaultName | undefined> = rates.length === 0
      ? Effect.succeed(undefined)
      : Effect.flatMap(Ref.get(rngRef), (rng) => rng.next).pipe(Effect.map((r) => {
        let cumulative = 0
        for (const [name, p] of rates) {
          cumulative += p
          if (r < cumulative) return name
        }
        return undefined
      }))

    const handle = (request: MockRequest): Effect.Effect<MockResponse> =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const headers = lowerCase(request.headers)
        const method = request.method.toUpperCase()
        const path = (request.url.split("?")[0] ?? "/").replace(/\/+$/, "") || "/"
        const bodyText = decoder.decode(request.body)
        const explicitKey = headers["idempotency-key"] ?? headers["x-mock-key"]
        const logicalKey = explicitKey ?? `${method} ${path} ${E.hexId(bodyText, 16)}`

        // One atomic step: sequence number, attempt count and the next scenario step.
        const [sequence, attempt, step] = yield* Ref.modify(state, (s): readonly [
          readonly [number, number, Faults.FaultName | "ok" | undefined],
          State
        ] => {
          const attempt = Option.getOrElse(HashMap.get(s.attempts, logicalKey), () => 0) + 1
          const [step, ...rest] = s.scenario
          // A long-running server forgets old counters rather than grow without bound.
          const attempts = HashMap.size(s.attempts) >= MAX_TRACKED_KEYS ? HashMap.empty<string, number>() : s.attempts
          return [[s.sequence + 1, attempt, step], {
            ...s,
            sequence: s.sequence + 1,
            attempts: HashMap.set(attempts, logicalKey, attempt),
            scenario: rest
          }]
        })
        const requestId = `req_${E.hexId(`${seed}:${sequence}:request`, 32)}`
        const apiKey = bearerOf(headers)
        const limiterKey = apiKey === undefined ? "anonymous" : `key_${E.hexId(apiKey, 16)}`

        const logged = (
          response: MockResponse,
          fault: Faults.FaultName | undefined,
          rateLimited?: "requests" | "tokens"
        ): Effect.Effect<MockResponse> =>
          Effect.sync(() => {
            entries.push({
              sequence,
              requestId,
              method,
              path,
              headers: redactHeaders(headers),
              key: logicalKey,
              attempt,
              fault: Option.fromNullable(fault),
              status: response._tag === "Respond" ? Option.some(response.status) : Option.none(),
              rateLimited: Option.fromNullable(rateLimited),
              at: now
            })
            // Trimmed in batches so that a long run does not copy the log on every request.
            if (entries.length > maxLog + LOG_TRIM_BATCH) entries.splice(0, entries.length - maxLog)
          }).pipe(Effect.as(response))

        const baseHeaders = (contentType: string): Record<string, string> => ({
          "content-type": contentType,
          "x-request-id": requestId,
          "openai-organization": organization,
          "openai-processing-ms": "12",
          "openai-version": "2020-10-01"
        })
        const shouldRetryHeader = (): Record<string, string> => {
          const h = headers["x-mock-should-retry"]?.trim().toLowerCase()
          const value = h === "true" || h === "false" ? h : options.shouldRetry === undefined ? undefined : String(options.shouldRetry)
          return value === undefined ? {} : { "x-should-retry": value }
        }
        const peekLimits = Ref.get(state).pipe(Effect.map((s) => MockRateLimits.peek(s.limits, limiterKey, now)))
        const respondJson = (
          status: number,
          body: Uint8Array,
          extra: Readonly<Record<string, string>>
        ): MockResponse => ({
          _tag: "Respond",
          status,
          headers: { ...baseHeaders("application/json"), ...extra },
          body: { _tag: "Bytes", bytes: body }
        })

        // -- the mock's own controls ---------------------------------------------------------
        const faultHeader = headers["x-mock-fault"]?.trim()
        if (faultHeader !== undefined && faultHeader.length > 0 && !Faults.isFaultName(faultHeader)) {
          return yield* logged(
            respondJson(
              400,
              mockError(
                `Unknown mock fault '${faultHeader.slice(0, 100)}' in the x-mock-fault header. Known faults: ${
                  Faults.names.join(", ")
                }.`,
                "x-mock-fault",
                "unknown_mock_fault"
              ),
              yield* peekLimits
            ),
            undefined
          )
        }
        const controlHeaders = [
          "x-mock-fault-times",
          "x-mock-retry-after-ms",
          "x-mock-delay-ms",
          "x-mock-chunk-delay-ms",
          "x-mock-status"
        ] as const
        const parsedControls = controlHeaders.map((h) => [h, nonNegativeInt(headers[h])] as const)
        for (const [header, value] of parsedControls) {
          if (value === "invalid") {
            return yield* logged(
              respondJson(
                400,
                mockError(`The ${header} header must be a non-negative integer.`, header, "invalid_mock_header"),
                yield* peekLimits
              ),
              undefined
            )
          }
        }
        const controls = {
          times: nonNegativeInt(headers["x-mock-fault-times"]),
          retryAfterMs: nonNegativeInt(headers["x-mock-retry-after-ms"]),
          delayMs: nonNegativeInt(headers["x-mock-delay-ms"]),
          chunkDelayMs: nonNegativeInt(headers["x-mock-chunk-delay-ms"]),
          status: nonNegativeInt(headers["x-mock-status"])
        }
        const num = (v: number | undefined | "invalid"): number | undefined => (typeof v === "number" ? v : undefined)
        const statusOverride = num(controls.status)
        if (statusOverride !== undefined && (statusOverride < 200 || statusOverride > 599)) {
          return yield* logged(
            respondJson(
              400,
              mockError("The x-mock-status header must be between 200 and 599.", "x-mock-status", "invalid_mock_header"),
              yield* peekLimits
            ),
            undefined
          )
        }

        // -- which fault, if any -------------------------------------------------------------
        const times = num(controls.times)
        let fault: Faults.FaultName | undefined
        if (faultHeader !== undefined && Faults.isFaultName(faultHeader)) {
          fault = times === undefined || attempt <= times ? faultHeader : undefined
        } else if (step !== undefined) {
          fault = step === "ok" ? undefined : step
        } else {
          fault = yield* drawFault
        }
        const description = fault === undefined ? undefined : Faults.descriptions[fault]

        // -- the request body ----------------------------------------------------------------
        const parsed: { readonly ok: true; readonly value: E.JsonRecord } | { readonly ok: false } =
          bodyText.trim().length === 0
            ? { ok: true, value: {} }
            : (() => {
              try {
                const v: unknown = JSON.parse(bodyText)
                return E.isRecord(v) ? { ok: true as const, value: v } : { ok: false as const }
              } catch {
                return { ok: false as const }
              }
            })()
        const body: E.JsonRecord = parsed.ok ? parsed.value : {}
        const model = typeof body.model === "string" && body.model.length > 0
          ? body.model.slice(0, 200)
          : route(method, path)._tag === "Model"
          ? path.slice("/v1/models/".length)
          : "gpt-4o-mini"
        const stream = body.stream === true
        const requested = E.requestedTokens(path, body)
        const limitsNow = (yield* Ref.get(state)).limits.limits
        const retryAfterMs = num(controls.retryAfterMs) ?? toMillis(options.retryAfter, 1000)
        const chunkDelay = Duration.millis(num(controls.chunkDelayMs) ?? toMillis(options.chunkDelay, 0))
        const faultContext: Faults.Context = {
          requestId,
          model,
          organization,
          maskedKey: maskKey(apiKey),
          retryAfterMs,
          rpm: limitsNow.rpm,
          tpm: limitsNow.tpm,
          requestedTokens: requested
        }

        // -- faults that replace the response ------------------------------------------------
        if (fault !== undefined && description !== undefined) {
          const kind = description.kind
          const isStatusFault = kind === "status" || (fault === "stream_error" && !stream)
          if (isStatusFault) {
            const status = fault === "stream_error" ? 500 : description.status ?? 500
            const retryHeaders = description.retryAfter || controls.retryAfterMs !== undefined
              ? { "retry-after": String(Math.ceil(retryAfterMs / 1000)), "retry-after-ms": String(retryAfterMs) }
              : {}
            return yield* logged(
              respondJson(status, json(Faults.errorBody(fault, faultContext), true), {
                ...(yield* peekLimits),
                ...retryHeaders,
                ...shouldRetryHeader()
              }),
              fault
            )
          }
          if (fault === "connection_reset") return yield* logged({ _tag: "ResetConnection" }, fault)
          if (fault === "html_502") {
            return yield* logged({
              _tag: "Respond",
              status: statusOverride ?? 502,
              headers: { ...baseHeaders("text/html"), ...shouldRetryHeader() },
              body: { _tag: "Bytes", bytes: encoder.encode(Faults.html502) }
            }, fault)
          }
          if (fault === "empty_body") {
            return yield* logged({
              _tag: "Respond",
              status: statusOverride ?? 200,
              headers: { ...baseHeaders("application/json"), ...(yield* peekLimits), ...shouldRetryHeader() },
              body: { _tag: "Bytes", bytes: new Uint8Array() }
            }, fault)
          }
        }

        // -- the API itself ------------------------------------------------------------------
        if (options.requireApiKey === true && apiKey === undefined) {
          return yield* logged(
            respondJson(401, json(Faults.errorBody("invalid_authentication", faultContext), true), yield* peekLimits),
            fault
          )
        }
        const r = route(method, path)
        if (r._tag === "Unknown") {
          return yield* logged(
            respondJson(404, mockError(`Invalid URL (${method} ${path.slice(0, 200)})`, null, null), yield* peekLimits),
            fault
          )
        }
        if (!parsed.ok) {
          return yield* logged(respondJson(400, mockError(INVALID_JSON, null, null), yield* peekLimits), fault)
        }
        const invalid = validate(r, body)
        if (invalid !== undefined) {
          return yield* logged(respondJson(400, json({ error: invalid }, true), yield* peekLimits), fault)
        }

        const decision = yield* Ref.modify(state, (s) => {
          const [d, limits] = MockRateLimits.consume(s.limits, limiterKey, requested, now)
          return [d, { ...s, limits }] as const
        })
        if (decision._tag === "TooLarge") {
          return yield* logged(
            respondJson(
              429,
              json({
                error: {
                  message: Faults.requestTooLargeMessage(model, organization, decision.limit, decision.requested),
                  type: "tokens",
                  param: null,
                  code: "rate_limit_exceeded"
                }
              }, true),
              decision.headers
            ),
            fault,
            "tokens"
          )
        }
        if (decision._tag === "Limited") {
          const ms = Math.max(1, decision.retryAfterMs)
          return yield* logged(
            respondJson(
              429,
              json({
                error: {
                  message: Faults.rateLimitMessage(
                    model,
                    organization,
                    decision.scope,
                    decision.limit,
                    decision.used,
                    decision.requested,
                    ms
                  ),
                  type: decision.scope,
                  param: null,
                  code: "rate_limit_exceeded"
                }
              }, true),
              {
                ...decision.headers,
                "retry-after": String(Math.ceil(ms / 1000)),
                "retry-after-ms": String(ms),
                ...shouldRetryHeader()
              }
            ),
            fault,
            decision.scope
          )
        }

        const created = Math.floor(now / 1000)
        const idOf = (prefix: string) => `${prefix}${E.hexId(`${seed}:${sequence}:${prefix}`, 32)}`
        const okHeaders = { ...decision.headers, ...(fault === undefined ? {} : shouldRetryHeader()) }

        /** An SSE response; with `stream_error` or `stream_cut` it fails after a few events. */
        const sse = (events: ReadonlyArray<string>, done: string | undefined, errorFrame: string): MockResponse => {
          const keep = Math.min(events.length, STREAM_EVENTS_BEFORE_FAULT)
          const frames = fault === "stream_error"
            ? [...events.slice(0, keep), errorFrame]
            : fault === "stream_cut"
            ? events.slice(0, keep)
            : done === undefined
            ? events
            : [...events, done]
          return {
            _tag: "Respond",
            status: 200,
            headers: { ...baseHeaders("text/event-stream; charset=utf-8"), ...okHeaders },
            body: {
              _tag: "Chunks",
              chunks: frames.map((f, i) => ({ delay: i === 0 ? Duration.zero : chunkDelay, bytes: encoder.encode(f) })),
              ending: fault === "stream_cut" ? "cut" : "complete"
            }
          }
        }

        let success: MockResponse
        switch (r._tag) {
          case "Models":
            success = respondJson(200, json(E.modelList(models)), okHeaders)
            break
          case "Model":
            success = models.includes(r.id)
              ? respondJson(200, json(E.model(r.id)), okHeaders)
              : respondJson(
                404,
                mockError(`The model '${r.id.slice(0, 200)}' does not exist`, "model", "model_not_found"),
                okHeaders
              )
            break
          case "Embeddings":
            success = respondJson(200, json(E.embeddings(body, model)), okHeaders)
            break
          case "Chat": {
            const info = { id: idOf("chatcmpl-"), created, model }
            success = stream
              ? sse(
                E.chatChunks(body, info).map((c) => `data: ${JSON.stringify(c)}\n\n`),
                "data: [DONE]\n\n",
                `data: ${JSON.stringify(Faults.errorBody("stream_error", faultContext))}\n\n`
              )
              : respondJson(200, json(E.chatCompletion(body, info)), okHeaders)
            break
          }
          case "Responses": {
            const info = { id: idOf("resp_"), messageId: idOf("msg_"), created, model }
            const events = E.responseEvents(body, info)
            success = stream
              ? sse(
                events.map(([name, data]) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`),
                undefined,
                `event: error\ndata: ${
                  JSON.stringify({
                    type: "error",
                    code: "server_error",
                    message: streamErrorMessage(requestId),
                    param: null,
                    sequence_number: Math.min(events.length, STREAM_EVENTS_BEFORE_FAULT)
                  })
                }\n\n`
              )
              : respondJson(200, json(E.response(body, info)), okHeaders)
            break
          }
        }

        // -- faults that alter a successful response -----------------------------------------
        if (fault === "slow_headers") {
          yield* logged(success, fault)
          yield* Effect.sleep(Duration.millis(num(controls.delayMs) ?? toMillis(options.slowHeadersDelay, 30_000)))
          return success
        }
        if (success._tag === "Respond" && success.body._tag === "Bytes") {
          const bytes = success.body.bytes
          if (fault === "malformed_json") {
            return yield* logged({
              ...success,
              status: statusOverride ?? success.status,
              body: { _tag: "Bytes", bytes: bytes.subarray(0, Math.max(1, Math.floor(bytes.length / 2))) }
            }, fault)
          }
          if (fault === "stream_cut") {
            // A plain body cut off part-way: the connection closes before the last byte.
            return yield* logged({
              ...success,
              body: {
                _tag: "Chunks",
                chunks: [{ delay: Duration.zero, bytes: bytes.subarray(0, Math.floor(bytes.length / 2)) }],
                ending: "cut"
              }
            }, fault)
          }
        }
        return yield* logged(success, fault)
      }).pipe(
        // A bug in the mock must not take down the test: answer 500 in the API's shape instead.
        Effect.catchAllDefect((defect) =>
          Effect.succeed<MockResponse>({
            _tag: "Respond",
            status: 500,
            headers: { "content-type": "application/json", "x-request-id": "req_mock_defect" },
            body: {
              _tag: "Bytes",
              bytes: json({
                error: {
                  message: `The mock server failed: ${String(defect).slice(0, 300)}`,
                  type: "server_error",
                  param: null,
                  code: null
                }
              }, true)
            }
          })
        )
      )

    return {
      handle,
      log: Effect.sync(() => entries.slice()),
      reset: Effect.all([
        Ref.set(state, initial()),
        Ref.set(rngRef, Random.make(seed)),
        Effect.sync(() => entries.splice(0, entries.length))
      ], { discard: true })
    }
  })

/** Extra log entries allowed before the log is trimmed back to `maxLogEntries`. */
const LOG_TRIM_BATCH = 1000

/** How many logical requests the attempt counters remember before starting afresh. */
const MAX_TRACKED_KEYS = 100_000

/** How many SSE events `stream_error` and `stream_cut` let through before failing. */
const STREAM_EVENTS_BEFORE_FAULT = 3

const streamErrorMessage = (requestId: string): string =>
  `The server had an error processing your request. Sorry about that! You can retry your request, or contact us through our help center at help.openai.com if you keep seeing this error. (Please include the request ID ${requestId} in your email.)`

const missing = (param: string) => ({
  message: `Missing required parameter: '${param}'.`,
  type: "invalid_request_error",
  param,
  code: "missing_required_parameter"
})

const validate = (r: Route, body: E.JsonRecord): unknown => {
  switch (r._tag) {
    case "Chat":
      if (typeof body.model !== "string") return missing("model")
      if (!Array.isArray(body.messages)) return missing("messages")
      if (body.messages.length === 0) {
        return {
          message: "[] is too short - 'messages'",
          type: "invalid_request_error",
          param: "messages",
          code: "empty_array"
        }
      }
      return undefined
    case "Responses":
      if (typeof body.model !== "string") return missing("model")
      return undefined
    case "Embeddings":
      if (typeof body.model !== "string") return missing("model")
      if (body.input === undefined) return missing("input")
      if (E.embeddingInputs(body).some((t) => t.length === 0)) {
        return {
          message: "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
          type: "invalid_request_error",
          param: null,
          code: null
        }
      }
      return undefined
    default:
      return undefined
  }
}

