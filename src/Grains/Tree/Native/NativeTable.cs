using System.Numerics;
using System.Runtime.CompilerServices;

namespace CodexLb.Grains.Tree.Native;

/// <summary>
/// A hash table in native memory, for keys and values without references. The collector neither scans it nor counts its
/// growth: a managed dictionary of millions of entries is one large-object array per resize, and every such allocation
/// past the large-object budget starts a full (background) collection that walks the whole heap.
/// <para>
/// Open addressing with linear probing and backward-shift removal (no tombstones); a power-of-two capacity, at most 3/4
/// full, shrunk by <see cref="RemoveWhere"/> when mostly empty. Not thread-safe: its owner locks. <see cref="Dispose"/>
/// frees it, and every use after that throws.
/// </para>
/// </summary>
internal sealed unsafe class NativeTable<TKey, TValue> : IDisposable
    where TKey : unmanaged, IEquatable<TKey>
    where TValue : unmanaged
{
    private const int MinCapacity = 64;

    private Slot* _slots;
    private int _mask; // capacity - 1

    public NativeTable()
    {
        _slots = Allocate(MinCapacity);
        _mask = MinCapacity - 1;
    }

    public int Count { get; private set; }

    public int Capacity => _mask + 1;

    public bool TryGetValue(in TKey key, out TValue value)
    {
        var i = Find(key, HashOf(key));
        value = i >= 0 ? _slots[i].Value : default;
        return i >= 0;
    }

    /// <summary>A reference to the stored value (to update it in place), or a null reference when the key is absent.</summary>
    public ref TValue GetValueRefOrNullRef(in TKey key)
    {
        var i = Find(key, HashOf(key));
        if (i < 0) return ref Unsafe.NullRef<TValue>();
        return ref _slots[i].Value;
    }

    /// <summary>A reference to the key's value, added as <c>default</c> when absent. Valid until the next change of the table.</summary>
    public ref TValue GetValueRefOrAddDefault(in TKey key, out bool exists)
    {
        var hash = HashOf(key);
        var i = Find(key, hash);
        exists = i >= 0;
        if (exists) return ref _slots[i].Value;
        if ((Count + 1) * 4L > Capacity * 3L)
        {
            Resize(Capacity * 2);
            i = Find(key, hash);
        }
        ref var slot = ref _slots[~i];
        slot = new Slot { Key = key, Hash = hash };
        Count++;
        return ref slot.Value;
    }

    public void Set(in TKey key, in TValue value) => GetValueRefOrAddDefault(key, out _) = value;

    public bool TryAdd(in TKey key, in TValue value)
    {
        ref var stored = ref GetValueRefOrAddDefault(key, out var exists);
        if (!exists) stored = value;
        return !exists;
    }

    public bool Remove(in TKey key) => Remove(key, out _);

    public bool Remove(in TKey key, out TValue value)
    {
        var i = Find(key, HashOf(key));
        value = i >= 0 ? _slots[i].Value : default;
        if (i < 0) return false;
        RemoveAt(i);
        return true;
    }

    /// <summary>
    /// Removes every entry <paramref name="match"/> picks and hands each to <paramref name="removed"/> after it is out of
    /// the table; then shrinks the table if it is mostly empty. For sweeps: it allocates a list of what it removes.
    /// </summary>
    public void RemoveWhere(Func<TKey, TValue, bool> match, Action<TKey, TValue>? removed = null)
    {
        var picked = new List<KeyValuePair<TKey, TValue>>();
        for (var i = 0; i <= Mask; i++)
            if (_slots[i].Hash != 0 && match(_slots[i].Key, _slots[i].Value)) picked.Add(new(_slots[i].Key, _slots[i].Value));
        foreach (var (key, value) in picked)
        {
            Remove(key);
            removed?.Invoke(key, value);
        }
        if (Capacity > MinCapacity && Count * 8L < Capacity) Resize(Math.Max(MinCapacity, (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(1, Count * 2))));
    }

    /// <summary>Hands every value to <paramref name="action"/>, which must not change the table (for freeing what values own).</summary>
    public void ForEachValue(Action<TValue> action)
    {
        for (var i = 0; i <= Mask; i++)
            if (_slots[i].Hash != 0) action(_slots[i].Value);
    }

    public void Dispose()
    {
        var slots = _slots;
        var capacity = Capacity;
        _slots = null;
        _mask = 0;
        Count = 0;
        if (slots is not null) LargePages.Free(slots, Bytes(capacity));
    }

    /// <summary>
    /// The key's hash, mixed (lowbias32): linear probing needs its low bits spread, and an identity hash (an int's)
    /// would line consecutive keys up in one run. Its top bit set, so a stored hash is never 0, the mark of an empty slot.
    /// </summary>
    private static uint HashOf(in TKey key) => Mix((uint)key.GetHashCode()) | 0x8000_0000u;

    /// <summary>The mixer <see cref="HashOf"/> applies (internal: the tests place keys in chosen slots with it).</summary>
    internal static uint Mix(uint h)
    {
        h ^= h >> 16;
        h *= 0x7feb352d;
        h ^= h >> 15;
        h *= 0x846ca68b;
        h ^= h >> 16;
        return h;
    }

    private int Mask => _slots is null ? throw new ObjectDisposedException(nameof(NativeTable<TKey, TValue>)) : _mask;

    /// <summary>The key's slot, or the complement of the empty slot where it would go.</summary>
    private int Find(in TKey key, uint hash)
    {
        var mask = Mask;
        for (var i = (int)(hash & (uint)mask); ; i = (i + 1) & mask)
        {
            ref var slot = ref _slots[i];
            if (slot.Hash == 0) return ~i;
            if (slot.Hash == hash && slot.Key.Equals(key)) return i;
        }
    }

    private void RemoveAt(int gap)
    {
        // Backward shift (Knuth's algorithm R): each later entry of the run that may sit in the gap (its home is not
        // cyclically after the gap) moves into it, so a lookup never meets a hole inside its run.
        var mask = _mask;
        for (var j = (gap + 1) & mask; _slots[j].Hash != 0; j = (j + 1) & mask)
        {
            var home = (int)(_slots[j].Hash & (uint)mask);
            if (((j - home) & mask) < ((j - gap) & mask)) continue;
            _slots[gap] = _slots[j];
            gap = j;
        }
        _slots[gap] = default;
        Count--;
    }

    private void Resize(int capacity)
    {
        var old = _slots;
        var oldCapacity = Capacity;
        _slots = Allocate(capacity);
        _mask = capacity - 1;
        for (var i = 0; i < oldCapacity; i++)
        {
            if (old[i].Hash == 0) continue;
            var j = (int)(old[i].Hash & (uint)_mask);
            while (_slots[j].Hash != 0) j = (j + 1) & _mask;
            _slots[j] = old[i];
        }
        LargePages.Free(old, Bytes(oldCapacity));
    }

    private static Slot* Allocate(int capacity) => (Slot*)LargePages.AllocateZeroed(Bytes(capacity));

    private static nuint Bytes(int capacity) => (nuint)capacity * (nuint)sizeof(Slot);

    // The hash last: a 16-byte key (UInt128 is 16-byte aligned) first would otherwise pad a 4-byte hash to 16.
    private struct Slot
    {
        public TKey Key;
        public TValue Value;
        public uint Hash; // 0: empty
    }
}
