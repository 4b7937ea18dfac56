/**
 * An optional adapter for a real BPE tokenizer: OpenAI's encodings as implemented by the
 * `gpt-tokenizer` package, an optional peer dependency. Nothing is loaded until the first count
 * is asked for; then the encoding's module is imported once (dynamic `import()`) and kept. When
 * the package is not installed, {@link load} gives `None` and callers fall back to an estimate
 * (`TokenEstimate.ofText`) or a bound (`TokenEstimate.lowerBound`).
 *
 * ```sh
 * npm install gpt-tokenizer
 * ```
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as TokenEstimate from "./TokenEstimate.js"

/**
 * The BPE encodings of OpenAI's current models: `o200k_base` (GPT-4o, GPT-4.1, GPT-5, the
 * o-series) and `cl100k_base` (GPT-4, GPT-3.5 Turbo, the text-embedding-3 models).
 *
 * @since 0.2.0
 * @category models
 */
export type Encoding = "o200k_base" | "cl100k_base"

/**
 * A loaded tokenizer: its encoding and a token counter for one text.
 *
 * @since 0.2.0
 * @category models
 */
export interface Tokenizer {
  readonly encoding: Encoding
  readonly count: TokenEstimate.Estimator
}

/**
 * Loads the module of an encoding; the default imports `gpt-tokenizer/encoding/<encoding>`. A
 * rejection means "not available".
 *
 * @since 0.2.0
 * @category models
 */
export type Importer = (encoding: Encoding) => Promise<unknown>

// Older models, and the embedding models, use cl100k_base; everything current uses o200k_base
// (and an unknown name most likely is a newer model).
const CL100K = /^(gpt-4(?!o|\.)|gpt-3\.5|text-embedding-3|text-embedding-ada)/

/**
 * The encoding a model name uses (dated snapshots and fine-tunes included: `ft:gpt-4o-mini:...`).
 *
 * @example
 * ```ts
 * import { Tokenizer } from "effect-openai-resilience"
 *
 * Tokenizer.encodingFor("gpt-4o-mini-2024-07-18") // "o200k_base"
 * Tokenizer.encodingFor("gpt-4-0613") // "cl100k_base"
 * ```
 *
 * @since 0.2.0
 * @category encodings
 */
export const encodingFor = (model: string): Encoding =>
  CL100K.test(model.startsWith("ft:") ? model.slice(3) : model) ? "cl100k_base" : "o200k_base"

const gptTokenizer: Importer = (encoding) =>
  encoding === "cl100k_base"
    ? import("gpt-tokenizer/encoding/cl100k_base")
    : import("gpt-tokenizer/encoding/o200k_base")

const counterOf = (module: unknown): TokenEstimate.Estimator | undefined => {
  if (typeof module !== "object" || module === null) return undefined
  const count = (module as { readonly countTokens?: unknown }).countTokens
  if (typeof count !== "function") return undefined
  return (text) => (count as (text: string) => number)(text)
}

/**
 * A loader over any {@link Importer}, with its own cache: each encoding is imported at most once,
 * on first use. For bundlers that need a static import, or for tests.
 *
 * @example
 * ```ts
 * import { Tokenizer } from "effect-openai-resilience"
 *
 * // Pretend the package is missing: every load gives None.
 * const load = Tokenizer.loader(() => Promise.reject(new Error("not installed")))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const loader = (importer: Importer): (encoding: Encoding) => Effect.Effect<Option.Option<Tokenizer>> => {
  const cache = new Map<Encoding, Promise<Option.Option<Tokenizer>>>()
  return (encoding) =>
    Effect.promise(() => {
      let loaded = cache.get(encoding)
      if (loaded === undefined) {
        loaded = Promise.resolve()
          .then(() => importer(encoding))
          .then((module) => {
            const count = counterOf(module)
            return count === undefined ? Option.none<Tokenizer>() : Option.some({ encoding, count })
          })
          // Not installed (or broken): the callers' fallback applies, now and on later calls.
          .catch(() => Option.none<Tokenizer>())
        cache.set(encoding, loaded)
      }
      return loaded
    })
}

/**
 * The `gpt-tokenizer` counter for an encoding, imported on first use; `None` when the package is
 * not installed.
 *
 * @example
 * ```ts
 * import { Tokenizer } from "effect-openai-resilience"
 * import { Effect, Option } from "effect"
 *
 * const tokens = Effect.map(
 *   Tokenizer.load("o200k_base"),
 *   Option.map((tokenizer) => tokenizer.count("Hello, world"))
 * ) // Some(3) when gpt-tokenizer is installed
 * ```
 *
 * @since 0.2.0
 * @category loading
 */
export const load: (encoding: Encoding) => Effect.Effect<Option.Option<Tokenizer>> = loader(gptTokenizer)

/**
 * The `gpt-tokenizer` counter for a model's encoding ({@link encodingFor}), or `None`.
 *
 * @example
 * ```ts
 * import { Tokenizer } from "effect-openai-resilience"
 *
 * const tokenizer = Tokenizer.forModel("gpt-4o-mini")
 * ```
 *
 * @since 0.2.0
 * @category loading
 */
export const forModel = (model: string): Effect.Effect<Option.Option<Tokenizer>> => load(encodingFor(model))
