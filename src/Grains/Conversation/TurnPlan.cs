namespace CodexLb.Grains.Conversation;

/// <summary>
/// What one turn sends: the context of its base response (<see cref="BaseCount"/> items) followed by the turn's new
/// items. The base is the longest response this tenant holds whose context the request starts with (by its anchor or by
/// content), so only what is new goes upstream whenever the socket still holds that base. The base's items are not
/// copied: <see cref="Items"/> reads through to them, once they are loaded (<see cref="ConversationTree.WithBaseItemsAsync"/>):
/// a delta send needs only <see cref="NewItems"/>.
/// </summary>
public sealed class TurnPlan(ContextView baseView, IReadOnlyList<byte[]> newItems, List<ulong> newFingerprints, long bytes)
{
    public ContextView Base { get; } = baseView;
    public IReadOnlyList<byte[]> NewItems { get; } = newItems;
    public List<ulong> NewFingerprints { get; } = newFingerprints;

    /// <summary>The whole context's size in bytes.</summary>
    public long Bytes { get; } = bytes;

    public int BaseCount => Base.Count;
    public int NewCount => NewItems.Count;

    /// <summary>The whole context: the base's items, then the new ones; only once the base holds its items.</summary>
    public IReadOnlyList<byte[]> Items => _items ??= new Concatenation(Base.Items, NewItems);

    private IReadOnlyList<byte[]>? _items;

    /// <summary>The provider-side anchor a delta send would use: the base, unless it is empty or a local warm-up.</summary>
    public string? AnchorResponseId => Base.Synthetic ? null : Base.ResponseId;

    private sealed class Concatenation(ReadOnlyMemory<byte[]> first, IReadOnlyList<byte[]> second) : IReadOnlyList<byte[]>
    {
        public int Count => first.Length + second.Count;

        public byte[] this[int index] => index < first.Length ? first.Span[index] : second[index - first.Length];

        public IEnumerator<byte[]> GetEnumerator()
        {
            for (var i = 0; i < first.Length; i++) yield return first.Span[i];
            foreach (var item in second) yield return item;
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
