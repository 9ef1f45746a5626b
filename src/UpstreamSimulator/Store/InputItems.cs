using System.Text.Json;
using CodexLb.UpstreamSimulator.Model;
using CodexLb.UpstreamSimulator.Wire;

namespace CodexLb.UpstreamSimulator.Store;

/// <summary>
/// A request's input as the provider lists it back: every item with an id, a bare string as a user message,
/// string message content as one text part, messages with a status.
/// </summary>
internal static class InputItems
{
    public static IReadOnlyList<byte[]> Normalize(byte[]? inputJson, IdGenerator ids)
    {
        if (inputJson is null)
        {
            return [];
        }

        using var doc = JsonDocument.Parse(inputJson);
        var input = doc.RootElement;
        if (input.ValueKind == JsonValueKind.String)
        {
            return [WireJson.Serialize(w => WriteMessage(w, ids.Next("msg"), "user", null, input))];
        }

        var items = new List<byte[]>(input.GetArrayLength());
        foreach (var item in input.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.Object)
            {
                items.Add(WireJson.Serialize(w => WriteItem(w, item, ids)));
            }
        }

        return items;
    }

    /// <summary>The id an item is listed under.</summary>
    public static string IdOf(byte[] item)
    {
        var reader = new Utf8JsonReader(item);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isId = reader.ValueTextEquals("id"u8);
            reader.Read();
            if (isId && reader.TokenType == JsonTokenType.String)
            {
                return reader.GetString()!;
            }

            reader.Skip();
        }

        return "";
    }

    private static void WriteItem(Utf8JsonWriter w, JsonElement item, IdGenerator ids)
    {
        var type = item.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        var role = item.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null;
        var id = item.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString()! : null;
        if (type is null or "message" && role is not null && item.TryGetProperty("content", out var content))
        {
            WriteMessage(w, id ?? ids.Next("msg"), role, item.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null, content);
            return;
        }

        w.WriteStartObject();
        w.WriteString("id"u8, id ?? ids.Next(type switch
        {
            "function_call" => "fc",
            "function_call_output" => "fco",
            "reasoning" => "rs",
            "compaction" => "cmp",
            _ => "item",
        }));
        foreach (var property in item.EnumerateObject())
        {
            if (property.Name != "id")
            {
                property.WriteTo(w);
            }
        }

        w.WriteEndObject();
    }

    private static void WriteMessage(Utf8JsonWriter w, string id, string role, string? status, JsonElement content)
    {
        w.WriteStartObject();
        w.WriteString("type"u8, "message"u8);
        w.WriteString("id"u8, id);
        w.WriteString("status"u8, status ?? "completed");
        w.WriteString("role"u8, role);
        w.WritePropertyName("content"u8);
        if (content.ValueKind == JsonValueKind.String)
        {
            w.WriteStartArray();
            w.WriteStartObject();
            w.WriteString("type"u8, role == "assistant" ? "output_text"u8 : "input_text"u8);
            w.WriteString("text"u8, content.GetString());
            if (role == "assistant")
            {
                w.WriteStartArray("annotations"u8);
                w.WriteEndArray();
            }

            w.WriteEndObject();
            w.WriteEndArray();
        }
        else
        {
            content.WriteTo(w);
        }

        w.WriteEndObject();
    }
}
