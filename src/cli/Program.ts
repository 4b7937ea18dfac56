/**
 * The command line: `effect-openai-resilience demo | doctor | chat PROMPT | mock-server`, run
 * when imported (by the `bin`, src/cli/main.ts).
 *
 * Exit codes: 0 success, 1 an API error (doctor found a problem, chat failed for good),
 * 2 a usage error (bad flag or argument), 70 an unexpected internal error, 130 interrupted
 * (Ctrl-C), 143 terminated (SIGTERM, or the process that started it, such as npx, went away).
 *
 * @since 0.1.0
 */
import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { ValidationError } from "@effect/cli"
import { bound, scrub } from "../internal/secrets.js"
import * as Cli from "./Cli.js"
import * as Usage from "./Usage.js"

const tagOf = (u: unknown): unknown => typeof u === "object" && u !== null ? (u as { _tag?: unknown })._tag : undefined
const messageOf = (u: unknown): string => {
  if (typeof u === "object" && u !== null) {
    const message = (u as { message?: unknown }).message
    if (typeof message === "string" && message.length > 0) return message
  }
  return String(u)
}

// Failures a command already explained before failing; anything else (a port already in use, a
// configuration error) would otherwise end with a bare exit code and no word why.
const alreadyReported = (error: unknown): boolean =>
  error instanceof Cli.CommandFailed || ValidationError.isValidationError(error) ||
  tagOf(error) === "UsageError" || tagOf(error) === "MockServerOptionError"

const describeFailure = (error: unknown): string => {
  const tag = tagOf(error)
  const cause = typeof error === "object" && error !== null ? (error as { cause?: unknown }).cause : undefined
  const message = messageOf(error)
  const head = typeof tag === "string" && tag !== message ? `${tag}: ${message}` : message
  const text = `${head}${cause === undefined ? "" : ` (${messageOf(cause)})`}`
  return bound(scrub(text), 1000)
}

// @effect/cli renders help and errors with ANSI styles whatever the output is; a log file or a
// pipe gets plain text (as does NO_COLOR).
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g
for (const stream of [process.stdout, process.stderr]) {
  if (stream.isTTY !== true || process.env.NO_COLOR !== undefined) {
    const write = stream.write.bind(stream) as (chunk: unknown, ...rest: Array<unknown>) => boolean
    stream.write = ((chunk: unknown, ...rest: Array<unknown>) =>
      write(typeof chunk === "string" ? chunk.replace(ANSI, "") : chunk, ...rest)) as typeof stream.write
  }
}

// The exit code of an interruption, by the signal that caused it. These listeners run before
// runMain's own (which interrupts the program); a second Ctrl-C finds none and ends the process.
let interruptedWith = 130
process.once("SIGINT", () => {
  interruptedWith = 130
})
process.once("SIGTERM", () => {
  interruptedWith = 143
})

// Started through `npx`/`npm exec`, a SIGTERM sent to npm ends npm (and its shell) without
// reaching this process, which would keep a mock server listening with no one to stop it. When
// the parent goes away, stop as on SIGTERM.
const parent = process.ppid
const orphaned = setInterval(() => {
  if (process.ppid === parent) return
  clearInterval(orphaned)
  process.kill(process.pid, "SIGTERM")
}, 250)
orphaned.unref()

const usage = Usage.check("effect-openai-resilience", process.argv.slice(2), Cli.flags)

const program = Effect.suspend(() =>
  Command.run(Cli.root, { name: "effect-openai-resilience", version: Cli.version })(process.argv)
).pipe(
  Effect.provide(NodeContext.layer),
  Effect.exit,
  Effect.flatMap((exit) => {
    if (Exit.isSuccess(exit)) return Effect.succeed(0)
    const failure = Cause.failureOption(exit.cause)
    if (failure._tag === "Some") {
      const error = failure.value
      const code = Cli.exitCodeOf(error)
      return alreadyReported(error) ? Effect.succeed(code) : Console.error(describeFailure(error)).pipe(Effect.as(code))
    }
    if (Cause.isInterruptedOnly(exit.cause)) return Effect.succeed(interruptedWith)
    return Console.error(`Unexpected internal error:\n${Cause.pretty(exit.cause)}`).pipe(Effect.as(70))
  })
)

NodeRuntime.runMain(
  Effect.flatMap(
    usage === undefined
      ? program
      : Console.error(usage).pipe(Effect.as(2)),
    (code) =>
      Effect.sync(() => {
        // Exit now rather than when idle keep-alive sockets time out (seconds later). Writes to a
        // terminal, file or pipe are synchronous on Linux, so no output is lost.
        process.exit(code)
      })
  ),
  {
    disableErrorReporting: true,
    // Only an interruption (a signal) ends here: every other outcome exited above.
    teardown: (exit, onExit) => onExit(Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause) ? interruptedWith : 70)
  }
)
