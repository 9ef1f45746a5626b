using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using CodexLb.UpstreamSimulator.Wire;

namespace CodexLb.UpstreamSimulator.Model.Settings;

/// <summary>
/// The non-input fields of a create body: what the response echoes (<see cref="Echo"/>) and what steers the scripted
/// model (tools, tool_choice, text.format, the <c>sim_text_deltas</c> metadata key). Malformed values are ignored,
/// never fatal: the bridge's fuzz tests send odd bodies through, and the provider's own validation is not simulated.
/// </summary>
internal sealed class RequestSettings
{
    /// <summary>Metadata key (string value) that sets the number of text deltas of this request's answer.</summary>
    public const string TextDeltasMetadataKey = "sim_text_deltas";

    /// <summary>Metadata key (string value, at most 128 characters) recorded in the ledger as the request's <c>Tag</c>.</summary>
    public const string TagMetadataKey = "sim_tag";

    /// <summary>Upper bound of a per-request delta count, so one request cannot ask for gigabytes.</summary>
    public const int MaxTextDeltas = 200_000;

    /// <summary>
    /// Deepest value echoed into a response object. A request may nest up to the parsers' 64 levels; echoed two
    /// levels down (and again inside events) it would make frames that clients (and the bridge) cannot parse.
    /// </summary>
    private const int MaxEchoDepth = 32;

    public RequestEcho Echo { get; } = new();
    public IReadOnlyList<ToolSpec> Tools { get; private set; } = [];
    public ToolChoiceSpec ToolChoice { get; private set; } = ToolChoiceSpec.Auto;
    public OutputFormat Format { get; private set; } = OutputFormat.Text;
    public int? TextDeltas { get; private set; }

    /// <summary>The <c>sim_tag</c> metadata value: lets a test tell which of its requests an upstream request was.</summary>
    public string? Tag { get; private set; }

    /// <summary>Reads one top-level property; returns false for names it does not handle.</summary>
    public bool Read(JsonProperty property)
    {
        var v = property.Value;
        switch (property.Name)
        {
            case "instructions" when v.ValueKind is JsonValueKind.String or JsonValueKind.Array:
                Echo.Instructions = Echoable(v);
                return true;
            case "max_output_tokens":
                Echo.MaxOutputTokens = v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var max) ? max : null;
                return true;
            case "max_tool_calls":
                Echo.MaxToolCalls = v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var calls) ? calls : null;
                return true;
            case "parallel_tool_calls" when v.ValueKind is JsonValueKind.True or JsonValueKind.False:
                Echo.ParallelToolCalls = v.GetBoolean();
                return true;
            case "reasoning" when v.ValueKind == JsonValueKind.Object:
                Echo.ReasoningEffort = String(v, "effort");
                Echo.ReasoningSummary = String(v, "summary") ?? String(v, "generate_summary");
                return true;
            case "service_tier" when v.ValueKind == JsonValueKind.String:
                Echo.ServiceTier = v.GetString() is { } tier and not "auto" ? tier : "default";
                return true;
            case "store" when v.ValueKind is JsonValueKind.True or JsonValueKind.False:
                Echo.Store = v.GetBoolean();
                return true;
            case "background" when v.ValueKind is JsonValueKind.True or JsonValueKind.False:
                Echo.Background = v.GetBoolean();
                return true;
            case "temperature":
                Echo.Temperature = Number(v) ?? 1;
                return true;
            case "top_p":
                Echo.TopP = Number(v) ?? 1;
                return true;
            case "presence_penalty":
                Echo.PresencePenalty = Number(v) ?? 0;
                return true;
            case "frequency_penalty":
                Echo.FrequencyPenalty = Number(v) ?? 0;
                return true;
            case "top_logprobs":
                Echo.TopLogprobs = v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var top) ? top : 0;
                return true;
            case "text" when v.ValueKind == JsonValueKind.Object:
                ReadText(v);
                return true;
            case "tool_choice" when v.ValueKind is JsonValueKind.String or JsonValueKind.Object:
                Echo.ToolChoice = Echoable(v);
                ToolChoice = ReadToolChoice(v);
                return true;
            case "tools" when v.ValueKind == JsonValueKind.Array:
                ReadTools(v);
                return true;
            case "truncation" when v.ValueKind == JsonValueKind.String:
                Echo.Truncation = v.GetString() ?? "disabled";
                return true;
            case "user" when v.ValueKind == JsonValueKind.String:
                Echo.User = v.GetString();
                return true;
            case "metadata" when v.ValueKind == JsonValueKind.Object:
                Echo.Metadata = Echoable(v);
                TextDeltas = DeltasFrom(v);
                Tag = String(v, TagMetadataKey) is { Length: <= 128 } tag ? tag : null;
                return true;
            case "prompt_cache_key" when v.ValueKind == JsonValueKind.String:
                Echo.PromptCacheKey = v.GetString();
                return true;
            case "safety_identifier" when v.ValueKind == JsonValueKind.String:
                Echo.SafetyIdentifier = v.GetString();
                return true;
            default:
                return false;
        }
    }

    private void ReadText(JsonElement text)
    {
        if (String(text, "verbosity") is { } verbosity)
        {
            Echo.Verbosity = verbosity;
        }

        if (!text.TryGetProperty("format", out var format) || format.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        switch (String(format, "type"))
        {
            case "json_object":
                Format = new OutputFormat(OutputFormatKind.JsonObject);
                Echo.TextFormat = """{"type":"json_object"}"""u8.ToArray();
                break;
            case "json_schema":
                var schema = format.TryGetProperty("schema", out var s) && s.ValueKind is JsonValueKind.Object or JsonValueKind.True ? s : default;
                var strict = format.TryGetProperty("strict", out var st) && st.ValueKind == JsonValueKind.True;
                Format = new OutputFormat(OutputFormatKind.JsonSchema, schema.ValueKind == JsonValueKind.Undefined ? null : Raw(schema), strict);
                if (Echoable(format) is null)
                {
                    break;
                }

                Echo.TextFormat = Write(w =>
                {
                    // The provider's echo: every field present, description null when not given.
                    w.WriteStartObject();
                    w.WriteString("type"u8, "json_schema"u8);
                    WriteStringOrNull(w, "description"u8, String(format, "description"));
                    w.WriteString("name"u8, String(format, "name") ?? "response");
                    w.WritePropertyName("schema"u8);
                    if (schema.ValueKind == JsonValueKind.Undefined)
                    {
                        w.WriteStartObject();
                        w.WriteEndObject();
                    }
                    else
                    {
                        schema.WriteTo(w);
                    }

                    w.WriteBoolean("strict"u8, strict);
                    w.WriteEndObject();
                });
                break;
        }
    }

    private static ToolChoiceSpec ReadToolChoice(JsonElement choice)
    {
        if (choice.ValueKind == JsonValueKind.String)
        {
            return Mode(choice.GetString()) is { } mode ? new ToolChoiceSpec(mode) : ToolChoiceSpec.Auto;
        }

        switch (String(choice, "type"))
        {
            case "function":
                return new ToolChoiceSpec(ToolChoiceMode.Required, String(choice, "name"));
            case "allowed_tools":
                var allowed = new List<string>();
                if (choice.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array)
                {
                    foreach (var tool in tools.EnumerateArray())
                    {
                        if (tool.ValueKind == JsonValueKind.Object && String(tool, "name") is { } name)
                        {
                            allowed.Add(name);
                        }
                    }
                }

                return new ToolChoiceSpec(Mode(String(choice, "mode")) ?? ToolChoiceMode.Auto, null, allowed);
            default:
                // A hosted or custom tool is forced: the simulator cannot call it, and calls no function instead.
                return new ToolChoiceSpec(ToolChoiceMode.None);
        }
    }

    private static ToolChoiceMode? Mode(string? value) => value switch
    {
        "auto" => ToolChoiceMode.Auto,
        "none" => ToolChoiceMode.None,
        "required" => ToolChoiceMode.Required,
        _ => null,
    };

    private void ReadTools(JsonElement tools)
    {
        var specs = new List<ToolSpec>();
        var tooDeep = Echoable(tools) is null;
        var echoed = Write(w =>
        {
            w.WriteStartArray();
            foreach (var tool in tools.EnumerateArray())
            {
                if (tool.ValueKind != JsonValueKind.Object || String(tool, "type") != "function" || String(tool, "name") is not { } name)
                {
                    tool.WriteTo(w);
                    continue;
                }

                var description = String(tool, "description");
                var parameters = tool.TryGetProperty("parameters", out var p) && p.ValueKind == JsonValueKind.Object ? p : default;
                specs.Add(new ToolSpec(name, description, parameters.ValueKind == JsonValueKind.Undefined ? null : Raw(parameters)));

                // Echoed as the provider does: all five fields, strict defaulting to true.
                w.WriteStartObject();
                w.WriteString("type"u8, "function"u8);
                w.WriteString("name"u8, name);
                WriteStringOrNull(w, "description"u8, description);
                w.WritePropertyName("parameters"u8);
                if (parameters.ValueKind == JsonValueKind.Undefined)
                {
                    w.WriteNullValue();
                }
                else
                {
                    parameters.WriteTo(w);
                }

                w.WriteBoolean("strict"u8, !(tool.TryGetProperty("strict", out var strict) && strict.ValueKind == JsonValueKind.False));
                w.WriteEndObject();
            }

            w.WriteEndArray();
        });
        Echo.Tools = tooDeep ? null : echoed;
        Tools = specs;
    }

    private static int? DeltasFrom(JsonElement metadata) =>
        metadata.TryGetProperty(TextDeltasMetadataKey, out var value)
        && (value.ValueKind == JsonValueKind.String
            ? int.TryParse(value.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)
            : value.TryGetInt32(out n))
        && n > 0
            ? Math.Min(n, MaxTextDeltas)
            : null;

    private static double? Number(JsonElement v) => v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && double.IsFinite(d) ? d : null;

    /// <summary>A string property of an object; null when absent, not a string, or <paramref name="obj"/> is no object.</summary>
    internal static string? String(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>A copy of the element's JSON, or null when it nests deeper than <see cref="MaxEchoDepth"/>.</summary>
    private static byte[]? Echoable(JsonElement element)
    {
        var raw = Raw(element);
        var reader = new Utf8JsonReader(raw);
        while (reader.Read())
        {
            if (reader.CurrentDepth >= MaxEchoDepth)
            {
                return null;
            }
        }

        return raw;
    }

    /// <summary>A copy of the element's JSON (the request buffer may be reused once parsing is done).</summary>
    internal static byte[] Raw(JsonElement element) => JsonMarshal.GetRawUtf8Value(element).ToArray();

    private static void WriteStringOrNull(Utf8JsonWriter w, ReadOnlySpan<byte> name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }

    private static byte[] Write(Action<Utf8JsonWriter> write) => WireJson.Serialize(write);
}
