using System.Globalization;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Errors;

namespace CodexLb.Gateway.Keys;

/// <summary>The answers of a key's limits, shaped as OpenAI's own: 429 with Retry-After, 404 for a model the key may not use.</summary>
public static class KeyErrors
{
    public const string InsufficientQuota = "insufficient_quota";
    public const string ModelNotFound = "model_not_found";

    public static OpenAIError Refused(ClientKey key, KeyAdmission admission)
    {
        var retry = Math.Max(1, admission.RetryAfterSeconds);
        var limits = key.Limits;
        return admission.Refused switch
        {
            KeyLimit.TokensPerDay => new OpenAIError(429, InsufficientQuota,
                $"This API key ('{key.Name}') has used its daily budget of {Number(limits.TokensPerDay)} tokens; it renews at midnight UTC, in {retry}s.",
                InsufficientQuota) { RetryAfterSeconds = retry },
            KeyLimit.TokensPerMinute => RateLimited(key, "tokens per min (TPM)", limits.TokensPerMinute, retry),
            _ => RateLimited(key, "requests per min (RPM)", limits.RequestsPerMinute, retry),
        };
    }

    public static OpenAIError ModelNotAllowed(ClientKey key, string? model) =>
        new(404, ModelNotFound,
            model is null
                ? $"This API key ('{key.Name}') must name a model; it may use: {string.Join(", ", key.Models)}."
                : $"The model '{model}' does not exist or this API key ('{key.Name}') may not use it; it may use: {string.Join(", ", key.Models)}.",
            ErrorTypes.InvalidRequest, "model");

    /// <summary>The key's grain could not be asked: the bridge's failure, so a retryable 503, never the client's 4xx.</summary>
    public static OpenAIError LimitsUnreachable() =>
        new(503, ErrorCodes.OwnerUnreachable, "This API key's limits could not be checked (the bridge could not reach them); retry the request.", ErrorTypes.Server)
        { RetryAfterSeconds = 1 };

    private static OpenAIError RateLimited(ClientKey key, string what, long limit, int retry) =>
        new(429, ErrorCodes.RateLimitExceeded,
            $"Rate limit reached for this API key ('{key.Name}') on {what}: limit {Number(limit)}. Please try again in {retry}s.", ErrorTypes.RateLimit)
        { RetryAfterSeconds = retry };

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
}
