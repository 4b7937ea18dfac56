/**
 * The per-attempt timeout without a fiber, for transports that can end their own waits.
 *
 * Bounding an attempt in general takes a child fiber (./timeout.ts): the attempt runs in it and
 * is interrupted when the time is up. On loopback that fork (a copy of every FiberRef, then the
 * garbage it leaves) was a third of what the default stack costs per call. Every wait of an
 * attempt over this library's own transports is one of theirs (the send, a body read, a stream
 * pull), and each of them can abort its request. Such a transport marks its client as
 * cooperating and, whenever it starts a request, registers the request's abort with the timer of
 * the attempt its fiber runs. The attempt runs in the caller's fiber; when the timer fires it
 * aborts what is in flight, the wait fails at once, and the failure is reported as the timeout.
 *
 * A client wrapped by code of the user's (a `transformClient`) is not marked: its waits may be
 * anything, so it keeps the child fiber.
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"

const CooperatesId: unique symbol = Symbol.for("effect-openai-resilience/AttemptTimer/cooperates")

/** One attempt's timer: the aborts of the requests in flight, run when it fires. @internal */
export class Timer {
  fired = false
  private aborts: Array<() => void> | undefined
  private readonly handle: ReturnType<typeof setTimeout>

  constructor(millis: number) {
    this.handle = setTimeout(() => this.fire(), millis)
  }

  /** Runs `abort` when the timer fires (at once if it has). */
  onFire(abort: () => void): void {
    if (this.fired) return abort()
    ;(this.aborts ??= []).push(abort)
  }

  private fire(): void {
    this.fired = true
    const aborts = this.aborts
    this.aborts = undefined
    if (aborts !== undefined) for (const abort of aborts) abort()
  }

  clear(): void {
    clearTimeout(this.handle)
    this.aborts = undefined
  }
}

// The timer of the attempt each fiber runs. Not a FiberRef: a write of one copies every FiberRef
// of the fiber, twice per attempt. A transport registers in the fiber that sends (the attempt's
// own: the stack forks nothing between the two), so a fiber's own entry is all it needs.
const timers = new WeakMap<Fiber.RuntimeFiber<unknown, unknown>, Timer>()

/** The timer of the attempt `fiber` runs, if its transport cooperates. @internal */
export const current = (fiber: Fiber.RuntimeFiber<unknown, unknown>): Timer | undefined => timers.get(fiber)

/**
 * For a transport: runs `abort` when the current attempt's timer fires. Call it when a request
 * starts; the abort must end the request and every read of its body.
 * @internal
 */
export const register = (fiber: Fiber.RuntimeFiber<unknown, unknown>, abort: () => void): void => {
  timers.get(fiber)?.onFire(abort)
}

/**
 * `resume` called at most once: a wait that the attempt's timer ends, and that may also settle on
 * its own afterwards, resumes its fiber only the first time.
 * @internal
 */
export const once = <A>(resume: (a: A) => void): (a: A) => void => {
  let settled = false
  return (a) => {
    if (settled) return
    settled = true
    resume(a)
  }
}

/** Marks `client` as one whose every wait ends when {@link register}ed aborts run. @internal */
export const cooperating = <C extends HttpClient.HttpClient.With<unknown, unknown>>(client: C): C => {
  // Not enumerable: a client spread into a new object of the user's is not one of ours.
  Object.defineProperty(client, CooperatesId, { value: true, enumerable: false })
  return client
}

/** Whether `client` is marked by {@link cooperating}. @internal */
export const cooperates = (client: HttpClient.HttpClient.With<unknown, unknown>): boolean =>
  (client as unknown as { readonly [CooperatesId]?: true })[CooperatesId] === true

/** `cooperating(wrapped)` when `inner` cooperates: for this library's own wrappers, which add no wait. @internal */
export const cooperatingAs = <C extends HttpClient.HttpClient.With<unknown, unknown>>(
  wrapped: C,
  inner: HttpClient.HttpClient.With<unknown, unknown>
): C => cooperates(inner) ? cooperating(wrapped) : wrapped

/**
 * `effect` over a cooperating transport, bounded by `timeout` on the live clock: a plain timer
 * whose firing aborts the attempt's requests; whatever the attempt then fails with is reported as
 * `onTimeout()`. A success that won the race stands.
 * @internal
 */
export const within = <A, E, R, E2>(
  effect: Effect.Effect<A, E, R>,
  timeout: Duration.Duration,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.withFiberRuntime<A, E | E2, R>((fiber) => {
      const timer = new Timer(Duration.toMillis(timeout))
      const previous = timers.get(fiber)
      timers.set(fiber, timer)
      const end = (exit: Exit.Exit<A, E>): Effect.Effect<A, E | E2> => {
        timer.clear()
        if (previous === undefined) timers.delete(fiber)
        else timers.set(fiber, previous)
        return Exit.isFailure(exit) && timer.fired && !Cause.isInterruptedOnly(exit.cause) ? Effect.fail(onTimeout()) : exit
      }
      return Effect.matchCauseEffect(restore(effect), {
        onFailure: (cause) => end(Exit.failCause(cause)),
        onSuccess: (a) => end(Exit.succeed(a))
      })
    })
  )
