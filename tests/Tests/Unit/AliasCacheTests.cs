using CodexLb.Gateway.Routing;

namespace CodexLb.Tests.Unit;

public sealed class AliasCacheTests
{
    /// <summary>
    /// A conversation whose user thinks while others take turns: its newest id must survive any number of later turns
    /// short of the capacity, whatever those turns read. In the steady state of this pattern (every id read once, by the
    /// next turn) the cache before this one (BitFaster's ConcurrentLru, 100,000 entries) lost such an id after ~20,000
    /// other turns: an entry not read yet lives only in its hot and cold queues, a fifth of the capacity.
    /// </summary>
    [Fact]
    public void An_id_not_read_yet_survives_until_capacity_newer_ids_arrived_whatever_is_read_meanwhile()
    {
        var cache = new AliasCache(100_000);
        for (var i = 0; i < 200_000; i++) Turn(cache, "warm", i); // the steady state: full, every id read once
        cache.Add("resp_idle", "conv-idle");
        for (var i = 0; i < 99_000; i++) Turn(cache, "busy", i);
        Assert.True(cache.TryGet("resp_idle", out var conversation) && conversation == "conv-idle");
        for (var i = 99_000; i < 101_000; i++) Turn(cache, "busy", i);
        Assert.False(cache.TryGet("resp_idle", out _)); // bounded: 100,000 newer ids pushed it out
        Assert.Equal(100_000, cache.Count);
    }

    /// <summary>Another conversation's turn: its newest id (issued 10 turns ago) is read, the new one added.</summary>
    private static void Turn(AliasCache cache, string prefix, int i)
    {
        cache.TryGet($"{prefix}-{i - 10}", out _);
        cache.Add($"{prefix}-{i}", "conv-" + i % 10);
    }

    [Fact]
    public void The_oldest_entries_go_first_and_a_known_id_keeps_its_place_and_conversation()
    {
        var cache = new AliasCache(3);
        cache.Add("a", "1");
        cache.Add("b", "2");
        cache.Add("c", "3");
        cache.Add("a", "other"); // an id never changes conversation: ignored, and it does not move
        cache.Add("d", "4");
        Assert.False(cache.TryGet("a", out _));
        Assert.True(cache.TryGet("b", out var b) && b == "2");
        Assert.True(cache.TryGet("d", out var d) && d == "4");
        Assert.Equal(3, cache.Count);
    }

    [Fact]
    public void A_capacity_of_zero_remembers_nothing()
    {
        var cache = new AliasCache(0);
        cache.Add("a", "1");
        Assert.False(cache.TryGet("a", out _));
        Assert.Equal(0, cache.Count);
    }
}
