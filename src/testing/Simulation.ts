/**
 * Discrete-event virtual time for Effect programs with many concurrent sleepers: simulations,
 * load models and benchmarks of retry and rate-limit behaviour that cover minutes or hours of
 * traffic in a second.
 *
 * `TestClock` is the right tool for unit tests, but it wakes one sleeper at a time and waits for
 * every fiber to suspend between wake-ups by polling real timers, so thousands of concurrent
 * sleepers take minutes. A simulation instead runs its fibers on a scheduler whose queue it
 * drains itself: it knows exactly when nothing is left to run, then jumps the Clock to the next
 * wake-up. Everything under simulation must read time and sleep through Effect's `Clock` (as the
 * whole library does) and must not wait on real I/O.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { SimClock, SimScheduler } from "./internal/simulation.js"

/**
 * A running simulation: its clock and the controls to move it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Simulation {
  /** Virtual time, epoch milliseconds. */
  readonly now: () => number
  /** How many distinct instants time has jumped to so far. */
  readonly steps: () => number
  /**
   * Runs every fiber of the simulation until virtual time reaches `until` (or nothing sleeps any
   * more), then resolves.
   */
  readonly runUntil: (until: number, stop?: () => boolean) => Promise<void>
  /** Starts an effect inside the simulation (its Clock and scheduler), as a fiber. */
  readonly fork: <A, E>(effect: Effect.Effect<A, E>) => Fiber.RuntimeFiber<A, E>
  /** Runs an effect inside the simulation to its end, moving time as needed. */
  readonly run: <A, E>(effect: Effect.Effect<A, E>) => Promise<Exit.Exit<A, E>>
}

/**
 * Makes a simulation whose clock starts at `start` (default 0).
 *
 * @example
 * ```ts
 * import { Simulation } from "effect-openai-resilience/testing"
 * import { Effect } from "effect"
 *
 * const sim = Simulation.make()
 * // 10,000 fibers each sleeping a virtual minute: done in well under a second of real time.
 * const exit = await sim.run(
 *   Effect.forEach(Array.from({ length: 10_000 }, (_, i) => i), () => Effect.sleep("1 minute"), {
 *     concurrency: "unbounded"
 *   })
 * )
 * console.log(sim.now()) // 60000
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: { readonly start?: number } = {}): Simulation => {
  const scheduler = new SimScheduler()
  const clock = new SimClock(scheduler, options.start ?? 0)
  const inside = <A, E>(effect: Effect.Effect<A, E>) => effect.pipe(Effect.withClock(clock), Effect.withScheduler(scheduler))
  const fork = <A, E>(effect: Effect.Effect<A, E>): Fiber.RuntimeFiber<A, E> => Effect.runFork(inside(effect))
  const run = async <A, E>(effect: Effect.Effect<A, E>): Promise<Exit.Exit<A, E>> => {
    const fiber = fork(effect)
    const done = () => fiber.unsafePoll() !== null
    for (;;) {
      await clock.runUntil(Number.POSITIVE_INFINITY, done)
      const exit = fiber.unsafePoll()
      if (exit !== null) return exit
      // Nothing sleeps and the fiber is not done: it waits on something outside the simulation.
      await new Promise<void>((resolve) => setTimeout(resolve, 1))
    }
  }
  return {
    now: () => clock.unsafeCurrentTimeMillis(),
    steps: () => clock.steps,
    runUntil: (until, stop) => clock.runUntil(until, stop),
    fork,
    run
  }
}
