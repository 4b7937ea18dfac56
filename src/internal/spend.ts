import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type * as Spend from "../Spend.js"
import * as Models from "./models.js"

/** @internal */
export const prices: Readonly<Record<string, Spend.Price>> = {
  "gpt-5": { input: 1.25, cachedInput: 0.125, output: 10 },
  "gpt-5-mini": { input: 0.25, cachedInput: 0.025, output: 2 },
  "gpt-5-nano": { input: 0.05, cachedInput: 0.005, output: 0.4 },
  "gpt-4.1": { input: 2, cachedInput: 0.5, output: 8 },
  "gpt-4.1-mini": { input: 0.4, cachedInput: 0.1, output: 1.6 },
  "gpt-4.1-nano": { input: 0.1, cachedInput: 0.025, output: 0.4 },
  "gpt-4o": { input: 2.5, cachedInput: 1.25, output: 10 },
  "gpt-4o-mini": { input: 0.15, cachedInput: 0.075, output: 0.6 },
  "o1": { input: 15, cachedInput: 7.5, output: 60 },
  "o3": { input: 2, cachedInput: 0.5, output: 8 },
  "o3-mini": { input: 1.1, cachedInput: 0.55, output: 4.4 },
  "o4-mini": { input: 1.1, cachedInput: 0.275, output: 4.4 },
  "gpt-4-turbo": { input: 10, output: 30 },
  "gpt-4": { input: 30, output: 60 },
  "gpt-3.5-turbo": { input: 0.5, output: 1.5 },
  "text-embedding-3-small": { input: 0.02, output: 0 },
  "text-embedding-3-large": { input: 0.13, output: 0 },
  "text-embedding-ada-002": { input: 0.1, output: 0 }
}

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const tokens = (u: unknown): number | undefined =>
  typeof u === "number" && Number.isFinite(u) && u >= 0 ? u : undefined

const isPrice = (p: unknown): p is Spend.Price =>
  isRecord(p) && tokens(p.input) !== undefined && tokens(p.output) !== undefined &&
  (p.cachedInput === undefined || tokens(p.cachedInput) !== undefined)

/** @internal */
export const costOf = (
  model: string,
  usage: unknown,
  overrides?: Readonly<Record<string, Spend.Price>> | undefined
): Option.Option<number> => {
  const price = Models.lookup(overrides === undefined ? prices : { ...prices, ...overrides }, model)
  if (!isPrice(price) || !isRecord(usage)) return Option.none()
  // Chat and embeddings say prompt/completion, the Responses API input/output.
  const input = tokens(usage.prompt_tokens) ?? tokens(usage.input_tokens) ?? 0
  const output = tokens(usage.completion_tokens) ?? tokens(usage.output_tokens) ?? 0
  const details = isRecord(usage.prompt_tokens_details)
    ? usage.prompt_tokens_details
    : isRecord(usage.input_tokens_details)
    ? usage.input_tokens_details
    : {}
  const cached = Math.min(input, tokens(details.cached_tokens) ?? 0)
  const perMillion = (input - cached) * price.input + cached * (price.cachedInput ?? price.input) + output * price.output
  return Option.some(perMillion / 1_000_000)
}

/** @internal */
export const spentTotal = Metric.counter("openai_spend_usd_total", {
  description: "Spend in US dollars computed from responses' usage and the price table, tagged by model",
  incremental: true
})

// One tagged counter per model: building one per response shows up under load.
const byModel = new Map<string, Metric.Metric.Counter<number>>()
const counterFor = (model: string): Metric.Metric.Counter<number> => {
  let counter = byModel.get(model)
  if (counter === undefined) {
    counter = Metric.tagged(spentTotal, "model", model)
    byModel.set(model, counter)
  }
  return counter
}

/**
 * The period's spend reached the configured limit; `retryAfter` is the time until the period
 * ends. No request was sent.
 * @internal
 */
export class SpendLimitReached extends Data.TaggedError("SpendLimitReached")<{
  readonly limit: number
  readonly spent: number
  readonly period: Duration.Duration
  readonly retryAfter: Duration.Duration
}> {
  override get message(): string {
    return `Spend limit reached: $${this.spent.toFixed(4)} of $${this.limit} in this period of ${
      Duration.format(this.period)
    }; it resets in ${Duration.format(this.retryAfter)}`
  }
}

interface Window {
  readonly start: number
  readonly spent: number
}

const DAY = 86_400_000

const periodOf = (input: Duration.DurationInput | undefined): number =>
  Option.match(Duration.decodeUnknown(input ?? DAY), {
    onNone: () => DAY,
    onSome: (d) => {
      const ms = Duration.toMillis(d)
      return Number.isFinite(ms) && ms > 0 ? ms : DAY
    }
  })

/** @internal */
export const make = (options: Spend.Options = {}): Effect.Effect<Spend.Service> =>
  Effect.map(Ref.make<Window>({ start: 0, spent: 0 }), (ref): Spend.Service => {
    const limit = tokens(options.limit)
    const periodMillis = periodOf(options.period)
    // Fixed windows aligned on the epoch: "1 day" resets at midnight UTC, as a billing day does.
    const roll = (w: Window, now: number): Window => {
      const start = Math.floor(now / periodMillis) * periodMillis
      return w.start === start ? w : { start, spent: 0 }
    }
    const current = Effect.flatMap(
      Clock.currentTimeMillis,
      (now) => Ref.modify(ref, (w) => {
        const next = roll(w, now)
        return [[next, now] as const, next]
      })
    )
    const spent = Effect.map(current, ([w]) => w.spent)
    const check: Effect.Effect<void, SpendLimitReached> = limit === undefined
      ? Effect.void
      : Effect.flatMap(current, ([w, now]) =>
        w.spent < limit ? Effect.void : Effect.fail(
          new SpendLimitReached({
            limit,
            spent: w.spent,
            period: Duration.millis(periodMillis),
            retryAfter: Duration.millis(w.start + periodMillis - now)
          })
        ))
    const record = (model: string, usage: unknown): Effect.Effect<number> =>
      Option.match(costOf(model, usage, options.prices), {
        onNone: () => Effect.succeed(0),
        onSome: (cost) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Effect.zipRight(
              Ref.update(ref, (w) => {
                const rolled = roll(w, now)
                return { start: rolled.start, spent: rolled.spent + cost }
              }),
              Effect.as(Metric.incrementBy(counterFor(model), cost), cost)
            ))
      })
    return { check, record, spent }
  })

const isJson = (response: HttpClientResponse.HttpClientResponse): boolean =>
  (response.headers["content-type"] ?? "").includes("json")

/** @internal */
export const middleware = (service: Spend.Service) =>
<E, R>(client: HttpClient.HttpClient.With<E, R>): HttpClient.HttpClient.With<E | SpendLimitReached, R> =>
  HttpClient.transform(client, (effect) =>
    Effect.zipRight(
      service.check,
      Effect.tap(effect, (response) =>
        // Only a whole JSON body carries its usage; a stream's comes in its last event.
        response.status >= 200 && response.status < 300 && isJson(response)
          ? Effect.flatMap(
            Effect.option(response.json),
            Option.match({
              onNone: () => Effect.void,
              onSome: (body) =>
                isRecord(body) && typeof body.model === "string" ? service.record(body.model, body.usage) : Effect.void
            })
          )
          : Effect.void)
    ))
