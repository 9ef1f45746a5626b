using CodexLb.Grains.Abstractions;

namespace CodexLb.Gateway.Keys;

/// <summary>
/// Who a request authenticated as: the key's name (for operators and metrics, never secret), its tenant (what its
/// conversations are keyed by), its limits, its model allow-list (empty = any model) and its usage key (what its
/// <see cref="IClientKeyGrain"/> is keyed by: its tenant, except in open mode, where every caller's usage is one).
/// </summary>
public sealed record ClientKey(string Name, string Tenant, KeyLimits Limits, string[] Models, string? SharedUsageKey = null)
{
    /// <summary>The key of its grain: limits and usage.</summary>
    public string UsageKey => SharedUsageKey ?? Tenant;

    /// <summary>Which configured key this is (its hash, as hex): a rotated key is another key with the same name and tenant.</summary>
    internal string? Fingerprint { get; init; }

    /// <summary>Open mode (no keys configured) without a bearer token.</summary>
    public static readonly ClientKey Anonymous = new("anonymous", "anon", KeyLimits.None, []);

    public bool Allows(string? model) => Models.Length == 0 || (model is not null && Array.IndexOf(Models, model) >= 0);
}
