using System.Text.Json;

namespace CodexLb.Grains.Upstream;

/// <summary>
/// Builds the upstream <c>response.create</c> frame by concatenating the client's raw settings and items:
/// the request body minus stream/background/store, plus <c>type</c>, the <c>store</c> the bridge decided and its anchor.
/// The provider runs every turn in the foreground on the socket (the bridge implements <c>background</c> itself).
/// </summary>
public static class ResponseCreateFrame
{
    /// <remarks>Sized exactly and written once: no growing buffer, no copy of the finished frame.</remarks>
    public static byte[] Build(ReadOnlySpan<byte> settings, string? previousResponseId, IReadOnlyList<byte[]> items, bool? store = false)
    {
        var anchor = previousResponseId is null ? default : JsonEncodedText.Encode(previousResponseId).EncodedUtf8Bytes;
        var storeField = store switch { true => "\"store\":true,"u8, false => "\"store\":false,"u8, null => default };
        var size = Head.Length + (settings.IsEmpty ? 0 : settings.Length + 1) + storeField.Length
                   + (previousResponseId is null ? 0 : AnchorName.Length + anchor.Length + 3) + InputOpen.Length + End.Length;
        for (var i = 0; i < items.Count; i++) size += items[i].Length + (i > 0 ? 1 : 0);

        var frame = new byte[size];
        var rest = frame.AsSpan();
        Put(ref rest, Head);
        if (!settings.IsEmpty)
        {
            Put(ref rest, settings);
            Put(ref rest, ","u8);
        }
        Put(ref rest, storeField);
        if (previousResponseId is not null)
        {
            Put(ref rest, AnchorName);
            Put(ref rest, "\""u8);
            Put(ref rest, anchor);
            Put(ref rest, "\","u8);
        }
        Put(ref rest, InputOpen);
        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0) Put(ref rest, ","u8);
            Put(ref rest, items[i]);
        }
        Put(ref rest, End);
        return frame;
    }

    private static ReadOnlySpan<byte> Head => "{\"type\":\"response.create\","u8;
    private static ReadOnlySpan<byte> AnchorName => "\"previous_response_id\":"u8;
    private static ReadOnlySpan<byte> InputOpen => "\"input\":["u8;
    private static ReadOnlySpan<byte> End => "]}"u8;

    /// <summary>Writes <paramref name="bytes"/> at the start of <paramref name="rest"/> and moves past them.</summary>
    private static void Put(ref Span<byte> rest, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(rest);
        rest = rest[bytes.Length..];
    }
}
