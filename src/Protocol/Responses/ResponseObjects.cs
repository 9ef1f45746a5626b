using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace CodexLb.Protocol.Responses;

/// <summary>
/// Response objects the bridge answers from its own state (retrieve, cancel, delete, input items). A stored response is
/// kept as an envelope (the provider's object with <c>output</c> emptied, because the output items are stored as tree
/// items already) and composed back on read. Rare paths: clarity over speed.
/// </summary>
public static class ResponseObjects
{
    /// <summary>
    /// The provider's response object as stored: its <c>output</c> emptied when it holds exactly
    /// <paramref name="storedOutputs"/> items (they are stored as tree items already; otherwise it is kept whole and
    /// <paramref name="stripped"/> is false), and <c>background</c> set to what the client asked. One forward pass over the
    /// bytes, no DOM: it runs once per stored turn.
    /// </summary>
    public static byte[] ToEnvelope(ReadOnlySpan<byte> response, int storedOutputs, bool background, out bool stripped)
    {
        stripped = false;
        Range output = default, backgroundValue = default;
        var properties = 0;
        var reader = new Utf8JsonReader(response, JsonLimits.Reader);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return response.ToArray();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            properties++;
            var isOutput = reader.ValueTextEquals("output"u8);
            var isBackground = reader.ValueTextEquals("background"u8);
            reader.Read();
            var start = (int)reader.TokenStartIndex;
            var count = 0;
            if (isOutput && reader.TokenType == JsonTokenType.StartArray)
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) { count++; reader.Skip(); }
            else reader.Skip();
            var value = start..(int)reader.BytesConsumed;
            if (isOutput && count == storedOutputs && count > 0) (output, stripped) = (value, true);
            if (isBackground) backgroundValue = value;
        }

        var edits = new List<(Range At, byte[] With)>(2);
        if (stripped) edits.Add((output, "[]"u8.ToArray()));
        if (background && !backgroundValue.Equals(default(Range))) edits.Add((backgroundValue, "true"u8.ToArray()));
        else if (background && reader.TokenType == JsonTokenType.EndObject)
        {
            // A provider that does not echo the field: add it, the client must see what happened.
            var end = (int)reader.TokenStartIndex;
            edits.Add((end..end, (properties > 0 ? ",\"background\":true"u8 : "\"background\":true"u8).ToArray()));
        }
        return Splice(response, edits);
    }

    private static byte[] Splice(ReadOnlySpan<byte> json, List<(Range At, byte[] With)> edits)
    {
        if (edits.Count == 0) return json.ToArray();
        edits.Sort((a, b) => a.At.Start.Value.CompareTo(b.At.Start.Value));
        var result = new ArrayBufferWriter<byte>(json.Length);
        var at = 0;
        foreach (var (range, with) in edits)
        {
            result.Write(json[at..range.Start.Value]);
            result.Write(with);
            at = range.End.Value;
        }
        result.Write(json[at..]);
        return result.WrittenSpan.ToArray();
    }

    /// <summary>A stored envelope with its output items put back.</summary>
    public static byte[] Compose(ReadOnlySpan<byte> envelope, IReadOnlyList<byte[]> outputs) =>
        outputs.Count == 0 ? envelope.ToArray() : Rewrite(envelope, (name, _, writer) =>
        {
            if (name != "output") return false;
            writer.WriteStartArray(name);
            foreach (var item in outputs) writer.WriteRawValue(item, skipInputValidation: true);
            writer.WriteEndArray();
            return true;
        });

    /// <summary>A response object with another <c>status</c> (a cancelled in-flight response).</summary>
    public static byte[] WithStatus(ReadOnlySpan<byte> response, string status) =>
        Rewrite(response, (name, _, writer) =>
        {
            if (name != "status") return false;
            writer.WriteString(name, status);
            return true;
        });

    /// <summary>A response object the bridge ended: status <c>failed</c>, with the error it ended on.</summary>
    public static byte[] AsFailed(ReadOnlySpan<byte> response, string code, string message)
    {
        var wroteError = false;
        void WriteError(Utf8JsonWriter writer)
        {
            writer.WriteStartObject("error");
            writer.WriteString("code", code);
            writer.WriteString("message", message);
            writer.WriteEndObject();
            wroteError = true;
        }
        // The error replaces the object's own (null while it ran), or is added where the object had none.
        return Rewrite(response, (name, _, writer) =>
        {
            if (name == "status") writer.WriteString(name, "failed");
            else if (name == "error") WriteError(writer);
            else return false;
            return true;
        }, writer => { if (!wroteError) WriteError(writer); });
    }

    /// <summary>Whether a response object says it was created with <c>background: true</c>.</summary>
    public static bool IsBackground(ReadOnlySpan<byte> response) =>
        Events.EventReader.TryFindRawProperty(response, "background"u8, out var value) && response[value].SequenceEqual("true"u8);

    /// <summary>
    /// The response with <c>background</c> true (set, or added when the provider does not echo it) and its output kept: a
    /// client's background turn, which runs upstream in the foreground.
    /// </summary>
    public static byte[] AsBackground(ReadOnlySpan<byte> response) => ToEnvelope(response, storedOutputs: -1, background: true, out _);

    /// <summary>
    /// An event whose <c>response</c> says <c>background: true</c>, everything else as it came: a background turn's events,
    /// which the provider ran in the foreground and so describes as such.
    /// </summary>
    public static byte[] EventAsBackground(byte[] eventJson) => WithEventResponse(eventJson, static response => AsBackground(response));

    private delegate byte[] ResponseRewrite(ReadOnlySpan<byte> response);

    /// <summary>An event with its <c>response</c> object rewritten, every other byte as it came.</summary>
    private static byte[] WithEventResponse(byte[] eventJson, ResponseRewrite rewrite)
    {
        if (!Events.EventReader.TryFindRawProperty(eventJson, "response"u8, out var response)) return eventJson;
        var (start, length) = response.GetOffsetAndLength(eventJson.Length);
        return [.. eventJson.AsSpan(0, start), .. rewrite(eventJson.AsSpan(response)), .. eventJson.AsSpan(start + length)];
    }

    /// <summary>
    /// A response created in a conversation, as the API shows one: <c>conversation</c> names it, and
    /// <c>previous_response_id</c> is null (the provider was sent the conversation's last response as one; the client
    /// sent none). Rare path (responses in a conversation only).
    /// </summary>
    public static byte[] InConversation(ReadOnlySpan<byte> response, string conversationId)
    {
        var named = false;
        return Rewrite(response, (name, _, writer) =>
        {
            if (name == "previous_response_id") writer.WriteNull(name);
            else if (name == "conversation") named = WriteConversation(writer, conversationId);
            else return false;
            return true;
        }, end: writer => { if (!named) WriteConversation(writer, conversationId); });
    }

    private static bool WriteConversation(Utf8JsonWriter writer, string conversationId)
    {
        writer.WriteStartObject("conversation");
        writer.WriteString("id", conversationId);
        writer.WriteEndObject();
        return true;
    }

    /// <summary>An event whose <c>response</c> is <see cref="InConversation"/>, everything else as it came.</summary>
    public static byte[] EventInConversation(byte[] eventJson, string conversationId) =>
        WithEventResponse(eventJson, response => InConversation(response, conversationId));

    /// <summary>
    /// An event of a response that runs again under the id its client has (its owner was lost mid-generation): the
    /// response object it carries takes that id, and its <c>sequence_number</c> moves up by <paramref name="sequenceOffset"/>,
    /// past every number the lost run sent. Rare path (re-runs only).
    /// </summary>
    public static byte[] EventAsResumed(ReadOnlySpan<byte> eventJson, string responseId, long sequenceOffset) =>
        Rewrite(eventJson, (name, value, writer) =>
        {
            if (name == "sequence_number" && value.TryGetInt64(out var sequence)) writer.WriteNumber(name, sequence + sequenceOffset);
            else if (name == "response" && value.ValueKind == JsonValueKind.Object)
            {
                writer.WritePropertyName(name);
                writer.WriteRawValue(WithId(JsonMarshal.GetRawUtf8Value(value), responseId), skipInputValidation: true);
            }
            else return false;
            return true;
        });

    /// <summary>A response object under another <c>id</c>.</summary>
    public static byte[] WithId(ReadOnlySpan<byte> response, string responseId) =>
        Rewrite(response, (name, _, writer) =>
        {
            if (name != "id") return false;
            writer.WriteString(name, responseId);
            return true;
        });

    /// <summary><c>{"id":…,"object":"response.deleted","deleted":true}</c>.</summary>
    public static byte[] Deleted(string responseId) => Write(writer =>
    {
        writer.WriteString("id", responseId);
        writer.WriteString("object", "response.deleted");
        writer.WriteBoolean("deleted", true);
    });

    /// <summary>One page of a response's input items, as the API lists them (<c>order</c> desc by default).</summary>
    public static byte[] InputItemsPage(IReadOnlyList<byte[]> items, InputItemsQuery query)
    {
        var ordered = query.Ascending ? items.ToList() : items.Reverse().ToList();
        var start = 0;
        if (query.After is { } after)
        {
            var at = ordered.FindIndex(i => ItemId(i) == after);
            start = at < 0 ? ordered.Count : at + 1;
        }
        var page = ordered.Skip(start).Take(query.Limit).ToList();
        return Write(writer =>
        {
            writer.WriteString("object", "list");
            writer.WriteStartArray("data");
            foreach (var item in page) writer.WriteRawValue(item, skipInputValidation: true);
            writer.WriteEndArray();
            WriteIdOrNull(writer, "first_id", page.Count > 0 ? ItemId(page[0]) : null);
            WriteIdOrNull(writer, "last_id", page.Count > 0 ? ItemId(page[^1]) : null);
            writer.WriteBoolean("has_more", start + page.Count < ordered.Count);
        });
    }

    /// <summary>
    /// An input item as the API lists it: with an <c>id</c> (the client's shorthand items have none; a stable one is made
    /// from the response and the item's position, so <c>after</c> cursors hold) and, for a message, a <c>status</c>.
    /// </summary>
    public static byte[] AsListed(byte[] item, string responseId, int position)
    {
        var hasId = ItemId(item) is not null;
        var reader = new Utf8JsonReader(item, JsonLimits.Reader);
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) return item;
        var message = !root.TryGetProperty("type", out var type) || type.ValueEquals("message");
        var hasStatus = root.TryGetProperty("status", out _);
        var textContent = message && root.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String;
        if (hasId && (!message || (hasStatus && !textContent))) return item;
        return Write(writer =>
        {
            if (!hasId) writer.WriteString("id", $"{(message ? "msg" : "item")}_{responseId.Replace("resp_", "", StringComparison.Ordinal)}_{position}");
            if (message && !root.TryGetProperty("type", out _)) writer.WriteString("type", "message");
            if (message && !hasStatus) writer.WriteString("status", "completed");
            foreach (var property in root.EnumerateObject())
            {
                if (!(textContent && property.NameEquals("content"))) { property.WriteTo(writer); continue; }
                // The shorthand "content":"…" is one text part, as the API lists it.
                var assistant = root.TryGetProperty("role", out var role) && role.ValueEquals("assistant");
                writer.WriteStartArray("content");
                writer.WriteStartObject();
                writer.WriteString("type", assistant ? "output_text" : "input_text");
                writer.WriteString("text", property.Value.GetString());
                writer.WriteEndObject();
                writer.WriteEndArray();
            }
        });
    }

    /// <summary>The <c>id</c> of an item, when it has one (SDK shorthand inputs often do not).</summary>
    public static string? ItemId(ReadOnlySpan<byte> item) => Events.EventReader.ReadString(item, "id");

    private static void WriteIdOrNull(Utf8JsonWriter writer, string name, string? id)
    {
        if (id is null) writer.WriteNull(name); else writer.WriteString(name, id);
    }

    internal delegate bool PropertyRewriter(string name, JsonElement value, Utf8JsonWriter writer);

    /// <summary>The object with each property <paramref name="rewrite"/> writes itself replaced, then what <paramref name="end"/> adds.</summary>
    internal static byte[] Rewrite(ReadOnlySpan<byte> json, PropertyRewriter rewrite, Action<Utf8JsonWriter>? end = null)
    {
        var reader = new Utf8JsonReader(json, JsonLimits.Reader);
        using var document = JsonDocument.ParseValue(ref reader);
        return Write(writer =>
        {
            foreach (var property in document.RootElement.EnumerateObject())
                if (!rewrite(property.Name, property.Value, writer)) property.WriteTo(writer);
            end?.Invoke(writer);
        });
    }

    /// <summary>One JSON object, its properties written by <paramref name="body"/>.</summary>
    internal static byte[] Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}

/// <summary>The query of <c>GET /responses/{id}/input_items</c>: <c>limit</c> 1-100 (20), <c>order</c> asc|desc (desc), <c>after</c>.</summary>
public sealed record InputItemsQuery(int Limit = 20, bool Ascending = false, string? After = null);
