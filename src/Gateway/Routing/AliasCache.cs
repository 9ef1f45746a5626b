using CodexLb.Grains.Abstractions;
using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace CodexLb.Gateway.Routing;

/// <summary>
/// Response id → conversation key for the ids this gateway saw issued or looked up: the newest <c>capacity</c> entries,
/// dropped oldest first. An id names one conversation forever, and a client continues an id once (its next turn), so
/// insertion order is the right eviction order and an entry never needs refreshing. (BitFaster's <c>ConcurrentLru</c>,
/// used before, keeps an entry that was not read yet only in its hot and cold queues, a fifth of its capacity: an id
/// whose user thought for 20,000 of the gateway's turns cost a store lookup, and under the floor benchmark's load every
/// conversation of one path lost its newest id while the other path ran: 256 lookups at a time.)
/// An entry is a 128-bit hash of its tenant and id in arrays allocated once, and its conversation key is the one
/// instance held for that conversation: an entry lives ~100,000 turns, so a key string, node or queue slot per entry
/// would be promoted through every GC generation and copied on the way under load.
/// </summary>
public sealed class AliasCache(int capacity)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<UInt128, string> _entries = new(capacity + 1);
    private readonly InsertionRing _order = new(capacity);
    /// <summary>
    /// The conversation keys the entries hold, one instance per conversation (a turn's key is often its own copy), and how
    /// many entries hold it. At most one per entry; it grows to the most conversations held at once, then allocates no more.
    /// </summary>
    private readonly Dictionary<string, (string Instance, int Entries)> _conversations = new(StringComparer.Ordinal);

    public int Count
    {
        get { lock (_lock) return _entries.Count; }
    }

    public bool TryGet(ReadOnlySpan<char> tenant, ReadOnlySpan<char> responseId, out string conversationKey)
    {
        var hash = TenantKey.Of(tenant, responseId).Hash;
        lock (_lock) return _entries.TryGetValue(hash, out conversationKey!);
    }

    public void Add(ReadOnlySpan<char> tenant, ReadOnlySpan<char> responseId, string conversationKey)
    {
        if (capacity == 0) return;
        var hash = TenantKey.Of(tenant, responseId).Hash; // a collision (2^-128 per pair) would share an entry: accepted
        lock (_lock)
        {
            // One probe of the (large, mostly cold) table finds the id or its slot; the oldest goes after the add, so
            // the table holds one more than the capacity for a moment (sized for it: it never resizes).
            ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(_entries, hash, out var known);
            if (known) return; // an id never changes conversation
            ref var held = ref CollectionsMarshal.GetValueRefOrAddDefault(_conversations, conversationKey, out var exists);
            if (!exists) held.Instance = conversationKey;
            held.Entries++;
            entry = held.Instance;
            if (_order.Push(hash, out var oldest) && _entries.Remove(oldest, out var evicted)) Release(evicted);
        }
    }

    private void Release(string conversationKey)
    {
        ref var held = ref CollectionsMarshal.GetValueRefOrNullRef(_conversations, conversationKey);
        if (--held.Entries == 0) _conversations.Remove(conversationKey);
    }

}

/// <summary>
/// The newest <c>capacity</c> conversation keys this gateway routed to, dropped oldest first; as <see cref="AliasCache"/>,
/// 128-bit hashes of the keys in arrays allocated once (two keys sharing a hash, 2^-128 per pair, would both count as known).
/// </summary>
public sealed class KnownConversations(int capacity)
{
    private readonly Lock _lock = new();
    private readonly HashSet<UInt128> _keys = new(capacity + 1);
    private readonly InsertionRing _order = new(capacity);

    public int Count
    {
        get { lock (_lock) return _keys.Count; }
    }

    public bool Contains(string conversationKey)
    {
        var hash = Hash(conversationKey);
        lock (_lock) return _keys.Contains(hash);
    }

    public void Add(string conversationKey)
    {
        if (capacity == 0) return;
        var hash = Hash(conversationKey);
        lock (_lock)
        {
            if (!_keys.Add(hash)) return; // one probe; the oldest goes after it (sized for one more: no resize)
            if (_order.Push(hash, out var oldest)) _keys.Remove(oldest);
        }
    }

    private static UInt128 Hash(string key) => XxHash128.HashToUInt128(MemoryMarshal.AsBytes(key.AsSpan()));
}

/// <summary>The newest <c>capacity</c> hashes in the order they came, in one array; its owner locks.</summary>
internal sealed class InsertionRing(int capacity)
{
    private readonly UInt128[] _hashes = new UInt128[capacity];
    private int _next;
    private int _count;

    /// <summary>Appends <paramref name="hash"/>; when the ring was full, it replaced the oldest, returned as <paramref name="oldest"/>.</summary>
    public bool Push(UInt128 hash, out UInt128 oldest)
    {
        var full = _count == _hashes.Length;
        oldest = full ? _hashes[_next] : default;
        if (!full) _count++;
        _hashes[_next] = hash;
        _next = _next + 1 == _hashes.Length ? 0 : _next + 1;
        return full;
    }
}
