/**
 * `batch requests.jsonl --out results.jsonl`: a file of requests pushed through the limits with
 * `Batch.runDurable`, the output file as the checkpoint. The input is the cookbook's
 * (`api_request_parallel_processor.py`): one request body per line, with an optional `metadata`
 * field kept beside the result (and `metadata.id` as the request's id); lines in the Batch API's
 * shape (`custom_id`, `url`, `body`) work too.
 *
 * @since 0.2.0
 */
import { HttpClient } from "@effect/platform"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as Batch from "../Batch.js"
import * as Checkpoint from "../Checkpoint.js"
import * as CheckpointFile from "../CheckpointFile.js"
import * as OpenAiClient from "../OpenAiClient.js"
import * as OpenAiError from "../OpenAiError.js"
import * as RateLimiter from "../RateLimiter.js"
import * as Spend from "../Spend.js"
import * as SupportReport from "../SupportReport.js"
import * as TokenEstimate from "../TokenEstimate.js"
import * as Setup from "./Setup.js"

const endpointOf = (url: string): Batch.Endpoint | undefined => {
  const path = url.replace(/^https?:\/\/[^/]+/, "").replace(/^\/v1(?=\/)/, "").replace(/\/+$/, "")
  return Batch.endpoints.find((e) => e === path)
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

// Which endpoint a bare body is for: chat has `messages`; `input` is an embedding's when the
// model says so, a Responses request's otherwise.
const inferEndpoint = (body: Record<string, unknown>): Batch.Endpoint | undefined => {
  if (Array.isArray(body.messages)) return "/chat/completions"
  if (body.input !== undefined) {
    return typeof body.model === "string" && body.model.includes("embedding") ? "/embeddings" : "/responses"
  }
  return undefined
}

const idOf = (value: unknown): string | undefined =>
  typeof value === "string" && value.length > 0 ? value : typeof value === "number" ? String(value) : undefined

/**
 * One input line as a request, or why it is not one. Ids repeated within the file are invalid
 * from their second line on, so every line has one result.
 *
 * @since 0.2.0
 * @category parsing
 */
export const parseLine = (
  text: string,
  line: number,
  fallback: Batch.Endpoint | undefined
): Batch.Request | Batch.InvalidRequest => {
  const invalid = (message: string) => new Batch.InvalidRequest({ id: `line:${line}`, line, message })
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    return invalid(`not JSON: ${e instanceof Error ? e.message : String(e)}`)
  }
  if (!isRecord(parsed)) return invalid("not a JSON object")
  if (typeof parsed.url === "string" && isRecord(parsed.body)) {
    const endpoint = endpointOf(parsed.url)
    if (endpoint === undefined) return invalid(`unknown endpoint ${JSON.stringify(parsed.url.slice(0, 100))}`)
    return { id: idOf(parsed.custom_id) ?? `line:${line}`, endpoint, body: parsed.body, line, metadata: parsed.metadata }
  }
  const { metadata, ...body } = parsed
  const endpoint = fallback ?? inferEndpoint(body)
  if (endpoint === undefined) return invalid("unknown endpoint: no `messages` or `input`; pass --endpoint")
  const id = (isRecord(metadata) ? idOf(metadata.id) ?? idOf(metadata.custom_id) : undefined) ?? idOf(parsed.custom_id)
  return { id: id ?? `line:${line}`, endpoint, body, line, metadata }
}

/**
 * Every line of a file, parsed; blank lines skipped.
 *
 * @since 0.2.0
 * @category parsing
 */
export const readRequests = (
  path: string,
  endpoint: Batch.Endpoint | undefined
): Effect.Effect<ReadonlyArray<Batch.Request | Batch.InvalidRequest>, Setup.UsageError> =>
  Effect.try({
    try: () => {
      const seen = new Set<string>()
      const out: Array<Batch.Request | Batch.InvalidRequest> = []
      fs.readFileSync(path, "utf8").split("\n").forEach((text, index) => {
        if (text.trim().length === 0) return
        const line = index + 1
        const item = parseLine(text, line, endpoint)
        if (seen.has(item.id)) {
          out.push(new Batch.InvalidRequest({ id: `line:${line}`, line, message: `duplicate id ${JSON.stringify(item.id)}` }))
          return
        }
        seen.add(item.id)
        out.push(item)
      })
      return out
    },
    catch: (e) => new Setup.UsageError({ message: `Cannot read ${path}: ${e instanceof Error ? e.message : String(e)}` })
  })

const hasContent = (path: string): boolean => {
  try {
    const stat = fs.statSync(path)
    return stat.isFile() && stat.size > 0
  } catch {
    return false
  }
}

const formatDuration = (ms: number): string =>
  Number.isFinite(ms) ? Duration.format(Duration.seconds(Math.ceil(ms / 1000))) : "unknown"

const modelOf = (request: Batch.Request): string =>
  isRecord(request.body) && typeof request.body.model === "string" ? request.body.model : "unknown"

const dryRun = (
  items: ReadonlyArray<Batch.Request | Batch.InvalidRequest>,
  limits: { readonly rpm: number | undefined; readonly tpm: number | undefined }
) =>
  Effect.gen(function*() {
    const requests = items.filter((i): i is Batch.Request => !("_tag" in i))
    let tokens = 0
    let cost = 0
    let priced = 0
    for (const r of requests) {
      const e = TokenEstimate.fromBody(r.body, { path: r.endpoint })
      tokens += e.total
      const c = Spend.costOf(modelOf(r), { prompt_tokens: e.prompt, completion_tokens: e.completion })
      if (Option.isSome(c)) {
        cost += c.value
        priced++
      }
    }
    const minutes = Math.max(
      limits.rpm === undefined ? 0 : requests.length / limits.rpm,
      limits.tpm === undefined ? 0 : tokens / limits.tpm
    )
    yield* Console.log(`requests:  ${requests.length} (${items.length - requests.length} invalid lines)`)
    yield* Console.log(`tokens:    ~${tokens} (estimated: prompt + max_tokens, or 256 for the reply when unset)`)
    yield* Console.log(
      limits.rpm === undefined && limits.tpm === undefined
        ? "time:      set --max-requests-per-minute / --max-tokens-per-minute to estimate it"
        : `time:      at least ${formatDuration(minutes * 60_000)} at ${limits.rpm ?? "∞"} RPM / ${limits.tpm ?? "∞"} TPM`
    )
    yield* Console.log(
      priced === 0
        ? "cost:      unknown (no price for these models)"
        : `cost:      ~$${cost.toFixed(4)} for the ${priced} requests whose model has a price`
    )
  })

interface Counters {
  done: number
  failed: number
  inFlight: number
  tokens: Array<readonly [number, number]>
}

const progressLine = (c: Counters, total: number, skipped: number, started: number, tpmLimit: Option.Option<number>) => {
  const now = Date.now()
  c.tokens = c.tokens.filter(([at]) => now - at < 60_000)
  const perMinute = c.tokens.reduce((sum, [, n]) => sum + n, 0) * 60_000 / Math.min(60_000, Math.max(1000, now - started))
  const finished = c.done + c.failed
  const waiting = total - skipped - finished - c.inFlight
  const rate = finished / Math.max(1, now - started)
  const eta = rate > 0 ? formatDuration((total - skipped - finished) / rate) : "unknown"
  const limit = Option.match(tpmLimit, { onNone: () => "", onSome: (l) => ` (limit ${l})` })
  return `done ${c.done + skipped}/${total}  failed ${c.failed}  in flight ${c.inFlight}  waiting ${Math.max(0, waiting)}  ` +
    `${Math.round(perMinute)} tokens/min${limit}  ETA ${eta}`
}

const usageTokens = (value: Batch.Response): number => {
  const usage = isRecord(value.data) ? value.data.usage : undefined
  return isRecord(usage) && typeof usage.total_tokens === "number" ? usage.total_tokens : 0
}

/**
 * Options of {@link run}.
 *
 * @since 0.2.0
 * @category models
 */
export interface RunOptions {
  readonly input: string
  readonly out: string
  readonly errors: string | undefined
  readonly resume: boolean
  readonly dryRun: boolean
  readonly mock: boolean
  readonly endpoint: Batch.Endpoint | undefined
  readonly requestsPerMinute: number | undefined
  readonly tokensPerMinute: number | undefined
  readonly concurrency: number | undefined
}

// Ends the command with an exit code, its reason already printed.
class Stop extends Data.TaggedError("Stop")<{ readonly exitCode: number }> {}

const usage = (message: string) => Effect.zipRight(Console.error(message), Effect.fail(new Stop({ exitCode: 2 })))

/**
 * Runs the command. Exit codes: 0 every request answered, 1 some failed for good (they are in
 * the errors file) or the output could not be written mid-run, 2 a usage error.
 *
 * @since 0.2.0
 * @category commands
 */
export const run = (options: RunOptions): Effect.Effect<number> =>
  Effect.scoped(Effect.gen(function*() {
    const items = yield* Effect.catchTag(readRequests(options.input, options.endpoint), "UsageError", (e) => usage(e.message))
    const limits = { rpm: options.requestsPerMinute, tpm: options.tokensPerMinute }
    if (options.dryRun) return yield* Effect.as(dryRun(items, limits), 0)
    const errors = options.errors ?? `${options.out.replace(/\.jsonl$/, "")}.errors.jsonl`
    if (!options.resume && (hasContent(options.out) || hasContent(errors))) {
      return yield* usage(`${hasContent(options.out) ? options.out : errors} already has results: pass --resume to continue that run, or remove it.`)
    }
    const checkpoint = yield* CheckpointFile.make({ output: options.out, errors }).pipe(
      Effect.catchTag("CheckpointError", (e) => usage(e.message))
    )
    const skipped = yield* checkpoint.done
    // A batch's results are kept: without a key it says so rather than fill them from the mock.
    const target = yield* Setup.target({ mock: options.mock, fallbackToMock: false }).pipe(
      Effect.catchTags({
        UsageError: (e) => usage(e.message),
        MissingApiKey: () => usage("OPENAI_API_KEY is not set: set it, or pass --mock to run against the embedded mock server.")
      })
    )
    const limiter = yield* RateLimiter.make({ requestsPerMinute: limits.rpm, tokensPerMinute: limits.tpm }).pipe(
      Effect.provide(RateLimiter.layerStoreMemory),
      Effect.catchTag("InvalidOptions", (e) => usage(e.message))
    )
    const openai = yield* OpenAiClient.make({ ...Setup.clientOptions(target), resilience: { limiter } }).pipe(
      Effect.provideService(HttpClient.HttpClient, target.http),
      Effect.catchTag("InvalidOptions", (e) => usage(e.message))
    )
    const counters: Counters = { done: 0, failed: 0, inFlight: 0, tokens: [] }
    const sendOne = Batch.send(openai)
    const send = (request: Batch.Request) =>
      Effect.acquireUseRelease(
        Effect.sync(() => counters.inFlight++),
        () => sendOne(request),
        () => Effect.sync(() => counters.inFlight--)
      )
    const encode = (result: Batch.Result<Batch.Response, OpenAiError.OpenAiError | Batch.InvalidRequest>) => {
      const record = Batch.encode(result)
      if (result._tag === "Failure" && OpenAiError.isOpenAiError(result.error)) {
        record.report = SupportReport.make(result.error, Date.now(), {
          request: { method: "POST", url: `${target.baseUrl}${result.request?.endpoint ?? ""}`, body: result.request?.body },
          secrets: [target.apiKey]
        })
      }
      return record
    }
    const firstModel = items.find((i): i is Batch.Request => !("_tag" in i))
    const limitKey = RateLimiter.keyFor({
      apiKey: target.apiKey,
      organization: target.organization,
      project: target.project,
      model: firstModel === undefined ? undefined : modelOf(firstModel)
    })
    const started = Date.now()
    const tty = process.stderr.isTTY === true
    const report = Effect.gen(function*() {
      const snapshot = yield* limiter.snapshot(limitKey)
      const line = progressLine(counters, items.length, skipped, started, Option.flatMap(snapshot, (s) => s.limitTokens))
      yield* Effect.sync(() => process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`))
    })
    // A terminal sees one line redrawn every second; a log, a plain line every ten.
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(tty ? "1 second" : "10 seconds"), report)))
    const keyOf = (request: Batch.Request) =>
      RateLimiter.keyFor({ apiKey: target.apiKey, organization: target.organization, project: target.project, model: modelOf(request) })
    const outcome = yield* Batch.runDurable(Stream.fromIterable(items), {
      send,
      encode,
      concurrency: options.concurrency,
      pacing: { limiter, key: keyOf }
    }).pipe(
      Stream.runForEach((result) =>
        Effect.sync(() => {
          if (result._tag === "Success") {
            counters.done++
            counters.tokens.push([Date.now(), usageTokens(result.value)])
          } else counters.failed++
        })
      ),
      Effect.provideService(Checkpoint.Checkpoint, checkpoint),
      Effect.either
    )
    yield* report
    if (tty) yield* Effect.sync(() => process.stderr.write("\n"))
    if (outcome._tag === "Left") {
      yield* Console.error(`Stopped: ${outcome.left.message}. Every result written before it is kept; run again with --resume.`)
      return 1
    }
    yield* Console.error(
      `batch: ${counters.done} answered, ${counters.failed} failed for good${counters.failed > 0 ? ` (see ${errors})` : ""}, ${skipped} already done before this run.`
    )
    return counters.failed > 0 ? 1 : 0
  })).pipe(Effect.catchTag("Stop", (stop) => Effect.succeed(stop.exitCode)))
