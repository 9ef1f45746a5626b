namespace CodexLb.UpstreamSimulator.Model.Settings;

/// <summary>A function tool the request offers: what the scripted model needs to decide on and fill a call.</summary>
/// <param name="Parameters">Raw JSON schema of the arguments; null = none given.</param>
internal sealed record ToolSpec(string Name, string? Description, byte[]? Parameters);

internal enum ToolChoiceMode { Auto, None, Required }

/// <summary><c>tool_choice</c>: a mode, optionally one forced function or a set of allowed ones.</summary>
internal sealed record ToolChoiceSpec(ToolChoiceMode Mode, string? ForcedName = null, IReadOnlyList<string>? Allowed = null)
{
    public static readonly ToolChoiceSpec Auto = new(ToolChoiceMode.Auto);
}
