using System.Buffers.Binary;

namespace CodexLb.Grains.Tree;

/// <summary>
/// A node's items as one binary-safe blob (each item: 4-byte little-endian length, then its bytes), so a node is a single
/// Redis hash field whatever the items contain.
/// </summary>
public static class NodeItemsCodec
{
    public static byte[] Encode(IReadOnlyList<byte[]> items)
    {
        var length = 0L;
        foreach (var item in items) length += 4 + item.Length;
        var blob = new byte[checked((int)length)];
        var offset = 0;
        foreach (var item in items)
        {
            BinaryPrimitives.WriteInt32LittleEndian(blob.AsSpan(offset), item.Length);
            item.CopyTo(blob, offset + 4);
            offset += 4 + item.Length;
        }

        return blob;
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
