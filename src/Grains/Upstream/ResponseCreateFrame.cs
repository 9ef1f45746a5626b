using System.Buffers;
using System.Text.Json;

namespace CodexLb.Grains.Upstream;

/// <summary>
/// Builds the upstream <c>response.create</c> frame by concatenating the client's raw settings and items:
/// the request body minus stream/background/store, plus <c>type</c>, the <c>store</c> the bridge decided and its anchor.
/// The provider runs every turn in the foreground on the socket (the bridge implements <c>background</c> itself).
/// </summary>
public static class ResponseCreateFrame
{
    public static byte[] Build(ReadOnlySpan<byte> settings, string? previousResponseId, IReadOnlyList<byte[]> items, int firstItem, bool? store = false)
    {
        var size = 64 + settings.Length + (previousResponseId?.Length ?? 0);
        for (var i = firstItem; i < items.Count; i++) size += items[i].Length + 1;
        var buffer = new ArrayBufferWriter<byte>(size);
        buffer.Write("{\"type\":\"response.create\","u8);
        if (!settings.IsEmpty)
        {
            buffer.Write(settings);
            buffer.Write(","u8);
        }
        if (store is { } stored) buffer.Write(stored ? "\"store\":true,"u8 : "\"store\":false,"u8);
        if (previousResponseId is not null)
        {
            buffer.Write("\"previous_response_id\":"u8);
            using (var writer = new Utf8JsonWriter(buffer)) writer.WriteStringValue(previousResponseId);
            buffer.Write(","u8);
        }
        buffer.Write("\"input\":["u8);
        for (var i = firstItem; i < items.Count; i++)
        {
            if (i > firstItem) buffer.Write(","u8);
            buffer.Write(items[i]);
        }
        buffer.Write("]}"u8);
        return buffer.WrittenSpan.ToArray();
    }
}
