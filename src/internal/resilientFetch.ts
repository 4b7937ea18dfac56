/**
 * The implementation behind `ResilientFetch`: a WHATWG `fetch` whose every call is one
 * `Resilience` run over @effect/platform's fetch client.
 * @internal
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as PlatformHeaders from "@effect/platform/Headers"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Bulkhead from "../Bulkhead.js"
import * as CircuitBreaker from "../CircuitBreaker.js"
import * as OpenAiError from "../OpenAiError.js"
import * as RateLimiter from "../RateLimiter.js"
import * as Resilience from "../Resilience.js"
import * as RetryBudget from "../RetryBudget.js"
import * as RetryPolicy from "../RetryPolicy.js"
import type * as ResilientFetch from "../ResilientFetch.js"
import { concat } from "./bytes.js"
import * as explain from "./explain.js"
import { MAX_ERROR_BODY_BYTES } from "./httpMiddleware.js"
import { withTracing } from "./openAiClient.js"

type Fetch = ResilientFetch.Fetch

/** What one call learned, filled in by its attempts. */
interface Call extends explain.CallLog {
  /** The latest 2xx, as the underlying fetch returned it (its body unread). */
  raw: Response | undefined
  /** The latest non-2xx, its body read (bounded), to hand the client when retries run out. */
  failed: Failed | undefined
}

interface Failed {
  readonly status: number
  readonly statusText: string
  readonly headers: Headers
  readonly body: Uint8Array<ArrayBuffer> | null
}

const NULL_BODY = new Set([101, 103, 204, 205, 304])

// What the SDKs must not be given: a body size or encoding that no longer matches the bytes we
// hand back (fetch has decoded them), or an id header a server made up.
const cleanHeaders = (headers: Headers): Headers => {
  const out = new Headers(headers)
  out.delete("content-encoding")
  out.delete("content-length")
  out.delete(explain.HEADER)
  return out
}

const readBounded = async (response: Response, max: number): Promise<Uint8Array<ArrayBuffer>> => {
  if (response.body === null) return new Uint8Array()
  const reader = response.body.getReader()
  const parts: Array<Uint8Array> = []
  let size = 0
  try {
    while (size < max) {
      const { done, value } = await reader.read()
      if (done) break
      const part = value.length > max - size ? value.subarray(0, max - size) : value
      parts.push(part)
      size += part.length
    }
  } catch {
    // A cut error body is still worth classifying: keep what arrived.
  } finally {
    reader.cancel().catch(ignore)
  }
  // `concat` allocates a fresh ArrayBuffer: the type only forgets it.
  return concat(parts) as Uint8Array<ArrayBuffer>
}

/** The fetch the platform client calls for one call: records what the call needs to answer. */
const recording = (underlying: () => Fetch, call: Call, maxBody: number): typeof globalThis.fetch =>
  (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    call.attempts++
    const response = await underlying()(input, init)
    if (response.ok) {
      call.raw = response
      return response
    }
    const body = NULL_BODY.has(response.status) ? null : await readBounded(response, maxBody)
    call.failed = { status: response.status, statusText: response.statusText, headers: response.headers, body }
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers })
  }) as typeof globalThis.fetch

const isEventStream = (response: HttpClientResponse.HttpClientResponse): boolean =>
  (response.headers["content-type"] ?? "").toLowerCase().includes("text/event-stream")

const decodeError = (response: HttpClientResponse.HttpClientResponse, cause: unknown) =>
  new HttpClientError.ResponseError({ request: response.request, response, reason: "Decode", cause })

/**
 * A stream is retried until its first bytes arrive, then handed over as the server sends it:
 * nothing that reached the client is ever replayed, and an error event or a cut after that
 * reaches the client exactly as it would without the adapter.
 */
const firstBytes = (response: HttpClientResponse.HttpClientResponse, raw: Response, signal: AbortSignal | undefined) =>
  Effect.async<Response, HttpClientError.ResponseError>((resume) => {
    const body = raw.body
    if (body === null) {
      resume(Effect.succeed(new Response(null, { status: raw.status, statusText: raw.statusText, headers: cleanHeaders(raw.headers) })))
      return
    }
    const reader = body.getReader()
    let settled = false
    reader.read().then(
      (first) => {
        settled = true
        resume(Effect.succeed(handOver(response, raw, reader, first, signal)))
      },
      (cause: unknown) => {
        settled = true
        resume(Effect.fail(decodeError(response, cause)))
      }
    )
    // Interrupted (timeout, abort) before the first bytes: cancelling the body closes the socket.
    return Effect.sync(() => {
      if (!settled) reader.cancel().catch(ignore)
    })
  })

const handOver = (
  response: HttpClientResponse.HttpClientResponse,
  raw: Response,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  first: ReadableStreamReadResult<Uint8Array>,
  signal: AbortSignal | undefined
): Response => {
  // The platform aborts a response's request once the response object is collected: holding it
  // until the stream ends keeps the socket open for as long as the client reads.
  let held: HttpClientResponse.HttpClientResponse | undefined = response
  let pending: ReadableStreamReadResult<Uint8Array> | undefined = first
  const release = () => {
    held = undefined
    signal?.removeEventListener("abort", onAbort)
  }
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined
  // After the response, the caller's signal still ends the body, as fetch does.
  const onAbort = () => {
    controller?.error(signal?.reason)
    reader.cancel(signal?.reason).catch(ignore)
    release()
  }
  signal?.addEventListener("abort", onAbort, { once: true })
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c
    },
    async pull(c) {
      try {
        const result = pending ?? (await reader.read())
        pending = undefined
        if (result.done) {
          release()
          c.close()
        } else {
          c.enqueue(result.value)
        }
      } catch (error) {
        release()
        c.error(error)
      }
    },
    cancel(reason) {
      release()
      return reader.cancel(reason)
    }
  })
  void held
  return new Response(stream, { status: raw.status, statusText: raw.statusText, headers: cleanHeaders(raw.headers) })
}

/** What a call resolves or rejects with when retries run out. */
const settle = (
  explanation: explain.Explanation,
  call: Call
): { readonly resolve: Response } | { readonly reject: Error } => {
  const error = explanation.error
  const failed = call.failed
  if (OpenAiError.isOpenAiError(error) && Option.isSome(error.status) && failed !== undefined) {
    // The client raises its own class from the server's last answer; the id leads back here.
    const headers = cleanHeaders(failed.headers)
    headers.set(explain.HEADER, explain.register(explanation, []))
    const response = new Response(failed.body, { status: failed.status, statusText: failed.statusText, headers })
    explain.attach(explanation, response)
    explain.attach(explanation, response.headers)
    return { resolve: response }
  }
  // Exactly as undici fails, since clients recognise it by its words: a TypeError "fetch failed"
  // whose cause says what happened (openai-node tells a timeout by /timed? ?out/ in the cause,
  // the Vercel AI SDK wants this very message).
  const thrown = new TypeError("fetch failed", { cause: error })
  explain.register(explanation, [thrown])
  return { reject: thrown }
}

const defect = (cause: Cause.Cause<unknown>): Error =>
  new TypeError("fetch failed: the resilient fetch failed unexpectedly", { cause: Cause.squash(cause) })

const STAINLESS_RETRY = "x-stainless-retry-count"
const IDEMPOTENCY = "idempotency-key"
const MAX_REMEMBERED = 1024

// FNV-1a: requests we gave up on are remembered by a hash of their body, not the body itself.
const hash = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return h >>> 0
}

const remember = <K>(set: Set<K>, key: K) => {
  set.add(key)
  if (set.size > MAX_REMEMBERED) {
    const oldest = set.values().next()
    if (oldest.done !== true) set.delete(oldest.value)
  }
}

/** Says once that the client retries on its own, so that retries do not multiply unseen. */
const retryWatch = (warn: (message: string) => void) => {
  let warned = false
  const keys = new Set<string>()
  // Requests we gave up on, by method, URL, body size and body hash: the same request arriving
  // again is a caller retrying (the Vercel AI SDK and LangChain send no retry header). The cheap
  // part of the key is checked first, so a request pays for hashing only on a likely match.
  const failedShapes = new Set<string>()
  const failedBodies = new Set<string>()
  const say = (why: string) => {
    if (warned) return
    warned = true
    warn(
      `ResilientFetch: ${why}: the client is retrying on its own around this fetch, which multiplies the requests sent. ` +
        "Turn its retries off (openai: new OpenAI({ fetch, maxRetries: 0 }); Vercel AI: generateText({ maxRetries: 0 }); " +
        "LangChain: new ChatOpenAI({ maxRetries: 0 }))."
    )
  }
  const shapeOf = (request: HttpClientRequest.HttpClientRequest): string | undefined =>
    request.body._tag === "Raw" && typeof request.body.body === "string"
      ? `${request.method} ${request.url} ${request.body.body.length}`
      : undefined
  const bodyKey = (request: HttpClientRequest.HttpClientRequest, shape: string): string =>
    `${shape} ${request.body._tag === "Raw" && typeof request.body.body === "string" ? hash(request.body.body) : 0}`
  return {
    onRequest(request: HttpClientRequest.HttpClientRequest) {
      if (warned) return
      const count = Number(request.headers[STAINLESS_RETRY] ?? "0")
      if (count > 0) return say(`${STAINLESS_RETRY} is ${count}`)
      const key = request.headers[IDEMPOTENCY]
      if (key !== undefined) {
        if (keys.has(key)) return say("the same idempotency key arrived twice")
        remember(keys, key)
      }
      const shape = failedShapes.size === 0 ? undefined : shapeOf(request)
      if (shape !== undefined && failedShapes.has(shape) && failedBodies.has(bodyKey(request, shape))) {
        return say("a request that had failed arrived again")
      }
    },
    onFailure(request: HttpClientRequest.HttpClientRequest) {
      const shape = warned ? undefined : shapeOf(request)
      if (shape === undefined) return
      remember(failedShapes, shape)
      remember(failedBodies, bodyKey(request, shape))
    }
  }
}

const BODYLESS = new Set(["GET", "HEAD"])

/** The WHATWG request as a platform request whose body can be sent again on every attempt. */
const toRequest = (
  input: string | URL | Request,
  init: RequestInit | undefined
): HttpClientRequest.HttpClientRequest | Promise<HttpClientRequest.HttpClientRequest> => {
  const simple = typeof input === "string" || input instanceof URL
  const body = init?.body
  if (simple && (body === undefined || body === null || typeof body === "string" || body instanceof Uint8Array)) {
    const method = (init?.method ?? "GET").toUpperCase() as HttpClientRequest.HttpClientRequest["method"]
    const request = HttpClientRequest.make(method)(input, {
      headers: init?.headers === undefined ? PlatformHeaders.empty : PlatformHeaders.fromInput(init.headers as PlatformHeaders.Input)
    })
    return body === undefined || body === null ? request : HttpClientRequest.setBody(request, HttpBody.raw(body))
  }
  // Anything else (a Request, FormData, a stream, a Blob) is read once into bytes, so that every
  // attempt sends the same body; the Request computes its content type (a multipart boundary).
  // A stream body needs `duplex: "half"` in Node's Request (not yet in the DOM typings).
  const request = new Request(input, body instanceof ReadableStream ? { ...init, duplex: "half" } as RequestInit : init)
  const method = request.method.toUpperCase() as HttpClientRequest.HttpClientRequest["method"]
  const base = HttpClientRequest.make(method)(request.url, { headers: PlatformHeaders.fromInput(request.headers) })
  if (BODYLESS.has(method) || request.body === null) return base
  return request.arrayBuffer().then((bytes) => HttpClientRequest.setBody(base, HttpBody.raw(new Uint8Array(bytes))))
}

// What `RequestInit` carries besides what the platform request holds (an undici `dispatcher`, a
// `redirect` mode...): passed on to the underlying fetch.
const extraInit = (init: RequestInit | undefined): RequestInit | undefined => {
  if (init === undefined) return undefined
  const { body: _b, headers: _h, method: _m, signal: _s, ...rest } = init
  for (const _ in rest) return rest
  return undefined
}

/** @internal */
export const make = (
  options: ResilientFetch.Options<unknown>
): Effect.Effect<ResilientFetch.ResilientFetch, never, Scope.Scope> =>
  Effect.gen(function*() {
    const runFork = yield* FiberSet.makeRuntime<never>()
    const contextFetch = Option.getOrUndefined(yield* Effect.serviceOption(FetchHttpClient.Fetch))
    const given = options.fetch ?? contextFetch
    // Read at call time when not given, so that a fetch installed later (a test's interceptor) is used.
    const underlying = (): Fetch => given ?? globalThis.fetch
    const maxBody = options.maxErrorBodyBytes ?? MAX_ERROR_BODY_BYTES
    const policy: Schedule.Schedule<unknown, OpenAiError.OpenAiError, unknown> = options.retryPolicy ??
      RetryPolicy.default
    const recordDecisions = explain.recordingDecisions(policy)
    const client = withTracing(yield* Effect.provide(HttpClient.HttpClient, FetchHttpClient.layer), options.tracing)
    const resilient = Resilience.make(client, { ...options, retryPolicy: recordDecisions })
    const warn = options.onWarning ?? ((message: string) => void runFork(Effect.logWarning(message)))
    const watch = retryWatch(warn)

    const call = (request: HttpClientRequest.HttpClientRequest, init: RequestInit | undefined, signal: AbortSignal | undefined) => {
      const state: Call = { attempts: 0, raw: undefined, failed: undefined, decisions: [] }
      const consume = (response: HttpClientResponse.HttpClientResponse) => {
        const raw = state.raw
        if (raw !== undefined && isEventStream(response)) return firstBytes(response, raw, signal)
        return Effect.map(response.arrayBuffer, (bytes) =>
          new Response(NULL_BODY.has(response.status) ? null : bytes, {
            status: response.status,
            statusText: raw?.statusText ?? "",
            // As the server sent them: no copy on the hot path (a server cannot forge an id that
            // explain would find, and the content-encoding of decoded bytes is ignored by readers).
            headers: raw?.headers ?? new Headers(response.headers)
          }))
      }
      const extra = extraInit(init)
      return Effect.mapInputContext(resilient.run(request, consume), (context) => {
        const withCall = Context.add(Context.add(context, explain.CurrentCall, state), FetchHttpClient.Fetch, recording(underlying, state, maxBody))
        return extra === undefined ? withCall : Context.add(withCall, FetchHttpClient.RequestInit, extra)
      }).pipe(
        Effect.catchAll((error) => {
          watch.onFailure(request)
          const explanation = explain.explanationOf(error as explain.Failure, state)
          options.onFailure?.(explanation)
          const outcome = settle(explanation, state)
          return "resolve" in outcome ? Effect.succeed(outcome.resolve) : Effect.die(outcome.reject)
        })
      ) as Effect.Effect<Response>
    }

    const start = (
      request: HttpClientRequest.HttpClientRequest,
      init: RequestInit | undefined,
      signal: AbortSignal | undefined,
      resolve: (response: Response) => void,
      reject: (error: unknown) => void
    ) => {
      watch.onRequest(request)
      const fiber = runFork(call(request, init, signal))
      // The caller's abort interrupts the call: its timers, its limiter permit, its socket.
      const onAbort = () => {
        reject(signal?.reason)
        fiber.unsafeInterruptAsFork(fiber.id())
      }
      signal?.addEventListener("abort", onAbort, { once: true })
      fiber.addObserver((exit) => {
        signal?.removeEventListener("abort", onAbort)
        if (Exit.isSuccess(exit)) return resolve(exit.value)
        if (Cause.isInterruptedOnly(exit.cause)) return reject(signal?.reason ?? defect(exit.cause))
        const thrown = Cause.dieOption(exit.cause)
        reject(Option.isSome(thrown) && thrown.value instanceof TypeError ? thrown.value : defect(exit.cause))
      })
    }

    const fetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> =>
      new Promise<Response>((resolve, reject) => {
        const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined) ?? undefined
        if (signal?.aborted) return reject(signal.reason)
        let request: ReturnType<typeof toRequest>
        try {
          request = toRequest(input, init)
        } catch (error) {
          return reject(error)
        }
        if (request instanceof Promise) {
          request.then((r) => start(r, init, signal, resolve, reject), reject)
        } else {
          start(request, init, signal, resolve, reject)
        }
      })
    return fetch as ResilientFetch.ResilientFetch
  })

/** @internal */
export const fromOptions = (options: ResilientFetch.PlainOptions): ResilientFetch.Closeable => {
  const scope = Effect.runSync(Scope.make())
  const built = Effect.gen(function*() {
    const breaker = options.breaker === undefined ? undefined : yield* CircuitBreaker.make(options.breaker)
    const bulkhead = options.bulkhead === undefined ? undefined : yield* Bulkhead.make(options.bulkhead)
    const limiter = options.limiter === undefined
      ? undefined
      : yield* RateLimiter.make(options.limiter).pipe(Effect.provide(RateLimiter.layerStoreMemory))
    const { breaker: _b, bulkhead: _h, limiter: _l, budget, ...rest } = options
    return yield* make({ ...rest, breaker, bulkhead, limiter }).pipe(Effect.provide(RetryBudget.layer(budget)))
  })
  const fetch = Effect.runSync(Scope.extend(built, scope))
  const close = () => Effect.runPromise(Scope.close(scope, Exit.void))
  return Object.assign((input: string | URL | Request, init?: RequestInit) => fetch(input, init), { close })
}

const ignore = () => {}
