using System.Globalization;
using System.Text;
using System.Text.Json;
using CodexLb.UpstreamSimulator.Model;

namespace CodexLb.UpstreamSimulator;

/// <summary>
/// The per-key behaviour of the simulated provider: quotas, revoked keys, usage reports, organisation-bound reasoning and
/// the OAuth token endpoint's tokens. Keys with no policy behave as before (unlimited, nothing reported). Deterministic:
/// counts, not clocks, decide when a quota is spent. Thread-safe.
/// </summary>
public sealed class KeyPolicies
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Slot> _policies = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IssuedToken> _issued = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _refreshFamilies = new(StringComparer.Ordinal); // live refresh token → family
    private readonly HashSet<string> _spentRefreshTokens = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _reasoningOrgs = new(StringComparer.Ordinal);    // rs_ id → organisation
    private long _tokenCounter;

    public KeyPolicies(IReadOnlyDictionary<string, KeyPolicy>? initial = null)
    {
        foreach (var (key, policy) in initial ?? new Dictionary<string, KeyPolicy>()) Set(key, policy);
    }

    /// <summary>Lifetime of the access tokens <c>POST /oauth/token</c> issues (their JWT <c>exp</c> and <c>expires_in</c>).</summary>
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromHours(1);

    private sealed class Slot(KeyPolicy policy)
    {
        public KeyPolicy Policy { get; } = policy;
        public int Used, Refused, Handshakes, Refreshes;
    }

    private sealed record IssuedToken(string Family, DateTimeOffset ExpiresAt);

    /// <summary>Sets (or replaces) a key's policy and resets its counts. A refresh token's policy covers the tokens issued from it.</summary>
    public void Set(string key, KeyPolicy policy)
    {
        lock (_gate)
        {
            _policies[key] = new Slot(policy with { });
            _refreshFamilies.TryAdd(key, key);
        }
    }

    public bool Remove(string key)
    {
        lock (_gate) return _policies.Remove(key);
    }

    public void Clear()
    {
        lock (_gate)
        {
            _policies.Clear();
            _issued.Clear();
            _refreshFamilies.Clear();
            _spentRefreshTokens.Clear();
            _reasoningOrgs.Clear();
        }
    }

    public IReadOnlyList<KeyState> Snapshot()
    {
        lock (_gate) return _policies.Select(p => new KeyState(p.Key, p.Value.Policy, p.Value.Used, p.Value.Refused, p.Value.Handshakes, p.Value.Refreshes)).ToList();
    }

    /// <summary>The bearer token of an Authorization header value.</summary>
    public static string? Bearer(string? authorization) =>
        authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization[7..].Trim() : null;

    /// <summary>The handshake's answer for this key: an error (with Retry-After), and the headers to send either way.</summary>
    internal (SimError? Error, TimeSpan? RetryAfter, IReadOnlyDictionary<string, string> Headers) Handshake(string? authorization)
    {
        lock (_gate)
        {
            var token = Bearer(authorization);
            if (token is not null && _issued.TryGetValue(token, out var issued) && issued.ExpiresAt <= DateTimeOffset.UtcNow)
                return (new SimError(401, "invalid_request_error", "token_expired", "Provided authentication token is expired. Please try signing in again."), null, Empty);
            if (Find(token) is not { } slot) return (null, null, Empty);
            slot.Handshakes++;
            if (slot.Policy.Revoked)
                return (new SimError(401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided."), null, Empty);
            var headers = slot.Policy.ReportUsage ? UsageHeaders(slot) : Empty;
            if (Spent(slot) && slot.Policy.Limit == SpentQuota.RateLimit)
            {
                slot.Refused++;
                return (RateLimited(), slot.Policy.RetryAfterOrDefault, headers);
            }
            return (null, null, headers);
        }
    }

    /// <summary>A generating request on this key: counts it, or answers the spent quota's error frame (with its extra fields).</summary>
    internal (byte[] Frame, SimError Error)? Consume(string? authorization, ReadOnlySpan<byte> message)
    {
        lock (_gate)
        {
            if (Find(Bearer(authorization)) is not { } slot) return null;
            if (slot.Policy.Organization is { } org && ForeignReasoning(message, org) is { } foreign)
                return ErrorFrame(400, "invalid_request_error", "invalid_encrypted_content",
                    $"The encrypted content for item {foreign} could not be verified.", null);
            if (!Spent(slot))
            {
                slot.Used++;
                return null;
            }
            slot.Refused++;
            var resetsIn = (int)Math.Ceiling(slot.Policy.ResetsInOrDefault.TotalSeconds);
            return slot.Policy.Limit switch
            {
                SpentQuota.UsageLimit => ErrorFrame(429, "usage_limit_reached", "usage_limit_reached", "The usage limit has been reached.", w =>
                {
                    w.WriteNumber("resets_in_seconds"u8, resetsIn);
                    w.WriteNumber("resets_at"u8, DateTimeOffset.UtcNow.AddSeconds(resetsIn).ToUnixTimeSeconds());
                }),
                SpentQuota.InsufficientQuota => ErrorFrame(429, "insufficient_quota", "insufficient_quota",
                    "You exceeded your current quota, please check your plan and billing details.", null),
                _ => ErrorFrame(429, "rate_limit_error", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later.", null),
            };
        }
    }

    /// <summary>The <c>codex.rate_limits</c> frame the ChatGPT backend sends before a response, or null for keys that report nothing.</summary>
    internal byte[]? RateLimitsEvent(string? authorization)
    {
        lock (_gate)
        {
            if (Find(Bearer(authorization)) is not { Policy.ReportUsage: true } slot) return null;
            var (used, resetAt, resetAfter) = Usage(slot);
            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("type"u8, "codex.rate_limits"u8);
                w.WriteString("plan_type"u8, "pro"u8);
                w.WriteStartObject("rate_limits"u8);
                w.WriteBoolean("allowed"u8, used < 100);
                w.WriteBoolean("limit_reached"u8, used >= 100);
                w.WriteStartObject("primary"u8);
                w.WriteNumber("used_percent"u8, used);
                w.WriteNumber("window_minutes"u8, slot.Policy.WindowMinutes);
                w.WriteNumber("reset_after_seconds"u8, resetAfter);
                w.WriteNumber("reset_at"u8, resetAt);
                w.WriteEndObject();
                w.WriteNull("secondary"u8);
                w.WriteEndObject();
                w.WriteEndObject();
            }
            return buffer.ToArray();
        }
    }

    /// <summary>Binds the reasoning items a key's response produced to the key's organisation.</summary>
    internal void BindReasoning(string? authorization, IEnumerable<string> reasoningIds)
    {
        lock (_gate)
        {
            if (Find(Bearer(authorization))?.Policy.Organization is not { } org) return;
            foreach (var id in reasoningIds) _reasoningOrgs[id] = org;
        }
    }

    /// <summary>
    /// <c>POST /oauth/token</c> with <c>grant_type=refresh_token</c>: a new access token (a JWT whose <c>exp</c> is
    /// <see cref="AccessTokenLifetime"/> away) and a new refresh token; the used one is spent (refresh tokens rotate).
    /// </summary>
    internal (int Status, byte[] Body) Refresh(string? grantType, string? refreshToken)
    {
        lock (_gate)
        {
            if (grantType != "refresh_token" || string.IsNullOrEmpty(refreshToken))
                return (400, OAuthError("unsupported_grant_type", "Only grant_type=refresh_token with a refresh_token is supported."));
            if (_spentRefreshTokens.Contains(refreshToken)) return (401, OAuthError("invalid_grant", "The refresh token was already used."));
            // A refresh token the simulator never saw starts a family of its own (any test token works once).
            var family = _refreshFamilies.GetValueOrDefault(refreshToken) ?? refreshToken;
            if (_policies.GetValueOrDefault(family) is { } slot)
            {
                if (slot.Policy.Revoked) return (401, OAuthError("invalid_grant", "The refresh token is revoked."));
                slot.Refreshes++;
            }
            var n = ++_tokenCounter;
            var expiresAt = DateTimeOffset.UtcNow + AccessTokenLifetime;
            var access = Jwt(expiresAt, n);
            var next = $"simrt-{n}-{Guid.NewGuid():N}";
            _refreshFamilies.Remove(refreshToken);
            _spentRefreshTokens.Add(refreshToken);
            _refreshFamilies[next] = family;
            _issued[access] = new IssuedToken(family, expiresAt);
            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("access_token"u8, access);
                w.WriteString("refresh_token"u8, next);
                w.WriteString("id_token"u8, Jwt(expiresAt, n));
                w.WriteString("token_type"u8, "Bearer"u8);
                w.WriteNumber("expires_in"u8, (long)AccessTokenLifetime.TotalSeconds);
                w.WriteEndObject();
            }
            return (200, buffer.ToArray());
        }
    }

    /// <summary>Expires every access token the token endpoint issued (the next handshake with one is a 401 <c>token_expired</c>).</summary>
    public void ExpireIssuedTokens()
    {
        lock (_gate)
            foreach (var token in _issued.Keys.ToList()) _issued[token] = _issued[token] with { ExpiresAt = DateTimeOffset.MinValue };
    }

    /// <summary>Access tokens issued so far.</summary>
    public int IssuedTokens
    {
        get { lock (_gate) return _issued.Count; }
    }

    private Slot? Find(string? token)
    {
        if (token is null) return null;
        if (_policies.TryGetValue(token, out var slot)) return slot;
        return _issued.TryGetValue(token, out var issued) ? _policies.GetValueOrDefault(issued.Family) : null;
    }

    private static bool Spent(Slot slot) => slot.Policy.Quota is { } quota && slot.Used >= quota;

    private static (double UsedPercent, long ResetAt, long ResetAfter) Usage(Slot slot)
    {
        var used = slot.Policy.Quota is { } quota ? (quota == 0 ? 100 : Math.Min(100, 100.0 * slot.Used / quota)) : 0;
        var resetAfter = (long)Math.Ceiling(slot.Policy.ResetsInOrDefault.TotalSeconds);
        return (Math.Round(used, 2), DateTimeOffset.UtcNow.ToUnixTimeSeconds() + resetAfter, resetAfter);
    }

    private static IReadOnlyDictionary<string, string> UsageHeaders(Slot slot)
    {
        var (used, resetAt, resetAfter) = Usage(slot);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["x-codex-primary-used-percent"] = used.ToString(CultureInfo.InvariantCulture),
            ["x-codex-primary-window-minutes"] = slot.Policy.WindowMinutes.ToString(CultureInfo.InvariantCulture),
            ["x-codex-primary-reset-at"] = resetAt.ToString(CultureInfo.InvariantCulture),
            ["x-codex-primary-reset-after-seconds"] = resetAfter.ToString(CultureInfo.InvariantCulture),
        };
        if (slot.Policy.Quota is { } quota)
        {
            headers["x-ratelimit-limit-requests"] = quota.ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-remaining-requests"] = Math.Max(0, quota - slot.Used).ToString(CultureInfo.InvariantCulture);
            headers["x-ratelimit-reset-requests"] = resetAfter.ToString(CultureInfo.InvariantCulture) + "s";
        }
        return headers;
    }

    private static SimError RateLimited() =>
        new(429, "rate_limit_error", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later.");

    private static readonly IReadOnlyDictionary<string, string> Empty = new Dictionary<string, string>();

    private string? ForeignReasoning(ReadOnlySpan<byte> message, string org)
    {
        var marker = "gAAAAA-sim-encrypted-"u8;
        var rest = message;
        while (rest.IndexOf(marker) is var at and >= 0)
        {
            rest = rest[(at + marker.Length)..];
            var end = rest.IndexOf((byte)'"');
            var id = Encoding.UTF8.GetString(end < 0 ? rest : rest[..end]);
            if (_reasoningOrgs.TryGetValue(id, out var owner) && owner != org) return id;
        }
        return null;
    }

    private static (byte[], SimError) ErrorFrame(int status, string type, string code, string message, Action<Utf8JsonWriter>? extra)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("type"u8, "error"u8);
            w.WriteNumber("status"u8, status);
            w.WriteStartObject("error"u8);
            w.WriteString("type"u8, type);
            w.WriteString("code"u8, code);
            w.WriteString("message"u8, message);
            w.WriteNull("param"u8);
            extra?.Invoke(w);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return (buffer.ToArray(), new SimError(status, type, code, message));
    }

    private static byte[] OAuthError(string error, string description) =>
        JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["error"] = error, ["error_description"] = description },
            SimulatorJsonContext.Default.DictionaryStringString);

    /// <summary>An unsigned JWT (the bridge reads only <c>exp</c>; the simulator checks tokens by value).</summary>
    private static string Jwt(DateTimeOffset expiresAt, long n)
    {
        static string B64(string json) => Convert.ToBase64String(Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return B64("""{"alg":"none","typ":"JWT"}""") + "." + B64($$"""{"exp":{{expiresAt.ToUnixTimeSeconds()}},"jti":"sim-{{n}}-{{Guid.NewGuid():N}}"}""") + ".sim";
    }
}
