/**
 * The implementation behind `Telemetry`: the metric definitions, the switch, and what one
 * resilient call records (its span, its attempts' spans, its metrics).
 *
 * Metric updates go straight to the metric's hook (`unsafeUpdate` on a metric built from a key that
 * already carries its labels): `Metric.tagged` rebuilds the label set and re-hashes the key on
 * every update, which is most of the cost of a metric on a hot path.
 * @internal
 */
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricKey from "effect/MetricKey"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import * as RetryBudget from "../RetryBudget.js"
import { bodyJson } from "../TokenEstimate.js"
import { parseCount } from "./headers.js"

// ---------------------------------------------------------------------------------------------
// The switch
// ---------------------------------------------------------------------------------------------

/** @internal */
export const currentMetricsEnabled: FiberRef.FiberRef<boolean> = globalValue(
  "effect-openai-resilience/Telemetry/currentMetricsEnabled",
  () => FiberRef.unsafeMake(true)
)

// Effect's default Tracer records nothing: with it, no span is worth building.
const defaultTracer = Effect.runSync(Effect.tracer)

// ---------------------------------------------------------------------------------------------
// The metric definitions
// ---------------------------------------------------------------------------------------------

// OpenTelemetry's advice for GenAI durations (seconds) and token counts.
const secondsBoundaries = MetricBoundaries.fromIterable([
  0.01,
  0.02,
  0.04,
  0.08,
  0.16,
  0.32,
  0.64,
  1.28,
  2.56,
  5.12,
  10.24,
  20.48,
  40.96,
  81.92
])
const tokenBoundaries = MetricBoundaries.exponential({ start: 1, factor: 4, count: 14 })
const ratioBoundaries = MetricBoundaries.fromIterable([0.25, 0.5, 0.75, 0.9, 1, 1.1, 1.25, 1.5, 2, 4])

const counterKey = (name: string, description: string) => MetricKey.counter(name, { description, incremental: true })
const gaugeKey = (name: string, description: string) => MetricKey.gauge(name, { description })

/** @internal */
export const keys = {
  operationDuration: MetricKey.histogram(
    "gen_ai.client.operation.duration",
    secondsBoundaries,
    "Duration of a logical call (all attempts and the waits between them), in seconds"
  ),
  tokenUsage: MetricKey.histogram(
    "gen_ai.client.token.usage",
    tokenBoundaries,
    "Tokens used by a call, from the response's usage, by gen_ai.token.type (input, output)"
  ),
  timeToFirstChunk: MetricKey.histogram(
    "gen_ai.client.operation.time_to_first_chunk",
    secondsBoundaries,
    "Time from the start of a streamed call to its first element, in seconds"
  ),
  calls: counterKey("openai_calls_total", "Logical calls, by operation, model, outcome and error_tag"),
  attempts: counterKey("openai_attempts_total", "Attempts sent to the server, by operation, model, outcome and error_tag"),
  attemptDuration: MetricKey.histogram(
    "openai_attempt_duration_seconds",
    secondsBoundaries,
    "Duration of one attempt (send, classify, consume), in seconds"
  ),
  retryDelay: MetricKey.histogram(
    "openai_retry_delay_seconds",
    secondsBoundaries,
    "The wait before a retry, by error_tag and source (a server hint's header, or backoff), in seconds"
  ),
  retryBudget: gaugeKey("openai_retry_budget_tokens", "Tokens left in the retry budget after a call"),
  limiterWait: MetricKey.histogram(
    "openai_limiter_wait_seconds",
    secondsBoundaries,
    "Time an attempt waited for the rate limiter's permit, in seconds"
  ),
  limiterQueued: gaugeKey("openai_limiter_queued", "Attempts waiting for a rate limiter permit now"),
  limiterDelayed: counterKey(
    "openai_limiter_delayed_total",
    "Attempts the rate limiter held back (a 429 avoided)"
  ),
  rateLimited: counterKey("openai_limiter_rate_limited_total", "Attempts paced by the limiter that still got a rate-limit 429"),
  tokenEstimate: MetricKey.histogram(
    "openai_limiter_token_estimate_ratio",
    ratioBoundaries,
    "Tokens the server counted (usage) over the limiter's estimate for the call"
  ),
  remainingRequests: gaugeKey(
    "openai_ratelimit_remaining_requests",
    "Requests left in the window, from the last x-ratelimit-remaining-requests header"
  ),
  remainingTokens: gaugeKey(
    "openai_ratelimit_remaining_tokens",
    "Tokens left in the window, from the last x-ratelimit-remaining-tokens header"
  ),
  breakerState: gaugeKey("openai_circuit_breaker_state", "A circuit breaker's state: 0 closed, 1 half-open, 2 open"),
  breakerTransitions: counterKey(
    "openai_circuit_breaker_transitions_total",
    "A circuit breaker's state changes, by breaker, from and to"
  ),
  bulkheadActive: gaugeKey("openai_bulkhead_active", "Calls running inside a bulkhead"),
  bulkheadQueued: gaugeKey("openai_bulkhead_queued", "Calls waiting for a bulkhead slot"),
  bulkheadRefused: counterKey("openai_bulkhead_refused_total", "Calls a full bulkhead refused (BulkheadFull)")
} as const

type AnyKey = (typeof keys)[keyof typeof keys]
type Series = Metric.Metric<unknown, number, unknown>


const seriesCache = new Map<string, Series>()

// One metric per (key, labels): built once, its hook cached by Effect.
const series = (key: AnyKey, labels: ReadonlyArray<readonly [string, string]>): Series => {
  let id = key.name
  for (const [k, v] of labels) id += `\u0000${k}\u0000${v}`
  let metric = seriesCache.get(id)
  if (metric === undefined) {
    const untyped: MetricKey.MetricKey.Untyped = key
    const tagged = MetricKey.taggedWithLabels(untyped, labels.map(([k, v]) => MetricLabel.make(k, v)))
    metric = Metric.fromMetricKey(tagged) as Series
    seriesCache.set(id, metric)
  }
  return metric
}

const labelsOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>) => fiber.getFiberRef(FiberRef.currentMetricLabels)

const enabled = (fiber: Fiber.RuntimeFiber<unknown, unknown>): boolean => fiber.getFiberRef(currentMetricsEnabled)

/** Runs `f` with the fiber when metrics are on. @internal */
export const whenEnabled = (f: (fiber: Fiber.RuntimeFiber<unknown, unknown>) => void): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => {
    if (enabled(fiber)) f(fiber)
    return Effect.void
  })

/** Runs `effect` only when metrics are on. @internal */
export const ifEnabled = (effect: Effect.Effect<void>): Effect.Effect<void> =>
  Effect.flatMap(FiberRef.get(currentMetricsEnabled), (on) => on ? effect : Effect.void)

// ---------------------------------------------------------------------------------------------
// Components outside a call: retries, the breaker, the bulkhead
// ---------------------------------------------------------------------------------------------

/** @internal */
export const retryDelay = (tag: string, source: string, millis: number): Effect.Effect<void> =>
  whenEnabled((fiber) => series(keys.retryDelay, [["error_tag", tag], ["source", source]]).unsafeUpdate(millis / 1000, labelsOf(fiber)))

const stateValue = (state: string): number => state === "Open" ? 2 : state === "HalfOpen" ? 1 : 0
const stateLabel = (state: string): string => state === "Open" ? "open" : state === "HalfOpen" ? "half_open" : "closed"

/** A breaker's state change. @internal */
export const breakerTransition = (breaker: string, from: string, to: string): Effect.Effect<void> =>
  whenEnabled((fiber) => {
    const tags = labelsOf(fiber)
    series(keys.breakerState, [["breaker", breaker]]).unsafeUpdate(stateValue(to), tags)
    series(keys.breakerTransitions, [["breaker", breaker], ["from", stateLabel(from)], ["to", stateLabel(to)]])
      .unsafeUpdate(1, tags)
  })

/**
 * A bulkhead's levels after a change, and its refusals. The gauges of one bulkhead are looked up
 * once, since levels are reported on every call. @internal
 */
export const bulkheadLevels = (name: string) => {
  const activeGauge = series(keys.bulkheadActive, [["bulkhead", name]])
  const queuedGauge = series(keys.bulkheadQueued, [["bulkhead", name]])
  return (fiber: Fiber.RuntimeFiber<unknown, unknown>, active: number, queued: number): void => {
    if (!enabled(fiber)) return
    const tags = labelsOf(fiber)
    activeGauge.unsafeUpdate(active, tags)
    queuedGauge.unsafeUpdate(queued, tags)
  }
}

/** @internal */
export const bulkheadRefused = (fiber: Fiber.RuntimeFiber<unknown, unknown>, name: string): void => {
  if (enabled(fiber)) series(keys.bulkheadRefused, [["bulkhead", name]]).unsafeUpdate(1, labelsOf(fiber))
}

// ---------------------------------------------------------------------------------------------
// What a call is and what came back
// ---------------------------------------------------------------------------------------------

/**
 * What the client knows about a call that the request does not say: whether it streams, and how
 * to read the model, usage and finish reasons off its result.
 * @internal
 */
export interface Annotate<A> {
  readonly stream?: boolean | undefined
  readonly response?: ((a: A) => ResponseInfo) | undefined
}

/** @internal */
export interface ResponseInfo {
  readonly model?: string | undefined
  readonly inputTokens?: number | undefined
  readonly outputTokens?: number | undefined
  readonly finishReasons?: ReadonlyArray<string> | undefined
  /** The headers of the response the result came from: their rate-limit levels are recorded. */
  readonly headers?: Readonly<Record<string, string | undefined>> | undefined
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

const count = (u: unknown): number | undefined => typeof u === "number" && Number.isFinite(u) && u >= 0 ? u : undefined

// A label or attribute value the server or caller chose: bounded in length, so a hostile value
// cannot grow a series name without end.
const bounded = (s: string): string => s.length > 64 ? s.slice(0, 64) : s

/**
 * Reads model, usage and finish reasons off any decoded body of the API (a chat completion, a
 * Responses API response, embeddings, a stream chunk or event): the shapes share these names.
 * @internal
 */
export const responseInfo = (data: unknown): ResponseInfo => {
  if (!isRecord(data)) return {}
  const response = isRecord(data.response) ? data.response : data
  const usage = isRecord(response.usage) ? response.usage : undefined
  const reasons: Array<string> = []
  if (Array.isArray(response.choices)) {
    for (const choice of response.choices) {
      if (isRecord(choice) && typeof choice.finish_reason === "string") reasons.push(bounded(choice.finish_reason))
    }
  } else if (typeof response.status === "string" && response.object === "response") {
    reasons.push(bounded(response.status))
  }
  return {
    model: typeof response.model === "string" ? bounded(response.model) : undefined,
    inputTokens: usage === undefined ? undefined : count(usage.prompt_tokens) ?? count(usage.input_tokens),
    outputTokens: usage === undefined ? undefined : count(usage.completion_tokens) ?? count(usage.output_tokens),
    finishReasons: reasons.length === 0 ? undefined : reasons
  }
}

/** @internal */
export interface CallInfo {
  readonly operation: string
  readonly model: string
  readonly deployment: string | undefined
}

const pathOf = (url: string): string => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}

// The GenAI operation name (OpenTelemetry's values where one fits), from the path: a fixed set.
const operationOf = (path: string): string => {
  if (path.endsWith("/chat/completions")) return "chat"
  if (path.endsWith("/embeddings")) return "embeddings"
  if (path.includes("/responses")) return "responses"
  if (path.endsWith("/completions")) return "text_completion"
  if (path.includes("/models")) return "models"
  return "other"
}

const deploymentPattern = /\/deployments\/([^/]+)\//

const modelOf = (json: unknown): string | undefined =>
  isRecord(json) && typeof json.model === "string" ? json.model : undefined

/** @internal */
export const callInfo = (request: HttpClientRequest.HttpClientRequest, body: unknown): CallInfo => {
  const path = pathOf(request.url)
  const operation = operationOf(path)
  const deployment = deploymentPattern.exec(path)?.[1]
  // The model asked for: from the body the client (or the stack) parsed already, else from a JSON
  // POST's body, else the Azure deployment.
  const json = body !== undefined || request.method !== "POST" ? body : bodyJson(request)
  const model = modelOf(json) ?? deployment
  return {
    operation,
    model: model === undefined || model.length === 0 ? "unknown" : bounded(model),
    deployment: deployment === undefined ? undefined : bounded(decodeURIComponent(deployment))
  }
}

// ---------------------------------------------------------------------------------------------
// One call
// ---------------------------------------------------------------------------------------------

type Failure = { readonly _tag: string }

/**
 * The hooks a call's layers report through. Absent when neither metrics nor spans are wanted, so
 * a call with both off pays for one check.
 * @internal
 */
export interface Probe {
  /** One attempt sent to the server: counted, timed, and a span beneath the call's. */
  readonly attempt: <A, E extends Failure, R>(n: number, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** A response arrived: its rate-limit headers say what is left. */
  readonly response: (response: HttpClientResponse.HttpClientResponse) => void
  /** Around the limiter's acquire: +1 before, -1 after. */
  readonly queued: (delta: number) => void
  /** A permit was granted after waiting this long. */
  readonly permit: (waitedMillis: number) => void
  /** A paced attempt got a rate-limit 429 anyway. */
  readonly rateLimited: () => void
}

const providerName = "openai"

type Labels = ReadonlyArray<readonly [string, string]>

/**
 * The series of one (operation, model, deployment): label sets built once, each metric looked up
 * by a short constant slot name, so a call's dozen updates cost a dozen map lookups.
 */
class CallSeries {
  readonly info: CallInfo
  readonly base: Labels
  readonly model: Labels
  readonly genAi: Labels
  private readonly slots = new Map<string, Series>()
  constructor(info: CallInfo) {
    this.info = info
    this.base = info.deployment === undefined
      ? [["operation", info.operation], ["model", info.model]]
      : [["operation", info.operation], ["model", info.model], ["deployment", info.deployment]]
    this.model = this.base.slice(1)
    this.genAi = [
      ["gen_ai.operation.name", info.operation],
      ["gen_ai.provider.name", providerName],
      ["gen_ai.request.model", info.model]
    ]
  }
  get(slot: string, key: AnyKey, labels: () => Labels): Series {
    let metric = this.slots.get(slot)
    if (metric === undefined) {
      metric = series(key, labels())
      this.slots.set(slot, metric)
    }
    return metric
  }
  // Outcome labels: `success`, or `failure` with the error's tag (a bounded set).
  outcome(slot: string, key: AnyKey, tag: string | undefined): Series {
    return tag === undefined
      ? this.get(`${slot}:ok`, key, () => [...this.base, ["outcome", "success"]])
      : this.get(`${slot}:${tag}`, key, () => [...this.base, ["outcome", "failure"], ["error_tag", tag]])
  }
}

const callSeriesCache = new Map<string, CallSeries>()

const callSeriesOf = (info: CallInfo): CallSeries => {
  const id = `${info.operation}\u0000${info.model}\u0000${info.deployment ?? ""}`
  let found = callSeriesCache.get(id)
  if (found === undefined) {
    found = new CallSeries(info)
    callSeriesCache.set(id, found)
  }
  return found
}

// A client calls a handful of paths with a handful of models: the series of each pair is found with
// two map lookups, without reading the path again. Bounded, so odd URLs cannot grow it without end.
const byUrl = new Map<string, Map<string, CallSeries>>()
const MAX_CACHED = 1024

const seriesOfRequest = (request: HttpClientRequest.HttpClientRequest, body: unknown): CallSeries => {
  const model = modelOf(body)
  if (model === undefined) return callSeriesOf(callInfo(request, body))
  const byModel = byUrl.get(request.url)
  const found = byModel?.get(model)
  if (found !== undefined) return found
  const series = callSeriesOf(callInfo(request, body))
  if (byModel !== undefined) {
    if (byModel.size < MAX_CACHED) byModel.set(model, series)
  } else if (byUrl.size < MAX_CACHED) byUrl.set(request.url, new Map([[model, series]]))
  return series
}

/**
 * One call's telemetry: the probe its layers report through, and what it records when it ends. A
 * class, so that a call allocates one object rather than a closure per hook.
 */
/** @internal */
export class Call<A> implements Probe {
  readonly info: CallInfo
  readonly series: CallSeries
  readonly clock: Clock.Clock
  readonly tags: ReadonlyArray<MetricLabel.MetricLabel>
  readonly start: number
  // The client reads the rate-limit headers off its result already; a bare call reads them here.
  readonly readHeaders: boolean
  constructor(
    readonly fiber: Fiber.RuntimeFiber<unknown, unknown>,
    request: HttpClientRequest.HttpClientRequest,
    body: unknown,
    readonly annotate: Annotate<A> | undefined,
    readonly estimatedTokens: number,
    readonly metrics: boolean,
    readonly tracing: boolean
  ) {
    this.series = seriesOfRequest(request, body)
    this.info = this.series.info
    this.clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
    this.tags = fiber.getFiberRef(FiberRef.currentMetricLabels)
    this.start = this.clock.unsafeCurrentTimeMillis()
    this.readHeaders = metrics && annotate?.response === undefined
  }

  update(metric: Series, value: number): void {
    if (this.metrics) metric.unsafeUpdate(value, this.tags)
  }

  attempt<B, E2 extends Failure, R2>(n: number, effect: Effect.Effect<B, E2, R2>): Effect.Effect<B, E2, R2> {
    const measured = this.metrics ? this.measure(effect) : effect
    if (!this.tracing) return measured
    return Effect.useSpan("openai.attempt", {
      kind: "client",
      // A stack trace per span is an Error built per call, for a frame inside this library.
      captureStackTrace: false,
      attributes: { "openai.attempt": n, "gen_ai.operation.name": this.info.operation, "gen_ai.request.model": this.info.model }
    }, (span) =>
      Effect.withParentSpan(
        Effect.onExit(measured, (exit) => Effect.sync(() => errorAttributes(span, exit))),
        span
      ))
  }

  // Called as the attempt starts (after the limiter's wait). A match rather than `onExit`: an attempt
  // is cut short only with its whole call, which is counted, and the match costs no mask.
  measure<B, E2 extends Failure, R2>(effect: Effect.Effect<B, E2, R2>): Effect.Effect<B, E2, R2> {
    const start = this.clock.unsafeCurrentTimeMillis()
    return Effect.matchCauseEffect(effect, {
      onFailure: (cause) => {
        this.attempted(Option.getOrUndefined(Cause.failureOption(cause))?._tag ?? "Defect", start)
        return Effect.failCause(cause)
      },
      onSuccess: (value) => {
        this.attempted(undefined, start)
        return Effect.succeed(value)
      }
    })
  }

  attempted(tag: string | undefined, start: number): void {
    this.update(this.series.outcome("attempts", keys.attempts, tag), 1)
    this.update(
      this.series.outcome("attempt.duration", keys.attemptDuration, tag),
      (this.clock.unsafeCurrentTimeMillis() - start) / 1000
    )
  }

  // Only the two levels recorded are read off the headers, not every rate-limit header.
  remaining(headers: Readonly<Record<string, string | undefined>>): void {
    const requests = parseCount(headers["x-ratelimit-remaining-requests"])
    const tokens = parseCount(headers["x-ratelimit-remaining-tokens"])
    const s = this.series
    if (requests !== undefined) this.update(s.get("remaining.requests", keys.remainingRequests, () => s.model), requests)
    if (tokens !== undefined) this.update(s.get("remaining.tokens", keys.remainingTokens, () => s.model), tokens)
  }

  response(response: HttpClientResponse.HttpClientResponse): void {
    if (this.readHeaders) this.remaining(response.headers)
  }

  queued(delta: number): void {
    const s = this.series
    if (this.metrics) s.get("limiter.queued", keys.limiterQueued, () => s.model).unsafeModify(delta, this.tags)
  }

  permit(waitedMillis: number): void {
    const s = this.series
    this.update(s.get("limiter.wait", keys.limiterWait, () => s.model), waitedMillis / 1000)
    if (waitedMillis > 0) this.update(s.get("limiter.delayed", keys.limiterDelayed, () => s.model), 1)
  }

  rateLimited(): void {
    const s = this.series
    this.update(s.get("limiter.429", keys.rateLimited, () => s.model), 1)
  }

  finish(exit: Exit.Exit<A, Failure>, span: Tracer.Span | undefined): Effect.Effect<void> {
    const s = this.series
    const elapsed = (this.clock.unsafeCurrentTimeMillis() - this.start) / 1000
    const failure = failureTag(exit)
    this.update(s.outcome("calls", keys.calls, failure), 1)
    this.update(
      failure === undefined
        ? s.get("duration", keys.operationDuration, () => s.genAi)
        : s.get(`duration:${failure}`, keys.operationDuration, () => [...s.genAi, ["error.type", failure]]),
      elapsed
    )
    const describe = this.annotate?.response
    const result = Exit.isSuccess(exit) && describe !== undefined ? describe(exit.value) : undefined
    if (result !== undefined) {
      if (this.metrics) {
        this.usage(result, this.annotate?.stream === true ? elapsed : undefined)
        if (result.headers !== undefined) this.remaining(result.headers)
      }
      if (span !== undefined) responseAttributes(span, result)
    }
    if (span !== undefined) errorAttributes(span, exit)
    if (!this.metrics) return Effect.void
    // The budget's level after the call (its retries spent, its success earned back).
    const budget = Context.getOption(this.fiber.currentContext, RetryBudget.RetryBudget)
    return Option.isNone(budget)
      ? Effect.void
      : Effect.map(budget.value.tokens, (tokens) => this.update(series(keys.retryBudget, []), tokens))
  }

  /** Runs `effect` (the whole call) in the call's span, and ends the call inside it. */
  traced<E extends Failure, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    const { info } = this
    return Effect.useSpan(`${info.operation} ${info.model}`, {
      kind: "client",
      captureStackTrace: false,
      attributes: {
        "gen_ai.operation.name": info.operation,
        "gen_ai.provider.name": providerName,
        "gen_ai.request.model": info.model,
        ...(info.deployment === undefined ? {} : { "openai.deployment": info.deployment })
      }
    }, (span) => Effect.withParentSpan(Effect.onExit(effect, (exit) => this.finish(exit, span)), span))
  }

  // What a successful call's result says: tokens used, time to its first chunk, the estimate's error.
  usage(result: ResponseInfo, firstChunkSeconds: number | undefined): void {
    const s = this.series
    if (firstChunkSeconds !== undefined) this.update(s.get("ttfc", keys.timeToFirstChunk, () => s.genAi), firstChunkSeconds)
    if (result.inputTokens !== undefined) {
      this.update(s.get("tokens.input", keys.tokenUsage, () => [...s.genAi, ["gen_ai.token.type", "input"]]), result.inputTokens)
    }
    if (result.outputTokens !== undefined) {
      this.update(
        s.get("tokens.output", keys.tokenUsage, () => [...s.genAi, ["gen_ai.token.type", "output"]]),
        result.outputTokens
      )
    }
    const used = (result.inputTokens ?? 0) + (result.outputTokens ?? 0)
    if (this.estimatedTokens > 0 && used > 0) {
      this.update(s.get("estimate", keys.tokenEstimate, () => s.model), used / this.estimatedTokens)
    }
  }
}

/**
 * The telemetry of one call starting on `fiber`: the probe its layers report through, or
 * `undefined` when metrics are off and no tracer records spans (a call then pays for one check).
 * Without a tracer the caller ends it with {@link Call.finish}; with one, {@link Call.traced}
 * runs the call in its span and ends it there.
 * @internal
 */
export const begin = <A>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  request: HttpClientRequest.HttpClientRequest,
  body: unknown,
  annotate: Annotate<A> | undefined,
  estimatedTokens: number
): Call<A> | undefined => {
  const metrics = enabled(fiber)
  const tracing = fiber.currentTracer !== defaultTracer
  return metrics || tracing ? new Call(fiber, request, body, annotate, estimatedTokens, metrics, tracing) : undefined
}

const responseAttributes = (span: Tracer.Span, result: ResponseInfo): void => {
  if (result.model !== undefined) span.attribute("gen_ai.response.model", result.model)
  if (result.inputTokens !== undefined) span.attribute("gen_ai.usage.input_tokens", result.inputTokens)
  if (result.outputTokens !== undefined) span.attribute("gen_ai.usage.output_tokens", result.outputTokens)
  if (result.finishReasons !== undefined) span.attribute("gen_ai.response.finish_reasons", result.finishReasons)
}

const failureTag = (exit: Exit.Exit<unknown, Failure>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const failure = exit.cause._tag === "Fail" ? exit.cause.error : Option.getOrUndefined(failureOfCause(exit))
  return failure === undefined ? (Exit.isInterrupted(exit) ? "Interrupted" : "Defect") : failure._tag
}

const failureOfCause = (exit: Exit.Failure<unknown, Failure>): Option.Option<Failure> => {
  // A failure beside other causes (a finalizer's, a parallel one): the first typed one counts.
  let found: Failure | undefined
  const visit = (cause: typeof exit.cause): void => {
    if (found !== undefined) return
    if (cause._tag === "Fail") found = cause.error
    else if (cause._tag === "Sequential" || cause._tag === "Parallel") {
      visit(cause.left)
      visit(cause.right)
    }
  }
  visit(exit.cause)
  return Option.fromNullable(found)
}

const errorAttributes = (span: Tracer.Span, exit: Exit.Exit<unknown, Failure>): void => {
  const tag = failureTag(exit)
  if (tag !== undefined) {
    span.attribute("error.type", tag)
    span.attribute("openai.error_tag", tag)
  }
}
