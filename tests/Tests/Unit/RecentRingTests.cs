using CodexLb.Grains.Conversation;

namespace CodexLb.Tests.Unit;

/// <summary>A conversation's recent-entry cache: the newest entry of a key wins, and only the newest <c>limit</c> are kept.</summary>
public sealed class RecentRingTests
{
    [Fact]
    public void Agrees_with_a_list_of_the_newest_entries_through_growth_and_wrap_around()
    {
        const int limit = 13; // not a power of two: growth stops short of a doubling
        var ring = new RecentRing<ulong, int>(limit);
        var added = new List<(ulong Key, int Value)>();
        var random = new Random(7);
        for (var n = 0; n < 200; n++)
        {
            var key = (ulong)random.Next(20); // keys repeat: the newest entry of a key must win
            ring.Add(key, n);
            added.Add((key, n));
            var kept = added.TakeLast(limit).ToList();
            Assert.Equal(kept.Count, ring.Count);
            Assert.Equal(kept.Select(e => e.Value), ring.Values);
            for (ulong probe = 0; probe < 20; probe++)
            {
                var newest = kept.FindLastIndex(e => e.Key == probe);
                Assert.Equal(newest >= 0, ring.TryGet(probe, out var value));
                if (newest >= 0) Assert.Equal(kept[newest].Value, value);
            }
        }
    }

    [Fact]
    public void An_empty_ring_finds_nothing_and_the_oldest_entry_leaves_first_at_the_limit()
    {
        var ring = new RecentRing<ulong, string>(2);
        Assert.False(ring.TryGet(1, out _));
        Assert.Empty(ring.Values);
        ring.Add(1, "a");
        ring.Add(2, "b");
        ring.Add(3, "c");
        Assert.False(ring.TryGet(1, out _));
        Assert.True(ring.TryGet(2, out var b) && b == "b");
        Assert.True(ring.TryGet(3, out var c) && c == "c");
        Assert.Equal(["b", "c"], ring.Values);
    }
}
