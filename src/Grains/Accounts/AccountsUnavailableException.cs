using CodexLb.Protocol.Errors;

namespace CodexLb.Grains.Accounts;

/// <summary>No upstream account can serve: every one is cooling, out of quota or needs re-auth.</summary>
public sealed class AccountsUnavailableException(int? retryAfterSeconds)
    : Exception("No upstream account can serve now.")
{
    public int? RetryAfterSeconds { get; } = retryAfterSeconds;

    public OpenAIError ToError() => Error(RetryAfterSeconds);

    /// <summary>
    /// A 429 with <c>Retry-After</c> = when the first account serves again (the Codex CLI waits that long and retries); when
    /// none will by itself (every account needs re-auth), a retryable 503: the operator must act, the client need not.
    /// </summary>
    public static OpenAIError Error(int? retryAfterSeconds) => retryAfterSeconds is { } seconds
        ? new OpenAIError(429, ErrorCodes.RateLimitExceeded,
            "Every upstream account of this bridge is rate limited or out of quota; retry after the delay.", ErrorTypes.RateLimit)
            { RetryAfterSeconds = seconds }
        : ProxyErrors.UpstreamUnavailable("no upstream account can serve (their credentials were refused)", 30);
}
