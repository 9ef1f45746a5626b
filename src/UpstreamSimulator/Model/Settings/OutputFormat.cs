namespace CodexLb.UpstreamSimulator.Model.Settings;

internal enum OutputFormatKind { Text, JsonObject, JsonSchema }

/// <summary><c>text.format</c>: plain text, any JSON object, or JSON valid against <see cref="Schema"/>.</summary>
internal sealed record OutputFormat(OutputFormatKind Kind, byte[]? Schema = null, bool Strict = false)
{
    public static readonly OutputFormat Text = new(OutputFormatKind.Text);
}
