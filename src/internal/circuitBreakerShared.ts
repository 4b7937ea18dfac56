/**
 * A circuit breaker's state shared through a store: the memory store, and the guard that turns
 * a failing store into local-only behaviour with one warning.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as CircuitBreaker from "../CircuitBreaker.js"
import { guard } from "./sharedStore.js"

/** @internal */
export const makeMemory = (): CircuitBreaker.SharedStore => {
  const opens = new Map<string, CircuitBreaker.SharedOpen>()
  return {
    read: (key, now) =>
      Effect.sync(() => Option.filter(Option.fromNullable(opens.get(key)), (open) => open.retryAt > now)),
    open: (key, open) =>
      Effect.sync(() => {
        const current = opens.get(key)
        if (current === undefined || isLater(open, current)) opens.set(key, open)
      }),
    close: (key, trips) =>
      Effect.sync(() => {
        const current = opens.get(key)
        if (current !== undefined && current.trips <= trips) opens.delete(key)
      })
  }
}

/** Whether `a` supersedes `b`: more trips, or as many and a later end. The Lua script agrees. @internal */
export const isLater = (a: CircuitBreaker.SharedOpen, b: CircuitBreaker.SharedOpen): boolean =>
  a.trips > b.trips || (a.trips === b.trips && a.retryAt > b.retryAt)

/** The store's operations under the shared-store rule ({@link guard}). @internal */
export const guarded = (store: CircuitBreaker.SharedStore, key: string, name: string) => {
  const run = guard(`circuit breaker ${name}`)
  return {
    read: (now: number) => run(store.read(key, now), Effect.succeed(Option.none<CircuitBreaker.SharedOpen>())),
    open: (open: CircuitBreaker.SharedOpen) => run(store.open(key, open), Effect.void),
    close: (trips: number) => run(store.close(key, trips), Effect.void)
  }
}
