using System.Text;
using System.Text.RegularExpressions;
using CodexLb.UpstreamSimulator.Model.Settings;

namespace CodexLb.UpstreamSimulator.Model.Generation;

/// <summary>The scripted model's words: answer texts (plain, JSON object, JSON schema) and tool-call arguments.</summary>
internal static partial class AnswerText
{
    private const int ToolOutputExcerpt = 60;

    /// <summary>"Simulated answer #k." plus what the newest input calls for: a tool's result, images seen.</summary>
    public static string Plain(CreateRequest request, int k)
    {
        var text = new StringBuilder($"Simulated answer #{k}.");
        if (request.NewestKind == NewestItemKind.ToolOutput)
        {
            text.Append($" The {request.NewestToolName ?? "tool"} result was: {Excerpt(request.NewestToolOutput)}");
        }

        if (request.NewestImageCount > 0)
        {
            text.Append(request.NewestImageCount == 1 ? " I see one image." : $" I see {request.NewestImageCount} images.");
        }

        return text.ToString();
    }

    /// <summary>The answer in the requested <c>text.format</c>: valid JSON for json_object / json_schema.</summary>
    public static string Formatted(CreateRequest request, int k)
    {
        var plain = Plain(request, k);
        var format = request.Settings.Format;
        return format.Kind switch
        {
            OutputFormatKind.JsonSchema when format.Schema is { } schema =>
                SchemaInstance.Generate(schema, format.Strict, name => StringFor(name, request.NewestUserText, plain)),
            OutputFormatKind.JsonSchema or OutputFormatKind.JsonObject =>
                Encoding.UTF8.GetString(Wire.WireJson.Serialize(w =>
                {
                    w.WriteStartObject();
                    w.WriteString("answer"u8, plain);
                    w.WriteEndObject();
                })),
            _ => plain,
        };
    }

    /// <summary>Arguments for a call of <paramref name="tool"/>: an instance of its parameters schema.</summary>
    public static string Arguments(ToolSpec tool, CreateRequest request) =>
        tool.Parameters is { } schema
            ? SchemaInstance.Generate(schema, allProperties: false, name => StringFor(name, request.NewestUserText, "sim"))
            : "{}";

    /// <summary>
    /// The chunks of a streamed answer: up to the text's length it is split evenly (as before); a longer stream
    /// appends numbered filler words (" w1", " w2", …), so a benchmark can ask for any number of deltas.
    /// </summary>
    public static (string Text, IReadOnlyList<string>? Chunks) Stretch(string text, int deltas)
    {
        if (deltas <= text.Length)
        {
            return (text, null);
        }

        var chunks = new List<string>(deltas) { text };
        var whole = new StringBuilder(text, text.Length + (deltas * 7));
        for (var i = 1; i < deltas; i++)
        {
            var filler = $" w{i}";
            chunks.Add(filler);
            whole.Append(filler);
        }

        return (whole.ToString(), chunks);
    }

    /// <summary>A place named in the prompt for location-like properties; otherwise a fixed word or the answer.</summary>
    private static string StringFor(string? property, string? prompt, string fallback)
    {
        if (property is null)
        {
            return fallback;
        }

        if (PlaceProperty().IsMatch(property) && prompt is not null && Place().Match(prompt) is { Success: true } place)
        {
            return place.Groups["place"].Value;
        }

        return $"sim-{property}";
    }

    private static string Excerpt(string? output)
    {
        var line = (output ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";
        return line.Length <= ToolOutputExcerpt ? line : line[..ToolOutputExcerpt] + "…";
    }

    [GeneratedRegex("location|city|place|town|country|region|address|destination", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex PlaceProperty();

    /// <summary>Capitalised words after "in/at/for/near/from/to": "weather in San Francisco?" → "San Francisco".</summary>
    [GeneratedRegex(@"\b(?:in|at|for|near|from|to)\s+(?<place>\p{Lu}[\p{L}'-]*(?:\s+\p{Lu}[\p{L}'-]*)*)", RegexOptions.CultureInvariant)]
    private static partial Regex Place();
}
