using System.Buffers;
using System.Text;
using System.Text.Json;

namespace CodexLb.Protocol.Events;

/// <summary>
/// Reads the few fields the bridge needs from an event payload without materializing it. Only the terminal and
/// item events are read past <c>type</c>; deltas are relayed untouched.
/// </summary>
public static class EventReader
{
    /// <summary>The top-level <c>type</c>, or null when the payload has none.</summary>
    public static string? ReadType(ReadOnlySpan<byte> json) =>
        TryReadLeadingType(json, out var leading) ? EventTypes.Intern(leading)
        : FindType(json, out var reader) ? EventTypes.Intern(reader.ValueIsEscaped ? Encoding.UTF8.GetBytes(reader.GetString()!) : reader.ValueSpan) : null;

    /// <summary>Whether the top-level <c>type</c> is <paramref name="type"/>: read without making a string of it.</summary>
    public static bool HasType(ReadOnlySpan<byte> json, ReadOnlySpan<byte> type) =>
        TryReadLeadingType(json, out var leading) ? leading.SequenceEqual(type) : FindType(json, out var reader) && reader.ValueTextEquals(type);

    private static readonly SearchValues<byte> PlainTypeBytes =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"u8);

    /// <summary>
    /// The provider writes <c>type</c> first. When it comes first and its value is plain (letters, digits, <c>. _ -</c>),
    /// the value is taken straight from the bytes: the very bytes the reader would give, at a third of its cost per
    /// relayed event. Anything else (another order, an escape, a malformed start) is left to the reader.
    /// </summary>
    private static bool TryReadLeadingType(ReadOnlySpan<byte> json, out ReadOnlySpan<byte> type)
    {
        type = default;
        var i = SkipSpace(json, 0);
        if (i == json.Length || json[i] != (byte)'{') return false;
        i = SkipSpace(json, i + 1);
        if (!json[i..].StartsWith("\"type\""u8)) return false;
        i = SkipSpace(json, i + 6);
        if (i == json.Length || json[i] != (byte)':') return false;
        i = SkipSpace(json, i + 1);
        if (i == json.Length || json[i] != (byte)'"') return false;
        var value = json[(i + 1)..];
        var end = value.IndexOfAnyExcept(PlainTypeBytes);
        if (end < 0 || value[end] != (byte)'"') return false;
        type = value[..end];
        return true;
    }

    private static int SkipSpace(ReadOnlySpan<byte> json, int i)
    {
        while (i < json.Length && json[i] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') i++;
        return i;
    }

    /// <summary>Leaves <paramref name="reader"/> on the top-level <c>type</c>'s value when it is a string.</summary>
    private static bool FindType(ReadOnlySpan<byte> json, out Utf8JsonReader reader)
    {
        reader = new Utf8JsonReader(json, JsonLimits.Reader);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("type"u8)) return reader.Read() && reader.TokenType == JsonTokenType.String;
            reader.Read();
            reader.Skip();
        }
        return false;
    }

    /// <summary>A top-level string property of an object (an item's <c>id</c>, a setting), or null when absent or not a string.</summary>
    public static string? ReadString(ReadOnlySpan<byte> json, string name)
    {
        var reader = new Utf8JsonReader(json, JsonLimits.Reader);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var match = reader.ValueTextEquals(name);
            reader.Read();
            if (match) return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            reader.Skip();
        }
        return null;
    }

    /// <summary>The raw JSON of a top-level object property (e.g. <c>item</c> of output_item.done).</summary>
    public static byte[]? ReadRawProperty(ReadOnlySpan<byte> json, ReadOnlySpan<byte> name) =>
        TryFindRawProperty(json, name, out var value) ? json[value].ToArray() : null;

    /// <summary>
    /// Where the raw JSON of a top-level object property lies in <paramref name="json"/>: for a caller that can read it in
    /// place (a completed event's <c>response</c> is most of the event; a copy of it is a copy of the whole answer).
    /// </summary>
    public static bool TryFindRawProperty(ReadOnlySpan<byte> json, ReadOnlySpan<byte> name, out Range value)
    {
        value = default;
        var reader = new Utf8JsonReader(json, JsonLimits.Reader);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var match = reader.ValueTextEquals(name);
            reader.Read();
            var start = (int)reader.TokenStartIndex;
            reader.Skip();
            if (!match) continue;
            value = start..(int)reader.BytesConsumed;
            return true;
        }
        return false;
    }

    /// <summary>An event's top-level <c>sequence_number</c>, or null when it has none (or not an integer).</summary>
    public static long? ReadSequenceNumber(ReadOnlySpan<byte> json) => ReadInteger(json, "sequence_number"u8);

    /// <summary>A top-level integer property (<c>sequence_number</c>, <c>output_index</c>), or null when absent or not an integer.</summary>
    public static long? ReadInteger(ReadOnlySpan<byte> json, ReadOnlySpan<byte> name) =>
        TryFindRawProperty(json, name, out var value)
        && System.Buffers.Text.Utf8Parser.TryParse(json[value], out long number, out var consumed) && consumed == json[value].Length
            ? number : null;

    /// <summary>
    /// The <c>response.id</c> of an event, reading no further than the id: a <c>response.created</c> echoes the request's
    /// instructions and tools after it (tens of KB for the Codex CLI), which a full <see cref="Summarize"/> would scan.
    /// </summary>
    public static string? ReadResponseId(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, JsonLimits.Reader);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var response = reader.ValueTextEquals("response"u8);
            reader.Read();
            if (!response) { reader.Skip(); continue; }
            if (reader.TokenType != JsonTokenType.StartObject) return null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var id = reader.ValueTextEquals("id"u8);
                reader.Read();
                if (id) return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                reader.Skip();
            }
            return null;
        }
        return null;
    }

    /// <summary>Fields of a terminal or created event's <c>response</c> object, and of error frames.</summary>
    /// <remarks>
    /// One forward pass that materializes nothing but the fields it returns: a <c>response.completed</c> carries the
    /// whole answer (its <c>output</c>), which is skipped, never parsed into a document.
    /// </remarks>
    /// <param name="knownId">The response id the caller already holds: read as this string when the event's is the same.</param>
    public static EventSummary Summarize(ReadOnlySpan<byte> json, string? knownId = null)
    {
        var summary = new EventSummary();
        var reader = new Utf8JsonReader(json, JsonLimits.Reader);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return summary;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("status"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var status)) summary.Status = status;
                else reader.Skip();
            }
            // The response's own error wins over a top-level one, wherever each stands.
            else if (reader.ValueTextEquals("error"u8)) { reader.Read(); ReadError(ref reader, summary, keep: summary.Response is not null); }
            else if (reader.ValueTextEquals("response"u8))
            {
                reader.Read();
                var start = (int)reader.TokenStartIndex;
                ReadResponse(ref reader, summary, knownId);
                summary.Response = start..(int)reader.BytesConsumed;
            }
            else { reader.Read(); reader.Skip(); }
        }
        return summary;
    }

    /// <summary>Reads the value the reader is on: an object is walked for id, error and usage, anything else skipped.</summary>
    private static void ReadResponse(ref Utf8JsonReader reader, EventSummary summary, string? knownId)
    {
        if (reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); return; }
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("id"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                    summary.ResponseId = knownId is not null && reader.ValueTextEquals(knownId) ? knownId : reader.GetString();
                else reader.Skip();
            }
            else if (reader.ValueTextEquals("error"u8)) { reader.Read(); ReadError(ref reader, summary, keep: false); }
            else if (reader.ValueTextEquals("usage"u8)) { reader.Read(); ReadUsage(ref reader, summary); }
            else { reader.Read(); reader.Skip(); }
        }
    }

    private static void ReadUsage(ref Utf8JsonReader reader, EventSummary summary)
    {
        if (reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); return; }
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("input_tokens"u8)) summary.InputTokens = ReadInt64(ref reader) ?? summary.InputTokens;
            else if (reader.ValueTextEquals("output_tokens"u8)) summary.OutputTokens = ReadInt64(ref reader) ?? summary.OutputTokens;
            else if (reader.ValueTextEquals("input_tokens_details"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); continue; }
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    if (reader.ValueTextEquals("cached_tokens"u8)) summary.CachedTokens = ReadInt64(ref reader) ?? summary.CachedTokens;
                    else { reader.Read(); reader.Skip(); }
                }
            }
            else { reader.Read(); reader.Skip(); }
        }
    }

    /// <summary>Reads the property value after the name the reader is on: a number, or null (anything else is skipped).</summary>
    private static long? ReadInt64(ref Utf8JsonReader reader)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value)) return value;
        reader.Skip();
        return null;
    }

    /// <summary>
    /// An error object's code, message, type and param (string values only; others leave the field as it was). With
    /// <paramref name="keep"/>, fields already read stay.
    /// </summary>
    private static void ReadError(ref Utf8JsonReader reader, EventSummary summary, bool keep)
    {
        if (reader.TokenType != JsonTokenType.StartObject) { reader.Skip(); return; }
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("code"u8)) summary.ErrorCode = Pick(summary.ErrorCode, ReadString(ref reader), keep);
            else if (reader.ValueTextEquals("message"u8)) summary.ErrorMessage = Pick(summary.ErrorMessage, ReadString(ref reader), keep);
            else if (reader.ValueTextEquals("type"u8)) summary.ErrorType = Pick(summary.ErrorType, ReadString(ref reader), keep);
            else if (reader.ValueTextEquals("param"u8)) summary.ErrorParam = Pick(summary.ErrorParam, ReadString(ref reader), keep);
            else { reader.Read(); reader.Skip(); }
        }
    }

    private static string? Pick(string? current, string? read, bool keep) => keep ? current ?? read : read ?? current;

    private static string? ReadString(ref Utf8JsonReader reader)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.String) return reader.GetString();
        reader.Skip();
        return null;
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

    /// <summary>Where the event's top-level <c>response</c> value lies in it (read in place, as <c>TryFindRawProperty</c> finds it); null without one.</summary>
    public Range? Response { get; set; }
}
