import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Match, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as OpenAiError from "../src/OpenAiError.js"
import { catchAll, decide, describeError, describeValue } from "./OpenAiError.exhaustive.js"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

// One instance of every tag, with its own required fields.
const make = (tag: OpenAiError.Tag, input: OpenAiError.Input): OpenAiError.OpenAiError => {
  switch (tag) {
    case "InvalidAuthentication":
      return new OpenAiError.InvalidAuthentication(input)
    case "IncorrectApiKey":
      return new OpenAiError.IncorrectApiKey(input)
    case "NoOrganization":
      return new OpenAiError.NoOrganization(input)
    case "UnsupportedRegion":
      return new OpenAiError.UnsupportedRegion(input)
    case "PermissionDenied":
      return new OpenAiError.PermissionDenied(input)
    case "RateLimitReached":
      return new OpenAiError.RateLimitReached({
        ...input,
        scope: "tokens",
        limit: Option.some(200000),
        used: Option.some(162960),
        requested: Option.some(42288)
      })
    case "QuotaExceeded":
      return new OpenAiError.QuotaExceeded(input)
    case "RequestTooLarge":
      return new OpenAiError.RequestTooLarge({ ...input, limit: Option.some(30000), requested: Option.some(31538) })
    case "ServerError":
      return new OpenAiError.ServerError(input)
    case "EngineOverloaded":
      return new OpenAiError.EngineOverloaded(input)
    case "BadRequest":
      return new OpenAiError.BadRequest(input)
    case "ContextLengthExceeded":
      return new OpenAiError.ContextLengthExceeded(input)
    case "NotFound":
      return new OpenAiError.NotFound(input)
    case "Conflict":
      return new OpenAiError.Conflict(input)
    case "UnprocessableEntity":
      return new OpenAiError.UnprocessableEntity(input)
    case "UnexpectedStatus":
      return new OpenAiError.UnexpectedStatus(input)
    case "ConnectionError":
      return new OpenAiError.ConnectionError({
        ...input,
        cause: new Error("read ECONNRESET"),
        errorCode: Option.some("ECONNRESET"),
        received: Option.none()
      })
    case "TimeoutError":
      return new OpenAiError.TimeoutError({ ...input, phase: "headers", timeout: Duration.seconds(30) })
    case "ResponseDecodeError":
      return new OpenAiError.ResponseDecodeError({ ...input, path: "choices", issue: "is missing", body: "{}" })
  }
}

// The guide's table, written out independently of src/internal/guide.ts.
const expected: Record<OpenAiError.Tag, readonly [OpenAiError.Category, boolean]> = {
  InvalidAuthentication: ["AuthenticationError", false],
  IncorrectApiKey: ["AuthenticationError", false],
  NoOrganization: ["AuthenticationError", false],
  UnsupportedRegion: ["PermissionDeniedError", false],
  PermissionDenied: ["PermissionDeniedError", false],
  RateLimitReached: ["RateLimitError", true],
  QuotaExceeded: ["RateLimitError", false],
  RequestTooLarge: ["RateLimitError", false],
  ServerError: ["InternalServerError", true],
  EngineOverloaded: ["InternalServerError", true],
  BadRequest: ["BadRequestError", false],
  ContextLengthExceeded: ["BadRequestError", false],
  NotFound: ["NotFoundError", false],
  Conflict: ["ConflictError", true],
  UnprocessableEntity: ["UnprocessableEntityError", true],
  UnexpectedStatus: ["APIError", false],
  ConnectionError: ["APIConnectionError", true],
  TimeoutError: ["APITimeoutError", true],
  ResponseDecodeError: ["APIError", false]
}

describe("OpenAiError", () => {
  it("has 19 distinct tags", () => {
    expect(OpenAiError.tags).toHaveLength(19)
    expect(new Set(OpenAiError.tags).size).toBe(19)
    expect([...OpenAiError.tags].sort()).toEqual(Object.keys(expected).sort())
  })

  describe.each(OpenAiError.tags)("%s", (tag) => {
    const e = make(tag, { message: `a ${tag}` })

    it("has its tag, category, default decision and guidance", () => {
      expect(e._tag).toBe(tag)
      expect(e.message).toBe(`a ${tag}`)
      expect([e.category, e.retryable]).toEqual(expected[tag])
      expect(e.probableCause.length).toBeGreaterThan(20)
      expect(e.solution.length).toBeGreaterThan(20)
      expect(e.docs.endsWith(`/docs/errors/${tag}.md`)).toBe(true)
      expect(OpenAiError.describe(tag)).toEqual({
        category: e.category,
        retryable: e.retryable,
        probableCause: e.probableCause,
        solution: e.solution,
        docs: e.docs
      })
    })

    it("defaults every server field to None", () => {
      for (
        const field of [
          e.status,
          e.code,
          e.type,
          e.param,
          e.requestId,
          e.rateLimit,
          e.retryAfter,
          e.retryAfterSource,
          e.shouldRetry
        ]
      ) {
        expect(field).toEqual(Option.none())
      }
    })

    it("is an Error that can be yielded and caught by tag", () => {
      expect(e).toBeInstanceOf(Error)
      expect(OpenAiError.isOpenAiError(e)).toBe(true)
      const exit = Effect.runSyncExit(Effect.gen(function*() {
        return yield* e
      }))
      expect(Exit.isFailure(exit)).toBe(true)
      const caught = Effect.runSync(
        Effect.fail(e).pipe(Effect.catchTag(tag, (err) => Effect.succeed(err._tag)))
      )
      expect(caught).toBe(tag)
    })

    it("x-should-retry overrides the default decision", () => {
      expect(make(tag, { message: "m", shouldRetry: Option.some(true) }).retryable).toBe(true)
      expect(make(tag, { message: "m", shouldRetry: Option.some(false) }).retryable).toBe(false)
      expect(OpenAiError.isRetryable(make(tag, { message: "m", shouldRetry: Option.some(false) }))).toBe(false)
    })

    it("has a docs page", () => {
      expect(fs.existsSync(path.join(root, "docs", "errors", `${tag}.md`))).toBe(true)
    })

    it("is handled by the exhaustive matchers", () => {
      expect(describeError(e).length).toBeGreaterThan(0)
      expect(describeValue(e)).toBe(describeError(e))
      expect(["wait", "fix", "retry"]).toContain(decide(e))
      expect(Effect.runSync(catchAll(Effect.fail(e)))).toBe(describeError(e))
    })
  })

  it("keeps the fields it is given", () => {
    const e = new OpenAiError.RateLimitReached({
      message: "Rate limit reached",
      status: Option.some(429),
      code: Option.some("rate_limit_exceeded"),
      type: Option.some("tokens"),
      param: Option.none(),
      requestId: Option.some("req_1"),
      retryAfter: Option.some(Duration.millis(1574)),
      retryAfterSource: Option.some("message"),
      scope: "tokens",
      limit: Option.some(1),
      used: Option.some(2),
      requested: Option.some(3)
    })
    expect([e.status, e.code, e.type, e.requestId, e.retryAfterSource]).toEqual([
      Option.some(429),
      Option.some("rate_limit_exceeded"),
      Option.some("tokens"),
      Option.some("req_1"),
      Option.some("message")
    ])
    expect([e.scope, e.limit, e.used, e.requested]).toEqual(["tokens", Option.some(1), Option.some(2), Option.some(3)])
  })

  it("a 408 is retried by default; other unexpected statuses are not", () => {
    expect(new OpenAiError.UnexpectedStatus({ message: "m", status: Option.some(408) }).retryable).toBe(true)
    expect(new OpenAiError.UnexpectedStatus({ message: "m", status: Option.some(418) }).retryable).toBe(false)
  })

  it("an overload sent as a 429 is a RateLimitError; otherwise an InternalServerError", () => {
    const as429 = new OpenAiError.EngineOverloaded({ message: "m", status: Option.some(429) })
    const as503 = new OpenAiError.EngineOverloaded({ message: "m", status: Option.some(503) })
    expect([as429.category, OpenAiError.isRateLimitError(as429), OpenAiError.isInternalServerError(as429)]).toEqual([
      "RateLimitError",
      true,
      false
    ])
    expect([as503.category, OpenAiError.isRateLimitError(as503), OpenAiError.isInternalServerError(as503)]).toEqual([
      "InternalServerError",
      false,
      true
    ])
  })

  it("each category refinement holds exactly for its tags", () => {
    const refinements: ReadonlyArray<readonly [OpenAiError.Category, (u: unknown) => boolean]> = [
      ["AuthenticationError", OpenAiError.isAuthenticationError],
      ["PermissionDeniedError", OpenAiError.isPermissionDeniedError],
      ["RateLimitError", OpenAiError.isRateLimitError],
      ["InternalServerError", OpenAiError.isInternalServerError],
      ["BadRequestError", OpenAiError.isBadRequestError],
      ["NotFoundError", OpenAiError.isNotFoundError],
      ["ConflictError", OpenAiError.isConflictError],
      ["UnprocessableEntityError", OpenAiError.isUnprocessableEntityError],
      ["APIConnectionError", OpenAiError.isConnectionError],
      ["APITimeoutError", OpenAiError.isTimeoutError]
    ]
    for (const tag of OpenAiError.tags) {
      const e = make(tag, { message: "m" })
      for (const [category, is] of refinements) {
        expect(is(e), `${tag} / ${category}`).toBe(expected[tag][0] === category)
      }
      expect(OpenAiError.isRetryable(e)).toBe(expected[tag][1])
    }
  })

  it("isOpenAiError refuses look-alikes", () => {
    for (const u of [new Error("x"), { _tag: "ServerError" }, { _tag: "Nope", category: "APIError" }, null, undefined, "ServerError"]) {
      expect(OpenAiError.isOpenAiError(u)).toBe(false)
    }
  })

  it("catchIf with a category refinement catches a whole category", () => {
    const program = (e: OpenAiError.OpenAiError) =>
      Effect.fail(e).pipe(
        Effect.catchIf(OpenAiError.isAuthenticationError, () => Effect.succeed("check your key")),
        Effect.catchAll((other) => Effect.succeed(other._tag))
      )
    expect(Effect.runSync(program(new OpenAiError.NoOrganization({ message: "m" })))).toBe("check your key")
    expect(Effect.runSync(program(new OpenAiError.Conflict({ message: "m" })))).toBe("Conflict")
  })

  it("Match.valueTags narrows to each tag's own fields", () => {
    const e: OpenAiError.OpenAiError = new OpenAiError.TimeoutError({
      message: "m",
      phase: "idle",
      timeout: Duration.seconds(5)
    })
    const text = Match.value(e).pipe(
      Match.tag("TimeoutError", (t) => `${t.phase} after ${Duration.format(t.timeout)}`),
      Match.orElse(() => "other")
    )
    expect(text).toBe("idle after 5s")
    expect(describeValue(e)).toBe("timeout (idle)")
  })
})

describe("docs/errors", () => {
  const readme = () => fs.readFileSync(path.join(root, "docs", "errors", "README.md"), "utf8")

  it("has exactly one page per tag, plus the index", () => {
    const pages = fs.readdirSync(path.join(root, "docs", "errors")).filter((f) => f.endsWith(".md")).sort()
    expect(pages).toEqual([...OpenAiError.tags.map((t) => `${t}.md`), "README.md"].sort())
  })

  it.each(OpenAiError.tags)("the index row of %s matches the code", (tag) => {
    const row = readme().split("\n").find((line) => line.startsWith(`| [${tag}](${tag}.md) |`))
    expect(row, `index row for ${tag}`).toBeDefined()
    const cells = (row ?? "").split("|").map((c) => c.trim())
    const info = OpenAiError.describe(tag)
    expect(cells[3]).toBe(info.category)
    expect(cells[4]?.startsWith(info.retryable ? "yes" : "no")).toBe(true)
  })

  it.each(OpenAiError.tags)("the page of %s names its category and shows how to match it", (tag) => {
    const page = fs.readFileSync(path.join(root, "docs", "errors", `${tag}.md`), "utf8")
    expect(page.startsWith(`# ${tag}`)).toBe(true)
    expect(page).toContain(OpenAiError.describe(tag).category)
    expect(page).toContain("from \"effect-openai-resilience\"")
    expect(page).toMatch(new RegExp(`catchTag\\("${tag}"|catchTags\\(\\{[\\s\\S]*${tag}:`))
  })
})
