/**
 * The implementation behind `HttpMiddleware`.
 * @internal
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as Classify from "../Classify.js"
import { cooperates } from "./attemptTimer.js"
import { concat } from "./bytes.js"
import { requestIdOf } from "./headers.js"
import { isSecretQueryName, redactUrl, revealAll, secretHeaderNames } from "./secrets.js"
import { timeoutEffect } from "./timeout.js"
import * as OpenAiError from "../OpenAiError.js"
import * as RetryPolicy from "../RetryPolicy.js"

/** @internal */
export const ATTEMPT_HEADER = "x-retry-attempt"
/** @internal */
export const IDEMPOTENCY_HEADER = "idempotency-key"
/** @internal */
export const REQUEST_ID_HEADER = "x-request-id"
/** @internal */
export const MAX_ERROR_BODY_BYTES = 256 * 1024

/**
 * The key of one logical request, shared by all of its attempts. A mutable cell so that the key
 * is drawn from `Random` only when a POST actually needs it, and drawn once.
 * @internal
 */
export interface KeyCell {
  key: string | undefined
}

/** @internal */
export const currentAttempt: FiberRef.FiberRef<number> = globalValue(
  "effect-openai-resilience/HttpMiddleware/currentAttempt",
  () => FiberRef.unsafeMake(0)
)

/** @internal */
export const currentKeyCell: FiberRef.FiberRef<Option.Option<KeyCell>> = globalValue(
  "effect-openai-resilience/HttpMiddleware/currentKeyCell",
  () => FiberRef.unsafeMake<Option.Option<KeyCell>>(Option.none())
)

const defaultRandom = Effect.runSync(Effect.randomWith(Effect.succeed))
const randomUUID: (() => string) | undefined = typeof globalThis.crypto?.randomUUID === "function"
  ? () => globalThis.crypto.randomUUID()
  : undefined

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0")

/**
 * A UUID v4 drawn from Effect's `Random`, so that a test with `Random.fixed` or a seeded
 * `Random.make` gets the same key every run.
 * @internal
 */
export const randomUuid: Effect.Effect<string> = Effect.randomWith((random) =>
  // Effect's default Random is seeded from Math.random, so nothing can depend on what it draws:
  // with it, the platform's own generator (one call, not eight effects); with any other (a
  // test's fixed or seeded Random), the draws from it, reproducibly.
  random === defaultRandom && randomUUID !== undefined ? Effect.sync(randomUUID) :
  // A loop of flatMaps rather than Effect.gen: this runs once per POST.
  Effect.suspend(() => {
    const words: Array<number> = []
    const next: Effect.Effect<string> = Effect.flatMap(random.nextIntBetween(0, 0x10000), (word) => {
      words.push(word)
      return words.length < 8 ? next : Effect.succeed(format(words))
    })
    return next
  })
)

const format = (words: ReadonlyArray<number>): string => {
  const w = (i: number) => words[i] ?? 0
  // Version 4 and the RFC 4122 variant bits.
  const v = (w(3) & 0x0fff) | 0x4000
  const r = (w(4) & 0x3fff) | 0x8000
  return `${hex(w(0), 4)}${hex(w(1), 4)}-${hex(w(2), 4)}-${hex(v, 4)}-${hex(r, 4)}-${hex(w(5), 4)}${hex(w(6), 4)}${
    hex(w(7), 4)
  }`
}

/**
 * Runs `effect` as one logical request: every attempt inside sees the same key cell. An enclosing
 * scope wins, so nesting `retry` and `idempotencyKey` in either order keeps one key.
 * @internal
 */
export const withKeyScope = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    FiberRef.get(currentKeyCell),
    (cell) => Option.isSome(cell) ? effect : Effect.locally(effect, currentKeyCell, Option.some({ key: undefined }))
  )

const keyOf = (cell: KeyCell): Effect.Effect<string> => {
  const existing = cell.key
  if (existing !== undefined) return Effect.succeed(existing)
  return Effect.map(randomUuid, (key) => {
    cell.key = key
    return key
  })
}

const keyFor: Effect.Effect<string> = Effect.flatMap(
  FiberRef.get(currentKeyCell),
  (cell) => Option.isNone(cell) ? randomUuid : keyOf(cell.value)
)

/**
 * The key cell of a call that keeps its own (the resilient stack): the enclosing scope's cell when
 * there is one (an outer `retry` or `idempotencyKey`), else a fresh one. No `Effect.locally` per
 * call: the stack sets the header itself, and inner middleware sees the header and keeps it.
 * @internal
 */
export const ownKeyCell: Effect.Effect<KeyCell> = Effect.map(
  FiberRef.get(currentKeyCell),
  (cell) => Option.isSome(cell) ? cell.value : { key: undefined }
)

/**
 * The key of `cell`, drawn now if it has none when `random` is Effect's default one (the
 * platform's generator, as {@link randomUuid} does); `undefined` when it must be drawn from a
 * Random of the caller's own, with {@link addIdempotencyKeyFrom}.
 * @internal
 */
export const keyNow = (cell: KeyCell, random: unknown): string | undefined => {
  if (cell.key !== undefined) return cell.key
  if (random !== defaultRandom || randomUUID === undefined) return undefined
  cell.key = randomUUID()
  return cell.key
}

/** @internal */
export const needsKey = (request: HttpClientRequest.HttpClientRequest) =>
  request.method === "POST" && request.headers[IDEMPOTENCY_HEADER] === undefined

/** @internal */
export const addIdempotencyKey = (
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<HttpClientRequest.HttpClientRequest> =>
  needsKey(request)
    ? Effect.map(keyFor, (key) => HttpClientRequest.setHeader(request, IDEMPOTENCY_HEADER, key))
    : Effect.succeed(request)

/** {@link addIdempotencyKey} with the key of a given cell. @internal */
export const addIdempotencyKeyFrom = (
  cell: KeyCell,
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<HttpClientRequest.HttpClientRequest> =>
  needsKey(request)
    ? Effect.map(keyOf(cell), (key) => HttpClientRequest.setHeader(request, IDEMPOTENCY_HEADER, key))
    : Effect.succeed(request)

/**
 * Runs attempt `n` (0, 1, ...) under the policy, as one logical request: every attempt sees the
 * same idempotency key cell and reads its number from {@link currentAttempt}.
 * @internal
 */
export const retryAttempts = <A, E extends OpenAiError.OpenAiError | { readonly _tag: "CircuitOpen" }, R, Out, R2>(
  attempt: (n: number) => Effect.Effect<A, E, R>,
  policy: Schedule.Schedule<Out, OpenAiError.OpenAiError, R2>
): Effect.Effect<A, E, R | R2> => withKeyScope(retryNumbered(attempt, policy))

/**
 * {@link retryAttempts} without its key scope, for a caller that keeps its own key cell.
 * @internal
 */
export const retryNumbered = <A, E extends OpenAiError.OpenAiError | { readonly _tag: "CircuitOpen" }, R, Out, R2>(
  attempt: (n: number) => Effect.Effect<A, E, R>,
  policy: Schedule.Schedule<Out, OpenAiError.OpenAiError, R2>
): Effect.Effect<A, E, R | R2> =>
  Effect.suspend(() => {
    let n = 0
    // RetryPolicy.retry rather than Effect.retry: it keeps the retry budget and the attempt count.
    return RetryPolicy.retry(
      // The attempt number is set only when it differs: the first attempt of an outermost call
      // already reads 0, and runs without an `Effect.locally` (an acquire/release per call).
      Effect.withFiberRuntime<A, E, R>((fiber) => {
        const i = n++
        const effect = attempt(i)
        return fiber.getFiberRef(currentAttempt) === i ? effect : Effect.locally(effect, currentAttempt, i)
      }),
      policy as Schedule.Schedule<Out, E, R2>
    )
  })

/** @internal */
export const retryEffect = <A, E extends OpenAiError.OpenAiError, R, Out, R2>(
  effect: Effect.Effect<A, E, R>,
  policy: Schedule.Schedule<Out, OpenAiError.OpenAiError, R2>
): Effect.Effect<A, E, R | R2> => retryAttempts(() => effect, policy)

/** @internal */
export interface ClassifyOptions {
  readonly maxBodyBytes?: number | undefined
  readonly secrets?: ReadonlyArray<Redacted.Redacted<string> | string> | undefined
}

const reveal = (secrets: ClassifyOptions["secrets"]): ReadonlyArray<string> =>
  revealAll(secrets)

/**
 * Reads at most `max` bytes of a body, keeping what arrived if the read fails midway: a cut error
 * body is still worth classifying.
 * @internal
 */
export const readBounded = (
  response: HttpClientResponse.HttpClientResponse,
  max: number
): Effect.Effect<Uint8Array> =>
  Effect.suspend(() => {
    const parts: Array<Uint8Array> = []
    let size = 0
    return response.stream.pipe(
      Stream.runForEachWhile((chunk) =>
        Effect.sync(() => {
          const room = max - size
          const part = chunk.length > room ? chunk.subarray(0, room) : chunk
          parts.push(part)
          size += part.length
          return size < max
        })
      ),
      Effect.catchAllCause(() => Effect.void),
      Effect.map(() => concat(parts, size))
    )
  })

/** @internal */
export const classifyFailedResponse = (
  response: HttpClientResponse.HttpClientResponse,
  options?: ClassifyOptions
): Effect.Effect<never, OpenAiError.OpenAiError> =>
  Effect.flatMap(
    Effect.zip(readBounded(response, options?.maxBodyBytes ?? MAX_ERROR_BODY_BYTES), Clock.currentTimeMillis),
    ([body, now]) =>
      Effect.fail(Classify.classifyResponse({
        status: response.status,
        headers: response.headers,
        body,
        now,
        secrets: reveal(options?.secrets)
      }))
  )

const isHttpClientError = (u: unknown): u is HttpClientError.HttpClientError => HttpClientError.isHttpClientError(u)

/**
 * The cause a typed error keeps for a failed `HttpClientError`: its own cause (the transport
 * error: `ECONNRESET`, undici's `UND_ERR_*`, a TypeError from fetch), never the platform error
 * itself. That one holds the request, whose `toJSON` reveals the `Authorization` header when it
 * runs outside a fiber (`JSON.stringify(error)` in user code).
 * @internal
 */
export const safeCause = (error: unknown): unknown => {
  if (!isHttpClientError(error)) return error
  if (error.cause !== undefined && error.cause !== null) return error.cause
  return new Error(`${error.reason}: ${error.description ?? "no further detail"}`)
}

/**
 * {@link Classify.classifyTransportError} over {@link safeCause}.
 * @internal
 */
export const transportError = (
  error: unknown,
  options?: Parameters<typeof Classify.classifyTransportError>[1]
): OpenAiError.ConnectionError | OpenAiError.TimeoutError => Classify.classifyTransportError(safeCause(error), options)

/**
 * Maps whatever an inner client failed with to a typed error: typed errors pass through, a
 * `ResponseError` carrying a response (an inner `filterStatusOk`) is classified from that
 * response, anything else is a transport failure.
 * @internal
 */
export const classifyFailure = (
  error: unknown,
  options?: ClassifyOptions
): Effect.Effect<never, OpenAiError.OpenAiError> => {
  if (OpenAiError.isOpenAiError(error)) return Effect.fail(error)
  if (isHttpClientError(error) && error._tag === "ResponseError" && error.reason === "StatusCode") {
    return classifyFailedResponse(error.response, options)
  }
  if (isHttpClientError(error) && error._tag === "RequestError" && error.reason !== "Transport") {
    // A URL that does not parse or a body that does not encode fails the same way every time.
    const base = transportError(error)
    return Effect.fail(
      new OpenAiError.ConnectionError({
        message: `The request could not be sent (${error.reason}): ${base.message}`,
        cause: safeCause(error),
        errorCode: Option.some(error.reason),
        received: Option.none(),
        shouldRetry: Option.some(false)
      })
    )
  }
  return Effect.fail(transportError(error))
}

/** @internal */
export const isSuccess = (status: number): boolean => status >= 200 && status < 300

/** @internal */
export const classifyEffect = <E, R>(
  effect: Effect.Effect<HttpClientResponse.HttpClientResponse, E, R>,
  options?: ClassifyOptions
): Effect.Effect<HttpClientResponse.HttpClientResponse, OpenAiError.OpenAiError, R> =>
  Effect.matchEffect(effect, {
    onFailure: (error) => classifyFailure(error, options),
    onSuccess: (response) => isSuccess(response.status) ? Effect.succeed(response) : classifyFailedResponse(response, options)
  })

/** @internal */
export const classify = (options?: ClassifyOptions) =>
<E, R>(self: HttpClient.HttpClient.With<E, R>): HttpClient.HttpClient.With<OpenAiError.OpenAiError, R> =>
  HttpClient.transformResponse(self, (effect) => classifyEffect(effect, options))

/** @internal */
export const attemptHeader = (name: string = ATTEMPT_HEADER) =>
<E, R>(self: HttpClient.HttpClient.With<E, R>): HttpClient.HttpClient.With<E, R> =>
  HttpClient.mapRequestEffect(
    self,
    (request) => Effect.map(FiberRef.get(currentAttempt), (n) => HttpClientRequest.setHeader(request, name, String(n)))
  )

/** @internal */
export const idempotencyKey = <E, R>(self: HttpClient.HttpClient.With<E, R>): HttpClient.HttpClient.With<E, R> =>
  HttpClient.transformResponse(HttpClient.mapRequestEffect(self, addIdempotencyKey), withKeyScope)

/** @internal */
export const retry = <Out, R2>(policy: Schedule.Schedule<Out, OpenAiError.OpenAiError, R2>) =>
<E extends OpenAiError.OpenAiError, R>(self: HttpClient.HttpClient.With<E, R>): HttpClient.HttpClient.With<E, R | R2> =>
  HttpClient.transformResponse(self, (effect) => retryEffect(effect, policy))

/** @internal */
export { timeoutEffect }

/** @internal */
export const timeout = (duration: Duration.DurationInput) =>
<E, R>(
  self: HttpClient.HttpClient.With<E, R>
): HttpClient.HttpClient.With<E | OpenAiError.TimeoutError, R> => {
  // Over a transport that ends its waits on the attempt's timer, no fiber per request.
  const cooperative = cooperates(self)
  return HttpClient.transformResponse(self, (effect) => timeoutEffect(effect, "headers", duration, cooperative))
}

/** @internal */
export const deadline = (duration: Duration.DurationInput) =>
<E, R>(
  self: HttpClient.HttpClient.With<E, R>
): HttpClient.HttpClient.With<E | OpenAiError.TimeoutError, R> =>
  HttpClient.transformResponse(self, (effect) => timeoutEffect(effect, "deadline", duration))

/** @internal */
export const requestId = (
  response: { readonly headers: Readonly<Record<string, string | undefined>> }
): Option.Option<string> => Option.fromNullable(requestIdOf(response.headers))


// `modify` and `setHeaders` merge headers, so the copy is rebuilt from its parts.
/** @internal */
export const withoutSecrets = (request: HttpClientRequest.HttpClientRequest): HttpClientRequest.HttpClientRequest =>
  HttpClientRequest.make(request.method)(redactUrl(request.url), {
    urlParams: request.urlParams.map(([name, value]) => [name, isSecretQueryName(name) ? "<redacted>" : value] as const),
    headers: Headers.remove(request.headers, secretHeaderNames)
  }).pipe(
    HttpClientRequest.setBody(request.body),
    (r) => Option.match(request.hash, { onNone: () => r, onSome: (hash) => HttpClientRequest.setHash(r, hash) })
  )

/** @internal */
export const toHttpClientError = <R>(
  self: HttpClient.HttpClient.With<OpenAiError.OpenAiError | { readonly _tag: string; readonly message: string }, R>
): HttpClient.HttpClient.With<HttpClientError.HttpClientError, R> =>
  // `transform` types its result as `E | E1` because `f` may keep the inner error; this `f` maps
  // every one, so the inner `OpenAiError` can no longer escape.
  HttpClient.transform(self, (effect, request) =>
    Effect.mapError(effect, (error) =>
      new HttpClientError.RequestError({
        // The platform redacts headers only in its own logger; JSON.stringify or inspect of this
        // error in a foreign client would show the bearer token, so it never holds one.
        request: withoutSecrets(request),
        reason: "Transport",
        cause: error,
        description: `${error._tag}: ${error.message}`
      }))) as HttpClient.HttpClient.With<HttpClientError.HttpClientError, R>

/** @internal */
export const fromHttpClientError = (error: unknown): Option.Option<OpenAiError.OpenAiError> => {
  // Wrappers nest it at any depth (an @effect/ai `AiError` holds the platform error, which holds
  // the typed one); the walk is bounded so that a cyclic `cause` chain cannot loop.
  let current = error
  for (let depth = 0; depth < 16 && current !== null && typeof current === "object"; depth++) {
    if (OpenAiError.isOpenAiError(current)) return Option.some(current)
    current = (current as { readonly cause?: unknown }).cause
  }
  return Option.none()
}
