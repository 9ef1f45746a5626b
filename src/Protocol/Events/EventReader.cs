using System.Text.Json;

namespace CodexLb.Protocol.Events;

/// <summary>
/// Reads the few fields the bridge needs from an event payload without materializing it. Only the terminal and
/// item events are read past <c>type</c>; deltas are relayed untouched.
/// </summary>
public static class EventReader
{
    /// <summary>The top-level <c>type</c>, or null when the payload has none.</summary>
    public static string? ReadType(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, JsonLimits.Reader);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                return reader.TokenType == JsonTokenType.String ? EventTypes.Intern(reader.ValueSpan) : null;
            }
            reader.Read();
            reader.Skip();
        }
        return null;
    }

    /// <summary>The raw JSON of a top-level object property (e.g. <c>item</c> of output_item.done).</summary>
    public static byte[]? ReadRawProperty(ReadOnlySpan<byte> json, ReadOnlySpan<byte> name)
    {
        var reader = new Utf8JsonReader(json, JsonLimits.Reader);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var match = reader.ValueTextEquals(name);
            reader.Read();
            var start = (int)reader.TokenStartIndex;
            reader.Skip();
            if (match) return json[start..(int)reader.BytesConsumed].ToArray();
        }
        return null;
    }

    /// <summary>Fields of a terminal or created event's <c>response</c> object, and of error frames.</summary>
    public static EventSummary Summarize(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, JsonLimits.Reader);
        using var doc = JsonDocument.ParseValue(ref reader);
        var root = doc.RootElement;
        var summary = new EventSummary();
        if (root.TryGetProperty("status", out var status) && status.ValueKind == JsonValueKind.Number)
            summary.Status = status.GetInt32();
        if (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
            ReadError(error, summary);
        if (root.TryGetProperty("response", out var response) && response.ValueKind == JsonValueKind.Object)
        {
            if (response.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String) summary.ResponseId = id.GetString();
            if (response.TryGetProperty("error", out var rerror) && rerror.ValueKind == JsonValueKind.Object) ReadError(rerror, summary);
            if (response.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
            {
                if (usage.TryGetProperty("input_tokens", out var input) && input.ValueKind == JsonValueKind.Number)
                    summary.InputTokens = input.GetInt64();
                if (usage.TryGetProperty("input_tokens_details", out var details) && details.ValueKind == JsonValueKind.Object
                    && details.TryGetProperty("cached_tokens", out var cached) && cached.ValueKind == JsonValueKind.Number)
                    summary.CachedTokens = cached.GetInt64();
                if (usage.TryGetProperty("output_tokens", out var output) && output.ValueKind == JsonValueKind.Number)
                    summary.OutputTokens = output.GetInt64();
            }
        }
        return summary;
    }

    private static void ReadError(JsonElement error, EventSummary summary)
    {
        summary.ErrorCode = error.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.String ? code.GetString() : summary.ErrorCode;
        summary.ErrorMessage = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : summary.ErrorMessage;
        summary.ErrorType = error.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : summary.ErrorType;
        summary.ErrorParam = error.TryGetProperty("param", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : summary.ErrorParam;
    }
}

public sealed class EventSummary
{
    public string? ResponseId { get; set; }
    public int? Status { get; set; }
    public string? ErrorCode { get; set; }
    public string? ErrorMessage { get; set; }
    public string? ErrorType { get; set; }
    public string? ErrorParam { get; set; }
    public long? InputTokens { get; set; }
    public long? CachedTokens { get; set; }
    public long? OutputTokens { get; set; }
}
