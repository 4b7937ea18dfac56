/**
 * Scrubbing of API keys from text we did not write (server messages, bodies, transport errors).
 * @internal
 */

import * as Redacted from "effect/Redacted"

// OpenAI (`sk-`, `sk-proj-`, `sk-svcacct-`), Anthropic-style and generic bearer tokens. Servers
// usually mask keys themselves, but proxies and compatible servers have echoed them whole.
// The key's body is matched as one greedy run and its last four characters found by `maskKey`:
// a pattern that backtracks to find them (`{8,}([A-Za-z0-9]{4})\b`) is quadratic on a long run of
// "sk-sk-sk-..." and let a hostile body stall the classifier for minutes.
const KEY = /\b(sk-(?:proj-|svcacct-|admin-|ant-)?)([A-Za-z0-9_\-*]{12,})/g
const BEARER = /(bearer\s+)[^\s"',;]{8,}/gi
// Credentials inside a URL: its user-info (`https://user:pass@host`) and a key in its query
// (`?api-key=...`, as Azure-style gateways take). Transport errors quote the URL they failed on
// ("Request cannot be constructed from a URL that includes credentials: https://me:pw@...").
// Both scans stop at the next `/`, `?` or `&`, so a hostile run of URLs stays linear.
const URL_USERINFO = /\b((?:https?|wss?):\/\/)[^\s/?#@"'<>]+@/gi
const SECRET_QUERY_NAMES = "api[-_]?key|key|token|access[-_]?token|sig|signature|code|password"
const URL_QUERY_SECRET = new RegExp(`([?&](?:${SECRET_QUERY_NAMES})=)[^&?#\\s"'<>]+`, "gi")

const SECRET_QUERY_NAME = new RegExp(`^(?:${SECRET_QUERY_NAMES})$`, "i")

/** Query parameters whose values are credentials (`?api-key=`, `?sig=`, ...). */
export const isSecretQueryName = (name: string): boolean => SECRET_QUERY_NAME.test(name)

/**
 * Headers whose values are secrets whatever they hold: one list for the support report, the
 * errors handed to foreign clients and the mock's request log.
 */
export const secretHeaderNames: ReadonlyArray<string> = [
  "authorization",
  "proxy-authorization",
  "api-key",
  "x-api-key",
  "openai-api-key",
  "cookie",
  "set-cookie",
  "x-goog-api-key",
  "ocp-apim-subscription-key"
]
const ALNUM4 = /^[A-Za-z0-9]{4}$/
const WORD = /\w/

// Keeps the last four letters or digits that end a word (after at least eight characters), as a
// server's own masking does; a run with no such ending is not a key.
const masked = (prefix: string, body: string): string | undefined => {
  for (let end = body.length; end >= 12; end--) {
    const next = body[end]
    if (next !== undefined && WORD.test(next)) continue
    const last4 = body.slice(end - 4, end)
    if (ALNUM4.test(last4)) return `${prefix}<redacted>${last4}${body.slice(end)}`
  }
  return undefined
}

// With a long prefix (`sk-proj-`) and no ending found, the plain `sk-` prefix is tried too, as the
// backtracking pattern did.
const maskKey = (match: string, prefix: string, body: string): string =>
  masked(prefix, body) ?? (prefix.length > 3 ? masked("sk-", prefix.slice(3) + body) : undefined) ?? match

/**
 * Replaces anything shaped like an API key with its prefix and last four characters, and the
 * credentials of a URL (user-info, a key in the query) with `<redacted>`.
 */
export const scrub = (text: string, extra: ReadonlyArray<string> = []): string => {
  let out = text.replace(KEY, maskKey)
    .replace(BEARER, (_m, prefix: string) => `${prefix}<redacted>`)
    .replace(URL_USERINFO, (_m, scheme: string) => `${scheme}<redacted>@`)
    .replace(URL_QUERY_SECRET, (_m, name: string) => `${name}<redacted>`)
  for (const secret of extra) {
    if (secret.length >= 4) out = out.split(secret).join("<redacted>")
  }
  return out
}

/** The text of each secret, `Redacted` or not: what the scrubbers compare against. */
export const revealAll = (
  secrets: ReadonlyArray<Redacted.Redacted<string> | string> | undefined
): ReadonlyArray<string> => (secrets ?? []).map((s) => (typeof s === "string" ? s : Redacted.value(s)))

/** Cuts text to `max` characters, saying how much was left out. */
export const bound = (text: string, max: number): string =>
  text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`
