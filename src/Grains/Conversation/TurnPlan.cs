namespace CodexLb.Grains.Conversation;

/// <summary>
/// What one turn sends: the conversation's items up to <see cref="BaseCount"/> followed by the turn's new items.
/// <see cref="AnchorResponseId"/> is the response whose context is exactly that base, when there is one, so the
/// turn can go upstream as a delta.
/// </summary>
public sealed record TurnPlan(IReadOnlyList<byte[]> Items, IReadOnlyList<ulong> Fingerprints, int BaseCount, string? AnchorResponseId)
{
    public int NewCount => Items.Count - BaseCount;
}
