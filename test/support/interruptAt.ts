/**
 * An interruption that lands at one chosen step of a run, deterministically: the fibers of the
 * run use a Scheduler (which a fiber asks before each step whether to yield), and at step `n`
 * that Scheduler delivers the interruption another fiber's would. Trying every `n` in turn visits
 * every point between two steps where an interruption can land, synchronous ones included (a
 * real one lands there when the fiber yields to the scheduler after its quota of steps).
 */
import { Effect, Fiber, FiberId, Option, Scheduler } from "effect"

/** A run started to be interrupted at step `n`: its fiber, and whether the interruption fired. */
export interface Started<A, E> {
  readonly fiber: Fiber.RuntimeFiber<A, E>
  readonly fired: () => boolean
}

/**
 * Starts `effect` in a fiber of its own, to be interrupted at the `n`-th step taken by any fiber
 * of the run (1-based). A step of another fiber (a child the run forked: a batch's worker, a
 * race's side) interrupts the run's own fiber and makes the stepping fiber yield, so that the
 * interruption reaches it, through its parent, before its next step.
 */
export const interruptAt = <A, E, R>(n: number, effect: Effect.Effect<A, E, R>): Effect.Effect<Started<A, E>, never, R> =>
  Effect.suspend(() => {
    let steps = 0
    let fired = false
    let target: Fiber.RuntimeFiber<unknown, unknown> | undefined
    const scheduler: Scheduler.Scheduler = {
      scheduleTask: (task, priority) => Scheduler.defaultScheduler.scheduleTask(task, priority),
      shouldYield: (fiber) => {
        target ??= fiber
        if (!fired && ++steps >= n) {
          fired = true
          target.unsafeInterruptAsFork(FiberId.none)
          if (fiber !== target) return 0
        }
        return Scheduler.defaultScheduler.shouldYield(fiber)
      }
    }
    return Effect.map(Effect.fork(Effect.withScheduler(effect, scheduler)), (fiber) => ({ fiber, fired: () => fired }))
  })

/** One run to interrupt, and what must hold once it has ended (the step is given for messages). */
export interface Trial<R> {
  readonly run: Effect.Effect<unknown, unknown, R>
  readonly check: (step: number) => Effect.Effect<void, unknown, R>
}

/** How many steps were tried, and those whose run never ended (see {@link everyStep}). */
export interface Steps {
  readonly steps: number
  readonly hung: ReadonlyArray<number>
}

/**
 * Sets up a fresh trial and interrupts its run at step 1, 2, 3, ... until a run ends before its
 * interruption fires, checking each. No virtual time passes. A run that has not ended once
 * everything runnable has run is counted as hung and checked all the same: Effect 3's
 * `raceFibersWith` (under `race`, `timeout`) forks a race's two fibers in one step and starts
 * them in the next, so an interruption landing in between (as a real one does when the fiber
 * yields there) leaves them unstarted, and the interrupted fiber waits for them for good (so does
 * `TestClock.adjust`, which waits for every fiber to suspend: hence no virtual time here). What
 * the run held must be back all the same.
 */
export const everyStep = <R, R2>(setup: Effect.Effect<Trial<R>, never, R2>, limit = 5_000): Effect.Effect<Steps, unknown, R | R2> =>
  Effect.gen(function*() {
    const hung: Array<number> = []
    for (let n = 1; n <= limit; n++) {
      const trial = yield* setup
      const started = yield* interruptAt(n, trial.run)
      if (!(yield* settled(started.fiber))) hung.push(n)
      yield* trial.check(n)
      if (!started.fired()) return { steps: n, hung }
    }
    return yield* Effect.dieMessage(`still interrupted after ${limit} steps`)
  })

/** Whether a fiber has ended once everything runnable has run. */
const settled = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.map(Effect.zipRight(Effect.repeatN(Effect.yieldNow(), 49), Fiber.poll(fiber)), Option.isSome)
