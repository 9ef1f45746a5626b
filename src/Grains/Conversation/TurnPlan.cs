namespace CodexLb.Grains.Conversation;

/// <summary>
/// What one turn sends: the context of its base response (<see cref="BaseCount"/> items) followed by the turn's new
/// items. The base is the longest response this tenant holds whose context the request starts with (by its anchor or by
/// content), so only what is new goes upstream whenever the socket still holds that base.
/// </summary>
public sealed record TurnPlan(IReadOnlyList<byte[]> Items, IReadOnlyList<ulong> Fingerprints, ContextView Base, long Bytes)
{
    public int BaseCount => Base.Count;
    public int NewCount => Items.Count - BaseCount;

    /// <summary>The provider-side anchor a delta send would use: the base, unless it is empty or a local warm-up.</summary>
    public string? AnchorResponseId => Base.Synthetic ? null : Base.ResponseId;
}
