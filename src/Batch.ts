/**
 * The job people actually run: a batch of requests (embed a corpus, classify a table, summarise
 * a folder) pushed through the limits, losing nothing and repeating nothing.
 *
 * `Batch.run` takes a `Stream` of requests, each with an id, and gives a `Stream` of results,
 * each the response or the typed error, tagged with the id, in the order they finish. Every
 * request is one call of the client, so the whole `Resilience` stack is underneath: the retry
 * policy, the breaker, the deadline, and the rate limiter, which decides how many requests are
 * on the wire (no fixed concurrency to tune: as many as the limits admit, up to a generous cap
 * on the requests waiting for it). `Batch.runDurable` records each result in a
 * {@link Checkpoint.Checkpoint} store first, so that a run killed and started again with the
 * same input sends only what has no result yet.
 *
 * How a request is sent is an option, `send`: {@link send} of an `OpenAiClient` by default, or
 * anything else with the same shape (a fallback across deployments, another endpoint).
 *
 * @since 0.2.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Checkpoint from "./Checkpoint.js"
import * as internal from "./internal/batch.js"
import type * as OpenAiClient from "./OpenAiClient.js"
import type * as RateLimiter from "./RateLimiter.js"

/**
 * The endpoints {@link send} knows.
 *
 * @since 0.2.0
 * @category models
 */
export type Endpoint = "/chat/completions" | "/embeddings" | "/responses"

/**
 * The endpoints {@link send} knows, as a list.
 *
 * @example
 * ```ts
 * import { Batch } from "effect-openai-resilience"
 *
 * console.log(Batch.endpoints.includes("/embeddings")) // true
 * ```
 *
 * @since 0.2.0
 * @category constants
 */
export const endpoints: ReadonlyArray<Endpoint> = ["/chat/completions", "/embeddings", "/responses"]

/**
 * One request of a batch: its id (unique within the batch: a repeated id is skipped), the
 * endpoint, the body sent as it is, and what to keep beside the result (the input's line number
 * and metadata).
 *
 * @since 0.2.0
 * @category models
 */
export interface Request {
  readonly id: string
  readonly endpoint: Endpoint
  readonly body: unknown
  readonly line?: number | undefined
  readonly metadata?: unknown
}

/**
 * An input that is not a request (a malformed line, an unknown endpoint), in the input stream
 * where the request would be: it becomes a failure result with its id and line, and the run
 * goes on.
 *
 * @example
 * ```ts
 * import { Batch } from "effect-openai-resilience"
 *
 * const bad = new Batch.InvalidRequest({ id: "line:7", line: 7, message: "Unexpected token } in JSON" })
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidRequest extends Data.TaggedError("InvalidRequest")<{
  readonly id: string
  readonly line?: number | undefined
  readonly message: string
}> {}

/**
 * What {@link send} gives for a request: the decoded body, the request id and the status.
 *
 * @since 0.2.0
 * @category models
 */
export interface Response {
  readonly data: unknown
  readonly requestId: string | undefined
  readonly status: number
}

/**
 * A request that succeeded.
 *
 * @since 0.2.0
 * @category models
 */
export interface Success<A> {
  readonly _tag: "Success"
  readonly id: string
  readonly request: Request
  readonly value: A
}

/**
 * A request that failed for good (the retry policy gave up, or retrying could not help), or an
 * input that was not a request (`request` undefined, `error` an {@link InvalidRequest}).
 *
 * @since 0.2.0
 * @category models
 */
export interface Failure<E> {
  readonly _tag: "Failure"
  readonly id: string
  readonly request: Request | undefined
  readonly error: E
}

/**
 * The result of one request.
 *
 * @since 0.2.0
 * @category models
 */
export type Result<A, E> = Success<A> | Failure<E>

/**
 * How to run a batch.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options<A, E, R> {
  /** Sends one request: {@link send} of a client, or a fallback plan with the same shape. */
  readonly send: (request: Request) => Effect.Effect<A, E, R>
  /**
   * The most requests in progress at once, those waiting for the rate limiter included (default
   * 1,000). The limiter decides how many of them are on the wire; this only bounds memory.
   */
  readonly concurrency?: number | undefined
  /**
   * The client's limiter and the key of a request in it: requests in progress then stay within
   * half a minute's allowance of the limiter's limits (16 while it knows none), so that no request
   * waits in its queue long enough to use up its deadline. Without it, only `concurrency` bounds them.
   */
  readonly pacing?: { readonly limiter: RateLimiter.Service; readonly key: (request: Request) => string } | undefined
  /** The fields a checkpoint records beside the id (default {@link encode}). */
  readonly encode?: ((result: Result<A, E | InvalidRequest>) => Readonly<Record<string, unknown>>) | undefined
}

/**
 * Sends a request with the client's method for its endpoint.
 *
 * @example
 * ```ts
 * import { Batch, OpenAiClient } from "effect-openai-resilience"
 * import { Effect, Stream } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const openai = yield* OpenAiClient.OpenAiClient
 *   const requests = Stream.make({ id: "a", endpoint: "/embeddings" as const, body: { model: "text-embedding-3-small", input: "hi" } })
 *   return yield* Stream.runCollect(Batch.run(requests, { send: Batch.send(openai) }))
 * })
 * ```
 *
 * @since 0.2.0
 * @category sending
 */
export const send: <E>(client: OpenAiClient.Service<E>) => (request: Request) => Effect.Effect<Response, E> =
  internal.send

/**
 * The default record of a result: `line` and `metadata` when the request has them, then
 * `response` (as JSON, embeddings as plain arrays) or `error` (tag, message, status, code,
 * request id).
 *
 * @example
 * ```ts
 * import { Batch } from "effect-openai-resilience"
 *
 * const record = Batch.encode({ _tag: "Success", id: "a", request: { id: "a", endpoint: "/embeddings", body: {}, line: 1 }, value: 42 })
 * // { line: 1, response: 42 }
 * ```
 *
 * @since 0.2.0
 * @category encoding
 */
export const encode: <A, E>(result: Result<A, E>) => Record<string, unknown> = internal.encode

/**
 * Runs the requests, as many at once as the client's limiter admits; the results come as they
 * finish. Ids are remembered for the run only: a repeated id is skipped.
 *
 * @example
 * ```ts
 * import { Batch, OpenAiClient } from "effect-openai-resilience"
 * import { Effect, Stream } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const openai = yield* OpenAiClient.OpenAiClient
 *   const requests = Stream.range(1, 100).pipe(Stream.map((i) => ({
 *     id: `q${i}`,
 *     endpoint: "/chat/completions" as const,
 *     body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `Classify item ${i}` }] }
 *   })))
 *   yield* Batch.run(requests, { send: Batch.send(openai) }).pipe(
 *     Stream.runForEach((result) => Effect.log(`${result.id}: ${result._tag}`))
 *   )
 * })
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const run = <A, E, R, EI, RI>(
  requests: Stream.Stream<Request | InvalidRequest, EI, RI>,
  options: Options<A, E, R>
): Stream.Stream<Result<A, E | InvalidRequest>, EI, R | RI> => internal.runMemory(requests, options)

/**
 * {@link run} with a checkpoint: a request already done in the {@link Checkpoint.Checkpoint} store
 * (or held by another worker) is skipped, and each result is recorded there before it is
 * emitted. Killed and started again with the same input, it sends only what has no result; a
 * failure of the store ends the stream with `CheckpointError`, what was recorded staying so.
 *
 * @example
 * ```ts
 * import { Batch, OpenAiClient } from "effect-openai-resilience"
 * import { CheckpointFile } from "effect-openai-resilience/node"
 * import { Effect, Stream } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const openai = yield* OpenAiClient.OpenAiClient
 *   const requests = Stream.make({ id: "a", endpoint: "/embeddings" as const, body: { model: "text-embedding-3-small", input: "hi" } })
 *   yield* Stream.runDrain(Batch.runDurable(requests, { send: Batch.send(openai) }))
 * }).pipe(Effect.provide(CheckpointFile.layer({ output: "results.jsonl", errors: "errors.jsonl" })))
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const runDurable = <A, E, R, EI, RI>(
  requests: Stream.Stream<Request | InvalidRequest, EI, RI>,
  options: Options<A, E, R>
): Stream.Stream<Result<A, E | InvalidRequest>, EI | Checkpoint.CheckpointError, R | RI | Checkpoint.Checkpoint> =>
  Stream.unwrap(Effect.map(Checkpoint.Checkpoint, (checkpoint) => internal.run(requests, options, checkpoint)))
