using System.Collections.Concurrent;

namespace CodexLb.Gateway.Routing;

/// <summary>
/// Response id → conversation key for the ids this gateway saw issued or looked up: the newest <c>capacity</c> entries,
/// dropped oldest first. An id names one conversation forever, and a client continues an id once (its next turn), so
/// insertion order is the right eviction order and an entry never needs refreshing. (BitFaster's <c>ConcurrentLru</c>,
/// used before, keeps an entry that was not read yet only in its hot and cold queues, a fifth of its capacity: an id
/// whose user thought for 20,000 of the gateway's turns cost a store lookup, and under the floor benchmark's load every
/// conversation of one path lost its newest id while the other path ran: 256 lookups at a time.)
/// </summary>
public sealed class AliasCache(int capacity)
{
    private readonly ConcurrentDictionary<string, string> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _order = new();
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public bool TryGet(string responseKey, out string conversationKey) => _entries.TryGetValue(responseKey, out conversationKey!);

    public void Add(string responseKey, string conversationKey)
    {
        if (!_entries.TryAdd(responseKey, conversationKey)) return; // known already, and an id never changes conversation
        _order.Enqueue(responseKey);
        if (Interlocked.Increment(ref _count) <= capacity || !_order.TryDequeue(out var oldest)) return;
        _entries.TryRemove(oldest, out _);
        Interlocked.Decrement(ref _count);
    }
}
