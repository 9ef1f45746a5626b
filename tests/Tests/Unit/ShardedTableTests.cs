using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Tree.Native;

namespace CodexLb.Tests.Unit;

/// <summary>
/// The memory store's tables in shards: the same answers as a dictionary, and no shard (so no growth under the store's
/// lock) far larger than its share.
/// </summary>
public sealed class ShardedTableTests
{
    [Fact]
    public void Entries_spread_over_the_shards_and_every_operation_agrees_with_a_dictionary()
    {
        using var table = new ShardedTable<TenantKey, int>();
        var model = new Dictionary<TenantKey, int>();
        for (var i = 0; i < 100_000; i++)
        {
            var key = TenantKey.Of("tenant", "resp_" + i);
            table.Set(key, i);
            model[key] = i;
        }
        // One table of 100,000 entries has 262,144 slots; a 64th share fits in 2,048 or 4,096.
        Assert.InRange(table.LargestShardCapacity, 2_048, 4_096);

        for (var i = 0; i < 100_000; i += 3)
        {
            var key = TenantKey.Of("tenant", "resp_" + i);
            Assert.Equal(model.Remove(key, out var gone), table.Remove(key, out var taken));
            Assert.Equal(gone, taken);
        }
        table.GetValueRefOrNullRef(TenantKey.Of("tenant", "resp_1")) = -1;
        model[TenantKey.Of("tenant", "resp_1")] = -1;
        Assert.False(table.TryAdd(TenantKey.Of("tenant", "resp_2"), 7));
        Assert.True(table.TryAdd(TenantKey.Of("tenant", "resp_0"), 0));
        model[TenantKey.Of("tenant", "resp_0")] = 0;

        var removed = 0;
        table.RemoveWhere((_, value) => value % 2 == 0, (_, _) => removed++);
        Assert.Equal(model.Count(pair => pair.Value % 2 == 0), removed);
        foreach (var (key, value) in model.Where(pair => pair.Value % 2 == 0).ToList()) model.Remove(key);

        Assert.Equal(model.Count, table.Count);
        var values = new List<int>();
        table.ForEachValue(values.Add);
        Assert.Equal(model.Values.Order(), values.Order());
        foreach (var (key, value) in model)
        {
            Assert.True(table.TryGetValue(key, out var stored));
            Assert.Equal(value, stored);
        }
    }
}
