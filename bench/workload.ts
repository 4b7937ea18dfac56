/**
 * The workload both goodput benches send: a seeded generator, so that every client sees the
 * same request sequence, and chat requests of varied sizes.
 */
import * as TokenEstimate from "../src/TokenEstimate.js"

/** mulberry32: a small seeded generator, so every client sees the same request sequence. */
export const generator = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const between = (next: () => number, lo: number, hi: number) => Math.floor(lo + next() * (hi - lo + 1))

export interface Job {
  readonly id: string
  readonly body: Record<string, unknown>
  readonly tokens: number
  readonly maxTokens: number
}

/** 20% small requests (tens of tokens), 80% typical ones (hundreds to 1,500 tokens). */
export const jobOf = (worker: number, n: number, next: () => number): Job => {
  const small = next() < 0.2
  const promptChars = small ? between(next, 20, 200) : between(next, 400, 4000)
  const maxTokens = small ? between(next, 8, 48) : between(next, 100, 600)
  const body = {
    model: "gpt-4o-mini",
    messages: [
      { role: "system", content: "You are terse." },
      { role: "user", content: "lorem ipsum ".repeat(Math.ceil(promptChars / 12)).slice(0, promptChars) }
    ],
    max_tokens: maxTokens,
    user: `w${worker}-${n}`
  }
  return { id: body.user, body, tokens: TokenEstimate.fromBody(body).total, maxTokens }
}

/** The `p` quantile of sorted values (NaN for none). */
export const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN
