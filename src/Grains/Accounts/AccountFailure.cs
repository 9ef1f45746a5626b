using System.Text.Json;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Events;

namespace CodexLb.Grains.Accounts;

/// <summary>
/// A failure that is the account's, not the request's: a rate limit, a spent quota or refused credentials. Before the first
/// byte such a turn moves to another account; the account cools down (or needs re-auth) meanwhile.
/// </summary>
public sealed record AccountFailure(AccountEvent Event, string Reason, int? RetryAfterSeconds, DateTimeOffset? ResetsAt, OpenAIError ClientError)
{
    public const string UsageLimitReached = "usage_limit_reached";
    public const string InsufficientQuota = "insufficient_quota";

    public AccountReport ToReport() => new() { Event = Event, RetryAfterSeconds = RetryAfterSeconds, ResetsAt = ResetsAt, Code = Reason };

    /// <summary>The upstream handshake's answer: 429 (rate limit or usage limit, by its body), 401/403. Null for anything else.</summary>
    public static AccountFailure? FromHandshake(int status, int? retryAfterSeconds, ReadOnlySpan<byte> body, DateTimeOffset now)
    {
        if (status is not (429 or 401 or 403)) return null;
        var summary = body.IsEmpty ? new EventSummary() : TrySummarize(body);
        summary.Status = status;
        return FromError(summary, body, retryAfterSeconds, now);
    }

    /// <summary>An error frame (or <c>response.failed</c>) that names a rate limit, a spent quota or an auth failure.</summary>
    public static AccountFailure? FromErrorEvent(ReadOnlySpan<byte> frame, DateTimeOffset now) =>
        FromError(TrySummarize(frame), frame, null, now);

    private static AccountFailure? FromError(EventSummary error, ReadOnlySpan<byte> raw, int? retryAfterSeconds, DateTimeOffset now)
    {
        var code = error.ErrorCode;
        var type = error.ErrorType;
        if (code == UsageLimitReached || type == UsageLimitReached)
        {
            var resetsAt = ReadReset(raw, now) ?? (retryAfterSeconds is { } s ? now.AddSeconds(s) : null);
            var wait = resetsAt is { } at ? Seconds(at - now) : retryAfterSeconds;
            return new(AccountEvent.QuotaExhausted, UsageLimitReached, wait, resetsAt, RateLimit(UsageLimitReached,
                "The upstream account's usage limit is reached.", wait));
        }
        if (code == InsufficientQuota || type == InsufficientQuota)
            return new(AccountEvent.QuotaExhausted, InsufficientQuota, retryAfterSeconds, null,
                RateLimit(InsufficientQuota, "The upstream account has no quota left.", retryAfterSeconds));
        if (error.Status == 429 || code is ErrorCodes.RateLimitExceeded or "rate_limit_error" || type == "rate_limit_error")
            return new(AccountEvent.RateLimited, "rate_limited", retryAfterSeconds, null,
                RateLimit(ErrorCodes.RateLimitExceeded, "The model provider is rate limiting; retry after the delay.", retryAfterSeconds));
        if (error.Status is 401 or 403 || code is ErrorCodes.InvalidApiKey or "token_expired" or "invalid_token" || type == ErrorTypes.Authentication)
            return new(AccountEvent.AuthFailed, "auth_failed", null, null,
                ProxyErrors.UpstreamUnavailable($"provider refused the bridge's credentials ({code ?? error.Status?.ToString() ?? "auth"})"));
        return null;
    }

    private static OpenAIError RateLimit(string code, string message, int? retryAfter) =>
        new(429, code, message, ErrorTypes.RateLimit) { RetryAfterSeconds = Math.Max(1, retryAfter ?? 5) };

    private static int Seconds(TimeSpan span) => (int)Math.Max(1, Math.Ceiling(span.TotalSeconds));

    private static EventSummary TrySummarize(ReadOnlySpan<byte> json)
    {
        try
        {
            return EventReader.Summarize(json);
        }
        catch (JsonException)
        {
            return new EventSummary();
        }
    }

    /// <summary><c>error.resets_at</c> (unix seconds) or <c>error.resets_in_seconds</c>, as the ChatGPT backend sends them.</summary>
    private static DateTimeOffset? ReadReset(ReadOnlySpan<byte> raw, DateTimeOffset now)
    {
        try
        {
            using var doc = JsonDocument.Parse(raw.ToArray());
            var error = doc.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object ? e
                : doc.RootElement.TryGetProperty("response", out var r) && r.ValueKind == JsonValueKind.Object && r.TryGetProperty("error", out var re) ? re
                : default;
            if (error.ValueKind != JsonValueKind.Object) return null;
            if (error.TryGetProperty("resets_at", out var at) && at.ValueKind == JsonValueKind.Number) return DateTimeOffset.FromUnixTimeSeconds(at.GetInt64());
            if (error.TryGetProperty("resets_in_seconds", out var inSeconds) && inSeconds.ValueKind == JsonValueKind.Number) return now.AddSeconds(inSeconds.GetDouble());
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
