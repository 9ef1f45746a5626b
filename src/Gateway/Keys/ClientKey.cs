using CodexLb.Grains.Abstractions;

namespace CodexLb.Gateway.Keys;

/// <summary>
/// Who a request authenticated as: the key's name (for operators and metrics, never secret), its tenant (what its
/// conversations and its grain are keyed by), its limits and its model allow-list (empty = any model).
/// </summary>
public sealed record ClientKey(string Name, string Tenant, KeyLimits Limits, string[] Models)
{
    /// <summary>Open mode (no keys configured) without a bearer token.</summary>
    public static readonly ClientKey Anonymous = new("anonymous", "anon", KeyLimits.None, []);

    public bool Allows(string? model) => Models.Length == 0 || (model is not null && Array.IndexOf(Models, model) >= 0);
}
