/**
 * The mock OpenAI API itself, without any sockets: an Effect function from a plain request
 * description to a plain response description, with its state (rate limits, "fail N times"
 * counters, the request log) in a `Ref` and its time read from Effect's `Clock`, so the same
 * mock runs under `TestClock`.
 *
 * {@link MockServer} serves it over real HTTP; {@link MockHttpClient} serves it as an
 * in-memory `HttpClient`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type { InvalidOptions } from "../InvalidOptions.js"
import type * as Faults from "./Faults.js"
import * as E from "./internal/content.js"
import * as internal from "./internal/mockApi.js"

/**
 * A request as the mock sees it: method, path (with an optional query), headers with lower-case
 * names, and the raw body.
 *
 * @since 0.1.0
 * @category models
 */
export interface MockRequest {
  readonly method: string
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
}

/**
 * One piece of a streamed body, sent after `delay`.
 *
 * @since 0.1.0
 * @category models
 */
export interface MockChunk {
  readonly delay: Duration.Duration
  readonly bytes: Uint8Array
}

/**
 * A response body: all at once, or as chunks with delays that either complete or are cut (the
 * connection closes before the end: `stream_cut`).
 *
 * @since 0.1.0
 * @category models
 */
export type MockBody =
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array }
  | { readonly _tag: "Chunks"; readonly chunks: ReadonlyArray<MockChunk>; readonly ending: "complete" | "cut" }

/**
 * What the mock answers: a response, or "reset the connection" (no response at all).
 *
 * @since 0.1.0
 * @category models
 */
export type MockResponse =
  | {
    readonly _tag: "Respond"
    readonly status: number
    readonly headers: Readonly<Record<string, string>>
    readonly body: MockBody
  }
  | { readonly _tag: "ResetConnection" }

/**
 * One request the mock has served, for assertions. `headers` are what the client sent, with
 * credentials (`authorization`, `api-key`, cookies) replaced by `<redacted>`.
 *
 * @since 0.1.0
 * @category models
 */
export interface LogEntry {
  /** 1, 2, 3... in arrival order. */
  readonly sequence: number
  readonly requestId: string
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  /** The logical request: `idempotency-key`, else `x-mock-key`, else method + path + body. */
  readonly key: string
  /** How many times this logical request has arrived, this one included. */
  readonly attempt: number
  /** The fault served, if any. */
  readonly fault: Option.Option<Faults.FaultName>
  /** The status sent; `None` for a reset connection. */
  readonly status: Option.Option<number>
  /** `Some("requests" | "tokens")` when the rate limiter refused it. */
  readonly rateLimited: Option.Option<"requests" | "tokens">
  /** `Clock` time of arrival, epoch milliseconds. */
  readonly at: number
}

/**
 * How the mock behaves. Everything is optional.
 *
 * @since 0.1.0
 * @category models
 */
export interface MockOptions {
  /** Requests per minute per API key (default 10 000). */
  readonly rpm?: number | undefined
  /** Tokens per minute per API key (default 2 000 000). */
  readonly tpm?: number | undefined
  /** Faults served to successive requests, one each (`"ok"` for none); later requests are normal. */
  readonly scenario?: ReadonlyArray<Faults.FaultName | "ok"> | undefined
  /** Probability per request of each fault, drawn from a generator seeded with `seed`. */
  readonly faultRates?: Partial<Record<Faults.FaultName, number>> | undefined
  /** Seed for the fault draws and the ids (default 0). */
  readonly seed?: number | undefined
  /** Organization named in messages and `openai-organization` (default `org-mock`). */
  readonly organization?: string | undefined
  /** Answer 401 to requests without a bearer token (default false). */
  readonly requireApiKey?: boolean | undefined
  /** Delay between SSE events (default 0). Header `x-mock-chunk-delay-ms` overrides. */
  readonly chunkDelay?: Duration.DurationInput | undefined
  /** How long `slow_headers` holds the headers (default 30 s). Header `x-mock-delay-ms` overrides. */
  readonly slowHeadersDelay?: Duration.DurationInput | undefined
  /** The delay rate-limit faults ask for (default 1 s). Header `x-mock-retry-after-ms` overrides. */
  readonly retryAfter?: Duration.DurationInput | undefined
  /**
   * Which delay hints the faults carry, for every fault (a list) or per fault (a record; the key
   * `rate_limiter` is the stateful limiter's 429). `[]` sends none. Default: what the real API
   * sends for each fault (`Faults.descriptions[name].hints`; the limiter sends all three). The
   * header `x-mock-hints: retry-after,retry-after-ms,x-ratelimit` (or `none`) overrides.
   */
  readonly hints?:
    | ReadonlyArray<Faults.Hint>
    | Partial<Record<Faults.FaultName | "rate_limiter", ReadonlyArray<Faults.Hint>>>
    | undefined
  /**
   * The shape of the Responses API's mid-stream `error` event: `"nested"` as real traffic sends
   * it (`{"type": "error", "error": {...}}`, the default) or `"flat"` as the spec documents it.
   * Header `x-mock-error-shape` overrides.
   */
  readonly responsesErrorShape?: "nested" | "flat" | undefined
  /** Send `x-should-retry` with every fault. Header `x-mock-should-retry` overrides. */
  readonly shouldRetry?: boolean | undefined
  /** Model ids listed by `/v1/models` (default a few current ones). */
  readonly models?: ReadonlyArray<string> | undefined
  /** How many log entries to keep at least (default 10 000; the oldest go first, in batches of 1 000). */
  readonly maxLogEntries?: number | undefined
}

/**
 * The mock's interface.
 *
 * @since 0.1.0
 * @category models
 */
export interface MockApiService {
  /** Serves one request. Never fails: bad input gets a 400 in the API's error shape. */
  readonly handle: (request: MockRequest) => Effect.Effect<MockResponse>
  /** Every request served so far, oldest first. */
  readonly log: Effect.Effect<ReadonlyArray<LogEntry>>
  /** Forgets the log, the attempt counters and the rate-limit state; restarts the scenario. */
  readonly reset: Effect.Effect<void>
}

/**
 * The mock as a service, so a test can read its log.
 *
 * @example
 * ```ts
 * import { MockApi } from "effect-openai-resilience/testing"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const mock = yield* MockApi.MockApi
 *   const log = yield* mock.log
 *   return log.length
 * }).pipe(Effect.provide(MockApi.layer()))
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class MockApi extends Context.Tag("effect-openai-resilience/testing/MockApi")<MockApi, MockApiService>() {}

/**
 * Builds the mock with fresh state.
 *
 * @example
 * ```ts
 * import { MockApi } from "effect-openai-resilience/testing"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const mock = yield* MockApi.make({ rpm: 60 })
 *   const res = yield* mock.handle({ method: "GET", url: "/v1/models", headers: {}, body: new Uint8Array() })
 *   return res._tag === "Respond" ? res.status : 0 // 200
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: MockOptions) => Effect.Effect<MockApiService, InvalidOptions> = internal.make

/**
 * The mock as a layer, with fresh state.
 *
 * @example
 * ```ts
 * import { MockApi } from "effect-openai-resilience/testing"
 *
 * const MockLive = MockApi.layer({ rpm: 3, scenario: ["server_error"] })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: MockOptions = {}): Layer.Layer<MockApi, InvalidOptions> => Layer.effect(MockApi, make(options))

/**
 * The token estimate the mock uses, for tests that assert on `usage` or on the tokens limit:
 * per message `ceil(chars / 4) + 4`, plus 3; a reply `ceil(chars / 4)` (at least 1); an
 * embedding input `ceil(chars / 4)`. A request counts its prompt plus `max_tokens` (or
 * `max_completion_tokens` / `max_output_tokens`) when given, else its reply, against the
 * tokens-per-minute limit.
 *
 * @example
 * ```ts
 * import { MockApi } from "effect-openai-resilience/testing"
 *
 * console.log(MockApi.estimateTokens("/v1/chat/completions", {
 *   model: "gpt-4o-mini", messages: [{ role: "user", content: "Hello!" }]
 * })) // 3 + (4 + 2) + 2 = 11
 * ```
 *
 * @since 0.1.0
 * @category token estimate
 */
export const estimateTokens = (path: string, body: Readonly<Record<string, unknown>>): number =>
  E.requestedTokens(path, body)
