using System.Text.Json;

namespace CodexLb.Tests.Clients;

/// <summary>One model call a client made: the response id it got and the text the response carried.</summary>
public sealed record ClientTurn(string Id, string Text);

/// <summary>
/// What a client scenario reported (the one JSON line of a tests/Clients script, or the same shape built in-process):
/// <c>{"ok":…,"error":…,"turns":[{"id","text"}],…scenario-specific fields}</c>.
/// </summary>
public sealed class ScenarioResult(string scenario, JsonElement root)
{
    public JsonElement Root => root;

    public JsonElement this[string name] => root.TryGetProperty(name, out var value) ? value
        : throw new Xunit.Sdk.XunitException($"{scenario}: no '{name}' in {root}");

    public IReadOnlyList<ClientTurn> Turns => this["turns"].EnumerateArray()
        .Select(t => new ClientTurn(t.GetProperty("id").GetString()!, t.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String ? text.GetString()! : ""))
        .ToList();

    public IReadOnlyList<string> ResponseIds => Turns.Select(t => t.Id).ToList();

    /// <summary>Fails with the client's own error message when the scenario did not complete.</summary>
    public ScenarioResult AssertOk()
    {
        if (!root.GetProperty("ok").GetBoolean())
            throw new Xunit.Sdk.XunitException($"{scenario} failed in the client: {(root.TryGetProperty("error", out var e) ? e.ToString() : root.ToString())}");
        return this;
    }
}
