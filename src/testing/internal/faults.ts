/**
 * What every fault serves and the bodies of the status faults, as the real API words them.
 *
 * @internal
 */
import type * as Faults from "../Faults.js"

type FaultName = Faults.FaultName
type Kind = Faults.Kind
type Hint = Faults.Hint
type Description = Faults.Description
type Context = Faults.Context

type Sdk = string | undefined | { readonly [M in Faults.SdkMajor]: string | undefined }

const d = (
  name: FaultName,
  kind: Kind,
  status: number | undefined,
  type: string | null | undefined,
  code: string | null | undefined,
  defaultHints: ReadonlyArray<Hint>,
  sdk: Sdk,
  realSource: string
): Description => {
  const perMajor = typeof sdk === "object" ? sdk : { "4": sdk, "5": sdk, "6": sdk }
  return {
    name,
    kind,
    status,
    type,
    code,
    hints: defaultHints,
    retryAfter: defaultHints.includes("retry-after"),
    realSource,
    sdkError: perMajor["6"],
    sdk: perMajor
  }
}

const OPENAI = "OpenAI"
const LIMITS: ReadonlyArray<Hint> = ["x-ratelimit"]
const NONE: ReadonlyArray<Hint> = []

/** @internal */
export const descriptions: { readonly [K in FaultName]: Description } = {
  invalid_authentication: d(
    "invalid_authentication",
    "status",
    401,
    "invalid_request_error",
    null,
    NONE,
    "AuthenticationError",
    `${OPENAI}, a request without a key`
  ),
  incorrect_api_key: d(
    "incorrect_api_key",
    "status",
    401,
    "invalid_request_error",
    "invalid_api_key",
    NONE,
    "AuthenticationError",
    `${OPENAI} (recorded: 401_invalid_api_key)`
  ),
  no_organization: d(
    "no_organization",
    "status",
    401,
    "invalid_request_error",
    "no_organization",
    NONE,
    "AuthenticationError",
    `${OPENAI} (recorded: 401_no_organization)`
  ),
  unsupported_region: d(
    "unsupported_region",
    "status",
    403,
    "request_forbidden",
    "unsupported_country_region_territory",
    NONE,
    "PermissionDeniedError",
    `${OPENAI} (recorded: 403_unsupported_country_region_territory)`
  ),
  rate_limit_requests: d(
    "rate_limit_requests",
    "status",
    429,
    "requests",
    "rate_limit_exceeded",
    LIMITS,
    "RateLimitError",
    `${OPENAI}, a free-tier account (recorded: 429_rate_limit_requests_rpm)`
  ),
  rate_limit_tokens: d(
    "rate_limit_tokens",
    "status",
    429,
    "tokens",
    "rate_limit_exceeded",
    LIMITS,
    "RateLimitError",
    OPENAI
  ),
  rate_limit_legacy: d(
    "rate_limit_legacy",
    "status",
    429,
    "requests",
    null,
    NONE,
    "RateLimitError",
    `${OPENAI} before 2024 (code null)`
  ),
  rate_limit_headerless: d(
    "rate_limit_headerless",
    "status",
    429,
    "tokens",
    "rate_limit_exceeded",
    NONE,
    "RateLimitError",
    `${OPENAI} /v1/responses, Azure OpenAI (no retry-after, no x-ratelimit-*)`
  ),
  insufficient_quota: d(
    "insufficient_quota",
    "status",
    429,
    "insufficient_quota",
    "insufficient_quota",
    NONE,
    "RateLimitError",
    `${OPENAI} (recorded: 429_insufficient_quota)`
  ),
  request_too_large: d(
    "request_too_large",
    "status",
    429,
    "tokens",
    "rate_limit_exceeded",
    NONE,
    "RateLimitError",
    OPENAI
  ),
  server_error: d(
    "server_error",
    "status",
    500,
    "server_error",
    null,
    NONE,
    "InternalServerError",
    `${OPENAI} (recorded: 500_server_error)`
  ),
  engine_overloaded: d(
    "engine_overloaded",
    "status",
    503,
    "server_error",
    null,
    NONE,
    "InternalServerError",
    `${OPENAI} (recorded: 503_model_overloaded)`
  ),
  provider_overloaded: d(
    "provider_overloaded",
    "status",
    429,
    "engine_overloaded_error",
    undefined,
    NONE,
    "RateLimitError",
    "OpenAI-compatible providers (Moonshot/Kimi): an overload sent as 429, with no code"
  ),
  bad_request: d(
    "bad_request",
    "status",
    400,
    "invalid_request_error",
    "invalid_type",
    NONE,
    "BadRequestError",
    OPENAI
  ),
  context_length_exceeded: d(
    "context_length_exceeded",
    "status",
    400,
    "invalid_request_error",
    "context_length_exceeded",
    NONE,
    "BadRequestError",
    OPENAI
  ),
  conversation_locked: d(
    "conversation_locked",
    "status",
    400,
    "invalid_request_error",
    "conversation_locked",
    NONE,
    "BadRequestError",
    `${OPENAI} Responses API, two requests on one conversation at once (the message says to retry)`
  ),
  not_found: d(
    "not_found",
    "status",
    404,
    "invalid_request_error",
    "model_not_found",
    NONE,
    "NotFoundError",
    OPENAI
  ),
  conflict: d("conflict", "status", 409, "invalid_request_error", "conflict", NONE, "ConflictError", OPENAI),
  unprocessable: d(
    "unprocessable",
    "status",
    422,
    undefined,
    undefined,
    NONE,
    "UnprocessableEntityError",
    "OpenAI-compatible servers on FastAPI (vLLM and others)"
  ),
  malformed_json: d(
    "malformed_json",
    "body",
    200,
    undefined,
    undefined,
    NONE,
    { "4": "FetchError", "5": "SyntaxError", "6": "SyntaxError" },
    "proxies, a body cut"
  ),
  html_502: d(
    "html_502",
    "body",
    502,
    undefined,
    undefined,
    NONE,
    "InternalServerError",
    "a load balancer or CDN in front of the API (Cloudflare, nginx): no x-request-id"
  ),
  empty_body: d(
    "empty_body",
    "body",
    200,
    undefined,
    undefined,
    NONE,
    { "4": "FetchError", "5": "SyntaxError", "6": "SyntaxError" },
    "proxies: a chunked body with zero bytes"
  ),
  empty_body_content_length: d(
    "empty_body_content_length",
    "body",
    200,
    undefined,
    undefined,
    NONE,
    { "4": "FetchError", "5": "SyntaxError", "6": undefined },
    "proxies: content-length: 0"
  ),
  body_cut: d(
    "body_cut",
    "body",
    200,
    undefined,
    undefined,
    NONE,
    { "4": "hangs", "5": "TypeError", "6": "TypeError" },
    "a connection lost part-way through a body sent with content-length"
  ),
  slow_headers: d(
    "slow_headers",
    "delay",
    200,
    undefined,
    undefined,
    NONE,
    "APIConnectionTimeoutError",
    "an overloaded server or proxy"
  ),
  connection_reset: d(
    "connection_reset",
    "transport",
    undefined,
    undefined,
    undefined,
    NONE,
    "APIConnectionError",
    "networks, proxies"
  ),
  stream_error: d(
    "stream_error",
    "stream",
    200,
    "server_error",
    null,
    NONE,
    "APIError",
    `${OPENAI}: a data: {"error"} line (chat), an error event (Responses)`
  ),
  response_failed: d(
    "response_failed",
    "stream",
    200,
    undefined,
    "server_error",
    NONE,
    // Every major yields the event to the caller and ends the iteration without raising.
    undefined,
    `${OPENAI} Responses API: a response.failed event`
  ),
  // openai-node 5+ lets undici's `TypeError: terminated` (cause `UND_ERR_SOCKET`) through while
  // iterating; 4.x (node-fetch) a plain `Error`.
  stream_cut: d(
    "stream_cut",
    "stream",
    200,
    undefined,
    undefined,
    NONE,
    { "4": "Error", "5": "TypeError", "6": "TypeError" },
    "networks, proxies"
  )
}

/** @internal */
export const errorBody = (name: FaultName, ctx: Context): unknown => {
  const err = (message: string, type: string, param: string | null, code: string | null) => ({
    error: { message, type, param, code }
  })
  switch (name) {
    case "invalid_authentication":
      return err(
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        null,
        null
      )
    case "incorrect_api_key":
      return err(
        `Incorrect API key provided: ${ctx.maskedKey}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        "invalid_request_error",
        null,
        "invalid_api_key"
      )
    case "no_organization":
      return err(
        "You must be a member of an organization to use the API. Please contact us through our help center at help.openai.com.",
        "invalid_request_error",
        null,
        "no_organization"
      )
    case "unsupported_region":
      // The real body lists its keys alphabetically.
      return {
        error: {
          code: "unsupported_country_region_territory",
          message: "Country, region, or territory not supported",
          param: null,
          type: "request_forbidden"
        }
      }
    case "rate_limit_requests":
    case "rate_limit_tokens":
    case "rate_limit_legacy":
    case "rate_limit_headerless":
    case "request_too_large":
      return rateLimitBody(name, ctx)
    case "provider_overloaded":
      // No `param`, no `code`: the shape compatible providers send.
      return { error: { message: "The engine is currently overloaded, please try again later", type: "engine_overloaded_error" } }
    case "conversation_locked":
      return err(
        "Another process is currently operating on this conversation. Please retry in a few seconds.",
        "invalid_request_error",
        "conversation",
        "conversation_locked"
      )
    case "insufficient_quota":
      return err(
        "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
        "insufficient_quota",
        null,
        "insufficient_quota"
      )
    case "server_error":
    case "stream_error":
    case "response_failed":
      return err(
        `The server had an error processing your request. Sorry about that! You can retry your request, or contact us through our help center at help.openai.com if you keep seeing this error. (Please include the request ID ${ctx.requestId} in your email.)`,
        "server_error",
        null,
        null
      )
    case "engine_overloaded":
      return err(
        `That model is currently overloaded with other requests. You can retry your request, or contact us through our help center at help.openai.com if the error persists. (Please include the request ID ${ctx.requestId.replace(/^req_/, "")} in your message.)`,
        "server_error",
        null,
        null
      )
    case "bad_request":
      return err(
        "Invalid type for 'messages': expected an array of objects, but got a string instead.",
        "invalid_request_error",
        "messages",
        "invalid_type"
      )
    case "context_length_exceeded":
      return err(
        `This model's maximum context length is 128000 tokens. However, your messages resulted in ${
          Math.max(128001, ctx.requestedTokens)
        } tokens. Please reduce the length of the messages.`,
        "invalid_request_error",
        "messages",
        "context_length_exceeded"
      )
    case "not_found":
      return err(
        `The model \`${ctx.model}\` does not exist or you do not have access to it.`,
        "invalid_request_error",
        null,
        "model_not_found"
      )
    case "conflict":
      return err(
        "Another request with the same idempotency key is still being processed. Please retry once it has completed.",
        "invalid_request_error",
        null,
        "conflict"
      )
    case "unprocessable":
      return {
        detail: [{ loc: ["body", "messages"], msg: "field required", type: "value_error.missing" }]
      }
    default:
      return err("The server had an error processing your request.", "server_error", null, null)
  }
}

/** The 429 bodies of the rate limits, as each is worded. */
const rateLimitBody = (
  name: "rate_limit_requests" | "rate_limit_tokens" | "rate_limit_legacy" | "rate_limit_headerless" | "request_too_large",
  ctx: Context
): unknown => {
  const tryAgain = formatTryAgain(ctx.retryAfterMs)
  const err = (message: string, type: string, code: string | null) => ({ error: { message, type, param: null, code } })
  switch (name) {
    case "rate_limit_requests":
      // As recorded from a free-tier account, with the sentence about adding a payment method.
      return err(
        `${
          rateLimitMessage(ctx.model, ctx.organization, "requests", ctx.rpm, ctx.rpm, 1, ctx.retryAfterMs)
        } You can increase your rate limit by adding a payment method to your account at https://platform.openai.com/account/billing.`,
        "requests",
        "rate_limit_exceeded"
      )
    case "rate_limit_legacy":
      return err(
        `Rate limit reached for default-${ctx.model} in organization ${ctx.organization} on requests per min. Limit: ${ctx.rpm} / min. Please try again in ${tryAgain}. Contact us through our help center at help.openai.com if you continue to have issues.`,
        "requests",
        null
      )
    case "rate_limit_headerless":
      return err(
        rateLimitMessage(ctx.model, ctx.organization, "tokens", ctx.tpm, ctx.tpm, Math.max(1, ctx.requestedTokens), ctx.retryAfterMs),
        "tokens",
        "rate_limit_exceeded"
      )
    case "rate_limit_tokens": {
      const requested = Math.min(Math.max(1, ctx.requestedTokens), ctx.tpm)
      const used = Math.max(0, ctx.tpm - requested + 1)
      return err(
        rateLimitMessage(ctx.model, ctx.organization, "tokens", ctx.tpm, used, requested, ctx.retryAfterMs),
        "tokens",
        "rate_limit_exceeded"
      )
    }
    case "request_too_large":
      return err(
        requestTooLargeMessage(ctx.model, ctx.organization, ctx.tpm, Math.max(ctx.requestedTokens, ctx.tpm + 1)),
        "tokens",
        "rate_limit_exceeded"
      )
  }
}

/** @internal */
export const formatTryAgain = (ms: number): string => {
  const total = Math.max(1, Math.ceil(ms))
  if (total < 1000) return `${total}ms`
  const minutes = Math.floor(total / 60_000)
  const seconds = (total % 60_000) / 1000
  const secondsText = `${Number.isInteger(seconds) ? seconds : seconds.toFixed(3).replace(/0+$/, "")}s`
  return minutes > 0 ? `${minutes}m${secondsText}` : secondsText
}

/** @internal */
export const rateLimitMessage: typeof Faults.rateLimitMessage = (
  model,
  organization,
  scope,
  limit,
  used,
  requested,
  retryAfterMs
) =>
  `Rate limit reached for ${model} in organization ${organization} on ${
    scope === "requests" ? "requests per min (RPM)" : "tokens per min (TPM)"
  }: Limit ${limit}, Used ${used}, Requested ${requested}. Please try again in ${
    formatTryAgain(retryAfterMs)
  }. Visit https://platform.openai.com/account/rate-limits to learn more.`

/** @internal */
export const requestTooLargeMessage = (model: string, organization: string, limit: number, requested: number): string =>
  `Request too large for ${model} in organization ${organization} on tokens per min (TPM): Limit ${limit}, Requested ${requested}. The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more.`
