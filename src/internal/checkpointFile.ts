/**
 * The checkpoint store that is the file beside the output: a result line is written and
 * `fsync`ed before its id counts as done, and on opening, the ids of every complete line are read
 * back. A line cut short by a crash (no newline at the end of the file) is cut off, so its
 * request is sent again.
 *
 * Writes are grouped: the lines that arrive while one write-and-fsync is under way go out
 * together in the next, off the event loop. One fsync per line, on the event loop, would hold
 * every response behind the disk, and each of them would be sent again after a kill.
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

// Writes all of `bytes` at the end of the file (it is opened for appending), then calls back.
const writeAll = (fd: number, bytes: Uint8Array, callback: (error: unknown) => void): void => {
  const from = (offset: number): void => {
    if (offset >= bytes.length) return callback(null)
    fs.write(fd, bytes, offset, bytes.length - offset, null, (error, written) =>
      error !== null ? callback(error) : from(offset + written))
  }
  from(0)
}

interface Waiting {
  readonly id: string
  readonly bytes: Uint8Array
  readonly resume: (effect: Effect.Effect<void, CheckpointError>) => void
}

interface Sink {
  readonly path: string
  readonly fd: number
  queue: Array<Waiting>
  writing: boolean
  // After a failed write the file may end in part of a line: nothing more goes after it.
  broken: CheckpointError | undefined
  idle: Array<() => void>
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
        Effect.try({
          try: (): Sink => ({ path, fd: fs.openSync(path, "a"), queue: [], writing: false, broken: undefined, idle: [] }),
          catch: fail(path, "open")
        }),
        // The last group's write finishes before the file is closed.
        (sink) =>
          Effect.zipRight(
            Effect.async<void>((resume) => {
              if (!sink.writing) return resume(Effect.void)
              sink.idle.push(() => resume(Effect.void))
            }),
            Effect.sync(() => fs.closeSync(sink.fd))
          )
      )
    const out = yield* open(options.output)
    const errors = errorsPath === undefined ? out : yield* open(errorsPath)
    const encoder = new TextEncoder()
    // One group at a time per file: its lines in one write, then one fsync; only then are its
    // ids done. Lines that came meanwhile make the next group.
    const flush = (sink: Sink): void => {
      const group = sink.queue
      sink.queue = []
      sink.writing = true
      const settle = (error: unknown) => {
        if (error !== null && error !== undefined && sink.broken === undefined) sink.broken = fail(sink.path, "write to")(error)
        const broken = sink.broken
        const settled = broken === undefined ? group : [...group, ...sink.queue.splice(0)]
        for (const waiting of settled) {
          if (broken === undefined) {
            claimed.delete(waiting.id)
            done.add(waiting.id)
          }
          waiting.resume(broken === undefined ? Effect.void : Effect.fail(broken))
        }
        if (sink.queue.length > 0) return flush(sink)
        sink.writing = false
        for (const wake of sink.idle.splice(0)) wake()
      }
      writeAll(sink.fd, Buffer.concat(group.map((w) => w.bytes)), (error) =>
        error !== null ? settle(error) : fs.fsync(sink.fd, settle))
    }
    const service: Service = {
      claim: (id) =>
        Effect.sync(() => {
          if (done.has(id) || claimed.has(id)) return false
          claimed.add(id)
          return true
        }),
      complete: (entry: Entry) => {
        const sink = entry.ok ? out : errors
        const line = Effect.try({
          try: () => encoder.encode(`${JSON.stringify({ id: entry.id, ...entry.record })}\n`),
          catch: fail(sink.path, "write to")
        })
        return Effect.flatMap(line, (bytes) =>
          Effect.async<void, CheckpointError>((resume) => {
            if (sink.broken !== undefined) return resume(Effect.fail(sink.broken))
            sink.queue.push({ id: entry.id, bytes, resume })
            if (!sink.writing) flush(sink)
          }))
      },
      release: (id) => Effect.sync(() => void claimed.delete(id)),
      done: Effect.sync(() => done.size)
    }
    return service
  })
