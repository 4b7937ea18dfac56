/**
 * The mock API's implementation: see `../MockApi.ts` for the public types and documentation.
 * This module keeps the state (sequence, attempts, scenario, rate limits, log) and runs one
 * request through its steps: control headers, the fault, the API's own checks, the rate limit,
 * the endpoint group (`./router.ts`), and the faults that alter a success.
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
import * as Schema from "effect/Schema"
import * as GoDuration from "../../GoDuration.js"
import * as O from "../../internal/options.js"
import type { InvalidOptions } from "../../InvalidOptions.js"
import * as Faults from "../Faults.js"
import type { LogEntry, MockApiService, MockOptions, MockRequest, MockResponse } from "../MockApi.js"
import * as MockRateLimits from "../MockRateLimits.js"
import { secretHeaderNames } from "../../internal/secrets.js"
import * as E from "./content.js"
import * as Controls from "./controls.js"
import * as FaultResponses from "./faultResponses.js"
import * as Models from "./models.js"
import * as Router from "./router.js"
import type { Call } from "./wire.js"
import { decoder, hintHeaders, json, respondJson } from "./wire.js"

interface State {
  readonly sequence: number
  readonly limits: MockRateLimits.State
  readonly attempts: HashMap.HashMap<string, number>
  readonly scenario: ReadonlyArray<Faults.FaultName | "ok">
}

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

const toMillis = (d: Duration.DurationInput | undefined, fallback: number): number =>
  d === undefined ? fallback : Math.max(0, Duration.toMillis(Duration.decode(d)))

const mockError = (message: string, param: string | null, code: string | null): Uint8Array =>
  json({ error: { message, type: "invalid_request_error", param, code } }, true)

const parseBody = (text: string): { readonly ok: true; readonly value: E.JsonRecord } | { readonly ok: false } => {
  if (text.trim().length === 0) return { ok: true, value: {} }
  try {
    const v: unknown = JSON.parse(text)
    return E.isRecord(v) ? { ok: true, value: v } : { ok: false }
  } catch {
    return { ok: false }
  }
}

const INVALID_JSON =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)"

/** What the stateful limiter's 429 carries unless told otherwise: its exact refill time. */
const LIMITER_HINTS: ReadonlyArray<Faults.Hint> = ["retry-after", "retry-after-ms", "x-ratelimit"]

const isHintList = (u: MockOptions["hints"]): u is ReadonlyArray<Faults.Hint> => Array.isArray(u)

/**
 * The hint headers of a fault (or of the stateful limiter's 429): the request's `x-mock-hints`,
 * else the server's option, else what the real API sends; `x-mock-retry-after-ms` alone adds
 * `retry-after` and `retry-after-ms`.
 */
const hintsFor = (
  options: MockOptions,
  controls: Controls.Controls,
  key: Faults.FaultName | "rate_limiter"
): ReadonlyArray<Faults.Hint> => {
  if (controls.hints !== undefined) return controls.hints
  const configured = options.hints === undefined ? undefined : isHintList(options.hints) ? options.hints : options.hints[key]
  const base = configured ?? (key === "rate_limiter" ? LIMITER_HINTS : Faults.descriptions[key].hints)
  if (controls.retryAfterMs === undefined) return base
  return Faults.hints.filter((h) => base.includes(h) || h === "retry-after" || h === "retry-after-ms")
}

/**
 * The limit headers of a rate-limit fault: the limit it names is spent and refills after the
 * delay it asks for (the limiter's own state says nothing about an injected fault).
 */
const exhausted = (
  fault: Faults.FaultName,
  limits: Readonly<Record<string, string>>,
  retryAfterMs: number
): Readonly<Record<string, string>> => {
  const d = Faults.descriptions[fault]
  if (d.status !== 429 || (d.type !== "requests" && d.type !== "tokens") || fault === "request_too_large") return limits
  return {
    ...limits,
    [`x-ratelimit-remaining-${d.type}`]: "0",
    [`x-ratelimit-reset-${d.type}`]: GoDuration.format(Duration.millis(retryAfterMs))
  }
}

/** One request in progress: what every step reads. */
interface Request {
  readonly now: number
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string>
  readonly bodyText: string
  readonly logicalKey: string
  readonly sequence: number
  readonly attempt: number
  readonly step: Faults.FaultName | "ok" | undefined
  readonly requestId: string
  readonly apiKey: string | undefined
  readonly limiterKey: string
}

/** @internal */
/** What the steps of a request share: the options and the mock's state. */
interface Env {
  readonly options: MockOptions
  readonly seed: number
  readonly organization: string
  readonly maxLog: number
  readonly state: Ref.Ref<State>
  /** The log only grows, so it is a plain array appended in place; readers get a copy. */
  readonly entries: Array<LogEntry>
  readonly drawFault: Effect.Effect<Faults.FaultName | undefined>
}

/** One atomic step: sequence number, attempt count and the next scenario step. */
const begin = (env: Env, raw: MockRequest): Effect.Effect<Request> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const headers = lowerCase(raw.headers)
    const method = raw.method.toUpperCase()
    const path = (raw.url.split("?")[0] ?? "/").replace(/\/+$/, "") || "/"
    const bodyText = decoder.decode(raw.body)
    const logicalKey = headers["idempotency-key"] ?? headers["x-mock-key"] ??
      `${method} ${path} ${E.hexId(bodyText, 16)}`
    const [sequence, attempt, step] = yield* Ref.modify(env.state, (s): readonly [
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
    const apiKey = bearerOf(headers)
    return {
      now,
      method,
      path,
      headers,
      bodyText,
      logicalKey,
      sequence,
      attempt,
      step,
      requestId: `req_${E.hexId(`${env.seed}:${sequence}:request`, 32)}`,
      apiKey,
      limiterKey: apiKey === undefined ? "anonymous" : `key_${E.hexId(apiKey, 16)}`
    }
  })

/** Appends the request to the log and answers `response`. */
const logged = (
  env: Env,
  req: Request,
  response: MockResponse,
  fault: Faults.FaultName | undefined,
  rateLimited?: "requests" | "tokens"
): Effect.Effect<MockResponse> =>
  Effect.sync(() => {
    env.entries.push({
      sequence: req.sequence,
      requestId: req.requestId,
      method: req.method,
      path: req.path,
      headers: redactHeaders(req.headers),
      key: req.logicalKey,
      attempt: req.attempt,
      fault: Option.fromNullable(fault),
      status: response._tag === "Respond" ? Option.some(response.status) : Option.none(),
      rateLimited: Option.fromNullable(rateLimited),
      at: req.now
    })
    // Trimmed in batches so that a long run does not copy the log on every request.
    if (env.entries.length > env.maxLog + LOG_TRIM_BATCH) env.entries.splice(0, env.entries.length - env.maxLog)
  }).pipe(Effect.as(response))

/** The headers of the API's own responses. */
const apiHeaders = (env: Env, req: Request) => (contentType: string): Record<string, string> => ({
  "content-type": contentType,
  "x-request-id": req.requestId,
  "openai-organization": env.organization,
  "openai-processing-ms": "12",
  "openai-version": "2020-10-01"
})

/** The limiter's headers for the caller's key, without consuming anything. */
const peekLimits = (env: Env, req: Request) =>
  Ref.get(env.state).pipe(Effect.map((s) => MockRateLimits.peek(s.limits, req.limiterKey, req.now)))

const shouldRetryHeader = (options: MockOptions, controls: Controls.Controls): Record<string, string> => {
  const value = controls.shouldRetry ?? (options.shouldRetry === undefined ? undefined : String(options.shouldRetry))
  return value === undefined ? {} : { "x-should-retry": value }
}

/** The `x-mock-fault` header (within `x-mock-fault-times`), else the scenario, else a seeded draw. */
const chooseFault = (env: Env, req: Request, controls: Controls.Controls): Effect.Effect<Faults.FaultName | undefined> => {
  if (controls.fault !== undefined) {
    return Effect.succeed(controls.times === undefined || req.attempt <= controls.times ? controls.fault : undefined)
  }
  if (req.step !== undefined) return Effect.succeed(req.step === "ok" ? undefined : req.step)
  return env.drawFault
}

/** The API itself, after the faults that replace it: its checks, the limiter, the endpoint. */
const serveApi = (
  env: Env,
  req: Request,
  controls: Controls.Controls,
  fault: Faults.FaultName | undefined,
  faultContext: Faults.Context,
  retryAfterMs: number
): Effect.Effect<MockResponse> =>
  Effect.gen(function*() {
    const headers = apiHeaders(env, req)("application/json")
    const refuse = (status: number, body: Uint8Array) =>
      Effect.flatMap(peekLimits(env, req), (limits) => logged(env, req, respondJson({ ...headers, ...limits }, status, body), fault))
    if (env.options.requireApiKey === true && req.apiKey === undefined) {
      return yield* refuse(401, json(Faults.errorBody("invalid_authentication", faultContext), true))
    }
    const r = Router.route(req.method, req.path)
    if (r._tag === "Unknown") {
      return yield* refuse(404, mockError(`Invalid URL (${req.method} ${req.path.slice(0, 200)})`, null, null))
    }
    const parsed = parseBody(req.bodyText)
    if (!parsed.ok) return yield* refuse(400, mockError(INVALID_JSON, null, null))
    const invalid = Router.validate(r, parsed.value)
    if (invalid !== undefined) return yield* refuse(400, json({ error: invalid }, true))

    const decision = yield* Ref.modify(env.state, (s) => {
      const [d, limits] = MockRateLimits.consume(s.limits, req.limiterKey, faultContext.requestedTokens, req.now)
      return [d, { ...s, limits }] as const
    })
    const { model, organization } = faultContext
    if (decision._tag !== "Allowed") {
      const ms = decision._tag === "Limited" ? Math.max(1, decision.retryAfterMs) : retryAfterMs
      const message = decision._tag === "TooLarge"
        ? Faults.requestTooLargeMessage(model, organization, decision.limit, decision.requested)
        : Faults.rateLimitMessage(model, organization, decision.scope, decision.limit, decision.used, decision.requested, ms)
      const scope = decision._tag === "TooLarge" ? "tokens" : decision.scope
      // A request too large gets the limit headers only: no delay would help it.
      const hints = decision._tag === "TooLarge" ? ["x-ratelimit" as const] : hintsFor(env.options, controls, "rate_limiter")
      const body = json({ error: { message, type: scope, param: null, code: "rate_limit_exceeded" } }, true)
      return yield* logged(
        env,
        req,
        respondJson({
          ...headers,
          ...hintHeaders(hints, ms, decision.headers),
          ...(decision._tag === "Limited" ? shouldRetryHeader(env.options, controls) : {})
        }, 429, body),
        fault,
        scope
      )
    }

    const call: Call = {
      body: parsed.value,
      model,
      stream: parsed.value.stream === true,
      created: Math.floor(req.now / 1000),
      requestId: req.requestId,
      idOf: (prefix) => `${prefix}${E.hexId(`${env.seed}:${req.sequence}:${prefix}`, 32)}`,
      fault,
      faultContext,
      errorShape: controls.errorShape ?? env.options.responsesErrorShape ?? "nested",
      toolArguments: controls.toolArguments,
      models: env.options.models ?? Models.defaultModels,
      chunkDelay: Duration.millis(controls.chunkDelayMs ?? toMillis(env.options.chunkDelay, 0)),
      headers: apiHeaders(env, req),
      okHeaders: { ...decision.headers, ...(fault === undefined ? {} : shouldRetryHeader(env.options, controls)) }
    }
    const success = Router.respond(r, call)
    if (fault === "slow_headers") {
      yield* logged(env, req, success, fault)
      yield* Effect.sleep(Duration.millis(controls.delayMs ?? toMillis(env.options.slowHeadersDelay, 30_000)))
      return success
    }
    return yield* logged(env, req, FaultResponses.alteration(fault, success, controls.status), fault)
  })

/** Serves one request: control headers, the fault, then the API. */
const handle = (env: Env, raw: MockRequest): Effect.Effect<MockResponse> =>
  Effect.gen(function*() {
    const req = yield* begin(env, raw)
    const controls = Controls.parse(req.headers)
    if ("_tag" in controls) {
      const headers = { ...apiHeaders(env, req)("application/json"), ...(yield* peekLimits(env, req)) }
      return yield* logged(env, req, respondJson(headers, 400, mockError(controls.message, controls.param, controls.code)), undefined)
    }
    const fault = yield* chooseFault(env, req, controls)
    const parsed = parseBody(req.bodyText)
    const body = parsed.ok ? parsed.value : {}
    const model = typeof body.model === "string" && body.model.length > 0
      ? body.model.slice(0, 200)
      : Router.route(req.method, req.path)._tag === "Model"
      ? req.path.slice("/v1/models/".length)
      : "gpt-4o-mini"
    const limitsNow = (yield* Ref.get(env.state)).limits.limits
    const retryAfterMs = controls.retryAfterMs ?? toMillis(env.options.retryAfter, 1000)
    const faultContext: Faults.Context = {
      requestId: req.requestId,
      model,
      organization: env.organization,
      maskedKey: maskKey(req.apiKey),
      retryAfterMs,
      rpm: limitsNow.rpm,
      tpm: limitsNow.tpm,
      requestedTokens: E.requestedTokens(req.path, body)
    }
    if (fault !== undefined) {
      const replaced = FaultResponses.replacement({
        fault,
        stream: body.stream === true,
        context: faultContext,
        apiHeaders: apiHeaders(env, req),
        extraHeaders: {
          ...hintHeaders(hintsFor(env.options, controls, fault), retryAfterMs, exhausted(fault, yield* peekLimits(env, req), retryAfterMs)),
          ...shouldRetryHeader(env.options, controls)
        },
        status: controls.status
      })
      if (replaced !== undefined) return yield* logged(env, req, replaced, fault)
    }
    return yield* serveApi(env, req, controls, fault, faultContext, retryAfterMs)
  }).pipe(
    // A bug in the mock must not take down the test: answer 500 in the API's shape instead.
    Effect.catchAllDefect((defect) =>
      Effect.succeed<MockResponse>(respondJson(
        { "content-type": "application/json", "x-request-id": "req_mock_defect" },
        500,
        json({
          error: {
            message: `The mock server failed: ${String(defect).slice(0, 300)}`,
            type: "server_error",
            param: null,
            code: null
          }
        }, true)
      ))
    )
  )


const faultOrOk = (u: unknown): u is Faults.FaultName | "ok" => u === "ok" || Faults.isFaultName(u)

const isHints = (u: unknown): u is ReadonlyArray<Faults.Hint> =>
  Array.isArray(u) && u.every((h) => Faults.hints.includes(h as Faults.Hint))

const OptionsSchema = Schema.Struct({
  rpm: O.optional(O.int(1)),
  tpm: O.optional(O.int(1)),
  scenario: O.optional(O.check(
    (u): u is ReadonlyArray<Faults.FaultName | "ok"> => Array.isArray(u) && u.every(faultOrOk),
    `a list of fault names or "ok" (faults: ${Faults.names.join(", ")})`
  )),
  faultRates: O.optional(O.check(
    (u): u is Partial<Record<Faults.FaultName, number>> =>
      typeof u === "object" && u !== null && !Array.isArray(u) &&
      Object.entries(u).every(([name, p]: [string, unknown]) =>
        Faults.isFaultName(name) && typeof p === "number" && p >= 0 && p <= 1
      ),
    `an object from fault names to probabilities from 0 to 1 (faults: ${Faults.names.join(", ")})`
  )),
  seed: O.optional(O.number(Number.NEGATIVE_INFINITY)),
  organization: O.optional(O.string),
  requireApiKey: O.optional(O.boolean),
  chunkDelay: O.optional(O.duration),
  slowHeadersDelay: O.optional(O.duration),
  retryAfter: O.optional(O.duration),
  hints: O.optional(O.check(
    (u): u is NonNullable<MockOptions["hints"]> =>
      isHints(u) ||
      (typeof u === "object" && u !== null && !Array.isArray(u) &&
        Object.entries(u).every(([key, value]: [string, unknown]) =>
          (key === "rate_limiter" || Faults.isFaultName(key)) && isHints(value)
        )),
    `a list of hints (${Faults.hints.join(", ")}), or an object from fault names (or "rate_limiter") to such lists`
  )),
  responsesErrorShape: O.optional(O.literal("nested", "flat")),
  shouldRetry: O.optional(O.boolean),
  models: O.optional(O.check(
    (u): u is ReadonlyArray<string> => Array.isArray(u) && u.every((m) => typeof m === "string"),
    "a list of model ids (strings)"
  )),
  maxLogEntries: O.optional(O.int(1))
})

/** @internal */
export const make = (input: MockOptions = {}): Effect.Effect<MockApiService, InvalidOptions> =>
  Effect.gen(function*() {
    const options: MockOptions = yield* O.validate("MockApi", OptionsSchema, input)
    const seed = options.seed ?? 0
    const organization = options.organization ?? "org-mock"
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

    // One atomic step: sequence number, attempt count and the next scenario step.
    const env: Env = { options, seed, organization, maxLog, state, entries, drawFault }
    return {
      handle: (request) => handle(env, request),
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
