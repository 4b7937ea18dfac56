/**
 * Scrubbing of API keys from text we did not write (server messages, bodies, transport errors).
 * @internal
 */

// OpenAI (`sk-`, `sk-proj-`, `sk-svcacct-`), Anthropic-style and generic bearer tokens. Servers
// usually mask keys themselves, but proxies and compatible servers have echoed them whole.
const KEY = /\b(sk-(?:proj-|svcacct-|admin-|ant-)?)[A-Za-z0-9_\-*]{8,}([A-Za-z0-9]{4})\b/g
const BEARER = /(bearer\s+)[^\s"',;]{8,}/gi

/** Replaces anything shaped like an API key with its prefix and last four characters. */
export const scrub = (text: string, extra: ReadonlyArray<string> = []): string => {
  let out = text.replace(KEY, (_m, prefix: string, last4: string) => `${prefix}<redacted>${last4}`)
    .replace(BEARER, (_m, prefix: string) => `${prefix}<redacted>`)
  for (const secret of extra) {
    if (secret.length >= 4) out = out.split(secret).join("<redacted>")
  }
  return out
}

/** Cuts text to `max` characters, saying how much was left out. */
export const bound = (text: string, max: number): string =>
  text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`
