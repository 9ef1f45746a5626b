using System.Text.Json.Nodes;

namespace CodexLb.Gateway.Keys;

/// <summary>
/// The extension point of <c>GET /admin/usage</c>: each registered section adds one property next to <c>keys</c>, e.g.
/// the upstream accounts pool's <c>"accounts"</c> with each account's health. Register with
/// <c>services.AddSingleton&lt;IOperatorUsageSection, YourSection&gt;()</c>. A section that throws or takes longer than
/// the listing's timeout is answered as <c>{"error": …}</c> in its place; the rest of the listing is unaffected.
/// </summary>
public interface IOperatorUsageSection
{
    /// <summary>The property name in the listing (snake_case, e.g. <c>accounts</c>); <c>keys</c> and <c>object</c> are taken.</summary>
    string Name { get; }

    /// <summary>The section's value (any JSON value: usually an array of objects).</summary>
    Task<JsonNode?> ReadAsync(CancellationToken cancellationToken);
}
