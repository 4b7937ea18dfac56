/**
 * Timeouts: per attempt, over all attempts (the deadline), and the idle timeout's error.
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"
import * as OpenAiError from "../OpenAiError.js"

/** @internal */
export const timeoutError = (phase: OpenAiError.TimeoutPhase, timeout: Duration.Duration) =>
  new OpenAiError.TimeoutError({
    message: phase === "deadline"
      ? `The request did not complete within its deadline of ${Duration.format(timeout)} (all attempts)`
      : phase === "idle"
      ? `No data arrived for ${Duration.format(timeout)}`
      : `No response within ${Duration.format(timeout)} (the per-attempt timeout)`,
    phase,
    timeout
  })

/** @internal */
export const timeoutEffect = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  phase: OpenAiError.TimeoutPhase,
  duration: Duration.DurationInput
): Effect.Effect<A, E | OpenAiError.TimeoutError, R> => {
  const timeout = Duration.decode(duration)
  return timeoutWith(effect, timeout, () => timeoutError(phase, timeout))
}

/**
 * `effect` bounded by `timeout`, failing with `onTimeout()` when it runs out: one child fiber and
 * a plain timer on the live clock, `Effect.timeoutFail` under any other (TestClock).
 * @internal
 */
export const timeoutWith = <A, E, R, E2>(
  effect: Effect.Effect<A, E, R>,
  timeout: Duration.Duration,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> =>
  // No timer at all for an infinite bound.
  !Duration.isFinite(timeout) ? effect : Effect.clockWith((clock) =>
    clock instanceof LiveClock ? liveTimeout(effect, timeout, onTimeout) : Effect.timeoutFail(effect, { duration: timeout, onTimeout })
  )

const LiveClock = (Clock.make() as object).constructor

// Starts `effect` in a fiber of its own that runs at once on this thread until it first
// suspends, with this fiber's context and FiberRefs: `Effect.fork` queues the child on the
// scheduler instead, a hop that costs more than the rest of the timeout. The child is not
// supervised by this fiber: the caller interrupts it whenever it stops waiting for it.
const startNow = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<Fiber.RuntimeFiber<A, E>, never, R> =>
  Effect.map(Effect.runtime<R>(), (runtime) => Runtime.runFork(runtime)(effect))

/**
 * `Effect.timeoutFail` races the effect and a sleep in two new fibers. On the live clock this does
 * the same with one fiber and a plain timer: the effect runs in a child, the parent waits for
 * whichever comes first, the child's exit or the timer, and interrupts the child on a timeout.
 * Under any other clock (TestClock) `Effect.timeoutFail` is used, so virtual time still drives it.
 */
const liveTimeout = <A, E, R, E2>(
  effect: Effect.Effect<A, E, R>,
  timeout: Duration.Duration,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> =>
  Effect.uninterruptibleMask((restore) =>
    // The child returns its outcome as a value: a child that failed would log "Fiber terminated
    // with an unhandled error" at Debug for every failed attempt, although the parent handles it.
    Effect.flatMap(startNow(restore(Effect.exit(effect))), (child) =>
      Effect.flatMap(
        restore(Effect.async<Exit.Exit<Exit.Exit<A, E>> | undefined>((resume) => {
          let settled = false
          const timer = setTimeout(() => {
            if (settled) return
            settled = true
            resume(Effect.succeed(undefined))
          }, Duration.toMillis(timeout))
          child.addObserver((exit) => {
            if (settled) return
            settled = true
            clearTimeout(timer)
            resume(Effect.succeed(exit))
          })
          // Interrupted while waiting: stop the timer and the child (the canceler of the wait,
          // rather than an `onInterrupt` around it, which costs another mask per call).
          return Effect.zipRight(Effect.sync(() => clearTimeout(timer)), Fiber.interrupt(child))
        })),
        (exit): Effect.Effect<A, E | E2> =>
          exit === undefined
            ? Effect.zipRight(Fiber.interrupt(child), Effect.fail(onTimeout()))
            : Exit.isFailure(exit)
            ? Exit.failCause(exit.cause) // the child was interrupted
            : Exit.isSuccess(exit.value)
            ? Effect.as(Fiber.inheritAll(child), exit.value.value)
            : exit.value
      )))

