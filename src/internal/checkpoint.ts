/**
 * The checkpoint store in memory.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { Service } from "../Checkpoint.js"

/** @internal */
export const makeMemory = (): Service => {
  const done = new Set<string>()
  const claimed = new Set<string>()
  return {
    claim: (id) =>
      Effect.sync(() => {
        if (done.has(id) || claimed.has(id)) return false
        claimed.add(id)
        return true
      }),
    complete: (entry) =>
      Effect.sync(() => {
        claimed.delete(entry.id)
        done.add(entry.id)
      }),
    release: (id) => Effect.sync(() => void claimed.delete(id)),
    done: Effect.sync(() => done.size)
  }
}

