using System.Buffers;
using CodexLb.Grains.Abstractions;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// A finished turn's events, kept for a client's retry or a gateway's re-dispatch (exactly-once replay), in one block and one
/// entry array rented from the shared pools instead of an array and an event object per event. Every busy conversation's
/// last turn is young when a gen0 collection runs, and its frames were most of what the collector moved. A reader gets
/// copies (a retry is rare); <see cref="Release"/> gives the block back once the conversation forgets the turn.
/// </summary>
internal sealed class KeptEvents
{
    private byte[]? _block;
    private Entry[]? _entries;

    public KeptEvents(List<TurnEvent> events)
    {
        var total = 0;
        foreach (var turnEvent in events) total += turnEvent.Data.Length;
        _block = ArrayPool<byte>.Shared.Rent(total);
        _entries = ArrayPool<Entry>.Shared.Rent(events.Count);
        Count = events.Count;
        var at = 0;
        for (var i = 0; i < events.Count; i++)
        {
            var turnEvent = events[i];
            turnEvent.Data.CopyTo(_block, at);
            _entries[i] = new Entry(turnEvent.Type, at, turnEvent.Data.Length, turnEvent.Rejection, turnEvent.Completion, turnEvent.CreatedId);
            at += turnEvent.Data.Length;
        }
    }

    public int Count { get; private set; }

    /// <summary>False once released: nothing is left to read.</summary>
    public bool Held => _block is not null;

    public string TypeAt(int index) => Entries[index].Type;

    public bool IsRejectionAt(int index) => Entries[index].Rejection is not null;

    /// <summary>The event at <paramref name="index"/>, with its own copy of the bytes.</summary>
    public TurnEvent this[int index]
    {
        get
        {
            var entry = Entries[index];
            return new TurnEvent(entry.Type, _block.AsSpan(entry.Start, entry.Length).ToArray())
            {
                Rejection = entry.Rejection, Completion = entry.Completion, CreatedId = entry.CreatedId,
            };
        }
    }

    /// <summary>Gives the block back to the pool; nothing reads it afterwards (<see cref="Held"/> is false).</summary>
    public void Release()
    {
        if (_block is null) return;
        ArrayPool<byte>.Shared.Return(_block);
        ArrayPool<Entry>.Shared.Return(_entries!, clearArray: true); // the entries name objects the collector may free
        (_block, _entries, Count) = (null, null, 0);
    }

    private Entry[] Entries => _entries ?? throw new ObjectDisposedException(nameof(KeptEvents));

    private readonly record struct Entry(string Type, int Start, int Length, TurnRejection? Rejection, TurnCompletion? Completion, string? CreatedId);
}
