import { HttpClient, HttpClientError } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Chunk, Effect, Exit, Fiber, Option, Stream, TestClock } from "effect"
import * as Examples from "../docs/examples/testing.js"
import { ScriptedHttpClient as S } from "../src/testing/index.js"

const URL = "https://api.example.test/v1/models"

const get = (scripted: S.Scripted, headers: Record<string, string> = {}) =>
  Effect.flatMap(HttpClient.HttpClient, (client) => client.get(URL, { headers })).pipe(
    Effect.provideService(HttpClient.HttpClient, scripted.client)
  )

const responseError = (exit: Exit.Exit<unknown, unknown>): HttpClientError.ResponseError => {
  assert.isTrue(Exit.isFailure(exit))
  const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
  assert.instanceOf(error, HttpClientError.ResponseError)
  return error as HttpClientError.ResponseError
}

describe("ScriptedHttpClient: the script", () => {
  it.effect("answers one step per request, in order, and records each request", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.json(500, S.errorBody("boom", "server_error", null)), S.text(200, "ok")])
      assert.strictEqual(scripted.remaining(), 2)
      const first = yield* get(scripted, { "X-Attempt": "0" })
      assert.strictEqual(first.status, 500)
      assert.deepStrictEqual(yield* first.json, { error: { message: "boom", type: "server_error", param: null, code: null } })
      const second = yield* get(scripted, { "x-attempt": "1" })
      assert.strictEqual(yield* second.text, "ok")
      assert.strictEqual(scripted.remaining(), 0)
      assert.strictEqual(scripted.requests.length, 2)
      assert.strictEqual(S.header(scripted, 0, "x-attempt"), "0")
      assert.strictEqual(S.header(scripted, 1, "X-ATTEMPT"), "1")
      assert.isUndefined(S.header(scripted, 2, "x-attempt"))
    }))

  it.effect("a request beyond the script is a defect naming it", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.text(200, "only one")])
      yield* get(scripted)
      const exit = yield* Effect.exit(get(scripted))
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      assert.include(Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "", "unexpected request #2 GET")
    }))

  it.effect("fail() is a transport error whose cause is Node's ECONNRESET", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(get(S.make([S.fail()])))
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
      assert.instanceOf(error, HttpClientError.RequestError)
      assert.strictEqual((error as HttpClientError.RequestError).reason, "Transport")
      const cause = (error as HttpClientError.RequestError).cause as { code?: string; message?: string }
      assert.strictEqual(cause.code, "ECONNRESET")
      assert.strictEqual(cause.message, "read ECONNRESET")
    }))

  it.effect("a delayed step answers once the clock has moved, and a hang never does", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.json(200, { ok: true }, {}, "5 seconds"), S.hang])
      const delayed = yield* Effect.fork(get(scripted))
      yield* TestClock.adjust("4999 millis")
      assert.isTrue(Option.isNone(yield* Fiber.poll(delayed)))
      yield* TestClock.adjust("1 milli")
      assert.strictEqual((yield* Fiber.join(delayed)).status, 200)
      const hanging = yield* Effect.fork(get(scripted))
      yield* TestClock.adjust("1 day")
      assert.isTrue(Option.isNone(yield* Fiber.poll(hanging)))
      yield* Fiber.interrupt(hanging)
    }))
})

describe("ScriptedHttpClient: bodies", () => {
  it.effect("a pause holds the body on the Effect clock; pulled counts the bytes read", () =>
    Effect.gen(function*() {
      const scripted = S.make([S.parts(200, ["{\"a\":", S.pause("10 seconds"), "1}"])])
      const response = yield* get(scripted)
      const body = yield* Effect.fork(response.json)
      yield* TestClock.adjust("9 seconds")
      assert.isTrue(Option.isNone(yield* Fiber.poll(body)))
      assert.strictEqual(scripted.pulled[0], 5)
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* Fiber.join(body), { a: 1 })
      assert.strictEqual(scripted.pulled[0], 7)
    }))

  it.effect("a cut gives the chunks before it, then a Decode error whose cause is Node's `aborted`", () =>
    Effect.gen(function*() {
      const response = yield* get(S.make([S.sse([S.data({ n: 1 }), S.cut()])]))
      const decoder = new TextDecoder()
      const seen: Array<string> = []
      const exit = yield* Effect.exit(Stream.runForEach(response.stream, (bytes) => Effect.sync(() => seen.push(decoder.decode(bytes)))))
      assert.deepStrictEqual(seen, ["data: {\"n\":1}\n\n"])
      const error = responseError(exit)
      assert.strictEqual(error.reason, "Decode")
      assert.strictEqual((error.cause as Error).message, "aborted")
      assert.strictEqual((error.cause as { code?: string }).code, "ECONNRESET")
    }))

  it.effect("the body is read once, as a web body: text is kept, a later stream fails", () =>
    Effect.gen(function*() {
      const response = yield* get(S.make([S.text(200, "hello")]))
      assert.strictEqual(yield* response.text, "hello")
      assert.strictEqual(yield* response.text, "hello")
      const error = responseError(yield* Effect.exit(Stream.runDrain(response.stream)))
      assert.strictEqual(error.reason, "Decode")
      assert.include(String(error.cause), "Body is unusable")
    }))

  it.effect("headers read as a web Response gives them; an empty JSON body is null", () =>
    Effect.gen(function*() {
      const response = yield* get(S.make([S.text(200, "", { "X-Request-ID": " req_1 ", "Content-Type": "application/json" })]))
      assert.deepStrictEqual(Object.keys(response.headers), ["content-type", "x-request-id"])
      assert.strictEqual(response.headers["x-request-id"], "req_1")
      assert.isNull(yield* response.json)
    }))

  it.effect("a 204 has no body, whatever the script says", () =>
    Effect.gen(function*() {
      const response = yield* get(S.make([S.text(204, "ignored")]))
      assert.strictEqual(yield* response.text, "")
      const noBody = yield* get(S.make([S.text(204, "ignored")]))
      assert.strictEqual(responseError(yield* Effect.exit(Stream.runCollect(noBody.stream))).reason, "EmptyBody")
    }))

  it.effect("bytes arrive as copies: changing a chunk read does not change the next response", () =>
    Effect.gen(function*() {
      const shared = new TextEncoder().encode("abc")
      const scripted = S.make([S.parts(200, [shared]), S.parts(200, [shared])])
      const chunks = yield* Stream.runCollect((yield* get(scripted)).stream)
      Chunk.unsafeGet(chunks, 0)[0] = 0
      assert.strictEqual(yield* (yield* get(scripted)).text, "abc")
    }))

  it.effect("a status a web Response refuses is a defect, as with a real client", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(get(S.make([S.text(600, "")])))
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
    }))
})

describe("ScriptedHttpClient: the example in docs/testing.md", () => {
  it.effect("waits for the scripted retry-after", () => Examples.waitsForTheScriptedRetryAfter)
})
