/**
 * `chat PROMPT`: one resilient chat completion, streamed to the terminal. When it fails for good
 * (retries exhausted, or an error retrying cannot fix), it prints the support report the error
 * guide asks for, with every secret redacted.
 *
 * @since 0.1.0
 */
import { HttpClient } from "@effect/platform"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as OpenAiClient from "../OpenAiClient.js"
import * as RetryPolicy from "../RetryPolicy.js"
import * as SupportReport from "../SupportReport.js"
import { color, ms } from "./Render.js"
import * as Setup from "./Setup.js"

/**
 * Streams one completion to standard output. Succeeds with `true` when it completed.
 *
 * @since 0.1.0
 * @category commands
 */
export const run = (options: {
  readonly prompt: string
  readonly model: string
  readonly mock: boolean
  readonly fault?: string | undefined
}) =>
  Effect.scoped(Effect.gen(function*() {
    const target = yield* Setup.target(options).pipe(
      Effect.tapError((e) => Console.error(e.message))
    )
    if (target.kind === "mock") {
      yield* Console.error(color.dim(`(embedded mock server at ${target.baseUrl}; set OPENAI_API_KEY for the real API)`))
    }
    const decisions = yield* Ref.make<ReadonlyArray<RetryPolicy.Decision>>([])
    const policy = RetryPolicy.default.pipe(
      Schedule.tapOutput((d) =>
        Effect.zipRight(
          Ref.update(decisions, (all) => [...all, d]),
          d._tag === "Retry"
            ? Console.error(
              color.dim(`(${d.tag}: retrying in ${ms(Duration.toMillis(d.delay))}, ${d.source === "backoff" || d.source === "schedule" ? d.source : `server hint from ${d.source}`})`)
            )
            : Effect.void
        )
      )
    )
    const client = yield* OpenAiClient.make({ ...Setup.clientOptions(target), resilience: { retryPolicy: policy } }).pipe(
      Effect.provideService(HttpClient.HttpClient, target.http)
    )
    const request = {
      model: options.model,
      messages: [{ role: "user" as const, content: options.prompt }],
      stream_options: { include_usage: true }
    }
    const result = yield* client.chat.completions.stream(request).pipe(
      Stream.runForEach((chunk) =>
        Effect.sync(() => {
          for (const choice of chunk.choices) {
            const text = choice.delta?.content
            if (typeof text === "string") process.stdout.write(text)
          }
        })
      ),
      // Effect's stream runner reports a failed run at Debug as "Fiber terminated with an
      // unhandled error" plus a stack trace; this one is handled just below.
      Effect.withUnhandledErrorLogLevel(Option.none()),
      Effect.either
    )
    yield* Console.log("")
    if (Either.isRight(result)) return true
    const error = result.left
    const seen = yield* Ref.get(decisions)
    yield* Console.error(color.red(`\n${error._tag}: ${error.message}`))
    const report = yield* SupportReport.fromError(error, {
      request: {
        method: "POST",
        url: `${target.baseUrl.replace(/\/$/, "")}/chat/completions`,
        headers: {
          authorization: "Bearer <api key>",
          "content-type": "application/json",
          ...(target.organization ? { "openai-organization": target.organization } : {}),
          ...(target.project ? { "openai-project": target.project } : {})
        },
        body: { ...request, stream: true }
      },
      attempts: seen.map((d) => ({
        attempt: d.attempt,
        outcome: d.tag,
        ...(d._tag === "Retry"
          ? { delayMs: Duration.toMillis(d.delay), reason: d.source === "backoff" || d.source === "schedule" ? d.source : `server hint (${d.source})` }
          : { reason: `stopped: ${d.reason}` })
      })),
      secrets: [target.apiKey]
    })
    yield* Console.error(`\n${SupportReport.toText(report)}`)
    yield* Console.error(
      color.dim(`\n${Option.isSome(error.requestId) ? "Quote the request id above to support. " : ""}The same report as JSON:`)
    )
    yield* Console.error(SupportReport.toJson(report))
    return false
  }))
