/**
 * The batch runner: claim, send, record, emit, for each request, as many at once as the limiter
 * admits (bounded by a cap on the fibers that wait for it).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { Failure, InvalidRequest, Options, Request, Response, Result, Success } from "../Batch.js"
import * as Checkpoint from "../Checkpoint.js"
import * as Line from "./line.js"
import type * as OpenAiClient from "../OpenAiClient.js"
import type * as ChatCompletion from "../Schemas/ChatCompletion.js"
import type * as Embeddings from "../Schemas/Embeddings.js"
import type * as Responses from "../Schemas/Responses.js"
import * as TokenEstimate from "../TokenEstimate.js"

/** @internal */
export const DEFAULT_CONCURRENCY = 1000

const isTypedArray = (u: unknown): u is ArrayLike<number> => ArrayBuffer.isView(u) && !(u instanceof DataView)

/** JSON with typed arrays (decoded embeddings) as plain arrays. @internal */
export const toJson = (value: unknown): unknown =>
  JSON.parse(JSON.stringify(value, (_key, v: unknown) => isTypedArray(v) ? Array.from(v) : v) ?? "null")

const field = (u: unknown, key: string): unknown =>
  typeof u === "object" && u !== null ? (u as Record<string, unknown>)[key] : undefined

/** The plain facts of a typed error: tag, message, status, code, request id. @internal */
export const describeError = (error: unknown): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  const tag = field(error, "_tag")
  out._tag = typeof tag === "string" ? tag : "Error"
  out.message = error instanceof Error ? error.message : String(field(error, "message") ?? error)
  for (const key of ["status", "code", "type", "param", "requestId"]) {
    const v = field(error, key)
    const plain = Option.isOption(v) ? Option.getOrUndefined(v) : v
    if (plain !== undefined && plain !== null) out[key] = plain
  }
  const line = field(error, "line")
  if (typeof line === "number") out.line = line
  return out
}

/** The default record of a result. @internal */
export const encode = <A, E>(result: Result<A, E>): Record<string, unknown> => {
  const request = result.request
  const base: Record<string, unknown> = {}
  if (request?.line !== undefined) base.line = request.line
  if (request?.metadata !== undefined) base.metadata = toJson(request.metadata)
  return result._tag === "Success"
    ? { ...base, response: toJson(result.value) }
    : { ...base, error: describeError(result.error) }
}

const plain = <A>(decoded: OpenAiClient.Decoded<A>): Response => ({
  data: decoded.data,
  requestId: Option.getOrUndefined(decoded.requestId),
  status: decoded.status
})

/** @internal */
export const send = <E>(client: OpenAiClient.Service<E>) => (request: Request): Effect.Effect<Response, E> => {
  // The body is sent as it was given; the server is the judge of its fields.
  switch (request.endpoint) {
    case "/chat/completions":
      return Effect.map(client.chat.completions.create(request.body as ChatCompletion.ChatCompletionRequest), plain)
    case "/embeddings":
      return Effect.map(client.embeddings.create(request.body as Embeddings.EmbeddingsRequest), plain)
    case "/responses":
      return Effect.map(client.responses.create(request.body as Responses.ResponsesRequest), plain)
  }
}

/** In progress while the limiter's limits are not known yet. @internal */
export const UNKNOWN_LIMITS_IN_PROGRESS = 16
/** The share of a minute's allowance that may be in progress at once. @internal */
export const WINDOW = 0.5

// Admission: requests in progress (waiting for the limiter or on the wire) stay within half a
// minute's allowance of the limiter's limits, so none waits in its queue long enough to use up
// the call's deadline or the retry policy's; the limiter then paces what is admitted.
type Admit = <A, E, R>(request: Request, send: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

const makeGate = (pacing: NonNullable<Options<unknown, unknown, unknown>["pacing"]>): Effect.Effect<Admit> =>
  Effect.map(Deferred.make<void>(), (first) => {
  let count = 0
  let tokens = 0
  let changed = first
  // One request at a time looks at the room (the others wait in line behind it).
  const inTurn = Line.make()
  const notify = Effect.flatMap(Deferred.make<void>(), (next) => {
    const previous = changed
    changed = next
    return Deferred.succeed(previous, undefined)
  })
  const fits = (key: string, demand: number) =>
    Effect.map(pacing.limiter.snapshot(key), (snapshot) => {
      if (count === 0) return true
      const rpm = Option.flatMap(snapshot, (s) => s.limitRequests)
      const tpm = Option.flatMap(snapshot, (s) => s.limitTokens)
      if (Option.isNone(rpm) && Option.isNone(tpm)) return count < UNKNOWN_LIMITS_IN_PROGRESS
      return (Option.isNone(rpm) || count + 1 <= Math.max(1, rpm.value * WINDOW)) &&
        (Option.isNone(tpm) || tokens + demand <= Math.max(demand, tpm.value * WINDOW))
    })
  // Masked: the slot is taken with its give-back already in place, and only the waits (and the
  // send) are interruptible, so no interruption can land between the two.
  const admit: Admit = (request, send) =>
    Effect.uninterruptibleMask((restore) => {
      const key = pacing.key(request)
      const demand = TokenEstimate.fromBody(request.body, { ...pacing.limiter.estimate, path: request.endpoint }).total
      let taken = false
      const wait: Effect.Effect<void> = Effect.flatMap(restore(fits(key, demand)), (ok) =>
        ok
          ? Effect.sync(() => {
            count++
            tokens += demand
            taken = true
          })
          // A finish frees room; so may limits learned meanwhile: look again within a second.
          : Effect.zipRight(
            restore(Effect.suspend(() => Effect.race(Deferred.await(changed), Effect.sleep("1 second")))),
            Effect.suspend(() => wait)
          ))
      return Effect.ensuring(
        Effect.zipRight(inTurn(wait, restore), restore(send)),
        Effect.suspend(() => {
          if (!taken) return Effect.void
          count--
          tokens -= demand
          return notify
        })
      )
    })
  return admit
})

const isInvalid = (item: Request | InvalidRequest): item is InvalidRequest => "_tag" in item

/** @internal */
export const run = <A, E, R, EI, RI>(
  requests: Stream.Stream<Request | InvalidRequest, EI, RI>,
  options: Options<A, E, R>,
  checkpoint: Checkpoint.Service
): Stream.Stream<Result<A, E | InvalidRequest>, EI | Checkpoint.CheckpointError, R | RI> => {
  const record = options.encode ?? encode
  const gate: Effect.Effect<Admit | undefined> = options.pacing === undefined
    ? Effect.succeed(undefined)
    : makeGate(options.pacing)
  return Stream.unwrap(Effect.map(gate, (admit) => {
  const sendOne = (request: Request) =>
    admit === undefined ? options.send(request) : admit(request, options.send(request))
  const finish = (result: Result<A, E | InvalidRequest>) =>
    Effect.as(
      checkpoint.complete({ id: result.id, ok: result._tag === "Success", record: record(result) }),
      Option.some(result)
    )
  const one = (item: Request | InvalidRequest) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        if (!(yield* checkpoint.claim(item.id))) return Option.none<Result<A, E | InvalidRequest>>()
        if (isInvalid(item)) {
          const failure: Failure<InvalidRequest> = { _tag: "Failure", id: item.id, request: undefined, error: item }
          return yield* finish(failure)
        }
        const exit = yield* Effect.exit(restore(sendOne(item)))
        if (Exit.isSuccess(exit)) {
          const success: Success<A> = { _tag: "Success", id: item.id, request: item, value: exit.value }
          return yield* finish(success)
        }
        const error = Cause.failureOption(exit.cause)
        if (Option.isNone(error)) {
          // Interrupted, or a defect: the request has no result, so it goes back for another run.
          yield* checkpoint.release(item.id)
          return yield* Effect.failCause(exit.cause as Cause.Cause<never>)
        }
        const failure: Failure<E> = { _tag: "Failure", id: item.id, request: item, error: error.value }
        return yield* finish(failure)
      })
    )
  return requests.pipe(
    Stream.mapEffect(one, { concurrency: options.concurrency ?? DEFAULT_CONCURRENCY, unordered: true }),
    Stream.filterMap((o) => o)
  )
  }))
}

/** @internal */
export const runMemory = <A, E, R, EI, RI>(
  requests: Stream.Stream<Request | InvalidRequest, EI, RI>,
  options: Options<A, E, R>
): Stream.Stream<Result<A, E | InvalidRequest>, EI, R | RI> =>
  Stream.unwrap(Effect.map(Checkpoint.makeMemory, (checkpoint) =>
    // A memory store never fails.
    run(requests, options, checkpoint) as Stream.Stream<Result<A, E | InvalidRequest>, EI, R | RI>))
