using System.Text.Json;

namespace CodexLb.Protocol.Items;

/// <summary>
/// An <c>item_reference</c> input item (<c>{"type":"item_reference","id":"msg_…"}</c>): a client that stores its responses
/// (the Vercel AI SDK's default) names an earlier output item instead of resending it.
/// </summary>
public static class ItemReference
{
    // A reference is a type and an id: anything longer is another item, and is not parsed at all.
    private const int MaxBytes = 512;

    /// <summary>The id a reference names, or null when the item is not a reference.</summary>
    public static string? TargetOf(ReadOnlySpan<byte> item)
    {
        if (item.Length > MaxBytes) return null;
        var reader = new Utf8JsonReader(item, JsonLimits.Reader);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
        string? id = null;
        var reference = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isType = reader.ValueTextEquals("type"u8);
            var isId = !isType && reader.ValueTextEquals("id"u8);
            reader.Read();
            if (isType) { if (!(reference = reader.TokenType == JsonTokenType.String && reader.ValueTextEquals("item_reference"u8))) return null; }
            else if (isId && reader.TokenType == JsonTokenType.String) id = reader.GetString();
            else reader.Skip();
        }
        return reference ? id : null;
    }

    /// <summary>The last reference of an input: its index and the id it names, or (-1, null).</summary>
    public static (int Index, string? Id) LastOf(IReadOnlyList<byte[]> items)
    {
        for (var i = items.Count - 1; i >= 0; i--)
            if (TargetOf(items[i]) is { } id) return (i, id);
        return (-1, null);
    }
}
