/**
 * The main entry bundles for a browser: no `node:` module, no Node global, in its import graph.
 * esbuild bundles dist/index.js for `platform: "browser"` (a Node built-in there is a build error),
 * and the bundle then runs in a bare V8 context without `process`, `require` or `Buffer`.
 */
import { beforeAll, describe, expect, it } from "@effect/vitest"
import * as esbuild from "esbuild"
import * as vm from "node:vm"
import { built } from "./utils/build.js"

let entry = ""

beforeAll(() => {
  entry = built("index.js")
}, 180_000)

describe("browser bundle of the main entry", () => {
  it("bundles with esbuild for the browser and runs without Node globals", async () => {
    const result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      platform: "browser",
      format: "iife",
      globalName: "EffectOpenAiResilience",
      write: false,
      logLevel: "silent",
      metafile: true
    })
    const inputs = Object.keys(result.metafile.inputs)
    expect(inputs.filter((input) => input.startsWith("node:") || input.includes("@effect/platform-node"))).toEqual([])
    const code = result.outputFiles[0]?.text ?? ""
    const context = vm.createContext({ TextEncoder, TextDecoder, URL, URLSearchParams, AbortController, console, setTimeout, clearTimeout, queueMicrotask })
    vm.runInContext(`${code}\nglobalThis.lib = EffectOpenAiResilience`, context)
    const lib = (context as { lib: typeof import("../src/index.js") }).lib
    // The rate limiter's key hashes the API key: it must not need node:crypto.
    expect(lib.RateLimiter.keyFor({ apiKey: "sk-example", model: "gpt-4o-mini" })).toMatch(/^[0-9a-f]{16}:gpt-4o-mini$/)
    expect(lib.OpenAiError.isRetryable(new lib.OpenAiError.ServerError({ message: "m" }))).toBe(true)
  }, 60_000)
})
