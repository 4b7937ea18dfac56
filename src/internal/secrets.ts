/**
 * Scrubbing of API keys from text we did not write (server messages, bodies, transport errors).
 * @internal
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Tracer from "effect/Tracer"

// OpenAI (`sk-`, `sk-proj-`, `sk-svcacct-`), Anthropic-style and generic bearer tokens. Servers
// usually mask keys themselves, but proxies and compatible servers have echoed them whole.
// The key's body is matched as one greedy run and its last four characters found by `maskKey`:
// a pattern that backtracks to find them (`{8,}([A-Za-z0-9]{4})\b`) is quadratic on a long run of
// "sk-sk-sk-..." and let a hostile body stall the classifier for minutes.
const KEY = /(?<![A-Za-z0-9])(sk-(?:proj-|svcacct-|admin-|ant-)?)([A-Za-z0-9_\-*]{12,})/g
const BEARER = /(bearer\s+)[^\s"',;]{8,}/gi
// Credentials inside a URL: its user-info (`https://user:pass@host`) and a key in its query
// (`?api-key=...`, as Azure-style gateways take). Transport errors quote the URL they failed on
// ("Request cannot be constructed from a URL that includes credentials: https://me:pw@...").
// Both scans stop at the next `/`, `?` or `&`, so a hostile run of URLs stays linear.
const URL_USERINFO = /\b((?:https?|wss?):\/\/)[^\s/?#@"'<>]+@/gi
const SECRET_QUERY_NAMES = "api[-_]?key|key|token|access[-_]?token|sig|signature|code|password"
const URL_QUERY_SECRET = new RegExp(`([?&](?:${SECRET_QUERY_NAMES})=)[^&?#\\s"'<>]+`, "gi")

// A key given as a named value in text a server echoed: `api-key: 0123...`, `"api_key": "..."`,
// `Ocp-Apim-Subscription-Key=...` (Azure's keys are 32 hex digits, no `sk-` to find them by).
const KEY_VALUE =
  /(\b(?:api[-_]?key|x-api-key|subscription[-_]?key|access[-_]?token|client[-_]?secret)["']?\s{0,8}[:=]\s{0,8}["']?)[^\s"',;&<>]{8,}/gi

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
    .replace(KEY_VALUE, (_m, name: string) => `${name}<redacted>`)
  for (const secret of extra) {
    if (secret.length >= 4) out = out.split(secret).join("<redacted>")
  }
  return out
}

/** The text of each secret, `Redacted` or not: what the scrubbers compare against. */
export const revealAll = (
  secrets: ReadonlyArray<Redacted.Redacted<string> | string> | undefined
): ReadonlyArray<string> => (secrets ?? []).map((s) => (typeof s === "string" ? s : Redacted.value(s)))

// A copy that shares no memory with `text`: V8 keeps a slice of a string as a view of the whole, so
// a 500-character excerpt of a 16 MiB event would keep the 16 MiB alive as long as the error lives.
const fresh = (text: string): string => JSON.parse(JSON.stringify(text)) as string

/** Cuts text to `max` characters, saying how much was left out. The cut text holds no view of `text`. */
export const bound = (text: string, max: number): string =>
  text.length <= max ? text : `${fresh(text.slice(0, max))}… (${text.length - max} more characters)`

const isKeyChar = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x2d ||
  c === 0x2a

/**
 * `bound(scrub(text, secrets), max)` at a cost that does not grow with `text`: only a head a few
 * times `max` long is scrubbed. The head is cut before a trailing run of key characters, so a key
 * that straddles the cut leaves none of itself behind.
 */
export const scrubHead = (text: string, max: number, secrets: ReadonlyArray<string> = []): string => {
  const limit = Math.max(4 * max, 4096)
  if (text.length <= limit) return bound(scrub(text, secrets), max)
  // No key is longer than 256 characters; a longer run is cut where it is (the head still starts
  // with the run's `sk-`, if any, and is masked as a key).
  let end = limit
  while (end > limit - 256 && isKeyChar(text.charCodeAt(end - 1))) end--
  if (end === limit - 256) end = limit
  const head = scrub(text.slice(0, end), secrets)
  const shown = head.length <= max ? head : head.slice(0, max)
  return `${fresh(shown)}… (${text.length - shown.length} more characters)`
}

const REDACTED = "<redacted>"

/**
 * A URL with its user-info and the values of its secret query parameters replaced by
 * `<redacted>`, and anything key-shaped scrubbed.
 */
export const redactUrl = (url: string, secrets: ReadonlyArray<string> = []): string => {
  try {
    const parsed = new URL(url)
    if (parsed.username) parsed.username = REDACTED
    if (parsed.password) parsed.password = REDACTED
    for (const key of [...parsed.searchParams.keys()]) {
      if (isSecretQueryName(key)) parsed.searchParams.set(key, REDACTED)
    }
    return scrub(parsed.toString(), secrets)
  } catch {
    return scrub(url, secrets)
  }
}

const isPlain = (u: object): boolean => {
  const proto: unknown = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

// The same value with every string inside scrubbed; the value itself when nothing needed it, so
// an error with nothing to hide keeps its identity. Errors are copied with their prototype
// (`instanceof`, `code`, `errno` survive); plain objects and arrays are copied; other objects are
// kept as they are. Bounded in depth, safe on cycles and throwing getters.
const scrubValue = (u: unknown, secrets: ReadonlyArray<string>, depth: number, seen: Set<unknown>): unknown => {
  if (typeof u === "string") return scrub(u, secrets)
  if (typeof u !== "object" || u === null || depth > 6 || seen.has(u)) return u
  seen.add(u)
  if (Array.isArray(u)) {
    const out = u.slice(0, 64).map((v) => scrubValue(v, secrets, depth + 1, seen))
    return out.length === u.length && out.every((v, i) => v === u[i]) ? u : out
  }
  const isError = u instanceof Error
  if (!isError && !isPlain(u)) return u
  const descriptors = Object.getOwnPropertyDescriptors(u) as Record<PropertyKey, PropertyDescriptor>
  let changed = false
  if (isError) {
    // `message` and `stack` may be getters on the prototype (the platform's errors build them from
    // the request): read them once and keep them as plain values.
    for (const key of ["message", "stack"] as const) {
      const value: unknown = u[key]
      if (typeof value === "string" && descriptors[key]?.value !== value) {
        descriptors[key] = { value, writable: true, enumerable: false, configurable: true }
      }
    }
  }
  for (const key of Reflect.ownKeys(descriptors)) {
    const descriptor = descriptors[key]
    if (descriptor === undefined || !("value" in descriptor)) continue
    const value = scrubValue(descriptor.value, secrets, depth + 1, seen)
    if (value !== descriptor.value) {
      descriptors[key] = { ...descriptor, value }
      changed = true
    }
  }
  return changed ? Object.create(Object.getPrototypeOf(u), descriptors) as unknown : u
}

/**
 * `u` with every string inside it scrubbed (see {@link scrub}): `u` itself when nothing needed it.
 * Never throws: an unreadable value is replaced by an `Error` saying so.
 */
export const scrubDeep = <A>(u: A, secrets: ReadonlyArray<string> = []): A => {
  try {
    return scrubValue(u, secrets, 0, new Set()) as A
  } catch {
    return new Error("an unreadable value") as A
  }
}

/**
 * What an error may keep as its transport cause: scrubbed (see {@link scrubDeep}), and a platform
 * `HttpClientError` replaced by its own cause (the transport error: `ECONNRESET`, undici's
 * `UND_ERR_*`, fetch's TypeError), because the request it holds carries the `Authorization`
 * header and its message quotes the URL.
 */
export const keepable = (cause: unknown, secrets: ReadonlyArray<string> = []): unknown => {
  try {
    if (!HttpClientError.isHttpClientError(cause)) return scrubDeep(cause, secrets)
    if (cause.cause !== undefined && cause.cause !== null) return scrubDeep(cause.cause, secrets)
    return new Error(scrub(`${cause.reason}: ${cause.description ?? "no further detail"}`, secrets))
  } catch {
    // A hostile cause (a Proxy whose traps throw) cannot be inspected, so it is not kept either.
    return new Error("an unreadable cause")
  }
}

// A platform error as a span may record it: its tag and scrubbed message, without the request.
const spanFailure = (secrets: ReadonlyArray<string>) => (e: unknown): unknown => {
  if (!HttpClientError.isHttpClientError(e)) return scrubDeep(e, secrets)
  const copy = new Error(scrub(e.message, secrets), { cause: keepable(e, secrets) })
  copy.name = e._tag
  copy.stack = scrub(e.stack ?? "", secrets)
  return copy
}

const scrubCause = (cause: Cause.Cause<unknown>, secrets: ReadonlyArray<string>): Cause.Cause<unknown> => {
  const failure = spanFailure(secrets)
  return Cause.match(cause, {
    onEmpty: Cause.empty,
    onFail: (e) => Cause.fail(failure(e)),
    onDie: (d) => Cause.die(failure(d)),
    onInterrupt: Cause.interrupt,
    onSequential: Cause.sequential,
    onParallel: Cause.parallel
  })
}

const scrubAttributes = (
  attributes: Record<string, unknown> | undefined,
  secrets: ReadonlyArray<string>
): Record<string, unknown> | undefined => {
  if (attributes === undefined) return undefined
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(attributes)) out[key] = scrubAttribute(key, value, secrets)
  return out
}

// A header whose name says it holds a credential (`x-api-key`, an echoed `x-echo-authorization`,
// `x-amz-security-token`): its value is not recorded, whatever its shape.
const SECRET_HEADER_ATTRIBUTE = /^http\.(?:request|response)\.header\..*(?:api[-_]?key|subscription[-_]?key|authorization|token|secret|password|cookie|signature|credential)/i

const scrubAttribute = (key: string, value: unknown, secrets: ReadonlyArray<string>): unknown => {
  if (SECRET_HEADER_ATTRIBUTE.test(key)) return REDACTED
  if (typeof value !== "string") return scrubDeep(value, secrets)
  // `url.query` is the query without its `?`: scrubbed as a query so that `api-key=` is found.
  if (key === "url.query") return scrub(`?${value}`, secrets).slice(1)
  if (key === "url.full") return redactUrl(value, secrets)
  return scrub(value, secrets)
}

// A span that scrubs what is recorded on it before the real span sees it.
const scrubbingSpan = (span: Tracer.Span, secrets: ReadonlyArray<string>): Tracer.Span => ({
  _tag: "Span",
  get name() {
    return span.name
  },
  get spanId() {
    return span.spanId
  },
  get traceId() {
    return span.traceId
  },
  get parent() {
    return span.parent
  },
  get context() {
    return span.context
  },
  get status() {
    return span.status
  },
  get attributes() {
    return span.attributes
  },
  get links() {
    return span.links
  },
  get sampled() {
    return span.sampled
  },
  get kind() {
    return span.kind
  },
  end: (endTime, exit) =>
    span.end(endTime, Exit.isFailure(exit) ? Exit.failCause(scrubCause(exit.cause, secrets)) : exit),
  attribute: (key, value) => span.attribute(key, scrubAttribute(key, value, secrets)),
  event: (name, startTime, attributes) =>
    span.event(scrub(name, secrets), startTime, scrubAttributes(attributes, secrets)),
  addLinks: (links) => span.addLinks(links)
})

const scrubbingTracer = (tracer: Tracer.Tracer, secrets: ReadonlyArray<string>): Tracer.Tracer =>
  Tracer.make({
    span: (name, parent, context, links, startTime, kind, options) =>
      scrubbingSpan(tracer.span(name, parent, context, links, startTime, kind, options), secrets),
    context: (f, fiber) => tracer.context(f, fiber)
  })

/**
 * The platform's `http.client` span records `url.full` and `url.query` as they are (user-info,
 * `?api-key=`), the request and response headers that are not in `Headers.currentRedactedNames`
 * (an `api-key` header, a response header that echoes the key), and the failure of a request
 * whose message quotes its URL. It has no hook to redact a URL, so this wraps the client's
 * execution: the spans it opens go through a tracer that scrubs every attribute, event and
 * failure before the installed tracer sees them, and every header in {@link secretHeaderNames}
 * is redacted by the platform itself. Free when no tracer is installed: the default tracer
 * records nothing, so it is not wrapped.
 *
 * Apply it once around everything that sends (any transform above the platform's client sees the
 * platform's span): `withScrubbedSpans(client, [apiKey])`.
 */
export const withScrubbedSpans = <E, R>(
  client: HttpClient.HttpClient.With<E, R>,
  secretValues: ReadonlyArray<string | Redacted.Redacted<string>> = []
): HttpClient.HttpClient.With<E, R> => {
  const secrets = revealAll(secretValues)
  return HttpClient.transform(client, (effect) =>
    Effect.tracerWith((tracer) =>
      Effect.locallyWith(
        tracer === defaultTracer ? effect : Effect.withTracer(effect, scrubbingTracer(tracer, secrets)),
        Headers.currentRedactedNames,
        (names) => [...names, ...secretHeaderNames]
      )
    ))
}

// The tracer installed when none is provided (it records nothing), found the way the platform's
// own client sees it.
const defaultTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

