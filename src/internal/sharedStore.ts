/**
 * The one rule for state shared through a store beside the limiter's (the breaker's open state,
 * the retry budget): each operation is bounded by a second; a failure is warned about once and
 * answered locally, and the store is asked again on the next operation.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/** @internal */
export const guard = (label: string) => {
  let failing = false
  return <A, E>(op: Effect.Effect<A, E>, local: Effect.Effect<A>): Effect.Effect<A> =>
    op.pipe(
      Effect.timeout(Duration.seconds(1)),
      Effect.tap(() =>
        Effect.suspend(() => {
          if (!failing) return Effect.void
          failing = false
          return Effect.logInfo(`${label}: shared store answers again`)
        })
      ),
      Effect.catchAll((error) =>
        Effect.suspend(() => {
          const first = !failing
          failing = true
          const warn = first
            ? Effect.logWarning(`${label}: shared store failed, deciding locally until it answers: ${String(error)}`)
            : Effect.void
          return Effect.zipRight(warn, local)
        })
      )
    )
}
