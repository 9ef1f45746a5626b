using CodexLb.Protocol.Items;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// A response's whole context, materialized: its items, its chain (the node's, known when the view is made) and its size
/// in bytes, so a turn can be matched against it, bounded and sent from it without touching the store again or walking
/// its items. No per-item fingerprints: a match is decided by chains, and a new node's chain extends its base's over the
/// new items only, so a view read back from the store parses none of its items.
/// </summary>
public sealed class ContextView(string? responseId, byte[][] items, ulong chain, bool synthetic, long bytes)
{
    public static readonly ContextView Empty = new(null, [], ContextChain.Empty, false, 0);

    public string? ResponseId { get; } = responseId;
    public byte[][] Items { get; } = items;

    /// <summary>A local warm-up answer: its context is real, but the provider never saw it, so it is no anchor.</summary>
    public bool Synthetic { get; } = synthetic;

    public int Count => Items.Length;
    /// <summary>The <see cref="ContextChain"/> of all the items.</summary>
    public ulong Chain { get; } = chain;

    /// <summary>The items' total length: each view adds its new items to its base's, so no turn sums a whole context.</summary>
    public long Bytes { get; } = bytes;

    public static long SizeOf(IEnumerable<byte[]> items)
    {
        long bytes = 0;
        foreach (var item in items) bytes += item.Length;
        return bytes;
    }
}
