using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using System.Text.Unicode;

namespace CodexLb.Grains.Tree;

/// <summary>
/// A <see cref="ResponseNode"/> as one run of bytes, the way <see cref="MemoryResponseTreeStore"/> holds it (in native
/// memory) instead of a record, lists, arrays and strings. Little-endian; a text is a 4-byte length and its
/// UTF-8 bytes:
/// <code>
/// chain u64 | item count i32 | output count i32 | flags u8 (1 synthetic, 2 parent, 4 response, 8 output ids)
/// id | conversation key | [parent id] | [output id count i32, then each id] | [response: i32 length, bytes]
/// items (NodeItemsCodec) up to the end
/// </code>
/// An empty parent id is no parent (as in the Redis store). <see cref="Read"/> slices the fields without decoding them,
/// for lookups that need only a node's header.
/// </summary>
internal static class NodeBlob
{
    [Flags]
    private enum Flags : byte { Synthetic = 1, Parent = 2, Response = 4, OutputIds = 8 }

    private const int FixedLength = 8 + 4 + 4 + 1;

    /// <summary>How many bytes <see cref="Write"/> writes for the node.</summary>
    public static int EncodedLength(ResponseNode node)
    {
        var length = (long)FixedLength + TextLength(node.Id) + TextLength(node.ConversationKey) + NodeItemsCodec.EncodedLength(node.Added);
        if (!string.IsNullOrEmpty(node.ParentId)) length += TextLength(node.ParentId);
        if (node.OutputIds is { } outputIds)
        {
            length += 4;
            foreach (var id in outputIds) length += TextLength(id);
        }
        if (node.Response is { } response) length += 4 + response.Length;
        return checked((int)length);
    }

    /// <summary>Writes the node into exactly <see cref="EncodedLength"/> bytes (wherever they live: the memory store's are native).</summary>
    public static void Write(ResponseNode node, Span<byte> blob)
    {
        var parent = string.IsNullOrEmpty(node.ParentId) ? null : node.ParentId;
        var flags = (node.Synthetic ? Flags.Synthetic : 0) | (parent is null ? 0 : Flags.Parent)
            | (node.Response is null ? 0 : Flags.Response) | (node.OutputIds is null ? 0 : Flags.OutputIds);

        var rest = blob;
        BinaryPrimitives.WriteUInt64LittleEndian(rest, node.Chain);
        BinaryPrimitives.WriteInt32LittleEndian(rest[8..], node.ItemCount);
        BinaryPrimitives.WriteInt32LittleEndian(rest[12..], node.OutputCount);
        rest[16] = (byte)flags;
        rest = WriteText(rest[FixedLength..], node.Id);
        rest = WriteText(rest, node.ConversationKey);
        if (parent is not null) rest = WriteText(rest, parent);
        if (node.OutputIds is { } ids)
        {
            BinaryPrimitives.WriteInt32LittleEndian(rest, ids.Count);
            rest = rest[4..];
            foreach (var id in ids) rest = WriteText(rest, id);
        }
        if (node.Response is { } envelope)
        {
            BinaryPrimitives.WriteInt32LittleEndian(rest, envelope.Length);
            envelope.CopyTo(rest[4..]);
            rest = rest[(4 + envelope.Length)..];
        }
        Debug.Assert(rest.Length == NodeItemsCodec.EncodedLength(node.Added), "the bytes are uninitialized: every one must be written");
        NodeItemsCodec.Write(node.Added, rest);
    }

    /// <summary>The whole node, in new objects.</summary>
    public static ResponseNode Decode(ReadOnlySpan<byte> blob)
    {
        var node = Read(blob);
        return new ResponseNode(
            Id: Text(node.Id),
            ParentId: node.HasParent ? Text(node.ParentId) : null,
            ConversationKey: Text(node.ConversationKey),
            ItemCount: node.ItemCount,
            Chain: node.Chain,
            Added: NodeItemsCodec.Decode(node.Items),
            Synthetic: node.Synthetic,
            Response: node.HasResponse ? node.Response.ToArray() : null,
            OutputCount: node.OutputCount,
            OutputIds: node.OutputIds.Decode());
    }

    /// <summary>The node's fields as slices of the blob: nothing is copied or decoded.</summary>
    public static Fields Read(ReadOnlySpan<byte> blob) => new(blob);

    public static string Text(ReadOnlySpan<byte> utf8) => Encoding.UTF8.GetString(utf8);

    /// <summary>Whether UTF-8 bytes are the encoding of <paramref name="text"/>, without allocating either.</summary>
    public static bool TextEquals(ReadOnlySpan<byte> utf8, ReadOnlySpan<char> text)
    {
        if (utf8.Length < text.Length || utf8.Length > 3 * text.Length) return false; // a UTF-16 char is 1 to 3 UTF-8 bytes
        Span<byte> chunk = stackalloc byte[256];
        while (!text.IsEmpty)
        {
            Utf8.FromUtf16(text, chunk, out var read, out var written);
            if (!utf8.StartsWith(chunk[..written])) return false;
            utf8 = utf8[written..];
            text = text[read..];
        }

        return utf8.IsEmpty;
    }

    private static int TextLength(string text) => 4 + Encoding.UTF8.GetByteCount(text);

    private static Span<byte> WriteText(Span<byte> destination, string text)
    {
        var written = Encoding.UTF8.GetBytes(text, destination[4..]);
        BinaryPrimitives.WriteInt32LittleEndian(destination, written);
        return destination[(4 + written)..];
    }

    private static ReadOnlySpan<byte> ReadLengthPrefixed(scoped ref ReadOnlySpan<byte> rest)
    {
        var length = BinaryPrimitives.ReadInt32LittleEndian(rest);
        var text = rest.Slice(4, length);
        rest = rest[(4 + length)..];
        return text;
    }

    /// <summary>A node's fields, sliced out of its blob.</summary>
    public readonly ref struct Fields
    {
        public Fields(ReadOnlySpan<byte> blob)
        {
            Chain = BinaryPrimitives.ReadUInt64LittleEndian(blob);
            ItemCount = BinaryPrimitives.ReadInt32LittleEndian(blob[8..]);
            OutputCount = BinaryPrimitives.ReadInt32LittleEndian(blob[12..]);
            var flags = (Flags)blob[16];
            var rest = blob[FixedLength..];
            Synthetic = flags.HasFlag(Flags.Synthetic);
            Id = ReadLengthPrefixed(ref rest);
            ConversationKey = ReadLengthPrefixed(ref rest);
            HasParent = flags.HasFlag(Flags.Parent);
            if (HasParent) ParentId = ReadLengthPrefixed(ref rest);
            OutputIds = new TextList(ref rest, flags.HasFlag(Flags.OutputIds));
            HasResponse = flags.HasFlag(Flags.Response);
            if (HasResponse) Response = ReadLengthPrefixed(ref rest);
            Items = rest;
        }

        public ulong Chain { get; }
        public int ItemCount { get; }
        public int OutputCount { get; }
        public bool Synthetic { get; }
        public ReadOnlySpan<byte> Id { get; }
        public ReadOnlySpan<byte> ConversationKey { get; }
        public bool HasParent { get; }
        public ReadOnlySpan<byte> ParentId { get; }
        public TextList OutputIds { get; }
        public bool HasResponse { get; }
        public ReadOnlySpan<byte> Response { get; }

        /// <summary>The items, encoded as <see cref="NodeItemsCodec"/> does.</summary>
        public ReadOnlySpan<byte> Items { get; }

        /// <summary>The tenant part of the conversation key (what <c>ConversationKey.TenantSpanOf</c> gives, in UTF-8).</summary>
        public ReadOnlySpan<byte> Tenant => ConversationKey.IndexOf((byte)'/') is var slash and >= 0 ? ConversationKey[..slash] : ConversationKey;

        /// <summary>Whether this is the node a tenant's id names (a key's hash matching is not enough).</summary>
        public bool Is(ReadOnlySpan<char> tenant, ReadOnlySpan<char> id) => TextEquals(Id, id) && InTenant(tenant);

        public bool InTenant(ReadOnlySpan<char> tenant) => TextEquals(Tenant, tenant);
    }

    /// <summary>Length-prefixed UTF-8 texts after their count, or none at all (null, not empty, when decoded).</summary>
    public readonly ref struct TextList
    {
        private readonly ReadOnlySpan<byte> _texts;

        public TextList(scoped ref ReadOnlySpan<byte> rest, bool present)
        {
            if (!present) return;
            Present = true;
            Count = BinaryPrimitives.ReadInt32LittleEndian(rest);
            var start = rest = rest[4..];
            for (var i = 0; i < Count; i++) ReadLengthPrefixed(ref rest);
            _texts = start[..(start.Length - rest.Length)];
        }

        public bool Present { get; }
        public int Count { get; }

        public bool Contains(string text)
        {
            foreach (var utf8 in this)
                if (TextEquals(utf8, text)) return true;
            return false;
        }

        public List<string>? Decode()
        {
            if (!Present) return null;
            var texts = new List<string>(Count);
            foreach (var utf8 in this) texts.Add(Text(utf8));
            return texts;
        }

        public Enumerator GetEnumerator() => new(_texts);

        public ref struct Enumerator(ReadOnlySpan<byte> texts)
        {
            private ReadOnlySpan<byte> _rest = texts;

            public ReadOnlySpan<byte> Current { get; private set; }

            public bool MoveNext()
            {
                if (_rest.IsEmpty) return false;
                Current = ReadLengthPrefixed(ref _rest);
                return true;
            }
        }
    }
}
