/**
 * A bulkhead: at most `maxConcurrent` calls run at once, at most `maxQueue` more wait for a slot,
 * and any call beyond that fails at once with {@link BulkheadFull} instead of piling up memory and
 * latency behind a slow upstream.
 *
 * @since 0.1.0
 */
import type * as HttpClientType from "@effect/platform/HttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import { dual } from "effect/Function"
import * as Schema from "effect/Schema"
import type { InvalidOptions } from "./InvalidOptions.js"
import * as O from "./internal/options.js"
import * as telemetry from "./internal/telemetry.js"

/**
 * The error of a call refused because every slot is busy and the queue is full.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * declare const call: Effect.Effect<string, Bulkhead.BulkheadFull>
 * const handled = call.pipe(Effect.catchTag("BulkheadFull", () => Effect.succeed("busy, try later")))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class BulkheadFull extends Data.TaggedError("BulkheadFull")<{
  readonly message: string
  readonly maxConcurrent: number
  readonly maxQueue: number
}> {}

/**
 * Options of {@link make}.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-openai-resilience"
 *
 * const options: Bulkhead.Options = { maxConcurrent: 8, maxQueue: 64, name: "embeddings" }
 * const bulkhead = Bulkhead.make(options)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Calls running at once. At least 1. */
  readonly maxConcurrent: number
  /** Calls waiting for a slot; 0 refuses every call that cannot start at once. Default 0. */
  readonly maxQueue?: number | undefined
  /** The `bulkhead` label of its metrics (`Telemetry`). Default `"openai"`. */
  readonly name?: string | undefined
}

const OptionsSchema = Schema.Struct({
  maxConcurrent: O.int(1),
  maxQueue: O.optional(O.intOrInfinity(0))
})

/**
 * A bulkhead. Call it as a function to run an effect inside it, or use {@link withBulkhead}.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * const levels = (bulkhead: Bulkhead.Bulkhead) =>
 *   Effect.all({ running: bulkhead.active, waiting: bulkhead.queued })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Bulkhead {
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | BulkheadFull, R>
  /** Calls running now. */
  readonly active: Effect.Effect<number>
  /** Calls waiting for a slot now. */
  readonly queued: Effect.Effect<number>
  readonly maxConcurrent: number
  readonly maxQueue: number
  /** The `bulkhead` label of its metrics. */
  readonly name: string
}

/**
 * Makes a bulkhead.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * declare const call: Effect.Effect<string>
 *
 * const program = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ maxConcurrent: 8, maxQueue: 100 })
 *   return yield* Effect.all(Array.from({ length: 20 }, () => bulkhead(call)), { concurrency: "unbounded" })
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Bulkhead, InvalidOptions> =>
  Effect.map(O.validate("Bulkhead", OptionsSchema, options), (valid) =>
    makeUnsafe(valid.maxConcurrent, valid.maxQueue ?? 0, options.name ?? "openai"))

/** One call waiting for a slot; `handed` once a leaving call has given it its slot. */
interface Waiter {
  readonly resume: (effect: Effect.Effect<void>) => void
  handed: boolean
}

const makeUnsafe = (maxConcurrent: number, maxQueue: number, name: string): Bulkhead => {
  // Admission is decided synchronously on `inside` (running + waiting), so two callers can never
  // both take the last queue place. A slot passes straight from a leaving call to the first
  // waiter, so a free slot never has a waiter and a caller that finds one takes it at once.
  let inside = 0
  let active = 0
  const waiters = new Set<Waiter>()
  const full = new BulkheadFull({
    message: `Bulkhead full: ${maxConcurrent} call(s) running and ${maxQueue} waiting`,
    maxConcurrent,
    maxQueue
  })
  // Levels are reported after every change, from the fiber that made it.
  const levels = telemetry.bulkheadLevels(name)
  const report = (fiber: Fiber.RuntimeFiber<unknown, unknown>) => levels(fiber, active, inside - active)
  const giveBack = (): void => {
    const next = waiters.values().next()
    if (next.done === true) {
      active--
      return
    }
    waiters.delete(next.value)
    next.value.handed = true
    next.value.resume(Effect.void)
  }
  const slot = Effect.async<void>((resume) => {
    const waiter: Waiter = { resume, handed: false }
    waiters.add(waiter)
    // Interrupted while waiting: leave the queue; or as the slot was handed over: pass it on.
    return Effect.sync(() => waiter.handed ? giveBack() : waiters.delete(waiter))
  })
  const leave = (running: boolean) =>
    Effect.withFiberRuntime<void>((fiber) => {
      inside--
      if (running) giveBack()
      report(fiber)
      return Effect.void
    })
  const leaveRunning = leave(true)
  const leaveWaiting = leave(false)
  const run = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | BulkheadFull, R> =>
    Effect.uninterruptibleMask((restore) => {
      // Already masked: a match leaves the slot whatever ends the call (`ensuring` would take a
      // second mask).
      const running = Effect.matchCauseEffect(restore(effect), {
        onFailure: (cause) => Effect.zipRight(leaveRunning, Effect.failCause(cause)),
        onSuccess: (a) => Effect.as(leaveRunning, a)
      })
      return Effect.withFiberRuntime((fiber): Effect.Effect<A, E | BulkheadFull, R> => {
        if (inside >= maxConcurrent + maxQueue) {
          telemetry.bulkheadRefused(fiber, name)
          return Effect.fail(full)
        }
        inside++
        if (active < maxConcurrent) {
          active++
          report(fiber)
          return running
        }
        report(fiber)
        return Effect.matchCauseEffect(restore(slot), {
          onFailure: (cause) => Effect.zipRight(leaveWaiting, Effect.failCause(cause)),
          onSuccess: () => running
        })
      })
    })
  const bulkhead = Object.assign(run, {
    active: Effect.sync(() => active),
    queued: Effect.sync(() => inside - active),
    maxConcurrent,
    maxQueue
  })
  // A function's own `name` is read-only for assignment but configurable.
  Object.defineProperty(bulkhead, "name", { value: name })
  return bulkhead as typeof bulkhead & { readonly name: string }
}

/**
 * Runs an effect inside a bulkhead.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-openai-resilience"
 * import { Effect } from "effect"
 *
 * declare const bulkhead: Bulkhead.Bulkhead
 * declare const call: Effect.Effect<string>
 * const limited = call.pipe(Bulkhead.withBulkhead(bulkhead))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withBulkhead: {
  (bulkhead: Bulkhead): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadFull, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, bulkhead: Bulkhead): Effect.Effect<A, E | BulkheadFull, R>
} = dual(2, <A, E, R>(self: Effect.Effect<A, E, R>, bulkhead: Bulkhead) => bulkhead(self))

/**
 * `HttpClient -> HttpClient` middleware: every request runs inside the bulkhead, from sending to
 * the response headers. Reading a streamed body happens after the slot is released, so bound long
 * streams with the bulkhead around the whole call instead.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "effect-openai-resilience"
 * import { HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const client = Effect.gen(function*() {
 *   const bulkhead = yield* Bulkhead.make({ maxConcurrent: 16, maxQueue: 256 })
 *   return (yield* HttpClient.HttpClient).pipe(Bulkhead.middleware(bulkhead))
 * })
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const middleware = (bulkhead: Bulkhead) =>
<E, R>(client: HttpClientType.HttpClient.With<E, R>): HttpClientType.HttpClient.With<E | BulkheadFull, R> =>
  HttpClient.transform(client, (effect) => bulkhead(effect))
