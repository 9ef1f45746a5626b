using CodexLb.Protocol.Items;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// A response's whole context as a grain knows it: its count, its chain (the node's) and its size in bytes, so a turn can
/// be matched against it and bounded without touching the store; and its items only while a turn holds them (read from the
/// store). No per-item fingerprints: a match is decided by chains, and a new node's chain extends its base's over the new
/// items only, so a view read back from the store parses none of its items.
/// </summary>
/// <remarks>
/// A grain remembers views without their items (<see cref="WithoutItems"/>): the store keeps every context, and a live
/// conversation that also held its items kept each turn's items alive for as long as it ran, for every collection to move
/// (the GC pauses were most of the added p99 at 64 concurrent turns). A delta send needs none of the base's items; a full
/// send (a new socket, a provider that forgot the anchor, an account move) reads them back once.
/// </remarks>
public sealed class ContextView(string? responseId, int count, ulong chain, bool synthetic, long bytes, byte[][]? items = null)
{
    public static readonly ContextView Empty = new(null, 0, ContextChain.Empty, false, 0, []);

    /// <summary>A view holding <paramref name="items"/> (taken over, not copied).</summary>
    public ContextView(string? responseId, byte[][] items, ulong chain, bool synthetic, long bytes)
        : this(responseId, items.Length, chain, synthetic, bytes, items)
    {
    }

    public string? ResponseId { get; } = responseId;

    /// <summary>A local warm-up answer: its context is real, but the provider never saw it, so it is no anchor.</summary>
    public bool Synthetic { get; } = synthetic;

    public int Count { get; } = count;

    /// <summary>The <see cref="ContextChain"/> of all the items.</summary>
    public ulong Chain { get; } = chain;

    /// <summary>The items' total length: each view adds its new items to its base's, so no turn sums a whole context.</summary>
    public long Bytes { get; } = bytes;

    /// <summary>Whether this view holds its items (an empty context always does).</summary>
    public bool HasItems => items is not null;

    /// <summary>The context's items; only on a view that holds them (<see cref="HasItems"/>).</summary>
    public ReadOnlyMemory<byte[]> Items => items ?? throw new InvalidOperationException($"The view of {ResponseId} does not hold its items; read them from the store.");

    /// <summary>The same view without its items: what a grain keeps between turns.</summary>
    public ContextView WithoutItems() => items is null || Count == 0 ? this : new(ResponseId, Count, Chain, Synthetic, Bytes);

    /// <summary>The view of <paramref name="responseId"/>, whose context is this one's and then <paramref name="addedCount"/> items; without items.</summary>
    public ContextView Extend(string responseId, int addedCount, ulong chain, bool synthetic, long bytes) =>
        new(responseId, Count + addedCount, chain, synthetic, bytes);

    public static long SizeOf(IEnumerable<byte[]> items)
    {
        long bytes = 0;
        foreach (var item in items) bytes += item.Length;
        return bytes;
    }
}
