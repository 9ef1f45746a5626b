using System.Buffers;
using System.Diagnostics;
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
        var anchor = Anchor(previousResponseId);
        var frame = new byte[Size(settings, anchor, items, store)];
        Write(frame, settings, anchor, items, store);
        return frame;
    }

    /// <summary>
    /// The frame in memory rented from the shared pool, returned when the result is disposed (once it was sent): a full
    /// send of a long context is no large-object array per turn.
    /// </summary>
    public static RentedFrame Rent(ReadOnlySpan<byte> settings, string? previousResponseId, IReadOnlyList<byte[]> items, bool? store = false)
    {
        var anchor = Anchor(previousResponseId);
        var size = Size(settings, anchor, items, store);
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        Write(buffer.AsSpan(0, size), settings, anchor, items, store);
        return new RentedFrame(buffer, size);
    }

    private static JsonEncodedText? Anchor(string? previousResponseId) => previousResponseId is null ? null : JsonEncodedText.Encode(previousResponseId);

    private static int Size(ReadOnlySpan<byte> settings, JsonEncodedText? anchor, IReadOnlyList<byte[]> items, bool? store)
    {
        var size = Head.Length + (settings.IsEmpty ? 0 : settings.Length + 1) + StoreField(store).Length
                   + (anchor is { } a ? AnchorName.Length + a.EncodedUtf8Bytes.Length + 3 : 0)
                   + InputOpen.Length + End.Length;
        for (var i = 0; i < items.Count; i++) size += items[i].Length + (i > 0 ? 1 : 0);
        return size;
    }

    private static void Write(Span<byte> rest, ReadOnlySpan<byte> settings, JsonEncodedText? anchor, IReadOnlyList<byte[]> items, bool? store)
    {
        Put(ref rest, Head);
        if (!settings.IsEmpty)
        {
            Put(ref rest, settings);
            Put(ref rest, ","u8);
        }
        Put(ref rest, StoreField(store));
        if (anchor is { } a)
        {
            Put(ref rest, AnchorName);
            Put(ref rest, "\""u8);
            Put(ref rest, a.EncodedUtf8Bytes);
            Put(ref rest, "\","u8);
        }
        Put(ref rest, InputOpen);
        for (var i = 0; i < items.Count; i++)
        {
            if (i > 0) Put(ref rest, ","u8);
            Put(ref rest, items[i]);
        }
        Put(ref rest, End);
        Debug.Assert(rest.IsEmpty, "the frame is sized exactly");
    }

    private static ReadOnlySpan<byte> StoreField(bool? store) => store switch { true => "\"store\":true,"u8, false => "\"store\":false,"u8, null => default };

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

/// <summary>A <see cref="ResponseCreateFrame"/> in a rented buffer; disposing it returns the buffer (once: use it with <c>using</c>).</summary>
public readonly struct RentedFrame(byte[] buffer, int length) : IDisposable
{
    public ReadOnlyMemory<byte> Memory => buffer.AsMemory(0, length);

    public int Length => length;

    public void Dispose() => ArrayPool<byte>.Shared.Return(buffer);
}
