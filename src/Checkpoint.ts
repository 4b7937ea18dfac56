/**
 * Which requests of a batch already have a result, so that a run killed (even with `kill -9`)
 * and started again sends only the rest, and writes each result exactly once.
 *
 * A store answers three questions for `Batch.run`: may this worker take request `id` now
 * ({@link Service.claim}: not when it is done, nor while another worker holds it), record its
 * result ({@link Service.complete}: after it returns, `id` is done for good), and give it back
 * unfinished ({@link Service.release}, when a run is interrupted before the result).
 *
 * - `CheckpointFile` (`effect-openai-resilience/node`): the default. The output file is the checkpoint: each result is one JSON
 *   line (`{"id": ..., ...}`), written and `fsync`ed before the id counts as done; on opening,
 *   the ids of the lines already there are done, and a line cut short by a crash is cut off.
 * - {@link layerMemory}: for tests, and for runs that need no durability.
 * - `CheckpointRedis` (`effect-openai-resilience/redis`): several workers share one batch.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as internal from "./internal/checkpoint.js"

/**
 * The store could not be read or written: the output is not writable, the disk is full, Redis is
 * unreachable. A run stops at the first one; what was recorded before it stays recorded.
 *
 * @example
 * ```ts
 * import { Checkpoint } from "effect-openai-resilience"
 *
 * const error = new Checkpoint.CheckpointError({ path: "out.jsonl", message: "ENOSPC: no space left on device" })
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class CheckpointError extends Data.TaggedError("CheckpointError")<{
  readonly message: string
  /** The file concerned, when it is a file. */
  readonly path?: string | undefined
  readonly cause?: unknown
}> {}

/**
 * One result to record: the request's id, whether it succeeded (a file store writes successes
 * to the output and failures to the errors file, when it has one) and the fields written beside
 * the id.
 *
 * @since 0.2.0
 * @category models
 */
export interface Entry {
  readonly id: string
  readonly ok: boolean
  readonly record: Readonly<Record<string, unknown>>
}

/**
 * A checkpoint store.
 *
 * @since 0.2.0
 * @category models
 */
export interface Service {
  /** Takes request `id` for this worker: `false` when it is done or held by another worker (or by this one already). */
  readonly claim: (id: string) => Effect.Effect<boolean, CheckpointError>
  /** Records the result of a claimed request, once: from then on, `id` is done. */
  readonly complete: (entry: Entry) => Effect.Effect<void, CheckpointError>
  /** Gives back a claim without a result (the run was interrupted). */
  readonly release: (id: string) => Effect.Effect<void>
  /** How many ids this store knows as done (those found when it opened, and those completed since). */
  readonly done: Effect.Effect<number>
}

/**
 * The checkpoint store `Batch.runDurable` uses.
 *
 * @example
 * ```ts
 * import { Checkpoint } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const checkpoint = yield* Checkpoint.Checkpoint
 *   return yield* checkpoint.done
 * }).pipe(Effect.provide(Checkpoint.layerMemory))
 * ```
 *
 * @since 0.2.0
 * @category tags
 */
export class Checkpoint extends Context.Tag("effect-openai-resilience/Checkpoint")<Checkpoint, Service>() {}

/**
 * A store in memory: claims and done ids for as long as the process lives.
 *
 * @example
 * ```ts
 * import { Checkpoint } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const checkpoint = yield* Checkpoint.makeMemory
 *   yield* checkpoint.claim("a") // true
 *   return yield* checkpoint.claim("a") // false: already held
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<Service> = Effect.sync(internal.makeMemory)

/**
 * {@link makeMemory} as a layer.
 *
 * @example
 * ```ts
 * import { Checkpoint } from "effect-openai-resilience"
 *
 * const CheckpointTest = Checkpoint.layerMemory
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Checkpoint> = Layer.effect(Checkpoint, makeMemory)
