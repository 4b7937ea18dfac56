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
 * - Each limit is a bucket refilling continuously at `limit` per minute, the model OpenAI
 *   describes; waiting requests queue first-in first-out per key.
 *
 * The state lives behind {@link RateLimiterStore} (one small record per key), in memory by
 * default, so that a store shared between processes can come later. The design follows
 * `@effect/experimental/RateLimiter` (a service over a store, a memory store layer), whose store
 * cannot be reused directly: it has no operation to re-base a bucket on the server's headers.
 *
 * @since 0.1.0
 */
import type * as HttpClientType from "@effect/platform/HttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { createHash } from "node:crypto"
import { normalize } from "./internal/headers.js"
import * as internal from "./internal/rateLimiter.js"
import * as OpenAiError from "./OpenAiError.js"
import * as RateLimitHeaders from "./RateLimitHeaders.js"
import * as RetryAfter from "./RetryAfter.js"
import * as TokenEstimate from "./TokenEstimate.js"

// ---------------------------------------------------------------------------------------------
// store
// ---------------------------------------------------------------------------------------------

/**
 * One key's state: the limits (per minute) and, per dimension, the clock time (epoch millis) at
 * which its bucket is full again; the end of a pause after a 429. Plain data, so that a shared
 * store can serialise it.
 *
 * @since 0.1.0
 * @category store
 */
export interface KeyState extends internal.KeyState {}

/**
 * A store failed (a shared store's connection, say). The limiter then lets requests through
 * unpaced and logs a warning rather than failing calls: the server's own limiter still stands.
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
 * Where the limiter keeps its state. `modify` must apply `f` atomically for one key (a shared
 * store does it with compare-and-set on the serialised {@link KeyState}).
 *
 * @since 0.1.0
 * @category store
 */
export interface Store {
  readonly get: (key: string) => Effect.Effect<Option.Option<KeyState>, RateLimiterStoreError>
  readonly modify: <A>(
    key: string,
    f: (state: Option.Option<KeyState>) => readonly [A, KeyState]
  ) => Effect.Effect<A, RateLimiterStoreError>
}

/**
 * The store as a service.
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
 *   return yield* store.get("some-key")
 * })
 * ```
 *
 * @since 0.1.0
 * @category store
 */
export const makeStoreMemory: Effect.Effect<Store> = Effect.sync(() => {
  const states = new Map<string, KeyState>()
  return {
    get: (key) => Effect.sync(() => Option.fromNullable(states.get(key))),
    modify: (key, f) =>
      Effect.sync(() => {
        const [a, next] = f(Option.fromNullable(states.get(key)))
        states.set(key, next)
        return a
      })
  }
})

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
    : createHash("sha256").update(`${apiKey}\u0000${input.organization ?? ""}\u0000${input.project ?? ""}`).digest("hex")
      .slice(0, 16)
  return `${account}:${input.model ?? "*"}`
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
  const headers = normalize(request.headers)
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
}

/**
 * What a request asks of its key's limits.
 *
 * @since 0.1.0
 * @category models
 */
export interface Demand {
  readonly key: string
  /** Estimated tokens ({@link TokenEstimate}); 0 for requests that use none. */
  readonly tokens: number
}

/**
 * A granted request. Give it back with {@link Service.release} when the response (or failure)
 * arrives, so that its headers correct the buckets.
 *
 * @since 0.1.0
 * @category models
 */
export interface Permit {
  readonly key: string
  readonly tokens: number
  /** Clock millis when the request was let through. */
  readonly grantedAt: number
  /** How long it waited. */
  readonly waited: Duration.Duration
  /** @internal */
  readonly seq: number
  /** @internal */
  readonly tokensThrough: number
  /** @internal Sent alone to learn unknown limits. */
  readonly probe: boolean
}

/**
 * What came back for a permit: the rate-limit headers, the status, the server's delay hint.
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
 * The limiter.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Waits until the demand fits both limits of its key, then takes it. */
  readonly acquire: (demand: Demand) => Effect.Effect<Permit>
  /** Corrects the key's state with what came back for a permit. */
  readonly release: (permit: Permit, outcome: Outcome) => Effect.Effect<void>
  /**
   * Runs `effect` once the demand fits; its typed failure (a `RateLimitReached` with headers and a
   * delay hint) is fed back. For calls whose success carries no headers.
   */
  readonly limit: (demand: Demand) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
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
 * @since 0.1.0
 * @category tags
 */
export class RateLimiter extends Context.Tag("effect-openai-resilience/RateLimiter")<RateLimiter, Service>() {}

interface Local {
  readonly gate: Effect.Semaphore
  changed: Deferred.Deferred<void>
  /** Permits granted so far, and the tokens they took: what a response's headers may not include. */
  granted: number
  tokensThrough: number
  /** The newest permit whose headers have been applied. */
  synced: number
  /** Permits out while the limits are still unknown (the probe). */
  probing: number
}

const numberOr = (n: number | undefined, fallback: number): number =>
  typeof n === "number" && !Number.isNaN(n) ? n : fallback

const positiveOr = (n: number | undefined): number | undefined =>
  typeof n === "number" && Number.isFinite(n) && n > 0 ? n : undefined

const storeFailed = (error: RateLimiterStoreError) =>
  Effect.logWarning(`rate limiter store failed, letting requests through: ${error.message}`)

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
export const make = (options: Options = {}): Effect.Effect<Service, never, RateLimiterStore> =>
  Effect.gen(function*() {
    const store = yield* RateLimiterStore
    // A limit that is not a positive number reads as "not given": learned from the headers.
    const requestsPerMinute = positiveOr(options.requestsPerMinute)
    const tokensPerMinute = positiveOr(options.tokensPerMinute)
    const fixedRequests = requestsPerMinute !== undefined
    const fixedTokens = tokensPerMinute !== undefined
    const fresh = internal.initial({ requests: requestsPerMinute, tokens: tokensPerMinute })
    const settings: internal.Settings = {
      burst: Math.min(1, Math.max(0.001, numberOr(options.burst, 1))),
      headroom: Math.min(0.99, Math.max(0, numberOr(options.headroom, 0)))
    }
    const defaultPause = Duration.decode(options.defaultPause ?? Duration.seconds(1))
    const maxPause = Duration.decode(options.maxPause ?? Duration.seconds(60))
    const locals = new Map<string, Local>()
    const localOf = (key: string): Local => {
      let local = locals.get(key)
      if (local === undefined) {
        local = {
          gate: Effect.unsafeMakeSemaphore(1),
          changed: Deferred.unsafeMake<void>(FiberId.none),
          granted: 0,
          tokensThrough: 0,
          synced: 0,
          probing: 0
        }
        locals.set(key, local)
      }
      return local
    }
    // Wakes the request waiting at the head of a key's queue: something it waits for changed.
    const signal = (local: Local) =>
      Effect.suspend(() => {
        const previous = local.changed
        local.changed = Deferred.unsafeMake<void>(FiberId.none)
        return Deferred.succeed(previous, undefined)
      })

    const orFresh = (state: Option.Option<KeyState>): KeyState => Option.getOrElse(state, () => fresh)

    const acquire = (demand: Demand): Effect.Effect<Permit> =>
      Effect.gen(function*() {
        const local = localOf(demand.key)
        const tokens = Math.max(0, Math.ceil(demand.tokens))
        const start = yield* Clock.currentTimeMillis
        const grant = (now: number, probe: boolean, charged: number): Permit => {
          local.granted++
          local.tokensThrough += charged
          if (probe) local.probing++
          return {
            key: demand.key,
            tokens,
            grantedAt: now,
            waited: Duration.millis(now - start),
            seq: local.granted,
            tokensThrough: local.tokensThrough,
            probe
          }
        }
        return yield* local.gate.withPermits(1)(Effect.gen(function*() {
          while (true) {
            const changed = local.changed
            const now = yield* Clock.currentTimeMillis
            const decision = yield* store.modify(demand.key, (s) => internal.reserve(orFresh(s), tokens, now, settings))
              .pipe(Effect.catchAll((e) => Effect.as(storeFailed(e), { _tag: "Granted", tokens } as const)))
            if (decision._tag === "Granted") return grant(now, false, decision.tokens)
            if (decision._tag === "Probe") {
              if (local.probing === 0) return grant(now, true, tokens)
              yield* Deferred.await(changed)
              continue
            }
            yield* Effect.raceFirst(Effect.sleep(Duration.millis(decision.millis)), Deferred.await(changed))
          }
        }))
      })

    const release = (permit: Permit, outcome: Outcome): Effect.Effect<void> =>
      Effect.gen(function*() {
        const local = localOf(permit.key)
        if (permit.probe) local.probing = Math.max(0, local.probing - 1)
        const now = yield* Clock.currentTimeMillis
        const newest = permit.seq > local.synced
        const headers = Option.getOrUndefined(outcome.rateLimit)
        if (headers !== undefined && newest) local.synced = permit.seq
        const pauseFor = outcome.rateLimited
          ? Duration.min(Option.getOrElse(outcome.retryAfter, () => defaultPause), maxPause)
          : undefined
        yield* store.modify(permit.key, (s) => {
          let state = orFresh(s)
          if (headers !== undefined) {
            state = internal.observe(state, {
              now,
              sentAt: permit.grantedAt,
              limitRequests: Option.getOrUndefined(headers.limitRequests),
              limitTokens: Option.getOrUndefined(headers.limitTokens),
              remainingRequests: Option.getOrUndefined(headers.remainingRequests),
              remainingTokens: Option.getOrUndefined(headers.remainingTokens),
              unseenRequests: local.granted - permit.seq,
              unseenTokens: local.tokensThrough - permit.tokensThrough,
              newest,
              fixedRequests,
              fixedTokens
            })
          } else if (Option.isSome(outcome.status)) {
            state = { ...state, observed: true }
          }
          if (pauseFor !== undefined) state = internal.pause(state, now + Duration.toMillis(pauseFor))
          const requested = outcome.requestedTokens === undefined ? undefined : Option.getOrUndefined(outcome.requestedTokens)
          if (requested !== undefined) state = internal.calibrate(state, permit.tokens, requested)
          return [undefined, state] as const
        }).pipe(Effect.catchAll(storeFailed))
        if (pauseFor !== undefined) {
          yield* Effect.logDebug(`rate limited: pausing ${permit.key} for ${Duration.format(pauseFor)}`)
        }
        yield* signal(local)
      })

    const limit = (demand: Demand) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(restore(acquire(demand)), (permit) =>
          restore(effect).pipe(
            Effect.onExit((exit) => release(permit, outcomeOfExit(exit)))
          ))
      )

    const pause = (key: string, duration: Duration.DurationInput): Effect.Effect<void> =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        yield* store.modify(key, (s) => [undefined, internal.pause(orFresh(s), now + Duration.toMillis(duration))] as const)
          .pipe(Effect.catchAll(storeFailed))
        yield* signal(localOf(key))
      })

    const adjust = (key: string, tokens: number): Effect.Effect<void> =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        yield* store.modify(key, (s) => [undefined, internal.adjustTokens(orFresh(s), tokens, now)] as const)
          .pipe(Effect.catchAll(storeFailed))
        yield* signal(localOf(key))
      })

    const snapshot = (key: string): Effect.Effect<Option.Option<Snapshot>> =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const state = yield* store.get(key).pipe(Effect.catchAll(() => Effect.succeed(Option.none<KeyState>())))
        return Option.map(state, (s): Snapshot => {
          const levels = internal.levels(s, now)
          return {
            limitRequests: Option.fromNullable(s.limitRequests),
            limitTokens: Option.fromNullable(s.limitTokens),
            remainingRequests: Option.map(Option.fromNullable(levels.requests), Math.floor),
            tokenScale: s.tokenScale ?? 1,
            remainingTokens: Option.map(Option.fromNullable(levels.tokens), Math.floor),
            pausedFor: Duration.millis(Math.max(0, s.pausedUntil - now))
          }
        })
      })

    return { acquire, release, limit, pause, adjust, snapshot, estimate: options.estimate ?? {} }
  })

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
export const layer = (options: Options = {}): Layer.Layer<RateLimiter, never, RateLimiterStore> =>
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
export const layerMemory = (options: Options = {}): Layer.Layer<RateLimiter> =>
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
    rateLimit: RateLimitHeaders.fromHeaders(response.headers),
    rateLimited,
    retryAfter: rateLimited
      ? Option.map(RetryAfter.fromResponse({ headers: response.headers, status: 429, now }), (h) => h.delay)
      : Option.none()
  }
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
export const demandOf = (request: HttpClientRequest.HttpClientRequest, estimate: TokenEstimate.Options = {}): Demand => {
  const json = TokenEstimate.bodyJson(request)
  return {
    key: keyOfRequest(request, json ?? null),
    tokens: json === undefined ? 0 : TokenEstimate.fromJson(request, json, estimate).total
  }
}

/**
 * `HttpClient -> HttpClient` middleware: every request waits until its key (API key and model)
 * has room for one request and its estimated tokens, then goes; its response's headers (or its
 * typed error, when the client classifies inside) correct the limiter, and a 429 pauses the key.
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
export const middleware = (limiter: Service) =>
<E, R>(client: HttpClientType.HttpClient.With<E, R>): HttpClientType.HttpClient.With<E, R> =>
  HttpClient.transform(client, (effect, request) =>
    Effect.uninterruptibleMask((restore) => {
      const demand = demandOf(request, limiter.estimate)
      return Effect.flatMap(restore(limiter.acquire(demand)), (permit) =>
        restore(effect).pipe(
          Effect.onExit((exit) =>
            Exit.isSuccess(exit)
              ? Effect.flatMap(Clock.currentTimeMillis, (now) => limiter.release(permit, outcomeOfResponse(exit.value, now)))
              : limiter.release(permit, outcomeOfExit(exit))
          )
        ))
    }))
