using CodexLb.Protocol.Events;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Items;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// The conversation's items and the rules that relate a client's turn to them: a full-history client's input must
/// extend the items (checked by fingerprint), a delta client's anchor must be one of our recent responses.
/// </summary>
public sealed class ConversationContext
{
    private readonly ConversationState state;
    private readonly List<byte[]> items;

    /// <summary>
    /// Binds the persisted chain state to the stored items. Fingerprints are derived from the items; items past the
    /// last committed count (a save that outran its state write) are dropped, and a store that lost items resets the chain.
    /// </summary>
    public ConversationContext(ConversationState state, List<byte[]> storedItems)
    {
        this.state = state;
        items = storedItems;
        if (items.Count > state.ItemCount) items.RemoveRange(state.ItemCount, items.Count - state.ItemCount);
        if (items.Count < state.ItemCount)
        {
            items.Clear();
            state.ItemCount = 0;
            state.Anchors.Clear();
            state.LastResponseId = null;
        }
        fingerprints = [.. ItemFingerprint.ComputeAll(items)];
    }

    private List<ulong> fingerprints;

    public const int MaxAnchors = 64;

    public IReadOnlyList<byte[]> Items => items;

    /// <summary>Plans a turn, or returns null when the request's anchor is unknown to this conversation.</summary>
    public TurnPlan? Plan(TurnRequest request)
    {
        int baseCount;
        if (request.PreviousResponseId is { } previous)
        {
            var anchor = state.Anchors.FindLast(a => a.ResponseId == previous);
            if (anchor is null || anchor.ItemCount > items.Count) return null;
            baseCount = anchor.ItemCount;
            return Combine(baseCount, request.InputItems, request.InputFingerprints, 0, previous);
        }

        // A full-history client: find the longest known context its input starts with.
        var input = request.InputFingerprints;
        if (StartsWith(input, items.Count))
            return Combine(items.Count, request.InputItems, input, items.Count, state.LastResponseId);
        for (var i = state.Anchors.Count - 1; i >= 0; i--)
        {
            var candidate = state.Anchors[i];
            if (candidate.ItemCount <= items.Count && StartsWith(input, candidate.ItemCount))
                return Combine(candidate.ItemCount, request.InputItems, input, candidate.ItemCount, candidate.ResponseId);
        }
        return Combine(0, request.InputItems, input, 0, null);
    }

    private bool StartsWith(ulong[] input, int count)
    {
        if (count == 0 || input.Length < count) return false;
        return input.AsSpan(0, count).SequenceEqual(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(fingerprints)[..count]);
    }

    private TurnPlan Combine(int baseCount, byte[][] newItems, ulong[] newFingerprints, int skip, string? anchor)
    {
        var all = new List<byte[]>(baseCount + newItems.Length - skip);
        var prints = new List<ulong>(all.Capacity);
        for (var i = 0; i < baseCount; i++) { all.Add(items[i]); prints.Add(fingerprints[i]); }
        for (var i = skip; i < newItems.Length; i++) { all.Add(newItems[i]); prints.Add(newFingerprints[i]); }
        return new TurnPlan(all, prints, baseCount, baseCount == 0 ? null : anchor);
    }

    /// <summary>
    /// Makes a completed turn the conversation's latest state: its items plus the response's output items. A compaction
    /// item replaces what it compacts: the context then starts at the compaction item, so a rebuild after a loss sends the
    /// compacted form. Returns how many items of the previous context were kept as a prefix (what a store may keep).
    /// </summary>
    public int Commit(TurnPlan plan, IReadOnlyList<byte[]> outputs, IReadOnlyList<ulong> outputFingerprints, string responseId)
    {
        items.Clear();
        items.AddRange(plan.Items);
        items.AddRange(outputs);
        fingerprints = [.. plan.Fingerprints, .. outputFingerprints];
        var kept = plan.BaseCount;
        state.Anchors.RemoveAll(a => a.ItemCount > plan.BaseCount); // they stood for items this turn replaced
        var compaction = LastCompaction(outputs);
        if (compaction >= 0)
        {
            var drop = plan.Items.Count + compaction;
            items.RemoveRange(0, drop);
            fingerprints.RemoveRange(0, drop);
            state.Anchors.Clear(); // every earlier anchor stood for the uncompacted history
            kept = 0;
        }
        state.ItemCount = items.Count;
        state.LastResponseId = responseId;
        state.Anchors.Add(new AnchorPoint(responseId, items.Count));
        if (state.Anchors.Count > MaxAnchors) state.Anchors.RemoveRange(0, state.Anchors.Count - MaxAnchors);
        state.Turns++;
        return kept;
    }

    private static int LastCompaction(IReadOnlyList<byte[]> outputs)
    {
        for (var i = outputs.Count - 1; i >= 0; i--)
            if (EventReader.ReadType(outputs[i]) == "compaction") return i;
        return -1;
    }
}
