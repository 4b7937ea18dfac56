/**
 * The commands and their options, built with @effect/cli.
 *
 * @since 0.1.0
 */
import { Args, Command, Options, ValidationError } from "@effect/cli"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as MockServer from "../testing/MockServer.js"
import * as BatchCommand from "./Batch.js"
import * as Chat from "./Chat.js"
import * as Demo from "./Demo.js"
import * as Doctor from "./Doctor.js"
import * as Setup from "./Setup.js"
import type * as Usage from "./Usage.js"

/**
 * The package version the command line reports.
 *
 * @since 0.1.0
 * @category constants
 */
export const version = "0.1.0"

/**
 * A command finished and wants this exit code (its output already explains why).
 *
 * @since 0.1.0
 * @category errors
 */
export class CommandFailed extends Data.TaggedError("CommandFailed")<{ readonly exitCode: number }> {}

/**
 * Exit codes: 2 for usage errors, the command's own for {@link CommandFailed}, 1 otherwise.
 *
 * @since 0.1.0
 * @category exit codes
 */
export const exitCodeOf = (error: unknown): number => {
  if (ValidationError.isValidationError(error)) return 2
  if (error instanceof CommandFailed) return error.exitCode
  if (error instanceof Setup.UsageError) return 2
  if (typeof error === "object" && error !== null && (error as { _tag?: unknown })._tag === "MockServerOptionError") {
    return 2
  }
  return 1
}

// Every flag once: its name, alias and whether it takes a value feed both @effect/cli and the
// pre-parse check (Usage.check), so the two cannot disagree.
const flag = (name: string, takesValue: boolean): Usage.Flag => ({ name, takesValue })
const only_ = flag("only", true)
const model_ = { name: "model", alias: "m", takesValue: true } as const
const mock_ = flag("mock", false)
const fault_ = flag("fault", true)
const port_ = flag("port", true)
const rpm_ = flag("rpm", true)
const tpm_ = flag("tpm", true)
const faultRate_ = flag("fault-rate", true)
const seed_ = flag("seed", true)

/**
 * The flags of each command, for {@link Usage.check}.
 *
 * @since 0.1.0
 * @category commands
 */
export const flags: Readonly<Record<string, ReadonlyArray<Usage.Flag>>> = {
  demo: [only_],
  doctor: [model_, mock_, fault_],
  chat: [model_, mock_, fault_],
  "mock-server": [port_, rpm_, tpm_, fault_, faultRate_, seed_]
}

const demo = Command.make(
  "demo",
  {
    only: Options.choice(only_.name, ["walkthrough", "burst"]).pipe(
      Options.optional,
      Options.withDescription("Run one section only: the error-guide walkthrough or the rate-limit burst.")
    )
  },
  ({ only }) => Demo.run(Option.match(only, { onNone: () => ({}), onSome: (s) => ({ sections: [s] }) }))
).pipe(
  Command.withDescription(
    "Show the toolkit at work against the embedded mock server: every row of the error guide, then a burst into the rate limit."
  )
)

const model = Options.text(model_.name).pipe(
  Options.withAlias(model_.alias),
  Options.withDefault("gpt-4o-mini"),
  Options.withDescription("The model to use.")
)

// `--mock` and `--fault`, shared by the commands that talk to the API.
const target = (mockText: string, faultText: string) => ({
  mock: Options.boolean(mock_.name).pipe(Options.withDescription(mockText)),
  fault: Options.text(fault_.name).pipe(Options.optional, Options.withDescription(faultText))
})

// A command's `false` (it printed why) becomes exit code 1.
const exitOne = (ok: boolean) => (ok ? Effect.void : Effect.fail(new CommandFailed({ exitCode: 1 })))

const doctor = Command.make(
  "doctor",
  {
    model,
    ...target(
      "Check against the embedded mock server instead of OPENAI_BASE_URL.",
      "With --mock: make the mock serve this fault, to see how doctor explains it."
    )
  },
  (options) =>
    Doctor.run({ model: options.model, mock: options.mock, fault: Option.getOrUndefined(options.fault) }).pipe(
      Effect.flatMap(exitOne)
    )
).pipe(
  Command.withDescription(
    "Check a real configuration (OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_ORG_ID, OPENAI_PROJECT_ID): key shape, a models request, one minimal completion, rate-limit headroom."
  )
)

const chat = Command.make(
  "chat",
  {
    prompt: Args.text({ name: "prompt" }).pipe(Args.withDescription("What to ask.")),
    model,
    ...target(
      "Use the embedded mock server (the default when OPENAI_API_KEY is unset).",
      "With the mock: serve this fault on every attempt (shows the support report)."
    )
  },
  (options) =>
    Chat.run({
      prompt: options.prompt,
      model: options.model,
      mock: options.mock,
      fault: Option.getOrUndefined(options.fault)
    }).pipe(Effect.flatMap(exitOne))
).pipe(
  Command.withDescription(
    "One resilient chat completion, streamed to the terminal; on a persistent failure, prints the support report."
  )
)

const mockServer = Command.make(
  "mock-server",
  {
    port: Options.integer(port_.name).pipe(Options.withDefault(0), Options.withDescription("Port (0: any free port).")),
    rpm: Options.integer(rpm_.name).pipe(Options.optional, Options.withDescription("Requests per minute per API key.")),
    tpm: Options.integer(tpm_.name).pipe(Options.optional, Options.withDescription("Tokens per minute per API key.")),
    fault: Options.text(fault_.name).pipe(Options.optional, Options.withDescription("A fault to serve.")),
    faultRate: Options.float(faultRate_.name).pipe(
      Options.optional,
      Options.withDescription("Probability of --fault per request, 0 to 1 (default 1).")
    ),
    seed: Options.integer(seed_.name).pipe(Options.optional, Options.withDescription("Seed for the fault draws."))
  },
  (o) =>
    MockServer.run({
      port: o.port,
      rpm: Option.getOrUndefined(o.rpm),
      tpm: Option.getOrUndefined(o.tpm),
      fault: Option.getOrUndefined(o.fault),
      faultRate: Option.getOrUndefined(o.faultRate),
      seed: Option.getOrUndefined(o.seed)
    }).pipe(
      Effect.catchTags({
        MockServerOptionError: (e) =>
          Effect.zipRight(Effect.sync(() => console.error(e.message)), Effect.fail(new CommandFailed({ exitCode: 2 }))),
        InvalidOptions: (e) =>
          Effect.zipRight(Effect.sync(() => console.error(e.message)), Effect.fail(new CommandFailed({ exitCode: 2 })))
      })
    )
).pipe(Command.withDescription("Run the fault-injecting mock OpenAI server on 127.0.0.1 until interrupted (Ctrl-C)."))

const optionalInt = (name: string, description: string) =>
  Options.integer(name).pipe(Options.optional, Options.withDescription(description), Options.map(Option.getOrUndefined))

const batch = Command.make(
  "batch",
  {
    input: Args.file({ name: "requests.jsonl", exists: "either" }).pipe(Args.withDescription("One request body per line (the cookbook's format)")),
    out: Options.text("out").pipe(Options.withDescription("Results, one JSON line per request: also the checkpoint.")),
    errors: Options.text("errors").pipe(
      Options.optional,
      Options.map(Option.getOrUndefined),
      Options.withDescription("Requests that failed for good, with their typed error and support report (default OUT.errors.jsonl).")
    ),
    resume: Options.boolean("resume").pipe(Options.withDescription("Continue a run: send only what has no result yet.")),
    dryRun: Options.boolean("dry-run").pipe(Options.withDescription("Estimate requests, tokens, time and cost; send nothing.")),
    mock: Options.boolean("mock").pipe(Options.withDescription("Send to the embedded mock server.")),
    endpoint: Options.choice("endpoint", ["/chat/completions", "/embeddings", "/responses"]).pipe(
      Options.optional,
      Options.map(Option.getOrUndefined),
      Options.withDescription("The endpoint of every line (default: from each body)")
    ),
    requestsPerMinute: optionalInt("max-requests-per-minute", "Cap below the learned requests-per-minute limit."),
    tokensPerMinute: optionalInt("max-tokens-per-minute", "Cap below the learned tokens-per-minute limit."),
    concurrency: optionalInt("max-in-progress", "Most requests in progress, waiting for the limiter included (default 1000).")
  },
  (o) => BatchCommand.run(o).pipe(Effect.flatMap((code) => code === 0 ? Effect.void : Effect.fail(new CommandFailed({ exitCode: code }))))
).pipe(
  Command.withDescription(
    "Push a JSONL file of requests through the limits, resumable: every request answered once, failures in an errors file."
  )
)

/**
 * The root command with its subcommands.
 *
 * @since 0.1.0
 * @category commands
 */
export const root = Command.make("effect-openai-resilience").pipe(
  Command.withDescription("Resilience toolkit for OpenAI-compatible APIs."),
  Command.withSubcommands([demo, doctor, chat, mockServer, batch])
)
