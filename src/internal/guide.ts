/**
 * What each error means and what to do about it: the OpenAI error guide, in our own words.
 * @internal
 */

export interface GuideEntry {
  /** The guide's library type, as openai-node names its classes. */
  readonly category: string
  /** What the default retry policy decides (before `x-should-retry` overrides it). */
  readonly retryable: boolean
  readonly probableCause: string
  readonly solution: string
}

export const guide = {
  InvalidAuthentication: {
    category: "AuthenticationError",
    retryable: false,
    probableCause: "The request was not authenticated: the Authorization header is missing, malformed, or the key was revoked.",
    solution: "Send `Authorization: Bearer <key>` with a current API key; check that no proxy strips the header, and that the key was not deleted or rotated."
  },
  IncorrectApiKey: {
    category: "AuthenticationError",
    retryable: false,
    probableCause: "The API key sent is not a valid key for this API (a typo, a key from another provider or project, or a revoked key).",
    solution: "Copy a fresh key from the API keys page, make sure the whole key is used (no quotes or whitespace), and clear any cached environment that holds an old one."
  },
  NoOrganization: {
    category: "AuthenticationError",
    retryable: false,
    probableCause: "The account the key belongs to is not a member of any organization, or the OpenAI-Organization header names one it is not in.",
    solution: "Join or create an organization, or ask its owner to invite you; send an OPENAI_ORG_ID only if it is one your account belongs to."
  },
  UnsupportedRegion: {
    category: "PermissionDeniedError",
    retryable: false,
    probableCause: "The request comes from a country, region or territory the API does not serve.",
    solution: "Call the API from a supported location; retrying from the same place never helps. See the provider's list of supported countries."
  },
  PermissionDenied: {
    category: "PermissionDeniedError",
    retryable: false,
    probableCause: "The key is valid but lacks permission for this resource (a restricted key, a project without access to the model, or an IP allow-list).",
    solution: "Grant the key or project access to the resource (key permissions, project model access, allowed IPs) or use a key that has it."
  },
  RateLimitReached: {
    category: "RateLimitError",
    retryable: true,
    probableCause: "Requests or tokens per minute exceeded the organization's limit for this model.",
    solution: "Wait as the server asks (the library honours its hints), pace requests under the limit (see RateLimiter), lower max_tokens, or ask for a higher limit."
  },
  QuotaExceeded: {
    category: "RateLimitError",
    retryable: false,
    probableCause: "The account's credit or monthly spend limit is used up. This is a 429 that retrying never fixes.",
    solution: "Add credit or raise the spend limit in the billing settings, then try again; alert a human rather than retrying."
  },
  RequestTooLarge: {
    category: "RateLimitError",
    retryable: false,
    probableCause: "This one request needs more tokens than the per-minute limit allows, so it can never fit, however long you wait.",
    solution: "Shorten the prompt, lower max_tokens, split the work into smaller requests, or raise the tokens-per-minute limit."
  },
  ServerError: {
    category: "InternalServerError",
    retryable: true,
    probableCause: "The server (or a proxy in front of it) failed while processing the request.",
    solution: "Retry after a short wait (the library does); if it persists, check the status page and send support the report with the request id."
  },
  EngineOverloaded: {
    category: "InternalServerError",
    retryable: true,
    probableCause: "The servers are under high load and turned the request away.",
    solution: "Retry with backoff (the library does), spread traffic over time, or fall back to another model or deployment."
  },
  BadRequest: {
    category: "BadRequestError",
    retryable: false,
    probableCause: "The request is malformed or has an invalid parameter (see `param`).",
    solution: "Fix the request: the message and `param` name what is wrong. Retrying the same request never helps."
  },
  ContextLengthExceeded: {
    category: "BadRequestError",
    retryable: false,
    probableCause: "The prompt plus max_tokens is longer than the model's context window.",
    solution: "Shorten or summarise the input, lower max_tokens, or use a model with a longer context window."
  },
  NotFound: {
    category: "NotFoundError",
    retryable: false,
    probableCause: "The model, deployment or resource does not exist, or this key cannot see it.",
    solution: "Check the model or deployment name (and for Azure the deployment and api-version), and that the key's project has access to it."
  },
  Conflict: {
    category: "ConflictError",
    retryable: true,
    probableCause: "The resource was changed by another request at the same time.",
    solution: "Retry after a short wait (the library does); if it persists, re-read the resource before changing it."
  },
  UnprocessableEntity: {
    category: "UnprocessableEntityError",
    retryable: true,
    probableCause: "The server understood the request but could not process it (for OpenAI-compatible servers, often a validation error).",
    solution: "Retry once as the guide suggests (the library does, once); if it persists, fix the request as the message says."
  },
  UnexpectedStatus: {
    category: "APIError",
    retryable: false,
    probableCause: "The server answered with a status this library has no specific meaning for.",
    solution: "Read the message and status; a 408 is retried by default, other statuses are not."
  },
  ConnectionError: {
    category: "APIConnectionError",
    retryable: true,
    probableCause: "No usable response arrived: the connection was refused, reset or cut, DNS or TLS failed, or a proxy dropped it.",
    solution: "Retry (the library does); if it persists, check network, proxy, base URL and TLS settings. The `cause` holds the transport error."
  },
  TimeoutError: {
    category: "APITimeoutError",
    retryable: true,
    probableCause: "The server took longer than the configured timeout to answer (or to send the next stream chunk).",
    solution: "Retry (the library does), raise the timeout for long generations, or stream the response so the idle timeout applies instead."
  },
  ResponseDecodeError: {
    category: "APIError",
    retryable: false,
    probableCause: "The server answered 2xx but the body is not what the API documents (broken JSON, an HTML page, a cut-off body, or a missing field).",
    solution: "Check the base URL points at an OpenAI-compatible API; the `path` and `issue` say what was wrong. Retrying is off by default because a replay may repeat work."
  }
} as const satisfies Record<string, GuideEntry>

/**
 * The one default-retryable rule, before `x-should-retry` overrides it: the guide's per-tag
 * answer, except that an `UnexpectedStatus` is retried only as a 408 (a request timeout).
 * `OpenAiError`'s `retryable` and `RetryPolicy`'s default both read it.
 */
export const defaultRetryable = (tag: keyof typeof guide, status: number | undefined): boolean =>
  tag === "UnexpectedStatus" ? status === 408 : guide[tag].retryable
