using CodexLb.Protocol.Events;
using CodexLb.Protocol.Errors;

namespace CodexLb.Grains.Upstream;

/// <summary>
/// Maps a provider error frame to what the client sees: genuine client errors pass through as they are, rate limits
/// keep a Retry-After, and everything the provider or our credentials caused becomes a retryable 5xx.
/// </summary>
public static class UpstreamErrors
{
    /// <summary>The provider's answer on a connection past its lifetime; the bridge retires the socket and resends.</summary>
    public const string ConnectionLimitReached = "websocket_connection_limit_reached";

    public static OpenAIError ToClientError(EventSummary error)
    {
        var status = error.Status ?? 500;
        var code = error.ErrorCode ?? ErrorCodes.ServerError;
        var message = error.ErrorMessage ?? "The model provider returned an error.";
        if (status == 429 || code is ErrorCodes.RateLimitExceeded or "rate_limit_error")
            return new OpenAIError(429, code, message, ErrorTypes.RateLimit, error.ErrorParam) { RetryAfterSeconds = 5 };
        if (status is 401 or 403 || code == ConnectionLimitReached)
            return ProxyErrors.UpstreamUnavailable($"provider refused the bridge's credentials ({code})");
        if (status is >= 400 and < 500)
            return new OpenAIError(status, code, message, error.ErrorType ?? ErrorTypes.InvalidRequest, error.ErrorParam);
        return new OpenAIError(502, code, message, ErrorTypes.Server, error.ErrorParam) { RetryAfterSeconds = 1 };
    }
}
