/**
 * A real `redis-server` for tests and benches: started on a free 127.0.0.1 port in a temporary
 * directory (no persistence), stopped when the scope closes. `stop` and `start` let a test take
 * it down and bring it back on the same port, as a restart in production would (empty state).
 *
 * `.ci/run` installs `redis-server` where it is missing; these tests never skip.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Data, Effect, type Scope } from "effect"

export class RedisServerError extends Data.TaggedError("RedisServerError")<{ readonly message: string }> {}

export interface RedisServer {
  readonly port: number
  readonly url: string
  /** Stops the server (SIGKILL: a crash, not a clean shutdown). */
  readonly stop: Effect.Effect<void>
  /** Starts it again on the same port. */
  readonly start: Effect.Effect<void, RedisServerError>
  /** Freezes the process (SIGSTOP): connections stay open, nothing answers. */
  readonly freeze: Effect.Effect<void>
  /** Lets a frozen process run again (SIGCONT). */
  readonly thaw: Effect.Effect<void>
}

const freePort = Effect.async<number, RedisServerError>((resume) => {
  const server = net.createServer()
  server.once("error", (e) => resume(Effect.fail(new RedisServerError({ message: e.message }))))
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

const launch = (port: number, dir: string) =>
  Effect.async<ChildProcess, RedisServerError>((resume) => {
    const child = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let output = ""
    let settled = false
    const settle = (effect: Effect.Effect<ChildProcess, RedisServerError>) => {
      if (settled) return
      settled = true
      resume(effect)
    }
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes("Ready to accept connections")) settle(Effect.succeed(child))
    })
    child.once("error", (e) =>
      settle(Effect.fail(new RedisServerError({
        message: `cannot start redis-server (${e.message}); install it: apt-get install -y redis-server`
      }))))
    child.once("exit", (code) =>
      settle(Effect.fail(new RedisServerError({ message: `redis-server exited with ${code}: ${output.slice(-500)}` }))))
    return Effect.sync(() => child.kill("SIGKILL"))
  }).pipe(
    Effect.timeoutFail({
      duration: "10 seconds",
      onTimeout: () => new RedisServerError({ message: "redis-server did not become ready within 10 s" })
    })
  )

const kill = (child: ChildProcess) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
    child.kill("SIGKILL")
  })

/** Starts a server for the scope. Runs on the real clock (use it under `it.live` / `it.scopedLive`). */
export const start: Effect.Effect<RedisServer, RedisServerError, Scope.Scope> = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "redis-test-"))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )
  const port = yield* freePort
  let child: ChildProcess | undefined = yield* launch(port, dir)
  const stop = Effect.suspend(() => {
    const running = child
    child = undefined
    return running === undefined ? Effect.void : kill(running)
  })
  const signal = (name: NodeJS.Signals) =>
    Effect.sync(() => {
      child?.kill(name)
    })
  // A frozen server must be thawed before it can be killed and reaped.
  yield* Effect.addFinalizer(() => Effect.zipRight(signal("SIGCONT"), stop))
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    freeze: signal("SIGSTOP"),
    thaw: signal("SIGCONT"),
    start: Effect.suspend(() =>
      child === undefined ? Effect.map(launch(port, dir), (c) => {
        child = c
      }) : Effect.void
    )
  }
})
