/**
 * Timeouts: per attempt, over all attempts (the deadline), and the idle timeout's error.
 * @internal
 */
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import type * as FiberRefs from "effect/FiberRefs"
import * as Runtime from "effect/Runtime"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as OpenAiError from "../OpenAiError.js"
import * as attemptTimer from "./attemptTimer.js"

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
  duration: Duration.DurationInput,
  cooperative: boolean = false
): Effect.Effect<A, E | OpenAiError.TimeoutError, R> => {
  const timeout = Duration.decode(duration)
  return timeoutWith(effect, timeout, () => timeoutError(phase, timeout), cooperative)
}

/**
 * `effect` bounded by `timeout`, failing with `onTimeout()` when it runs out. On the live clock: a
 * plain timer, and one child fiber unless `effect` waits only on a transport that ends its waits
 * on the attempt's timer (`cooperative`, ./attemptTimer.ts); under any other clock (TestClock)
 * `Effect.timeoutFail`.
 * @internal
 */
export const timeoutWith = <A, E, R, E2>(
  effect: Effect.Effect<A, E, R>,
  timeout: Duration.Duration,
  onTimeout: () => E2,
  cooperative: boolean = false
): Effect.Effect<A, E | E2, R> =>
  // No timer at all for an infinite bound.
  !Duration.isFinite(timeout)
    ? effect
    : Effect.clockWith((clock) => timeoutOn(effect, timeout, onTimeout, clock instanceof LiveClock, cooperative))

/**
 * {@link timeoutWith} for a caller that knows already whether the clock is the live one
 * ({@link isLiveClock}): no clock lookup per use.
 * @internal
 */
export const timeoutOn = <A, E, R, E2>(
  effect: Effect.Effect<A, E, R>,
  timeout: Duration.Duration,
  onTimeout: () => E2,
  live: boolean,
  cooperative: boolean = false
): Effect.Effect<A, E | E2, R> =>
  !Duration.isFinite(timeout)
    ? effect
    : !live
    ? Effect.timeoutFail(effect, { duration: timeout, onTimeout })
    : Duration.toMillis(timeout) > MAX_TIMER_MILLIS
    ? effect // a timer that long would fire at once (Node's limit); Effect's own Clock never fires one
    : cooperative
    ? attemptTimer.within(effect, timeout, onTimeout)
    : liveTimeout(effect, timeout, onTimeout)

const LiveClock = (Clock.make() as object).constructor

// The longest delay `setTimeout` takes: beyond it, Node fires the timer after 1 ms.
const MAX_TIMER_MILLIS = 2 ** 31 - 1

/**
 * Whether `clock` is the live one, where {@link timeoutWith} arms a plain timer.
 * @internal
 */
export const isLiveClock = (clock: Clock.Clock): boolean => clock instanceof LiveClock

type Locals = ReadonlyMap<unknown, ReadonlyArray<readonly [unknown, unknown]>>
const localsOf = (refs: FiberRefs.FiberRefs): Locals => (refs as unknown as { readonly locals: Locals }).locals

// Whether a child left every FiberRef as its parent has it (the same value, by reference): then
// `Fiber.inheritAll` would change nothing, and its join (a copy and a diff of every FiberRef,
// the context's among them) is skipped. Almost every attempt sets no FiberRef for good.
const inheritsNothing = (parent: FiberRefs.FiberRefs, child: FiberRefs.FiberRefs): boolean => {
  const p = localsOf(parent)
  const c = localsOf(child)
  if (p.size !== c.size) return false
  let same = true
  // `forEach`, not `for...of`: no entry array per FiberRef.
  c.forEach((stack, ref) => {
    const value = stack[0]?.[1]
    const before = p.get(ref)?.[0]?.[1]
    if (!same || value === before) return
    // A fiber that ends winds down; `inheritAll` never passes on that flag (nor Interruption).
    same = ref === FiberRef.currentRuntimeFlags && typeof value === "number" && typeof before === "number" &&
      ((value ^ before) & ~notInherited) === 0
  })
  return same
}

const notInherited = RuntimeFlags.Interruption | RuntimeFlags.WindDown

/**
 * `Effect.timeoutFail` races the effect and a sleep in two new fibers. On the live clock this does
 * the same with one fiber and a plain timer: the effect runs in a child, the parent waits for
 * whichever comes first, the child's exit or the timer, and interrupts the child on a timeout.
 * Under any other clock (TestClock) `Effect.timeoutFail` is used, so virtual time still drives it.
 *
 * The child starts at once on this thread until it first suspends, with this fiber's context and
 * FiberRefs (`Effect.fork` queues it on the scheduler instead, a hop that costs more than the rest
 * of the timeout). It is not supervised by this fiber: the parent interrupts it whenever it stops
 * waiting for it.
 */
const liveTimeout = <A, E, R, E2>(
  effect: Effect.Effect<A, E, R>,
  timeout: Duration.Duration,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.withFiberRuntime<A, E | E2, R>((parent, status) => {
      const runtime = Runtime.make({
        context: parent.currentContext as Context.Context<R>,
        fiberRefs: parent.getFiberRefs(),
        runtimeFlags: status.runtimeFlags
      })
      // The child returns its outcome as a value: a child that failed would log "Fiber terminated
      // with an unhandled error" at Debug for every failed attempt, although the parent handles it.
      // It is started inside the wait's registration, so that a parent interrupted before it waits
      // starts no child that nothing would stop (so `child` is assigned before anything reads it).
      let child!: Fiber.RuntimeFiber<Exit.Exit<A, E>>
      return Effect.flatMap(
        restore(Effect.async<Exit.Exit<Exit.Exit<A, E>> | undefined>((resume) => {
          child = Runtime.runFork(runtime)(restore(Effect.exit(effect)))
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
            : Exit.isSuccess(exit.value) && !inheritsNothing(parent.getFiberRefs(), child.getFiberRefs())
            ? Effect.zipRight(Fiber.inheritAll(child), exit.value)
            : exit.value
      )
    })
  )
