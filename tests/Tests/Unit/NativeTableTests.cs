using System.Runtime.CompilerServices;
using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Tree.Native;

namespace CodexLb.Tests.Unit;

/// <summary>The memory store's native hash table, against a dictionary doing the same operations.</summary>
public sealed class NativeTableTests
{
    /// <summary>
    /// A key whose hash puts it in one of the table's last four slots at every capacity up to 1,024: every run wraps around
    /// the end.
    /// </summary>
    private readonly record struct WrappingKey(int Id)
    {
        private static readonly int[] Hashes = [.. Enumerable.Range(0, int.MaxValue)
            .Where(h => (NativeTable<int, int>.Mix((uint)h) & 0x3FF) >= 0x3FC).Take(4)];

        public override int GetHashCode() => Hashes[Id % 4];
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Random_operations_on_colliding_keys_that_wrap_agree_with_a_dictionary(int seed) =>
        AgreesWithDictionary(seed, operations: 20_000, keys: 300, id => new WrappingKey(id));

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public void Random_operations_on_hashed_keys_agree_with_a_dictionary_through_growth_and_shrinking(int seed) =>
        AgreesWithDictionary(seed, operations: 200_000, keys: 20_000, id => TenantKey.Of("tenant", "resp_" + id));

    [Fact]
    public void A_value_changed_through_its_reference_stays_changed()
    {
        using var table = new NativeTable<int, long>();
        table.Set(7, 1);

        table.GetValueRefOrNullRef(7) = 42;

        Assert.True(table.TryGetValue(7, out var value));
        Assert.Equal(42, value);
        Assert.True(Unsafe.IsNullRef(ref table.GetValueRefOrNullRef(8)));
    }

    [Fact]
    public void RemoveWhere_hands_over_what_it_removed_and_gives_back_the_space()
    {
        using var table = new NativeTable<int, int>();
        for (var i = 0; i < 200_000; i++) table.Set(i, i * 2); // past 2 MB of slots: a mapping of its own on Linux
        var grown = table.Capacity;
        var removed = new List<int>();

        table.RemoveWhere((key, _) => key >= 100, (key, value) =>
        {
            Assert.Equal(key * 2, value);
            removed.Add(key);
        });

        Assert.Equal(100, table.Count);
        Assert.Equal(199_900, removed.Count);
        Assert.True(table.Capacity < grown / 8, $"capacity {table.Capacity} after shrinking from {grown}");
        for (var i = 0; i < 200_000; i++) Assert.Equal(i < 100, table.TryGetValue(i, out _));
    }

    [Fact]
    public void A_new_table_has_its_minimum_capacity_and_grows_at_three_quarters()
    {
        using var table = new NativeTable<int, int>();
        Assert.Equal(64, table.Capacity);

        for (var i = 0; i < 48; i++) table.Set(i, i);
        Assert.Equal(64, table.Capacity);
        table.Set(48, 48);
        Assert.Equal(128, table.Capacity);
    }

    [Fact]
    public void TryAdd_keeps_the_first_value()
    {
        using var table = new NativeTable<int, int>();

        Assert.True(table.TryAdd(1, 10));
        Assert.False(table.TryAdd(1, 20));

        Assert.True(table.TryGetValue(1, out var value));
        Assert.Equal(10, value);
    }

    [Fact]
    public void A_disposed_table_refuses_every_use()
    {
        var table = new NativeTable<int, int>();
        table.Set(1, 1);

        table.Dispose();
        table.Dispose();

        Assert.Throws<ObjectDisposedException>(() => table.TryGetValue(1, out _));
        Assert.Throws<ObjectDisposedException>(() => table.Set(2, 2));
        Assert.Throws<ObjectDisposedException>(() => table.ForEachValue(_ => { }));
        Assert.Equal(0, table.Count);
    }

    private static void AgreesWithDictionary<TKey>(int seed, int operations, int keys, Func<int, TKey> keyOf) where TKey : unmanaged, IEquatable<TKey>
    {
        var random = new Random(seed);
        var model = new Dictionary<TKey, int>();
        using var table = new NativeTable<TKey, int>();
        for (var n = 0; n < operations; n++)
        {
            // Phases of mostly adding and mostly removing, so the table grows and shrinks.
            var adding = n / (operations / 8) % 2 == 0;
            var key = keyOf(random.Next(keys));
            var value = random.Next();
            switch (random.Next(10))
            {
                case < 4 when adding:
                    table.Set(key, value);
                    model[key] = value;
                    break;
                case < 6 when adding:
                    Assert.Equal(model.TryAdd(key, value), table.TryAdd(key, value));
                    break;
                case < 7:
                    Assert.Equal(model.TryGetValue(key, out var expected), table.TryGetValue(key, out var actual));
                    Assert.Equal(expected, actual);
                    break;
                case 9 when !adding && random.Next(50) == 0: // a sweep now and then
                    table.RemoveWhere((k, v) => v % 3 == 0 && model.ContainsKey(k));
                    foreach (var (k, v) in model.Where(pair => pair.Value % 3 == 0).ToList()) model.Remove(k);
                    break;
                default:
                    Assert.Equal(model.Remove(key, out var gone), table.Remove(key, out var taken));
                    Assert.Equal(gone, taken);
                    break;
            }
            Assert.Equal(model.Count, table.Count);
        }

        foreach (var (key, value) in model)
        {
            Assert.True(table.TryGetValue(key, out var stored));
            Assert.Equal(value, stored);
        }
        var values = new List<int>();
        table.ForEachValue(values.Add);
        Assert.Equal(model.Values.Order(), values.Order());
    }
}
