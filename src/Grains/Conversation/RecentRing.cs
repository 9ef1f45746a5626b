namespace CodexLb.Grains.Conversation;

/// <summary>
/// A conversation's newest <c>limit</c> entries of one cache, in two parallel arrays that grow to the limit and are then
/// overwritten oldest first; a key is found by a vectorized search of the key array, newest first. It replaces a
/// dictionary and the queue that evicted from it: every turn's insert and eviction touched buckets, entries and queue
/// slots, and under a busy silo a conversation's caches are cold when its turn comes (touched once every few hundred
/// turns), so each of those reads was a cache miss.
/// </summary>
/// <remarks>For small caches (tens of entries): every lookup scans the key array. Two entries may share a key (the newest
/// is found); a dictionary kept one. Not thread-safe: a grain's own.</remarks>
internal sealed class RecentRing<TKey, TValue>(int limit) where TKey : struct, IEquatable<TKey>
{
    private TKey[] _keys = [];
    private TValue[] _values = [];
    private int _next; // where the next entry goes; while the arrays are not full, also the count
    private int _count;

    public int Count => _count;

    /// <summary>The newest entry with <paramref name="key"/>.</summary>
    public bool TryGet(TKey key, out TValue value)
    {
        var at = IndexOf(key);
        value = at < 0 ? default! : _values[at];
        return at >= 0;
    }

    /// <summary>Adds the newest entry; at the limit the oldest is dropped.</summary>
    public void Add(TKey key, TValue value)
    {
        if (_count == _keys.Length && _count < limit) Grow();
        _keys[_next] = key;
        _values[_next] = value;
        _next = _next + 1 == _keys.Length ? 0 : _next + 1;
        if (_count < _keys.Length) _count++;
    }

    /// <summary>The values, oldest first.</summary>
    public IEnumerable<TValue> Values
    {
        get
        {
            var start = _count < _keys.Length ? 0 : _next;
            for (var i = 0; i < _count; i++) yield return _values[(start + i) % _keys.Length];
        }
    }

    private int IndexOf(TKey key)
    {
        var at = _keys.AsSpan(0, _count < _keys.Length ? _count : _next).LastIndexOf(key);
        if (at >= 0 || _count < _keys.Length) return at;
        var older = _keys.AsSpan(_next).LastIndexOf(key);
        return older < 0 ? -1 : _next + older;
    }

    private void Grow()
    {
        var size = Math.Min(limit, Math.Max(4, _keys.Length * 2));
        var keys = new TKey[size];
        var values = new TValue[size];
        // Only called while full below the limit: the entries run from _next (the oldest) round to _next - 1.
        for (var i = 0; i < _count; i++)
        {
            var from = (_next + i) % _keys.Length;
            keys[i] = _keys[from];
            values[i] = _values[from];
        }
        (_keys, _values, _next) = (keys, values, _count);
    }
}
