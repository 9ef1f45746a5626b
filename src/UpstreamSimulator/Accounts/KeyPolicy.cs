using System.Text.Json.Serialization;

namespace CodexLb.UpstreamSimulator;

/// <summary>What a spent <see cref="KeyPolicy.Quota"/> answers.</summary>
public enum SpentQuota
{
    /// <summary>429 <c>rate_limit_exceeded</c> with Retry-After: an error frame per request, and 429 at the next handshakes.</summary>
    RateLimit,

    /// <summary>The ChatGPT backend's 429 <c>usage_limit_reached</c> (type and code) with <c>resets_in_seconds</c>/<c>resets_at</c>.</summary>
    UsageLimit,

    /// <summary>The platform's 429 <c>insufficient_quota</c> (no reset time).</summary>
    InsufficientQuota,
}

/// <summary>
/// Per-credential behaviour (keyed by the bearer token; an access token issued by <c>POST /oauth/token</c> follows the
/// policy of the refresh token family it came from). Set at start (<see cref="SimulatorOptions.Keys"/>) or at run time
/// (<c>PUT /_sim/keys/{key}</c>, camelCase JSON, durations in milliseconds). Setting a policy resets its request count.
/// </summary>
public sealed record KeyPolicy
{
    /// <summary>Generating requests this key may make; the next ones get <see cref="Limit"/>'s answer. Null = unlimited.</summary>
    public int? Quota { get; set; }

    public SpentQuota Limit { get; set; }

    /// <summary>Retry-After of a rate limit (default 30 s), and the reset of a usage limit when <see cref="ResetsIn"/> is unset.</summary>
    [JsonConverter(typeof(MillisecondsConverter))]
    public TimeSpan? RetryAfter { get; set; }

    /// <summary>When a usage limit resets (default 1 h): <c>resets_in_seconds</c>, <c>resets_at</c> and <c>x-codex-primary-reset-*</c>.</summary>
    [JsonConverter(typeof(MillisecondsConverter))]
    public TimeSpan? ResetsIn { get; set; }

    /// <summary>The handshake answers 401 <c>invalid_api_key</c> (and a refresh with this refresh token, 401 <c>invalid_grant</c>).</summary>
    public bool Revoked { get; set; }

    /// <summary>
    /// The organisation the key belongs to: reasoning this key's responses produce is bound to it, and a request of another
    /// organisation that sends it back is answered 400 <c>invalid_encrypted_content</c> (as the provider does).
    /// </summary>
    public string? Organization { get; set; }

    /// <summary>Send rate-limit headers on the handshake and a <c>codex.rate_limits</c> event before each response (default true).</summary>
    public bool ReportUsage { get; set; } = true;

    /// <summary>The usage window reported (minutes; default 300, the ChatGPT 5-hour window).</summary>
    public int WindowMinutes { get; set; } = 300;

    internal TimeSpan RetryAfterOrDefault => RetryAfter ?? TimeSpan.FromSeconds(30);

    internal TimeSpan ResetsInOrDefault => ResetsIn ?? RetryAfter ?? TimeSpan.FromHours(1);
}

/// <summary>One key's policy and how much of it is used (<c>GET /_sim/keys</c>).</summary>
public sealed record KeyState(string Key, KeyPolicy Policy, int Used, int Refused, int Handshakes, int Refreshes);
