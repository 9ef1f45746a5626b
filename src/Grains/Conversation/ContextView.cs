using CodexLb.Protocol.Items;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// A response's whole context, materialized: its items, their fingerprints and the chain of every prefix, so a turn can
/// be matched against it and sent from it without touching the store again.
/// </summary>
public sealed class ContextView(string? responseId, byte[][] items, ulong[] fingerprints, bool synthetic)
{
    public static readonly ContextView Empty = new(null, [], [], false);

    public string? ResponseId { get; } = responseId;
    public byte[][] Items { get; } = items;
    public ulong[] Fingerprints { get; } = fingerprints;

    /// <summary>Element k-1 is the chain of the first k items.</summary>
    public ulong[] Chains { get; } = ContextChain.Prefixes(fingerprints);

    /// <summary>A local warm-up answer: its context is real, but the provider never saw it, so it is no anchor.</summary>
    public bool Synthetic { get; } = synthetic;

    public int Count => Items.Length;
    public ulong Chain => Count == 0 ? ContextChain.Empty : Chains[^1];
}
