/**
 * The default {@link Checkpoint.Service}: the output file itself (and the errors file). Each
 * result is one JSON line (`{"id": ..., ...}`), written and `fsync`ed before its id counts as
 * done; on opening, the ids of the lines already there are done, and a line cut short by a crash
 * is cut off. Node only: import it from `effect-openai-resilience/node`.
 *
 * @since 0.2.0
 */
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Checkpoint from "./Checkpoint.js"
import * as internal from "./internal/checkpointFile.js"

/**
 * Where a file store writes: results to `output`, failures to `errors` (default: `output` too).
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  readonly output: string
  readonly errors?: string | undefined
}

/**
 * The store, opened for appending after the ids of the lines already there are read back and a
 * torn last line is cut off. Fails with `CheckpointError` when a file cannot be read or opened;
 * the files close with the scope.
 *
 * @example
 * ```ts
 * import { CheckpointFile } from "effect-openai-resilience/node"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const checkpoint = yield* CheckpointFile.make({ output: "results.jsonl", errors: "errors.jsonl" })
 *   return yield* checkpoint.done // the results already written by an earlier run
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: (options: Options) => Effect.Effect<Checkpoint.Service, Checkpoint.CheckpointError, Scope.Scope> =
  internal.makeFile

/**
 * {@link make} as the `Checkpoint` layer.
 *
 * @example
 * ```ts
 * import { CheckpointFile } from "effect-openai-resilience/node"
 *
 * const CheckpointLive = CheckpointFile.layer({ output: "results.jsonl", errors: "errors.jsonl" })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Checkpoint.Checkpoint, Checkpoint.CheckpointError> =>
  Layer.scoped(Checkpoint.Checkpoint, make(options))
