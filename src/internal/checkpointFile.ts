/**
 * The checkpoint store that is the file beside the output: a result line is written and
 * `fsync`ed before its id counts as done, and on opening, the ids of every complete line are read
 * back. A line cut short by a crash (no newline at the end of the file) is cut off, so its
 * request is sent again.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import { CheckpointError, type Entry, type Service } from "../Checkpoint.js"

const describe = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

const fail = (path: string, what: string) => (cause: unknown) =>
  new CheckpointError({ path, message: `Cannot ${what} ${path}: ${describe(cause)}`, cause })

const NEWLINE = 0x0a

/**
 * Reads the ids recorded in `path` (a regular file; anything else, such as a pipe or a device,
 * has nothing to recover) and cuts off a torn last line.
 */
const recover = (path: string, into: Set<string>): void => {
  let stat: fs.Stats
  try {
    stat = fs.statSync(path)
  } catch (e) {
    if ((e as { code?: unknown }).code === "ENOENT") return
    throw e
  }
  if (!stat.isFile()) return
  const bytes = fs.readFileSync(path)
  const end = bytes.lastIndexOf(NEWLINE) + 1
  // Written lines end in a newline; bytes after the last one are a write a crash cut short.
  if (end < bytes.length) fs.truncateSync(path, end)
  let start = 0
  while (start < end) {
    const stop = bytes.indexOf(NEWLINE, start)
    const line = bytes.subarray(start, stop).toString("utf8")
    start = stop + 1
    try {
      const parsed: unknown = JSON.parse(line)
      if (typeof parsed === "object" && parsed !== null) {
        const id = (parsed as { id?: unknown }).id
        if (typeof id === "string") into.add(id)
      }
    } catch {
      // Not a line of ours (edited by hand?): it names no id, so it marks nothing done.
    }
  }
}

const writeAll = (fd: number, bytes: Uint8Array): void => {
  let offset = 0
  while (offset < bytes.length) offset += fs.writeSync(fd, bytes, offset)
}

interface Sink {
  readonly path: string
  readonly fd: number
}

/** @internal */
export const makeFile = (options: {
  readonly output: string
  readonly errors?: string | undefined
}): Effect.Effect<Service, CheckpointError, Scope.Scope> =>
  Effect.gen(function*() {
    const done = new Set<string>()
    const claimed = new Set<string>()
    const errorsPath = options.errors !== undefined && options.errors !== options.output ? options.errors : undefined
    const paths = errorsPath === undefined ? [options.output] : [options.output, errorsPath]
    for (const path of paths) {
      yield* Effect.try({ try: () => recover(path, done), catch: fail(path, "read") })
    }
    const open = (path: string) =>
      Effect.acquireRelease(
        Effect.try({ try: (): Sink => ({ path, fd: fs.openSync(path, "a") }), catch: fail(path, "open") }),
        (sink) => Effect.sync(() => fs.closeSync(sink.fd))
      )
    const out = yield* open(options.output)
    const errors = errorsPath === undefined ? out : yield* open(errorsPath)
    const encoder = new TextEncoder()
    const service: Service = {
      claim: (id) =>
        Effect.sync(() => {
          if (done.has(id) || claimed.has(id)) return false
          claimed.add(id)
          return true
        }),
      // Synchronous from the write to the fsync: no other fiber's line can interleave, and the
      // id counts as done only once its line is on disk.
      complete: (entry: Entry) => {
        const sink = entry.ok ? out : errors
        return Effect.try({
          try: () => {
            writeAll(sink.fd, encoder.encode(`${JSON.stringify({ id: entry.id, ...entry.record })}\n`))
            fs.fsyncSync(sink.fd)
            claimed.delete(entry.id)
            done.add(entry.id)
          },
          catch: fail(sink.path, "write to")
        })
      },
      release: (id) => Effect.sync(() => void claimed.delete(id)),
      done: Effect.sync(() => done.size)
    }
    return service
  })
