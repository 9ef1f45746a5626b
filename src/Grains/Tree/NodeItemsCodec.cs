using System.Buffers.Binary;

namespace CodexLb.Grains.Tree;

/// <summary>
/// A node's items as one binary-safe blob (each item: 4-byte little-endian length, then its bytes), so a node is a single
/// Redis hash field whatever the items contain (and the items part of a <see cref="NodeBlob"/>).
/// </summary>
public static class NodeItemsCodec
{
    public static byte[] Encode(IReadOnlyList<byte[]> items)
    {
        var blob = new byte[EncodedLength(items)];
        Write(items, blob);
        return blob;
    }

    public static int EncodedLength(IReadOnlyList<byte[]> items)
    {
        var length = 0L;
        foreach (var item in items) length += 4 + item.Length;
        return checked((int)length);
    }

    /// <summary>Writes the items into <paramref name="destination"/>, which is <see cref="EncodedLength"/> bytes at least.</summary>
    public static void Write(IReadOnlyList<byte[]> items, Span<byte> destination)
    {
        foreach (var item in items)
        {
            BinaryPrimitives.WriteInt32LittleEndian(destination, item.Length);
            item.CopyTo(destination[4..]);
            destination = destination[(4 + item.Length)..];
        }
    }

    public static List<byte[]> Decode(ReadOnlySpan<byte> blob)
    {
        var items = new List<byte[]>();
        while (!blob.IsEmpty)
        {
            // A truncated or corrupted blob fails loudly instead of yielding a wrong context.
            if (blob.Length < 4) throw new InvalidDataException("Truncated node item length.");
            var length = BinaryPrimitives.ReadInt32LittleEndian(blob);
            if (length < 0 || length > blob.Length - 4) throw new InvalidDataException("Node item length out of range.");
            items.Add(blob.Slice(4, length).ToArray());
            blob = blob[(4 + length)..];
        }

        return items;
    }
}
