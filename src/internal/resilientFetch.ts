/**
 * The implementation behind `ResilientFetch`: a WHATWG `fetch` whose every call is one
 * `Resilience` run over the given fetch (see ./resilientFetchTransport.ts) or the `HttpClient` in
 * context.
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
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Bulkhead from "../Bulkhead.js"
import * as CircuitBreaker from "../CircuitBreaker.js"
import * as OpenAiError from "../OpenAiError.js"
import * as RateLimiter from "../RateLimiter.js"
import * as resilience from "./resilience.js"
import * as RetryBudget from "../RetryBudget.js"
import * as RetryPolicy from "../RetryPolicy.js"
import type * as ResilientFetch from "../ResilientFetch.js"
import { bufferedResponse } from "./bufferedResponse.js"
import * as capture from "./capture.js"
import * as explain from "./explain.js"
import { invalid } from "./options.js"
import { MAX_ERROR_BODY_BYTES } from "./httpMiddleware.js"
import * as transport from "./resilientFetchTransport.js"

type Fetch = ResilientFetch.Fetch

const isEventStream = (response: HttpClientResponse.HttpClientResponse): boolean =>
  (response.headers["content-type"] ?? "").toLowerCase().includes("text/event-stream")

type Pull = Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<HttpClientError.ResponseError>>

/**
 * A stream is retried until its first bytes arrive, then handed over as the server sends it:
 * nothing that reached the client is ever replayed, and an error event or a cut after that
 * reaches the client exactly as it would without the adapter.
 */
const firstBytes = (response: HttpClientResponse.HttpClientResponse, signal: AbortSignal | undefined) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const opened = Effect.gen(function*() {
      const pull: Pull = yield* Scope.extend(Stream.toPull(response.stream), scope)
      while (true) {
        const chunk = yield* Effect.catchAll(pull, (e) => Option.isSome(e) ? Effect.fail(e.value) : Effect.succeed(undefined))
        if (chunk === undefined) return { pull, first: [] as Array<Uint8Array>, ended: true }
        if (Chunk.isNonEmpty(chunk)) return { pull, first: Chunk.toArray(chunk), ended: false }
      }
    })
    // Failed or interrupted (timeout, abort) before the first bytes: closing the scope closes the socket.
    const { ended, first, pull } = yield* Effect.onError(opened, () => Scope.close(scope, Exit.void))
    const runtime = yield* Effect.runtime<never>()
    return new Response(handOver({ pull, first, ended, scope, runtime }, signal), {
      status: response.status,
      headers: capture.webHeaders(response.headers)
    })
  })

const handOver = (
  state: {
    readonly pull: Pull
    readonly first: Array<Uint8Array>
    readonly ended: boolean
    readonly scope: Scope.CloseableScope
    readonly runtime: Runtime.Runtime<never>
  },
  signal: AbortSignal | undefined
): ReadableStream<Uint8Array> => {
  const run = Runtime.runPromiseExit(state.runtime)
  const queued = state.first
  let ended = state.ended
  let closed = false
  const close = () => {
    if (closed) return Promise.resolve()
    closed = true
    signal?.removeEventListener("abort", onAbort)
    return run(Scope.close(state.scope, Exit.void)).then(ignore)
  }
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined
  // After the response, the caller's signal still ends the body, as fetch does.
  const onAbort = () => {
    controller?.error(signal?.reason)
    void close()
  }
  signal?.addEventListener("abort", onAbort, { once: true })
  return new ReadableStream<Uint8Array>({
    start(c) {
      controller = c
    },
    async pull(c) {
      const next = queued.shift()
      if (next !== undefined) return c.enqueue(next)
      if (ended) {
        await close()
        return c.close()
      }
      const exit = await run(state.pull)
      if (Exit.isSuccess(exit)) {
        for (const bytes of exit.value) c.enqueue(bytes)
        return
      }
      const failure = Option.flatten(Cause.failureOption(exit.cause))
      ended = true
      await close()
      if (Option.isNone(failure)) return c.close()
      // What fetch itself would have thrown (undici's "terminated"), not the platform's wrapper.
      const error = failure.value
      c.error(error.cause ?? error)
    },
    cancel() {
      return close()
    }
  })
}

/** What a call resolves or rejects with when retries run out. */
const settle = (
  explanation: explain.Explanation,
  call: capture.Call
): { readonly resolve: Response } | { readonly reject: Error } => {
  const error = explanation.error
  const failed = call.failed
  if (OpenAiError.isOpenAiError(error) && Option.isSome(error.status) && failed !== undefined) {
    // The client raises its own class from the server's last answer; the id leads back here.
    const response = capture.failedResponse(failed, explain.register(explanation, []))
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
      `ResilientFetch: ${why}: something around this fetch (the client's own retries, or a loop of yours) is retrying, ` +
        "which multiplies the requests its policy already sends. " +
        "Turn its retries off (openai: new OpenAI({ fetch, maxRetries: 0 }); Vercel AI: generateText({ maxRetries: 0 }); " +
        "LangChain: new ChatOpenAI({ maxRetries: 0 }))."
    )
  }
  const shapeOf = ({ request, text }: Incoming): string | undefined =>
    text === undefined ? undefined : `${request.method} ${request.url} ${text.length}`
  const bodyKey = (incoming: Incoming, shape: string): string => `${shape} ${hash(incoming.text ?? "")}`
  return {
    onRequest(incoming: Incoming) {
      if (warned) return
      const request = incoming.request
      const count = Number(request.headers[STAINLESS_RETRY] ?? "0")
      if (count > 0) return say(`${STAINLESS_RETRY} is ${count}`)
      const key = request.headers[IDEMPOTENCY]
      if (key !== undefined) {
        if (keys.has(key)) return say("the same idempotency key arrived twice")
        remember(keys, key)
      }
      const shape = failedShapes.size === 0 ? undefined : shapeOf(incoming)
      if (shape !== undefined && failedShapes.has(shape) && failedBodies.has(bodyKey(incoming, shape))) {
        return say("a request that had failed arrived again")
      }
    },
    onFailure(incoming: Incoming) {
      const shape = warned ? undefined : shapeOf(incoming)
      if (shape === undefined) return
      remember(failedShapes, shape)
      remember(failedBodies, bodyKey(incoming, shape))
    }
  }
}

const BODYLESS = new Set(["GET", "HEAD"])
const encoder = new TextEncoder()

/** A platform request and, for the retry watch, its body as the caller wrote it. */
interface Incoming {
  readonly request: HttpClientRequest.HttpClientRequest
  readonly text: string | undefined
}

/**
 * The body as bytes: sent again on every attempt, and of a known size, so that the pre-flight
 * check passes a request that plainly fits the model's window without counting its tokens. The
 * content type is the caller's, else the one fetch gives a string body.
 */
const withBytes = (
  request: HttpClientRequest.HttpClientRequest,
  bytes: Uint8Array,
  fallbackType: string
): HttpClientRequest.HttpClientRequest =>
  HttpClientRequest.setBody(request, HttpBody.uint8Array(bytes, request.headers["content-type"] ?? fallbackType))

/** The WHATWG request as a platform request whose body can be sent again on every attempt. */
const toRequest = (input: string | URL | Request, init: RequestInit | undefined): Incoming | Promise<Incoming> => {
  const simple = typeof input === "string" || input instanceof URL
  const body = init?.body
  if (simple && (body === undefined || body === null || typeof body === "string" || body instanceof Uint8Array)) {
    const method = (init?.method ?? "GET").toUpperCase() as HttpClientRequest.HttpClientRequest["method"]
    const request = HttpClientRequest.make(method)(input, {
      headers: init?.headers === undefined ? PlatformHeaders.empty : PlatformHeaders.fromInput(init.headers as PlatformHeaders.Input)
    })
    if (body === undefined || body === null) return { request, text: undefined }
    return typeof body === "string"
      ? { request: withBytes(request, encoder.encode(body), "text/plain;charset=UTF-8"), text: body }
      : { request: withBytes(request, body, ""), text: undefined }
  }
  // Anything else (a Request, FormData, a stream, a Blob) is read once into bytes, so that every
  // attempt sends the same body; the Request computes its content type (a multipart boundary).
  // A stream body needs `duplex: "half"` in Node's Request (not yet in the DOM typings).
  const request = new Request(input, body instanceof ReadableStream ? { ...init, duplex: "half" } as RequestInit : init)
  const method = request.method.toUpperCase() as HttpClientRequest.HttpClientRequest["method"]
  const base = HttpClientRequest.make(method)(request.url, { headers: PlatformHeaders.fromInput(request.headers) })
  if (BODYLESS.has(method) || request.body === null) return { request: base, text: undefined }
  return request.arrayBuffer().then((bytes) => ({ request: withBytes(base, new Uint8Array(bytes), ""), text: undefined }))
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
    // The transport: the fetch given, else an HttpClient in context (NodeHttpClient's undici, say),
    // else the `FetchHttpClient.Fetch` in context, else the global fetch, read at call time so
    // that a fetch installed later (a test's interceptor) is used.
    const contextClient = options.fetch === undefined ? yield* Effect.serviceOption(HttpClient.HttpClient) : Option.none()
    const overFetch = Option.isNone(contextClient)
    // Every call runs in this runtime, so its tracer is the one in place here: with Effect's
    // default one, which records nothing, the platform's span is switched off once, in the
    // runtime, rather than on every attempt.
    const spans = options.tracing ?? (yield* Effect.tracer) !== defaultTracer
    const runtime = yield* (spans
      ? Effect.runtime<never>()
      : Effect.locally(Effect.runtime<never>(), HttpClient.currentTracerDisabledWhen, always))
    // Calls run in fibers of their own, interrupted when the scope closes. Each starts with the
    // call's own services in its context (its capture state, its `RequestInit`): providing them
    // inside the fiber would cost an `Effect.locally` of the whole context per call.
    const fibers = yield* FiberSet.make<unknown, unknown>()
    let closed = false
    yield* Effect.addFinalizer(() => Effect.sync(() => (closed = true)))
    const runFork = <A, E>(effect: Effect.Effect<A, E>, context: Context.Context<never> = runtime.context) => {
      // After close() nothing more is sent: the call ends at once, interrupted.
      const run = closed ? Effect.interrupt : effect
      const fiber = Runtime.runFork(context === runtime.context ? runtime : Runtime.make({ ...runtime, context }), run)
      FiberSet.unsafeAdd(fibers, fiber)
      return fiber
    }
    const base = Option.isSome(contextClient)
      ? transport.keepingHeaders(contextClient.value)
      : transport.fetchClient(
        options.fetch ?? Option.getOrElse(yield* Effect.serviceOption(FetchHttpClient.Fetch), () => globalFetch),
        spans
      )
    const maxBody = options.maxErrorBodyBytes ?? MAX_ERROR_BODY_BYTES
    const policy: Schedule.Schedule<unknown, OpenAiError.OpenAiError, unknown> = options.retryPolicy ??
      RetryPolicy.default
    const resilient = resilience.make(capture.capturing(base, maxBody), {
      ...options,
      retryPolicy: capture.recordingDecisions(policy)
    })
    const warn = options.onWarning ?? ((message: string) => void runFork(Effect.logWarning(message)))
    const watch = retryWatch(warn)

    const call = (incoming: Incoming, state: capture.Call, signal: AbortSignal | undefined) => {
      const request = incoming.request
      const consume = (response: HttpClientResponse.HttpClientResponse) =>
        isEventStream(response) ? firstBytes(response, signal) : Effect.map(response.arrayBuffer, (bytes) => {
          const init = { status: response.status, headers: capture.webHeaders(response.headers) }
          return capture.NULL_BODY.has(response.status) ? new Response(null, init) : bufferedResponse(new Uint8Array(bytes), init)
        })
      return Effect.catchAll(resilient.run(request, consume), (error) => {
        watch.onFailure(incoming)
        const explanation = explain.explanationOf(error as explain.Failure, state)
        options.onFailure?.(explanation)
        const outcome = settle(explanation, state)
        return "resolve" in outcome ? Effect.succeed(outcome.resolve) : Effect.die(outcome.reject)
      }) as Effect.Effect<Response>
    }

    const start = (
      incoming: Incoming,
      init: RequestInit | undefined,
      signal: AbortSignal | undefined,
      resolve: (response: Response) => void,
      reject: (error: unknown) => void
    ) => {
      watch.onRequest(incoming)
      const state = capture.makeCall()
      const extra = overFetch ? extraInit(init) : undefined
      const withCall = Context.add(runtime.context, capture.CurrentCall, state)
      const context = extra === undefined ? withCall : Context.add(withCall, FetchHttpClient.RequestInit, extra)
      const fiber = runFork(call(incoming, state, signal), context)
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
    const { breaker: _b, bulkhead: _h, limiter: _l, budget, httpClient, ...rest } = options
    if (httpClient !== undefined && options.fetch !== undefined) {
      return yield* Effect.fail(invalid("ResilientFetch", "httpClient", "an HttpClient", "either fetch or httpClient, not both"))
    }
    const made = make({ ...rest, breaker, bulkhead, limiter }).pipe(Effect.provide(RetryBudget.layer(budget)))
    return yield* (httpClient === undefined ? made : Effect.provideService(made, HttpClient.HttpClient, httpClient))
  })
  const fetch = Effect.runSync(Scope.extend(built, scope))
  const close = () => Effect.runPromise(Scope.close(scope, Exit.void))
  return Object.assign((input: string | URL | Request, init?: RequestInit) => fetch(input, init), { close })
}

const ignore = () => {}
const always = () => true
// Effect's default tracer records nothing: with it, no span is worth opening.
const defaultTracer = Effect.runSync(Effect.tracer)

const globalFetch: Fetch = (input, init) => globalThis.fetch(input, init)
