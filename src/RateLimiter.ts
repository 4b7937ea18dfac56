/**
 * Stay inside the rate limits instead of bouncing off them: pace requests on both of OpenAI's
 * dimensions at once, requests per minute and tokens per minute, per API key and model.
 *
 * - Tokens are estimated before sending ({@link TokenEstimate}: prompt characters / 4 plus
 *   `max_tokens`, as the service counts them), then corrected by the
 *   `x-ratelimit-remaining-requests` / `-tokens` headers of every response.
 * - The limits are learned from `x-ratelimit-limit-*` (no configuration needed; until the first
 *   response, one request goes alone to learn them) or fixed by the options.
 * - After a 429 the key pauses until the server's hint, so the requests waiting behind it do not
 *   all hit the wall too.
 * - A request whose estimate alone exceeds the tokens limit fails at once with
 *   `OpenAiError.RequestTooLarge`, unsent and uncharged: waiting could never make it fit.
 * - Each limit is a bucket refilling continuously at `limit` per minute, the model OpenAI
 *   describes; waiting requests queue first-in first-out per key.
 *
 * The state lives behind {@link RateLimiterStore}, whose operations are the limiter's own
 * (reserve, release, pause, adjust, snapshot): in memory by default, or shared by every process
 * of an organisation in Redis (`effect-openai-resilience/redis`), where each operation is one Lua
 * script and one round trip. The design follows `@effect/experimental/RateLimiter` (a service
 * over a store, swappable store layers), whose store cannot be reused: it has no operation to
 * re-base a bucket on the server's headers, learn limits or calibrate estimates.
 *
 * @since 0.1.0
 */
import type * as Headers from "@effect/platform/Headers"
import type * as HttpClientType from "@effect/platform/HttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import { globalValue } from "effect/GlobalValue"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as internal from "./internal/rateLimiter.js"
import * as service from "./internal/rateLimiterService.js"
import { sha256Hex } from "./internal/sha256.js"
import type { InvalidOptions } from "./InvalidOptions.js"
import * as OpenAiError from "./OpenAiError.js"
import * as RateLimitHeaders from "./RateLimitHeaders.js"
import * as RetryAfter from "./RetryAfter.js"
import * as TokenEstimate from "./TokenEstimate.js"

// ---------------------------------------------------------------------------------------------
// store
// ---------------------------------------------------------------------------------------------

/**
 * One key's state: the limits (per minute) and, per dimension, the clock time (epoch millis) at
 * which its bucket is full again; the end of a pause after a 429; the learned token scale; the
 * counters that tell a response's headers from stale ones. Plain data, so that a shared store
 * can serialise it.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { Effect, Option } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* RateLimiter.makeStoreMemory
 *   const state: Option.Option<RateLimiter.KeyState> = yield* store.snapshot("team-a:gpt-4o-mini")
 *   return Option.map(state, (s) => s.pausedUntil)
 * })
 * ```
 *
 * @since 0.1.0
 * @category store
 */
export interface KeyState extends internal.KeyState {}

/**
 * What a store's {@link Store.reserve} is asked: the clock time, the request's estimated tokens
 * (a finite integer, before the learned scale), the limits the options fix, `burst`, `headroom`
 * and how long a probe holds a key whose limits are unknown.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 *
 * const input: RateLimiter.ReserveInput = {
 *   now: 0,
 *   tokens: 1200,
 *   fixed: { requests: 500, tokens: 30_000 },
 *   burst: 1,
 *   headroom: 0,
 *   probeLease: 30_000,
 *   skew: 0
 * }
 * ```
 *
 * @since 0.1.0
 * @category store
 */
export interface ReserveInput extends internal.ReserveInput {}

/**
 * A store's answer to {@link Store.reserve}: granted (with what was charged and the key's
 * counters), wait (so many milliseconds: the instant to try again), or too large to ever fit.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 *
 * const describe = (r: RateLimiter.Reservation): string =>
 *   r._tag === "Granted" ? "go" : r._tag === "Wait" ? `wait ${r.millis} ms` : `never fits ${r.limit}`
 * ```
 *
 * @since 0.1.0
 * @category store
 */
export type Reservation = internal.Reservation

/**
 * What a store's {@link Store.release} is told about one permit: its counters, the response's
 * rate-limit headers, a pause after a 429, the server's count of a request's tokens.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 *
 * const input: RateLimiter.ReleaseInput = {
 *   now: 1_000,
 *   fixed: { requests: 500, tokens: 30_000 },
 *   sentAt: 0,
 *   seq: 1,
 *   tokensThrough: 1200,
 *   tokens: 1200,
 *   charged: 1200,
 *   probe: false,
 *   headers: { limitRequests: 500, limitTokens: 30_000, remainingRequests: 499, remainingTokens: 28_800 },
 *   answered: true,
 *   pauseUntil: undefined,
 *   requestedTokens: undefined
 * }
 * ```
 *
 * @since 0.1.0
 * @category store
 */
export interface ReleaseInput extends internal.ReleaseInput {}

/**
 * A store failed: a shared store's connection refused, timed out or lost mid-command. By default
 * the limiter then paces with its local memory store (a warning, and {@link storeFailures}
 * counts it); with `onStoreFailure: "fail"` a request that cannot be reserved fails with this.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 *
 * const error = new RateLimiter.RateLimiterStoreError({ message: "redis unreachable" })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class RateLimiterStoreError extends Data.TaggedError("RateLimiterStoreError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * Where the limiter keeps its state: the limiter's operations on one key, each atomic (the
 * memory store applies the arithmetic in place; the Redis store runs it as one Lua script).
 * Times are the caller's clock millis, passed in, so that every process and store agree and a
 * test can drive them with `TestClock`.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * // A store that counts the reservations of another one.
 * const counting = (store: RateLimiter.Store, seen: { n: number }): RateLimiter.Store => ({
 *   ...store,
 *   reserve: (key, input) => Effect.tap(store.reserve(key, input), () => Effect.sync(() => seen.n++))
 * })
 * ```
 *
 * @since 0.1.0
 * @category store
 */
export interface Store {
  /** Takes one request and its tokens if both fit, or says how long to wait. */
  readonly reserve: (key: string, input: ReserveInput) => Effect.Effect<Reservation, RateLimiterStoreError>
  /** Applies what came back for a permit: headers, a pause, a token count. */
  readonly release: (key: string, input: ReleaseInput) => Effect.Effect<void, RateLimiterStoreError>
  /** Stops the key's requests until `until` (never shortens a pause). */
  readonly pause: (key: string, until: number) => Effect.Effect<void, RateLimiterStoreError>
  /** Charges (positive) or gives back (negative) tokens. */
  readonly adjust: (key: string, tokens: number, now: number) => Effect.Effect<void, RateLimiterStoreError>
  /** The key's state, if any. */
  readonly snapshot: (key: string) => Effect.Effect<Option.Option<KeyState>, RateLimiterStoreError>
  /**
   * An effect that completes at the next change of `key` that may let a waiting request through,
   * made by any process sharing the store (a wake-up, never a poll). Take it before `reserve`, so
   * that a change between the two is not missed.
   */
  readonly watch: (key: string) => Effect.Effect<Effect.Effect<void>>
}

/**
 * The store as a service.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const state = Effect.flatMap(RateLimiter.RateLimiterStore, (store) => store.snapshot("team-a:gpt-4o-mini"))
 * const program = state.pipe(Effect.provide(RateLimiter.layerStoreMemory))
 * ```
 *
 * @since 0.1.0
 * @category store
 */
export class RateLimiterStore extends Context.Tag("effect-openai-resilience/RateLimiterStore")<
  RateLimiterStore,
  Store
>() {}

/**
 * A store in this process's memory.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* RateLimiter.makeStoreMemory
 *   return yield* store.snapshot("some-key")
 * })
 * ```
 *
 * @since 0.1.0
 * @category store
 */
export const makeStoreMemory: Effect.Effect<Store> = Effect.sync(() => service.makeStoreMemory())

/**
 * {@link makeStoreMemory} as a layer.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { Layer } from "effect"
 *
 * const Live = RateLimiter.layer({ tokensPerMinute: 30_000 }).pipe(Layer.provide(RateLimiter.layerStoreMemory))
 * ```
 *
 * @since 0.1.0
 * @category store
 */
export const layerStoreMemory: Layer.Layer<RateLimiterStore> = Layer.effect(RateLimiterStore, makeStoreMemory)

/**
 * Counts the store operations that failed (a shared store down, slow or restarted), each
 * answered by the local fallback or, with `onStoreFailure: "fail"`, by a
 * {@link RateLimiterStoreError}.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { Effect, Metric } from "effect"
 *
 * const failures = Metric.value(RateLimiter.storeFailures).pipe(Effect.map((state) => state.count))
 * ```
 *
 * @since 0.1.0
 * @category store
 */
export const storeFailures: Metric.Metric.Counter<number> = Metric.counter("openai_rate_limiter_store_failures_total", {
  description: "Rate limiter store operations that failed (answered by the local fallback or a RateLimiterStoreError)",
  incremental: true
})

// ---------------------------------------------------------------------------------------------
// keys
// ---------------------------------------------------------------------------------------------

/**
 * The key of a limit: a hash of the API key (with organization and project, which share one
 * limit), and the model. The API key itself is never kept.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { Redacted } from "effect"
 *
 * const key = RateLimiter.keyFor({ apiKey: Redacted.make("sk-example"), model: "gpt-4o-mini" })
 * console.log(key.includes("sk-example")) // false
 * ```
 *
 * @since 0.1.0
 * @category keys
 */
export const keyFor = (input: {
  readonly apiKey?: Redacted.Redacted<string> | string | undefined
  readonly organization?: string | undefined
  readonly project?: string | undefined
  readonly model?: string | undefined
}): string => {
  const apiKey = input.apiKey === undefined ? "" : Redacted.isRedacted(input.apiKey) ? Redacted.value(input.apiKey) : input.apiKey
  const account = apiKey === "" && input.organization === undefined && input.project === undefined
    ? "anonymous"
    : accountHash(`${apiKey}\u0000${input.organization ?? ""}\u0000${input.project ?? ""}`)
  return `${account}:${input.model ?? "*"}`
}

// The hash of an account, computed once per account rather than per request (a process uses a
// few keys; the bound keeps a key-rotating one from growing it).
const accountHashes = new Map<string, string>()
const accountHash = (account: string): string => {
  let hash = accountHashes.get(account)
  if (hash === undefined) {
    hash = sha256Hex(account).slice(0, 16)
    if (accountHashes.size >= 64) accountHashes.clear()
    accountHashes.set(account, hash)
  }
  return hash
}

const bearer = /^\s*bearer\s+(.+?)\s*$/i

/**
 * The key of an `HttpClientRequest`: its bearer token (or `api-key` header, as Azure uses),
 * `OpenAI-Organization`, `OpenAI-Project` and the `model` of its JSON body.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { HttpClientRequest } from "@effect/platform"
 *
 * const request = HttpClientRequest.post("https://api.openai.com/v1/chat/completions").pipe(
 *   HttpClientRequest.bearerToken("sk-example"),
 *   HttpClientRequest.bodyUnsafeJson({ model: "gpt-4o-mini", messages: [] })
 * )
 * RateLimiter.keyOfRequest(request) // "<16 hex digits>:gpt-4o-mini"
 * ```
 *
 * @since 0.1.0
 * @category keys
 */
export const keyOfRequest = (request: HttpClientRequest.HttpClientRequest, body?: unknown): string => {
  const json = body === undefined ? TokenEstimate.bodyJson(request) : body
  // A request's headers are the platform's `Headers`, whose names are lower case already.
  const headers = request.headers
  const auth = headers["authorization"]
  const match = auth === undefined ? null : bearer.exec(auth)
  const model = typeof json === "object" && json !== null && "model" in json && typeof json.model === "string"
    ? json.model
    : undefined
  return keyFor({
    apiKey: match?.[1] ?? headers["api-key"],
    organization: headers["openai-organization"],
    project: headers["openai-project"],
    model
  })
}

// ---------------------------------------------------------------------------------------------
// service
// ---------------------------------------------------------------------------------------------

/**
 * Options of the limiter. Everything is optional: without limits it learns them from the headers.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 *
 * const options: RateLimiter.Options = { requestsPerMinute: 500, tokensPerMinute: 30_000, headroom: 0.05, maxPause: "30 seconds" }
 * const Live = RateLimiter.layerMemory(options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Requests per minute. A limit given here is never overridden by `x-ratelimit-limit-*`. */
  readonly requestsPerMinute?: number | undefined
  /** Tokens per minute. */
  readonly tokensPerMinute?: number | undefined
  /** Fraction of each limit usable in one burst, (0, 1]. Default 1 (OpenAI's bucket holds a minute). */
  readonly burst?: number | undefined
  /** Fraction of each bucket kept unused against estimate errors and other clients, [0, 1). Default 0. */
  readonly headroom?: number | undefined
  /** How long a key pauses after a 429 that gave no hint. Default 1 second. */
  readonly defaultPause?: Duration.DurationInput | undefined
  /** The longest pause a server hint can impose. Default 60 seconds. */
  readonly maxPause?: Duration.DurationInput | undefined
  /** How {@link TokenEstimate} estimates requests. */
  readonly estimate?: TokenEstimate.Options | undefined
  /**
   * What to do when the store fails (a shared store down, slow or restarted). `"local"` (the
   * only value here, and the default): pace with a memory store in this process, log a warning
   * once, count {@link storeFailures}, and go back to the store when it answers again. Requests
   * keep flowing; the server's own limiter still stands. For `"fail"`, see {@link FailClosedOptions}.
   */
  readonly onStoreFailure?: "local" | undefined
  /** How long a store operation may take before it counts as failed. Default 1 second. */
  readonly storeTimeout?: Duration.DurationInput | undefined
  /** After a store failure, how long to pace locally before asking the store again. Default 2 seconds. */
  readonly storeRetryAfter?: Duration.DurationInput | undefined
  /**
   * How far the clocks of the processes sharing a store may disagree: a request at the edge of
   * a bucket waits this much longer (which costs no throughput once the key is busy). Default 0
   * with the memory store, 50 milliseconds with a shared one.
   */
  readonly clockSkew?: Duration.DurationInput | undefined
  /**
   * Priority lanes ({@link Priority}): without them, each key is first-in first-out and a
   * request's priority is ignored.
   */
  readonly lanes?: LaneOptions | undefined
}

/**
 * How urgent a request is, when the limiter has {@link LaneOptions lanes}: `"interactive"` (a
 * user waits on it) is admitted first, `"background"` (a batch) takes what is left and its
 * guaranteed share. Set per call ({@link Demand}'s `priority`) or for a region of code
 * ({@link withPriority}); `"default"` otherwise.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 *
 * const demand = (priority: RateLimiter.Priority): RateLimiter.Demand => ({ key: "team-a:gpt-4o-mini", tokens: 800, priority })
 * ```
 *
 * @since 0.1.0
 * @category lanes
 */
export type Priority = "interactive" | "default" | "background"

/**
 * The priority lanes' fairness rule, for processes sharing a store as much as for one. Each lane
 * leaves part of each bucket to the lanes above it (interactive: none, default: half of
 * `reserve`, background: `reserve`), so a request of a higher lane finds room even while a
 * lower one saturates the limit. Background work is owed `backgroundShare` of the permits the
 * other lanes take while it waits; when it is owed one, it goes next.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 *
 * const lanes: RateLimiter.LaneOptions = { reserve: 0.1, backgroundShare: 0.2 }
 * const Live = RateLimiter.layerMemory({ requestsPerMinute: 500, lanes })
 * ```
 *
 * @since 0.1.0
 * @category lanes
 */
export interface LaneOptions {
  /**
   * Fraction of each limit the background lane leaves to the others, (0, 0.5]. Default 0.05 (3
   * seconds of refill): the burst an interactive trickle finds under a saturating batch.
   */
  readonly reserve?: number | undefined
  /** The background lane's guaranteed minimum share of the permits, [0, 0.9]. Default 0.1. */
  readonly backgroundShare?: number | undefined
}

/**
 * The priority of the limiter's requests made in the current fiber, unless a {@link Demand} says
 * otherwise. `"default"` unless set.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { FiberRef } from "effect"
 *
 * const priority = FiberRef.get(RateLimiter.currentPriority)
 * ```
 *
 * @since 0.1.0
 * @category lanes
 */
export const currentPriority: FiberRef.FiberRef<Priority> = globalValue(
  Symbol.for("effect-openai-resilience/RateLimiter/currentPriority"),
  () => FiberRef.unsafeMake<Priority>("default")
)

/**
 * Runs `effect` with its limiter requests in the lane `priority`: a batch job as `"background"`,
 * a request a user waits on as `"interactive"`.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * declare const embedCorpus: Effect.Effect<void>
 * const batch = embedCorpus.pipe(RateLimiter.withPriority("background"))
 * ```
 *
 * @since 0.1.0
 * @category lanes
 */
export const withPriority: {
  (priority: Priority): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(effect: Effect.Effect<A, E, R>, priority: Priority): Effect.Effect<A, E, R>
} = dual(2, <A, E, R>(effect: Effect.Effect<A, E, R>, priority: Priority): Effect.Effect<A, E, R> =>
  Effect.locally(effect, currentPriority, priority))

/**
 * {@link Options} for a limiter that never paces without its store: a request that cannot be
 * reserved fails with {@link RateLimiterStoreError}, within `storeTimeout`. Its service's type
 * says so (`Service<RateLimiterStoreError>`): make it with {@link make} and pass it to
 * {@link middleware}; the {@link RateLimiter} service and its layers pace locally instead.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 *
 * const options: RateLimiter.FailClosedOptions = { requestsPerMinute: 500, onStoreFailure: "fail", storeTimeout: "200 millis" }
 * const limiter = RateLimiter.make(options) // a Service<RateLimiterStoreError>
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface FailClosedOptions extends Omit<Options, "onStoreFailure"> {
  readonly onStoreFailure: "fail"
}

/**
 * What a request asks of its key's limits.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 *
 * const demand: RateLimiter.Demand = { key: "team-a:gpt-4o-mini", tokens: 1200, priority: "interactive" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Demand {
  readonly key: string
  /** Estimated tokens ({@link TokenEstimate}); 0 for requests that use none. */
  readonly tokens: number
  /** Its lane, when the limiter has lanes; {@link currentPriority} when not given. */
  readonly priority?: Priority | undefined
}

/**
 * A granted request. Give it back with {@link Service.release} when the response (or failure)
 * arrives, so that its headers correct the buckets.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { Duration } from "effect"
 *
 * const waitedLong = (permit: RateLimiter.Permit): boolean => Duration.greaterThan(permit.waited, "1 second")
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Permit {
  readonly key: string
  /** The demand's estimate. */
  readonly tokens: number
  /** Clock millis when the request was let through. */
  readonly grantedAt: number
  /** How long it waited. */
  readonly waited: Duration.Duration
  /** @internal What the store charged: the estimate times the learned scale, at most the limit. */
  readonly charged: number
  /** @internal The key's counters including this permit, from the store. */
  readonly seq: number
  /** @internal */
  readonly tokensThrough: number
  /** @internal Sent alone to learn unknown limits. */
  readonly probe: boolean
  /** @internal Granted by the local fallback while the store was failing. */
  readonly local: boolean
}

/**
 * What came back for a permit: the rate-limit headers, the status, the server's delay hint.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { Option } from "effect"
 *
 * // A success whose headers the caller has not kept: the key has been answered.
 * const outcome: RateLimiter.Outcome = {
 *   status: Option.some(200),
 *   rateLimit: Option.none(),
 *   rateLimited: false,
 *   retryAfter: Option.none()
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Outcome {
  readonly status: Option.Option<number>
  readonly rateLimit: Option.Option<RateLimitHeaders.RateLimitHeaders>
  /** Set for a 429 caused by the rate limit: the key pauses this long (or the default pause). */
  readonly rateLimited: boolean
  readonly retryAfter: Option.Option<Duration.Duration>
  /**
   * For a tokens 429: what the server says the request needed ("Requested N"). The limiter
   * learns from it how the server's count compares with its estimates.
   */
  readonly requestedTokens?: Option.Option<number> | undefined
}

/**
 * What the limiter knows about one key.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { Duration, Effect, Option } from "effect"
 *
 * const paused = Effect.gen(function*() {
 *   const limiter = yield* RateLimiter.RateLimiter
 *   const snapshot: Option.Option<RateLimiter.Snapshot> = yield* limiter.snapshot("team-a:gpt-4o-mini")
 *   return Option.exists(snapshot, (s) => Duration.greaterThan(s.pausedFor, Duration.zero))
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  readonly limitRequests: Option.Option<number>
  readonly limitTokens: Option.Option<number>
  /** What the server counts per estimated token, as learned from token 429s (1 until then). */
  readonly tokenScale: number
  /** The limiter's idea of what is left now. */
  readonly remainingRequests: Option.Option<number>
  readonly remainingTokens: Option.Option<number>
  /** Time left in a pause after a 429 (zero when none). */
  readonly pausedFor: Duration.Duration
}

/**
 * The limiter. `StoreError` is what a failing store adds to `acquire`: `never` by default (the
 * limiter then paces locally), {@link RateLimiterStoreError} under `onStoreFailure: "fail"`.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * declare const call: Effect.Effect<string>
 *
 * const limited = (limiter: RateLimiter.Service) =>
 *   call.pipe(limiter.limit({ key: "team-a:gpt-4o-mini", tokens: 1200 }))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Service<StoreError = never> {
  /**
   * Waits until the demand fits both limits of its key, then takes it. Fails at once with
   * `RequestTooLarge` when the estimate alone exceeds the tokens limit: nothing is sent or charged.
   *
   * To be sure the permit is released, call it inside `Effect.uninterruptibleMask` and pass the
   * mask's `restore`: the wait runs in `restore` (interruptible as the caller was), and once the
   * store has taken the permit nothing interruptible runs before it is returned, so the release
   * installed next is certain to run. Without `restore`, an interruption landing as the permit is
   * returned to an interruptible caller loses it (its key then counts it in flight for good).
   *
   * @example
   * ```ts
   * import { RateLimiter } from "effect-openai-resilience"
   * import { Effect } from "effect"
   *
   * declare const call: Effect.Effect<string>
   *
   * // What `limit` does.
   * const paced = (limiter: RateLimiter.Service) =>
   *   Effect.uninterruptibleMask((restore) =>
   *     Effect.flatMap(limiter.acquire({ key: "team-a:gpt-4o-mini", tokens: 1200 }, restore), (permit) =>
   *       restore(call).pipe(Effect.onExit((exit) => limiter.release(permit, RateLimiter.outcomeOfExit(exit))))))
   * ```
   */
  readonly acquire: (
    demand: Demand,
    restore?: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  ) => Effect.Effect<Permit, OpenAiError.RequestTooLarge | StoreError>
  /** Corrects the key's state with what came back for a permit. */
  readonly release: (permit: Permit, outcome: Outcome) => Effect.Effect<void>
  /**
   * Runs `effect` once the demand fits; its typed failure (a `RateLimitReached` with headers and a
   * delay hint) is fed back. For calls whose success carries no headers.
   */
  readonly limit: (
    demand: Demand
  ) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | OpenAiError.RequestTooLarge | StoreError, R>
  /** Stops the key's requests for `duration`. */
  readonly pause: (key: string, duration: Duration.DurationInput) => Effect.Effect<void>
  /** Charges (positive) or gives back (negative) tokens, e.g. actual `usage` against the estimate. */
  readonly adjust: (key: string, tokens: number) => Effect.Effect<void>
  /** What the limiter knows about a key. */
  readonly snapshot: (key: string) => Effect.Effect<Option.Option<Snapshot>>
  /** The options' estimator settings. */
  readonly estimate: TokenEstimate.Options
}

/**
 * The limiter as a service.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const limiter = yield* RateLimiter.RateLimiter
 *   return yield* limiter.acquire({ key: "team-a:gpt-4o-mini", tokens: 1200 })
 * }).pipe(Effect.provide(RateLimiter.layerMemory({ requestsPerMinute: 500 })))
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class RateLimiter extends Context.Tag("effect-openai-resilience/RateLimiter")<RateLimiter, Service>() {}

/**
 * Makes a limiter over the store in context.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const limiter = yield* RateLimiter.make({ requestsPerMinute: 500, tokensPerMinute: 30_000 })
 *   const permit = yield* limiter.acquire({ key: "team-a:gpt-4o-mini", tokens: 1200 })
 *   return permit.waited
 * }).pipe(Effect.provide(RateLimiter.layerStoreMemory))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: {
  (options: FailClosedOptions): Effect.Effect<
    Service<RateLimiterStoreError>,
    InvalidOptions,
    RateLimiterStore
  >
  (options?: Options): Effect.Effect<Service, InvalidOptions, RateLimiterStore>
} = (options: Options | FailClosedOptions = {}): Effect.Effect<Service<never>, InvalidOptions, RateLimiterStore> =>
  // Outside "fail" mode a store failure is answered by the local fallback and never reaches
  // `acquire`'s error channel, which the overloads above express.
  Effect.zipRight(
    service.validate(options),
    Effect.flatMap(
      RateLimiterStore,
      (store) => service.make(store, options, outcomeOfExit) as Effect.Effect<Service<never>>
    )
  )

/**
 * The limiter as a layer, over the store in context.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { Layer } from "effect"
 *
 * const Live = RateLimiter.layer().pipe(Layer.provide(RateLimiter.layerStoreMemory))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<RateLimiter, InvalidOptions, RateLimiterStore> =>
  Layer.effect(RateLimiter, make(options))

/**
 * The limiter with its state in memory.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 *
 * const Live = RateLimiter.layerMemory({ requestsPerMinute: 500, tokensPerMinute: 30_000 })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (options: Options = {}): Layer.Layer<RateLimiter, InvalidOptions> =>
  layer(options).pipe(Layer.provide(layerStoreMemory))

// ---------------------------------------------------------------------------------------------
// outcomes
// ---------------------------------------------------------------------------------------------

/**
 * The outcome of a raw response: its rate-limit headers, and for a 429 the server's hint
 * (`retry-after-ms`, `retry-after`, the exhausted dimension's reset). `now` reads an HTTP-date.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { HttpClientRequest, HttpClientResponse } from "@effect/platform"
 *
 * const response = HttpClientResponse.fromWeb(
 *   HttpClientRequest.get("https://api.openai.com/v1/models"),
 *   new Response("", { status: 429, headers: { "retry-after-ms": "1500" } })
 * )
 * RateLimiter.outcomeOfResponse(response, 0).rateLimited // true
 * ```
 *
 * @since 0.1.0
 * @category outcomes
 */
export const outcomeOfResponse = (response: HttpClientResponse.HttpClientResponse, now: number): Outcome => {
  const rateLimited = response.status === 429
  return {
    status: Option.some(response.status),
    rateLimit: rateLimitOf(response.headers),
    rateLimited,
    retryAfter: rateLimited
      ? Option.map(RetryAfter.fromResponse({ headers: response.headers, status: 429, now }), (h) => h.delay)
      : Option.none()
  }
}

const rateLimitNames = [
  "x-ratelimit-limit-requests",
  "x-ratelimit-limit-tokens",
  "x-ratelimit-remaining-requests",
  "x-ratelimit-remaining-tokens",
  "x-ratelimit-reset-requests",
  "x-ratelimit-reset-tokens"
] as const

// A response's headers are the platform's `Headers`, whose names are lower case already: picking
// the six that matter is cheaper than normalising every header a server sends.
const rateLimitOf = (headers: Headers.Headers): Option.Option<RateLimitHeaders.RateLimitHeaders> => {
  const picked: Record<string, string> = {}
  for (const name of rateLimitNames) {
    const value = headers[name]
    if (value !== undefined) picked[name] = value
  }
  return RateLimitHeaders.fromHeaders(picked)
}

/**
 * The outcome of a typed error: its `rateLimit` headers; a `RateLimitReached` pauses the key for
 * its `retryAfter`. Other errors (quota, a request too large, transport failures) pause nothing.
 *
 * @example
 * ```ts
 * import { OpenAiError, RateLimiter } from "effect-openai-resilience"
 * import { Duration, Option } from "effect"
 *
 * const outcome = RateLimiter.outcomeOfError(new OpenAiError.RateLimitReached({
 *   message: "Rate limit reached", scope: "tokens", limit: Option.none(), used: Option.none(),
 *   requested: Option.none(), retryAfter: Option.some(Duration.seconds(2))
 * }))
 * outcome.rateLimited // true
 * ```
 *
 * @since 0.1.0
 * @category outcomes
 */
export const outcomeOfError = (error: unknown): Outcome => {
  if (!OpenAiError.isOpenAiError(error)) {
    return { status: Option.none(), rateLimit: Option.none(), rateLimited: false, retryAfter: Option.none() }
  }
  if (error._tag !== "RateLimitReached") {
    return { status: error.status, rateLimit: error.rateLimit, rateLimited: false, retryAfter: Option.none() }
  }
  return {
    status: error.status,
    rateLimit: error.rateLimit,
    rateLimited: true,
    retryAfter: error.retryAfter,
    requestedTokens: error.scope === "tokens" ? error.requested : Option.none()
  }
}

const noOutcome: Outcome = { status: Option.none(), rateLimit: Option.none(), rateLimited: false, retryAfter: Option.none() }

// A success carries no headers here, but it did come back: the key is no longer unexplored, so
// later requests need not go one by one to learn limits that will never be sent.
const answered: Outcome = { ...noOutcome, status: Option.some(200) }

/**
 * The outcome of an effect's exit: a success that carried no headers (the key has been answered),
 * or what its typed failure carries ({@link outcomeOfError}).
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { Exit } from "effect"
 *
 * RateLimiter.outcomeOfExit(Exit.succeed("ok")).rateLimited // false
 * ```
 *
 * @since 0.1.0
 * @category outcomes
 */
export const outcomeOfExit = <A, E>(exit: Exit.Exit<A, E>): Outcome => {
  if (Exit.isSuccess(exit)) return answered
  return Option.match(Cause.failureOption(exit.cause), { onNone: () => noOutcome, onSome: outcomeOfError })
}

// ---------------------------------------------------------------------------------------------
// middleware
// ---------------------------------------------------------------------------------------------

/**
 * What a request asks of its key: the key ({@link keyOfRequest}) and its estimated tokens, from
 * one parse of its JSON body.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "effect-openai-resilience"
 * import { HttpClientRequest } from "@effect/platform"
 *
 * const request = HttpClientRequest.post("https://api.openai.com/v1/embeddings").pipe(
 *   HttpClientRequest.bodyUnsafeJson({ model: "text-embedding-3-small", input: "hello" })
 * )
 * RateLimiter.demandOf(request).tokens // 2
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const demandOf = (
  request: HttpClientRequest.HttpClientRequest,
  estimate: TokenEstimate.Options = {},
  /** The body as a value, when the caller holds it: then it is not parsed again. */
  body?: unknown
): Demand => {
  const json = body === undefined ? TokenEstimate.bodyJson(request) : body
  return {
    key: keyOfRequest(request, json ?? null),
    tokens: json === undefined ? 0 : TokenEstimate.fromJson(request, json, estimate).total
  }
}

/**
 * `HttpClient -> HttpClient` middleware: every request waits until its key (API key and model)
 * has room for one request and its estimated tokens, then goes; its response's headers (or its
 * typed error, when the client classifies inside) correct the limiter, and a 429 pauses the key.
 * A request that can never fit the tokens limit fails with `RequestTooLarge` without being sent.
 * Put it outside `HttpMiddleware.classify` and the per-attempt timeout, inside the retry: every
 * attempt is paced, and time spent waiting here does not count against the attempt's timeout.
 *
 * @example
 * ```ts
 * import { HttpMiddleware, RateLimiter } from "effect-openai-resilience"
 * import { FetchHttpClient, HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const limiter = yield* RateLimiter.RateLimiter
 *   const client = (yield* HttpClient.HttpClient).pipe(HttpMiddleware.classify, RateLimiter.middleware(limiter))
 *   return yield* client.get("https://api.openai.com/v1/models")
 * }).pipe(Effect.provide([RateLimiter.layerMemory(), FetchHttpClient.layer]))
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const middleware = <StoreError = never>(limiter: Service<StoreError>) =>
<E, R>(
  client: HttpClientType.HttpClient.With<E, R>
): HttpClientType.HttpClient.With<E | OpenAiError.RequestTooLarge | StoreError, R> =>
  HttpClient.transform(client, (effect, request) =>
    Effect.uninterruptibleMask((restore) => {
      const demand = demandOf(request, limiter.estimate)
      return Effect.flatMap(service.acquireUnder(limiter, demand, restore), (permit) =>
        restore(effect).pipe(
          Effect.onExit((exit) => {
            if (Exit.isFailure(exit)) return limiter.release(permit, outcomeOfExit(exit))
            // The clock is read only for a 429, whose Retry-After may be an HTTP-date.
            const response = exit.value
            return response.status === 429
              ? Effect.flatMap(Clock.currentTimeMillis, (now) => limiter.release(permit, outcomeOfResponse(response, now)))
              : limiter.release(permit, outcomeOfResponse(response, 0))
          })
        ))
    }))
