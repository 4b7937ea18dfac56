/**
 * `doctor`: checks a configuration the way support would: the key's presence and shape, the base
 * URL, a models request, one minimal completion, and the rate-limit headroom the headers report.
 * Every failure is shown as its typed error with the cause and the solution in plain words.
 *
 * @since 0.1.0
 */
import { HttpClient } from "@effect/platform"
import * as Clock from "effect/Clock"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as OpenAiClient from "../OpenAiClient.js"
import type * as OpenAiError from "../OpenAiError.js"
import * as RateLimitHeaders from "../RateLimitHeaders.js"
import * as RetryPolicy from "../RetryPolicy.js"
import { color, ms } from "./Render.js"
import * as Setup from "./Setup.js"

type Level = "ok" | "warn" | "fail" | "info"

const mark = (level: Level): string => {
  switch (level) {
    case "ok":
      return color.green("[ ok ]")
    case "warn":
      return color.yellow("[warn]")
    case "fail":
      return color.red("[FAIL]")
    case "info":
      return color.cyan("[info]")
  }
}

const line = (level: Level, text: string) => Console.log(`${mark(level)} ${text}`)

const explain = (error: OpenAiError.OpenAiError) => {
  const facts = [
    `${error._tag} (${error.category})`,
    Option.match(error.status, { onNone: () => "no HTTP status", onSome: (s) => `HTTP ${s}` }),
    ...Option.toArray(Option.map(error.code, (c) => `code ${c}`)),
    ...Option.toArray(Option.map(error.requestId, (r) => `request ${r}`))
  ].join(", ")
  return Console.log(
    [
      `       ${facts}`,
      `       server said: ${error.message}`,
      `       cause:       ${error.probableCause}`,
      `       solution:    ${error.solution}`,
      `       docs:        ${error.docs}`
    ].join("\n")
  )
}

/**
 * Checks the key's shape without ever printing it: only its kind and length.
 *
 * @since 0.1.0
 * @category checks
 */
export const keyShape = (key: string, baseUrl: string): ReadonlyArray<readonly [Level, string]> => {
  const out: Array<readonly [Level, string]> = []
  if (key.length === 0) return [["fail", "OPENAI_API_KEY is empty."]]
  if (key !== key.trim()) out.push(["warn", "OPENAI_API_KEY has leading or trailing whitespace; it will be rejected."])
  if (/^["'].*["']$/.test(key.trim())) out.push(["warn", "OPENAI_API_KEY is wrapped in quotes; remove them."])
  const official = /(^|\.)openai\.com$/.test(safeHost(baseUrl))
  const kind = /^sk-(proj|svcacct|admin)-/.exec(key.trim())?.[1]
  if (official && !key.trim().startsWith("sk-")) {
    out.push(["warn", "OPENAI_API_KEY does not start with 'sk-', as OpenAI keys do."])
  }
  if (key.trim().length < 20) out.push(["warn", `OPENAI_API_KEY is only ${key.trim().length} characters long.`])
  if (out.length === 0) {
    out.push(["ok", `OPENAI_API_KEY is set (${kind ? `${kind} key, ` : ""}${key.trim().length} characters).`])
  }
  return out
}

const SECRET_QUERY = /^(api[-_]?key|key|token|access[-_]?token|sig|signature|code)$/i

/**
 * The base URL as printed: a proxy URL may carry credentials (`https://user:pass@host/v1`) or a
 * key in its query (`?api-key=...`), and doctor's output is pasted into tickets and chats:
 * `https://me:pw@proxy.example/v1?api-key=abc` prints as
 * `https://redacted:redacted@proxy.example/v1?api-key=redacted`.
 *
 * @since 0.1.0
 * @category checks
 */
export const displayUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.username) parsed.username = "redacted"
    if (parsed.password) parsed.password = "redacted"
    for (const key of [...parsed.searchParams.keys()]) {
      if (SECRET_QUERY.test(key)) parsed.searchParams.set(key, "redacted")
    }
    return parsed.toString()
  } catch {
    // Not a URL at all: say so without echoing what may be a pasted key.
    return `(${url.length} characters that do not parse as a URL)`
  }
}

const safeHost = (url: string): string => {
  try {
    return new URL(url).hostname
  } catch {
    return ""
  }
}

/**
 * Runs every check and prints the findings. Succeeds with `true` when nothing failed.
 *
 * @since 0.1.0
 * @category commands
 */
export const run = (options: { readonly model: string; readonly mock: boolean; readonly fault?: string | undefined }) =>
  Effect.scoped(Effect.gen(function*() {
    const resolved = yield* Setup.target({ ...options, fallbackToMock: false }).pipe(
      Effect.map(Option.some),
      Effect.catchTag("MissingApiKey", () => Effect.succeed(Option.none())),
      Effect.catchTag("UsageError", (e) => Effect.zipRight(Console.error(e.message), Effect.fail(e)))
    )
    yield* Console.log(color.bold("effect-openai-resilience doctor"))
    if (Option.isNone(resolved)) {
      // doctor checks a real configuration: a CI step whose secret is missing must not go green.
      yield* line(
        "fail",
        "OPENAI_API_KEY is not set, so there is no configuration to check. Set it (and OPENAI_BASE_URL for a compatible server), or pass --mock to check against the embedded mock server."
      )
      yield* Console.log(color.red("\nSome checks failed; see above."))
      return false
    }
    const target = resolved.value
    let ok = true
    if (target.kind === "mock") {
      yield* line(
        "info",
        `Checking the embedded mock server at ${target.baseUrl}${
          options.fault ? ` serving fault '${options.fault}'` : ""
        } (set OPENAI_API_KEY, and drop --mock, to check your real setup).`
      )
    } else {
      for (const [level, text] of keyShape(Redacted.value(target.apiKey), target.baseUrl)) {
        if (level === "fail") ok = false
        yield* line(level, text)
      }
    }
    const url = Either.try(() => new URL(target.baseUrl))
    if (Either.isLeft(url) || !/^https?:$/.test(url.right.protocol)) {
      yield* line("fail", `OPENAI_BASE_URL is not an http(s) URL: ${displayUrl(target.baseUrl)}`)
      return false
    }
    yield* line(
      url.right.pathname.replace(/\/$/, "").endsWith("/v1") || url.right.hostname.endsWith(".azure.com") ? "ok" : "warn",
      `Base URL ${displayUrl(target.baseUrl)}${
        url.right.pathname.replace(/\/$/, "").endsWith("/v1") ? "" : " (OpenAI-compatible servers usually end in /v1)"
      }`
    )
    if (target.organization) yield* line("info", `Organization ${target.organization}`)
    if (target.project) yield* line("info", `Project ${target.project}`)

    const client = yield* OpenAiClient.make({
      ...Setup.clientOptions(target),
      resilience: { timeout: "30 seconds", retryPolicy: RetryPolicy.make({ maxRetries: 2, deadline: "30 seconds" }) }
    }).pipe(Effect.provideService(HttpClient.HttpClient, target.http))

    const timed = <A, E>(effect: Effect.Effect<A, E>) =>
      Effect.gen(function*() {
        const start = yield* Clock.currentTimeMillis
        const result = yield* Effect.either(effect)
        return [result, (yield* Clock.currentTimeMillis) - start] as const
      })

    const [models, modelsMs] = yield* timed(client.models.list)
    if (Either.isRight(models)) {
      const ids = models.right.data.data.map((m) => m.id)
      const has = ids.includes(options.model)
      yield* line("ok", `GET /models answered in ${ms(modelsMs)}: ${ids.length} models.`)
      if (!has && ids.length > 0) {
        yield* line("warn", `Model '${options.model}' is not in the list; pass --model with one that is.`)
      }
    } else {
      ok = false
      yield* line("fail", `GET /models failed after ${ms(modelsMs)}.`)
      yield* explain(models.left)
    }

    const [completion, completionMs] = yield* timed(
      client.chat.completions.create({
        model: options.model,
        messages: [{ role: "user", content: "Reply with OK." }],
        max_completion_tokens: 16
      })
    )
    if (Either.isRight(completion)) {
      const id = Option.getOrElse(completion.right.requestId, () => "no request id")
      yield* line("ok", `POST /chat/completions with ${options.model} answered in ${ms(completionMs)} (${id}).`)
      yield* Option.match(completion.right.rateLimit, {
        onNone: () => line("info", "No x-ratelimit-* headers (common for compatible servers and proxies)."),
        onSome: (limits) => {
          const scarce = (r: Option.Option<number>, l: Option.Option<number>) =>
            Option.isSome(r) && Option.isSome(l) && l.value > 0 && r.value / l.value < 0.1
          const low = scarce(limits.remainingRequests, limits.limitRequests) ||
            scarce(limits.remainingTokens, limits.limitTokens)
          return line(low ? "warn" : "ok", `Rate-limit headroom: ${RateLimitHeaders.format(limits)}`)
        }
      })
    } else {
      ok = false
      yield* line("fail", `POST /chat/completions with ${options.model} failed after ${ms(completionMs)}.`)
      yield* explain(completion.left)
    }
    yield* Console.log(ok ? color.green("\nAll checks passed.") : color.red("\nSome checks failed; see above."))
    return ok
  }))
