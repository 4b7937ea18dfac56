/**
 * The Redis checkpoint store, for several workers on one batch. Per batch: one hash of results
 * (`<prefix><batch>:results`, id to record; an id in it is done), and one lease key per request
 * in progress (`<prefix><batch>:claim:<id>`, the worker's id, expiring after the lease). A claim
 * is `SET NX PX` after checking the hash, in one script; a result is `HSETNX` (so it is written
 * once whatever happens) and frees the lease. While a worker holds leases it renews them, so a
 * slow request is not taken over; a worker that dies loses its leases when they expire, and its
 * requests go to whoever claims them next.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { Redis, RedisOptions } from "ioredis"
import { CheckpointError, type Service } from "../Checkpoint.js"
import * as RedisConnection from "./redis.js"

const claimScript = `
if redis.call("HEXISTS", KEYS[1], ARGV[1]) == 1 then return 0 end
if redis.call("SET", KEYS[2], ARGV[2], "NX", "PX", ARGV[3]) then return 1 end
return 0`

const completeScript = `
local written = redis.call("HSETNX", KEYS[1], ARGV[1], ARGV[3])
if redis.call("GET", KEYS[2]) == ARGV[2] then redis.call("DEL", KEYS[2]) end
return written`

const releaseScript = `
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0`

const renewScript = `
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
return 0`

interface RedisWithScripts extends Redis {
  eobClaim(results: string, claim: string, id: string, worker: string, lease: number): Promise<number>
  eobComplete(results: string, claim: string, id: string, worker: string, record: string): Promise<number>
  eobRelease(claim: string, worker: string): Promise<number>
  eobRenew(claim: string, worker: string, lease: number): Promise<number>
}

/** @internal */
export interface Options {
  readonly url: string | undefined
  readonly redis: RedisOptions | undefined
  readonly prefix: string
  readonly batch: string
  readonly leaseMillis: number
  readonly worker: string
}

/** @internal */
export const make = (options: Options): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const redis = yield* RedisConnection.connect<RedisWithScripts>({
      url: options.url,
      redis: options.redis,
      defaults: { maxRetriesPerRequest: 2 },
      scripts: {
        eobClaim: { keys: 2, lua: claimScript },
        eobComplete: { keys: 2, lua: completeScript },
        eobRelease: { keys: 1, lua: releaseScript },
        eobRenew: { keys: 1, lua: renewScript }
      }
    })

    const base = `${options.prefix}${options.batch}:`
    const results = `${base}results`
    const claimKey = (id: string) => `${base}claim:${id}`
    const held = new Set<string>()
    const call = <A>(what: string, f: () => Promise<A>) =>
      Effect.tryPromise({
        try: f,
        catch: (cause) => new CheckpointError({ message: `Redis checkpoint: cannot ${what}: ${RedisConnection.describe(cause)}`, cause })
      })

    // Leases live while their requests do: renewed at a third of their length.
    yield* Effect.forkScoped(
      Effect.suspend(() =>
        Effect.forEach(
          [...held],
          (id) => Effect.ignore(call("renew", () => redis.eobRenew(claimKey(id), options.worker, options.leaseMillis))),
          { concurrency: 16, discard: true }
        )
      ).pipe(Effect.repeat(Schedule.spaced(Duration.millis(Math.max(1, Math.floor(options.leaseMillis / 3))))))
    )

    const service: Service = {
      claim: (id) =>
        Effect.map(call("claim", () => redis.eobClaim(results, claimKey(id), id, options.worker, options.leaseMillis)), (n) => {
          if (n === 1) held.add(id)
          return n === 1
        }),
      complete: (entry) =>
        Effect.asVoid(Effect.tap(
          call("record", () =>
            redis.eobComplete(results, claimKey(entry.id), entry.id, options.worker, JSON.stringify({ id: entry.id, ok: entry.ok, ...entry.record }))),
          () => Effect.sync(() => held.delete(entry.id))
        )),
      release: (id) =>
        Effect.ignore(call("release", () => redis.eobRelease(claimKey(id), options.worker))).pipe(
          Effect.ensuring(Effect.sync(() => held.delete(id)))
        ),
      done: Effect.orElseSucceed(call("count", () => redis.hlen(results)), () => 0)
    }
    return service
  })
