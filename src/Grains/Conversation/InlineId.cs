using System.Runtime.CompilerServices;
using System.Text;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// A response id held inside the struct that keeps it (ASCII, up to <see cref="MaxInline"/> characters), not as a string
/// object. A conversation's caches keep the ids of its recent responses for tens of turns: as strings, every busy
/// conversation's recent ids were alive at each gen0 collection, and a pause took twice as long moving them
/// (docs/BENCHMARKS.md). An id that does not fit (longer, or not ASCII) is kept as the string it is.
/// </summary>
internal readonly struct InlineId
{
    public const int MaxInline = 63; // with its length, 64 bytes: provider ids are ~53 characters ("resp_" and 48 hex digits)

    private readonly Chars _chars;
    private readonly byte _length;
    private readonly string? _string; // an id that does not fit inline

    private InlineId(Chars chars, byte length, string? value) => (_chars, _length, _string) = (chars, length, value);

    /// <summary>No id (a turn rejected before the provider named its response).</summary>
    public bool IsNone => _length == 0 && _string is null;

    public static InlineId Of(string? id)
    {
        if (id is null) return default;
        Chars chars = default;
        if (id.Length is 0 or > MaxInline || Ascii.FromUtf16(id, chars, out _) != System.Buffers.OperationStatus.Done)
            return new(default, 0, id);
        return new(chars, (byte)id.Length, null);
    }

    /// <summary>The same id as <paramref name="id"/>, compared without making a string.</summary>
    public bool Is(string? id) =>
        id is null ? IsNone
        : _string is not null ? _string == id
        : id.Length == _length && _length > 0 && Ascii.Equals(((ReadOnlySpan<byte>)_chars)[.._length], id);

    /// <summary>The id as a string (a new one for an inline id); null for <see cref="IsNone"/>.</summary>
    public string? Value => _string ?? (_length == 0 ? null : Encoding.ASCII.GetString(((ReadOnlySpan<byte>)_chars)[.._length]));

    [InlineArray(MaxInline)]
    private struct Chars
    {
        private byte _first;
    }
}
