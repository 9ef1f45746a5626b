using System.Globalization;
using System.Text.Json;
using CodexLb.Grains.Abstractions;

namespace CodexLb.Grains.Accounts;

/// <summary>
/// Reads the usage a provider reports: the platform's <c>x-ratelimit-*</c> headers, the ChatGPT backend's
/// <c>x-codex-primary-*</c>/<c>x-codex-secondary-*</c> headers (used percent, window minutes, reset at / reset after
/// seconds), and its in-stream <c>codex.rate_limits</c> event (same windows, as JSON).
/// </summary>
public static class ProviderUsage
{
    public const string RateLimitsEvent = "codex.rate_limits";

    /// <summary>Null when the headers carry none of the known fields.</summary>
    public static AccountUsage? FromHeaders(IEnumerable<KeyValuePair<string, IEnumerable<string>>>? headers, DateTimeOffset now)
    {
        if (headers is null) return null;
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in headers)
            if (key.StartsWith("x-ratelimit-", StringComparison.OrdinalIgnoreCase) || key.StartsWith("x-codex-", StringComparison.OrdinalIgnoreCase))
                values[key] = value.FirstOrDefault() ?? "";
        if (values.Count == 0) return null;
        var usage = new AccountUsage
        {
            PrimaryUsedPercent = Double(values, "x-codex-primary-used-percent"),
            PrimaryWindowMinutes = Int(values, "x-codex-primary-window-minutes"),
            PrimaryResetsAt = Reset(values, "x-codex-primary", now),
            SecondaryUsedPercent = Double(values, "x-codex-secondary-used-percent"),
            SecondaryWindowMinutes = Int(values, "x-codex-secondary-window-minutes"),
            SecondaryResetsAt = Reset(values, "x-codex-secondary", now),
            RequestsLimit = Long(values, "x-ratelimit-limit-requests"),
            RequestsRemaining = Long(values, "x-ratelimit-remaining-requests"),
            TokensLimit = Long(values, "x-ratelimit-limit-tokens"),
            TokensRemaining = Long(values, "x-ratelimit-remaining-tokens"),
            ObservedAt = now,
        };
        return usage is { PrimaryUsedPercent: null, SecondaryUsedPercent: null, RequestsRemaining: null, TokensRemaining: null } ? null : usage;
    }

    /// <summary>
    /// A <c>codex.rate_limits</c> event: <c>{"type":"codex.rate_limits","rate_limits":{"primary":{"used_percent",
    /// "window_minutes","reset_at"|"reset_after_seconds"},"secondary":{…}}}</c>. Null when it is not one or carries no window.
    /// </summary>
    public static AccountUsage? FromEvent(ReadOnlySpan<byte> json, DateTimeOffset now)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            var root = doc.RootElement;
            if (!root.TryGetProperty("rate_limits", out var limits) || limits.ValueKind != JsonValueKind.Object) return null;
            var (pUsed, pWindow, pReset) = Window(limits, "primary", now);
            var (sUsed, sWindow, sReset) = Window(limits, "secondary", now);
            if (pUsed is null && sUsed is null) return null;
            return new AccountUsage
            {
                PrimaryUsedPercent = pUsed, PrimaryWindowMinutes = pWindow, PrimaryResetsAt = pReset,
                SecondaryUsedPercent = sUsed, SecondaryWindowMinutes = sWindow, SecondaryResetsAt = sReset, ObservedAt = now,
            };
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static (double?, int?, DateTimeOffset?) Window(JsonElement limits, string name, DateTimeOffset now)
    {
        if (!limits.TryGetProperty(name, out var w) || w.ValueKind != JsonValueKind.Object) return (null, null, null);
        double? used = w.TryGetProperty("used_percent", out var u) && u.ValueKind == JsonValueKind.Number ? u.GetDouble() : null;
        int? window = w.TryGetProperty("window_minutes", out var m) && m.ValueKind == JsonValueKind.Number ? m.GetInt32() : null;
        DateTimeOffset? reset = w.TryGetProperty("reset_at", out var r) && r.ValueKind == JsonValueKind.Number ? DateTimeOffset.FromUnixTimeSeconds(r.GetInt64())
            : w.TryGetProperty("reset_after_seconds", out var a) && a.ValueKind == JsonValueKind.Number ? now.AddSeconds(a.GetDouble()) : null;
        return (used, window, reset);
    }

    private static DateTimeOffset? Reset(Dictionary<string, string> values, string prefix, DateTimeOffset now) =>
        Long(values, prefix + "-reset-at") is { } at ? DateTimeOffset.FromUnixTimeSeconds(at)
        : Double(values, prefix + "-reset-after-seconds") is { } after ? now.AddSeconds(after) : null;

    private static double? Double(Dictionary<string, string> v, string key) =>
        v.TryGetValue(key, out var s) && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) ? d : null;

    private static int? Int(Dictionary<string, string> v, string key) =>
        v.TryGetValue(key, out var s) && int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i : null;

    private static long? Long(Dictionary<string, string> v, string key) =>
        v.TryGetValue(key, out var s) && long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? l : null;
}
