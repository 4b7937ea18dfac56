/**
 * Checks made before a request is sent, so that a request that cannot succeed is not sent at
 * all. Today: a chat completion, Responses or legacy completion request whose prompt plus its
 * completion allowance (`max_completion_tokens`, `max_tokens` or `max_output_tokens`) cannot fit
 * in the model's context window fails at once with `ContextLengthExceeded`, the same typed error
 * the server would send (its `probableCause` says it was caught before sending).
 *
 * A request that fits even at one token per UTF-8 byte passes at once. Otherwise the prompt is
 * counted with `gpt-tokenizer` when it is installed (see `Tokenizer`), else with
 * `TokenEstimate.lowerBound`, a count never above the real one: without the tokenizer only what
 * certainly cannot fit is rejected. Either way only the text is counted (not images, tools or
 * schemas), so the check errs on the side of sending. Models without a known context window
 * ({@link contextWindows}, overridable) are not checked.
 *
 * ```ts
 * import { Preflight } from "effect-openai-resilience"
 * import { HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const checked = Effect.map(HttpClient.HttpClient, Preflight.middleware())
 * ```
 *
 * @since 0.2.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as internal from "./internal/preflight.js"
import type * as OpenAiError from "./OpenAiError.js"
import type * as TokenEstimate from "./TokenEstimate.js"

/**
 * Options of the checks.
 *
 * - `contextWindows`: windows by model name, merged over {@link contextWindows}; a name also
 *   covers its dated snapshots (`gpt-4o` covers `gpt-4o-2024-08-06`). `0` removes an entry.
 * - `tokenizer`: `"auto"` (default) counts with `gpt-tokenizer` when installed, else with
 *   `TokenEstimate.lowerBound`; `"bound"` always uses the bound; a function counts with it (then
 *   the check is only as conservative as the function).
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  readonly contextWindows?: Readonly<Record<string, number>> | undefined
  readonly tokenizer?: "auto" | "bound" | TokenEstimate.Estimator | undefined
}

/**
 * Context windows (prompt plus completion, in tokens) of current OpenAI models, by name.
 *
 * @example
 * ```ts
 * import { Preflight } from "effect-openai-resilience"
 *
 * Preflight.contextWindows["gpt-4o-mini"] // 128000
 * ```
 *
 * @since 0.2.0
 * @category constants
 */
export const contextWindows: Readonly<Record<string, number>> = internal.contextWindows

/**
 * The context window of a model: its own entry, else the longest entry its name extends with a
 * `-` (a dated snapshot), with `overrides` first. A fine-tune (`ft:<base>:...`) has its base's.
 *
 * @example
 * ```ts
 * import { Preflight } from "effect-openai-resilience"
 *
 * Preflight.contextWindow("gpt-4o-mini-2024-07-18") // Some(128000)
 * Preflight.contextWindow("llama-3-8b", { "llama-3-8b": 8192 }) // Some(8192)
 * ```
 *
 * @since 0.2.0
 * @category getters
 */
export const contextWindow: (
  model: string,
  overrides?: Readonly<Record<string, number>> | undefined
) => Option.Option<number> = internal.contextWindow

/**
 * The `ContextLengthExceeded` this module raises: the same tag and class as the server's (so
 * every handler of the server's error handles it), with a `probableCause` saying it was caught
 * before sending.
 *
 * @example
 * ```ts
 * import { OpenAiError, Preflight } from "effect-openai-resilience"
 *
 * const e = new Preflight.CaughtBeforeSending({ message: "too long" })
 * console.log(e instanceof OpenAiError.ContextLengthExceeded, e._tag) // true "ContextLengthExceeded"
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export const CaughtBeforeSending: typeof internal.CaughtBeforeSending = internal.CaughtBeforeSending

/**
 * An instance of {@link CaughtBeforeSending}.
 *
 * @since 0.2.0
 * @category errors
 */
export type CaughtBeforeSending = internal.CaughtBeforeSending

/**
 * Checks a request body for an endpoint path (`/v1/chat/completions`, `/v1/responses`,
 * `/v1/completions`; any other path passes).
 *
 * @example
 * ```ts
 * import { Preflight } from "effect-openai-resilience"
 *
 * const tooLong = Preflight.checkBody(
 *   { model: "gpt-4", messages: [{ role: "user", content: "word ".repeat(9000) }], max_tokens: 100 },
 *   "/v1/chat/completions"
 * ) // fails with ContextLengthExceeded: 9000 words cannot fit in 8192 tokens
 * ```
 *
 * @since 0.2.0
 * @category checks
 */
export const checkBody: (
  body: unknown,
  path: string,
  options?: Options
) => Effect.Effect<void, OpenAiError.ContextLengthExceeded> = internal.checkBody

/**
 * Checks an `HttpClientRequest` with a JSON body (as made by `HttpClientRequest.bodyJson`). A
 * request that is not a POST to a checked endpoint, or whose body is not JSON in memory, passes.
 *
 * @example
 * ```ts
 * import { Preflight } from "effect-openai-resilience"
 * import { HttpClientRequest } from "@effect/platform"
 *
 * const request = HttpClientRequest.post("https://api.openai.com/v1/chat/completions").pipe(
 *   HttpClientRequest.bodyUnsafeJson({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }], max_tokens: 16 })
 * )
 * const checked = Preflight.check(request) // succeeds: it fits
 * ```
 *
 * @since 0.2.0
 * @category checks
 */
export const check: (
  request: HttpClientRequest.HttpClientRequest,
  options?: Options
) => Effect.Effect<void, OpenAiError.ContextLengthExceeded> = internal.check

/**
 * {@link check} as `HttpClient` middleware: a request that cannot fit fails before it is sent.
 *
 * @example
 * ```ts
 * import { Preflight } from "effect-openai-resilience"
 * import { HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const client = (yield* HttpClient.HttpClient).pipe(Preflight.middleware({ contextWindows: { "my-model": 32768 } }))
 *   return client
 * })
 * ```
 *
 * @since 0.2.0
 * @category middleware
 */
export const middleware: (
  options?: Options
) => <E, R>(client: HttpClient.HttpClient.With<E, R>) => HttpClient.HttpClient.With<E | OpenAiError.ContextLengthExceeded, R> =
  internal.middleware
