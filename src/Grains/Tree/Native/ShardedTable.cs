namespace CodexLb.Grains.Tree.Native;

/// <summary>
/// A <see cref="NativeTable{TKey,TValue}"/> split by hash into shards that grow and shrink on their own. A table grows by
/// copying every entry into a new array under its owner's lock: one table of a million entries held the store's lock
/// for 230 ms (every turn of the process waited), a shard's growth copies a 64th of that. Uniform hashes fill the shards
/// evenly, so their growths spread over the inserts around each doubling instead of landing on one.
/// </summary>
internal sealed class ShardedTable<TKey, TValue> : IDisposable
    where TKey : unmanaged, IEquatable<TKey>
    where TValue : unmanaged
{
    private const int ShardBits = 6;

    private readonly NativeTable<TKey, TValue>[] _shards = new NativeTable<TKey, TValue>[1 << ShardBits];

    public ShardedTable()
    {
        for (var i = 0; i < _shards.Length; i++) _shards[i] = new NativeTable<TKey, TValue>();
    }

    public int Count
    {
        get
        {
            var count = 0;
            foreach (var shard in _shards) count += shard.Count;
            return count;
        }
    }

    /// <summary>The largest shard's capacity: what one growth copies at most (for tests).</summary>
    internal int LargestShardCapacity => _shards.Max(shard => shard.Capacity);

    public bool TryGetValue(in TKey key, out TValue value) => ShardOf(key).TryGetValue(key, out value);

    public ref TValue GetValueRefOrNullRef(in TKey key) => ref ShardOf(key).GetValueRefOrNullRef(key);

    public ref TValue GetValueRefOrAddDefault(in TKey key, out bool exists) => ref ShardOf(key).GetValueRefOrAddDefault(key, out exists);

    public void Set(in TKey key, in TValue value) => ShardOf(key).Set(key, value);

    public bool TryAdd(in TKey key, in TValue value) => ShardOf(key).TryAdd(key, value);

    public bool Remove(in TKey key) => ShardOf(key).Remove(key);

    public bool Remove(in TKey key, out TValue value) => ShardOf(key).Remove(key, out value);

    /// <inheritdoc cref="NativeTable{TKey,TValue}.RemoveWhere"/>
    public void RemoveWhere(Func<TKey, TValue, bool> match, Action<TKey, TValue>? removed = null)
    {
        foreach (var shard in _shards) shard.RemoveWhere(match, removed);
    }

    /// <inheritdoc cref="NativeTable{TKey,TValue}.ForEachValue"/>
    public void ForEachValue(Action<TValue> action)
    {
        foreach (var shard in _shards) shard.ForEachValue(action);
    }

    public void Dispose()
    {
        foreach (var shard in _shards) shard.Dispose();
    }

    // The mixed hash's top bits: a shard places its entries by the low ones, so within a shard they stay spread.
    private NativeTable<TKey, TValue> ShardOf(in TKey key) =>
        _shards[NativeTable<TKey, TValue>.Mix((uint)key.GetHashCode()) >> (32 - ShardBits)];
}
