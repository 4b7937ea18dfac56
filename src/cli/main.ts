#!/usr/bin/env node
/**
 * The command line: `effect-openai-resilience demo | doctor | chat PROMPT | mock-server`.
 *
 * Exit codes: 0 success, 1 an API error (doctor found a problem, chat failed for good),
 * 2 a usage error (bad flag or argument), 70 an unexpected internal error.
 *
 * @since 0.1.0
 */
import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Cli from "./Cli.js"

const program = Effect.suspend(() =>
  Command.run(Cli.root, { name: "effect-openai-resilience", version: Cli.version })(process.argv)
).pipe(
  Effect.provide(NodeContext.layer),
  Effect.exit,
  Effect.flatMap((exit) => {
    if (Exit.isSuccess(exit)) return Effect.succeed(0)
    const failure = Cause.failureOption(exit.cause)
    if (failure._tag === "Some") return Effect.succeed(Cli.exitCodeOf(failure.value))
    if (Cause.isInterruptedOnly(exit.cause)) return Effect.succeed(130)
    return Console.error(`Unexpected internal error:\n${Cause.pretty(exit.cause)}`).pipe(Effect.as(70))
  })
)

NodeRuntime.runMain(
  Effect.flatMap(program, (code) =>
    Effect.sync(() => {
      // Exit now rather than when idle keep-alive sockets time out (seconds later). Writes to a
      // terminal, file or pipe are synchronous on Linux, so no output is lost.
      process.exit(code)
    })),
  { disableErrorReporting: true }
)
