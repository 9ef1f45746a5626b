using CodexLb.Protocol.Items;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// A response's whole context, materialized: its items, their fingerprints and its chain (the node's, known when the view
/// is made), so a turn can be matched against it and sent from it without touching the store again.
/// </summary>
public sealed class ContextView(string? responseId, byte[][] items, ulong[] fingerprints, ulong chain, bool synthetic)
{
    public static readonly ContextView Empty = new(null, [], [], ContextChain.Empty, false);

    public string? ResponseId { get; } = responseId;
    public byte[][] Items { get; } = items;
    public ulong[] Fingerprints { get; } = fingerprints;

    /// <summary>A local warm-up answer: its context is real, but the provider never saw it, so it is no anchor.</summary>
    public bool Synthetic { get; } = synthetic;

    public int Count => Items.Length;
    /// <summary>The <see cref="ContextChain"/> of all the items.</summary>
    public ulong Chain { get; } = chain;
}
