/**
 * A fair line: callers take their turn one at a time, in arrival order.
 *
 * @internal
 */
import * as Effect from "effect/Effect"

/**
 * An `Effect.uninterruptibleMask`'s `restore`.
 *
 * @internal
 */
export type Restore = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

/**
 * Runs an effect in its turn. Call it where nothing interrupts (inside an
 * `Effect.uninterruptibleMask`), with that mask's `restore`: the wait for the turn runs in
 * `restore`, and `look` as given, so that what `look` takes (a permit, a slot) reaches the caller
 * with nothing interruptible after it, and the caller's release is in place before anything can
 * interrupt. `look` runs its own waits in `restore`.
 *
 * @internal
 */
export type Line = <A, E, R>(look: Effect.Effect<A, E, R>, restore: Restore) => Effect.Effect<A, E, R>

/**
 * A fair line: `inTurn(look)` runs `look` once every earlier caller's has ended, in arrival
 * order, and an ending wakes only the next caller. Not Effect's Semaphore: its release wakes
 * every waiter, the losers wait again one stack frame deeper, so a thousand requests waiting for
 * room cost a thousand wake-ups per finish and a heap that grows with the batch (bench/batch:
 * 2,000 requests took 51 s and 2 GB).
 *
 * @internal
 */
export const make = (): Line => {
  let issued = 0
  let serving = 0
  const waiting = new Map<number, () => void>()
  const gone = new Set<number>()
  const handOn = () => {
    serving++
    while (gone.delete(serving)) serving++
    const wake = waiting.get(serving)
    if (wake !== undefined) {
      waiting.delete(serving)
      wake()
    }
  }
  // The caller masks: the ticket is taken where nothing interrupts, so that `leave` runs for it.
  return <A, E, R>(look: Effect.Effect<A, E, R>, restore: Restore): Effect.Effect<A, E, R> =>
    Effect.suspend(() => {
      const ticket = issued++
      let left = false
      // Exactly once per ticket, however it ends (done, interrupted in line or in its turn).
      const leave = () => {
        if (left) return
        left = true
        waiting.delete(ticket)
        if (ticket === serving) handOn()
        else gone.add(ticket)
      }
      const turn = Effect.async<void>((resume) => {
        if (ticket === serving) return resume(Effect.void)
        waiting.set(ticket, () => resume(Effect.void))
        return Effect.sync(leave)
      })
      return Effect.ensuring(Effect.zipRight(restore(turn), look), Effect.sync(leave))
    })
}
