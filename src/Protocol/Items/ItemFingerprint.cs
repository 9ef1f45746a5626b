using System.IO.Hashing;
using System.Numerics;
using System.Text.Json;

namespace CodexLb.Protocol.Items;

/// <summary>
/// A semantic fingerprint of one conversation item. A client echoes the model's output items back as input, but not
/// byte for byte (property order, <c>status</c>, empty <c>annotations</c> and ids can differ), so the fingerprint hashes
/// the item's meaning: object properties are combined order-independently, nulls count as absent, and fields that
/// carry bookkeeping rather than content are ignored. Two shorthands SDKs use when they echo history are read as the
/// item the provider returned: a message without <c>"type"</c> (<c>{"role":…}</c>), and a string <c>content</c> (one
/// <c>input_text</c> part, <c>output_text</c> for the assistant). Every reasoning item has the fingerprint
/// <see cref="Reasoning"/>: clients drop or re-encode reasoning when they echo it, so it never decides a match; so has an
/// <c>item_reference</c> to one (an <c>rs_</c> id). Any other <c>item_reference</c> is its id (the one place an id counts):
/// two references match only when they name the same item, and the grain reads one as the item it names.
/// </summary>
public static class ItemFingerprint
{
    private const ulong ObjectSeed = 0x9E3779B97F4A7C15, ArraySeed = 0xC2B2AE3D27D4EB4F, StringTag = 1, NumberTag = 2;

    /// <summary>The fingerprint of every reasoning item.</summary>
    public const ulong Reasoning = 0x5EA5_0000_0000_0001;

    public static ulong Compute(ReadOnlySpan<byte> itemJson)
    {
        var reader = new Utf8JsonReader(itemJson, JsonLimits.Reader);
        if (!reader.Read()) throw new JsonException("Empty item.");
        return reader.TokenType == JsonTokenType.StartObject ? HashItem(ref reader) : HashValue(ref reader);
    }

    private static readonly ulong TypeName = Name("type"u8), ContentName = Name("content"u8), TextName = Name("text"u8),
        MessageType = Value("message"u8), InputTextPart = Part("input_text"u8), OutputTextPart = Part("output_text"u8);

    /// <summary>A top-level item: <see cref="HashValue"/> of an object, with the SDK shorthands read as the full form.</summary>
    private static ulong HashItem(ref Utf8JsonReader reader)
    {
        ulong sum = ObjectSeed;
        bool typed = false, assistant = false, roled = false, reference = false, reasoningId = false;
        ulong? contentText = null, id = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = HashString(ref reader, 0);
            var ignored = !reader.ValueIsEscaped && IsIgnored(reader.ValueSpan);
            reader.Read();
            if (name == IdName && reader.TokenType == JsonTokenType.String)
            {
                reasoningId = reader.ValueSpan.StartsWith("rs_"u8);
                id = HashString(ref reader, StringTag);
            }
            if (ignored || reader.TokenType == JsonTokenType.Null) { reader.Skip(); continue; }
            if (name == TypeName && reader.TokenType == JsonTokenType.String)
            {
                typed = true;
                if (reader.ValueTextEquals("reasoning"u8)) return Reasoning;
                reference = reader.ValueTextEquals("item_reference"u8);
            }
            else if (name == RoleName && reader.TokenType == JsonTokenType.String)
            {
                roled = true;
                assistant = reader.ValueTextEquals("assistant"u8);
            }
            else if (name == ContentName && reader.TokenType == JsonTokenType.String)
            {
                contentText = HashString(ref reader, StringTag);
                continue;
            }
            sum += Mix(name, HashValue(ref reader));
        }
        // A reference to a reasoning item (the Vercel AI SDK echoes reasoning as {"type":"item_reference","id":"rs_…"}) is
        // reasoning as far as a match goes; the grain puts the item back from its own copy.
        if (reference && reasoningId) return Reasoning;
        if (reference && id is { } target) sum += Mix(IdName, target);
        if (!typed && roled) sum += Mix(TypeName, MessageType);
        if (contentText is { } text)
        {
            // "content":"…" is the one-part array [{"type":"input_text"|"output_text","text":"…"}].
            var part = Mix((assistant ? OutputTextPart : InputTextPart) + Mix(TextName, text), ObjectSeed);
            sum += Mix(ContentName, Mix(ArraySeed, part));
        }
        return Mix(sum, ObjectSeed);
    }

    private static readonly ulong RoleName = Name("role"u8), IdName = Name("id"u8);
    private static ulong Name(ReadOnlySpan<byte> utf8) => XxHash3.HashToUInt64(utf8, 0);
    private static ulong Value(ReadOnlySpan<byte> utf8) => XxHash3.HashToUInt64(utf8, (long)StringTag);

    /// <summary>The object-sum of <c>{"type":partType}</c> before the text is added.</summary>
    private static ulong Part(ReadOnlySpan<byte> partType) => ObjectSeed + Mix(Name("type"u8), Value(partType));

    public static ulong[] ComputeAll(IReadOnlyList<byte[]> items)
    {
        var result = new ulong[items.Count];
        for (var i = 0; i < result.Length; i++) result[i] = Compute(items[i]);
        return result;
    }

    /// <summary>One fingerprint for a sequence of items, in order (the items' own, so it shares their blind spots).</summary>
    public static ulong OfSequence(IReadOnlyList<byte[]> items) =>
        XxHash3.HashToUInt64(System.Runtime.InteropServices.MemoryMarshal.AsBytes(ComputeAll(items).AsSpan()), items.Count);

    private static bool IsIgnored(ReadOnlySpan<byte> name) =>
        name.SequenceEqual("status"u8) || name.SequenceEqual("id"u8) || name.SequenceEqual("annotations"u8) || name.SequenceEqual("logprobs"u8);

    private static ulong HashValue(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                ulong sum = ObjectSeed;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var name = HashString(ref reader, 0);
                    var ignored = !reader.ValueIsEscaped && IsIgnored(reader.ValueSpan);
                    reader.Read();
                    if (ignored || reader.TokenType == JsonTokenType.Null) { reader.Skip(); continue; }
                    sum += Mix(name, HashValue(ref reader)); // commutative: property order does not matter
                }
                return Mix(sum, ObjectSeed);
            case JsonTokenType.StartArray:
                ulong h = ArraySeed;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) h = Mix(h, HashValue(ref reader));
                return h;
            case JsonTokenType.String:
                return HashString(ref reader, StringTag);
            case JsonTokenType.Number:
                return XxHash3.HashToUInt64(reader.ValueSpan, (long)NumberTag);
            case JsonTokenType.True: return 0xA5A5_0001;
            case JsonTokenType.False: return 0xA5A5_0002;
            default: return 0;
        }
    }

    private static ulong HashString(ref Utf8JsonReader reader, ulong tag)
    {
        if (!reader.ValueIsEscaped) return XxHash3.HashToUInt64(reader.ValueSpan, (long)tag);
        var length = reader.HasValueSequence ? (int)reader.ValueSequence.Length : reader.ValueSpan.Length;
        var rented = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var written = reader.CopyString(rented);
            return XxHash3.HashToUInt64(rented.AsSpan(0, written), (long)tag);
        }
        catch (InvalidOperationException)
        {
            // A lone surrogate escape cannot be unescaped. The gateway's parser refuses such a request (400) before it
            // gets here; any other caller gets a fingerprint of the raw text instead of an exception.
            return XxHash3.HashToUInt64(reader.HasValueSequence ? System.Buffers.BuffersExtensions.ToArray(reader.ValueSequence) : reader.ValueSpan, (long)tag);
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(rented); }
    }

    private static ulong Mix(ulong a, ulong b) => BitOperations.RotateLeft((a ^ b) * 0xFF51AFD7ED558CCD, 29) ^ (b * 0xC4CEB9FE1A85EC53);
}
