using CodexLb.Protocol.Items;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// A response's whole context, materialized: its items, its chain (the node's, known when the view is made) and its size
/// in bytes, so a turn can be matched against it, bounded and sent from it without touching the store again or walking
/// its items. No per-item fingerprints: a match is decided by chains, and a new node's chain extends its base's over the
/// new items only, so a view read back from the store parses none of its items.
/// </summary>
/// <remarks>
/// A view and the views that extend it share one growing buffer (<see cref="Extend"/>): a turn costs its new items, not a
/// copy of the whole conversation (a Codex session reaches thousands of items, and that copy was most of a turn's
/// allocations and of what each GC had to move). A view only ever reads its own <c>[0, Count)</c>; the slots past it
/// belong to the one descendant that extended it at the end, and a fork copies.
/// </remarks>
public sealed class ContextView
{
    public static readonly ContextView Empty = new(null, [], 0, new Tail(0), ContextChain.Empty, false, 0);

    private readonly byte[][] _buffer;
    private readonly Tail _tail;

    private ContextView(string? responseId, byte[][] buffer, int count, Tail tail, ulong chain, bool synthetic, long bytes)
    {
        (ResponseId, _buffer, Count, _tail, Chain, Synthetic, Bytes) = (responseId, buffer, count, tail, chain, synthetic, bytes);
    }

    /// <summary>A view of <paramref name="items"/> (taken over, not copied).</summary>
    public ContextView(string? responseId, byte[][] items, ulong chain, bool synthetic, long bytes)
        : this(responseId, items, items.Length, new Tail(items.Length), chain, synthetic, bytes)
    {
    }

    public string? ResponseId { get; }

    public ReadOnlyMemory<byte[]> Items => new(_buffer, 0, Count);

    /// <summary>A local warm-up answer: its context is real, but the provider never saw it, so it is no anchor.</summary>
    public bool Synthetic { get; }

    public int Count { get; }

    /// <summary>The <see cref="ContextChain"/> of all the items.</summary>
    public ulong Chain { get; }

    /// <summary>The items' total length: each view adds its new items to its base's, so no turn sums a whole context.</summary>
    public long Bytes { get; }

    /// <summary>
    /// The view of <paramref name="responseId"/>, whose context is this one's items and then <paramref name="added"/>:
    /// written in place when this view ends the shared buffer and it has room, otherwise into a buffer twice the size.
    /// </summary>
    public ContextView Extend(string responseId, IReadOnlyList<byte[]> added, ulong chain, bool synthetic, long bytes)
    {
        var count = Count + added.Count;
        // Only the grain's own turn extends its views (one at a time), so the claim on the tail needs no lock.
        if (_tail.Used == Count && count <= _buffer.Length)
        {
            for (var i = 0; i < added.Count; i++) _buffer[Count + i] = added[i];
            _tail.Used = count;
            return new ContextView(responseId, _buffer, count, _tail, chain, synthetic, bytes);
        }
        var buffer = new byte[Math.Max(16, 2 * count)][];
        Array.Copy(_buffer, buffer, Count);
        for (var i = 0; i < added.Count; i++) buffer[Count + i] = added[i];
        return new ContextView(responseId, buffer, count, new Tail(count), chain, synthetic, bytes);
    }

    public static long SizeOf(IEnumerable<byte[]> items)
    {
        long bytes = 0;
        foreach (var item in items) bytes += item.Length;
        return bytes;
    }

    /// <summary>How far a shared buffer is written: the view whose count it is may append in place.</summary>
    private sealed class Tail(int used)
    {
        public int Used { get; set; } = used;
    }
}
