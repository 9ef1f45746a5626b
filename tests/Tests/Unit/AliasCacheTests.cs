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
        cache.Add("t", "resp_idle", "conv-idle");
        for (var i = 0; i < 99_000; i++) Turn(cache, "busy", i);
        Assert.True(cache.TryGet("t", "resp_idle", out var conversation) && conversation == "conv-idle");
        for (var i = 99_000; i < 101_000; i++) Turn(cache, "busy", i);
        Assert.False(cache.TryGet("t", "resp_idle", out _)); // bounded: 100,000 newer ids pushed it out
        Assert.Equal(100_000, cache.Count);
    }

    /// <summary>Another conversation's turn: its newest id (issued 10 turns ago) is read, the new one added.</summary>
    private static void Turn(AliasCache cache, string prefix, int i)
    {
        cache.TryGet("t", $"{prefix}-{i - 10}", out _);
        cache.Add("t", $"{prefix}-{i}", "conv-" + i % 10);
    }

    [Fact]
    public void The_oldest_entries_go_first_and_a_known_id_keeps_its_place_and_conversation()
    {
        var cache = new AliasCache(3);
        cache.Add("t", "a", "1");
        cache.Add("t", "b", "2");
        cache.Add("t", "c", "3");
        cache.Add("t", "a", "other"); // an id never changes conversation: ignored, and it does not move
        cache.Add("t", "d", "4");
        Assert.False(cache.TryGet("t", "a", out _));
        Assert.True(cache.TryGet("t", "b", out var b) && b == "2");
        Assert.True(cache.TryGet("t", "d", out var d) && d == "4");
        Assert.Equal(3, cache.Count);
    }

    [Fact]
    public void A_capacity_of_zero_remembers_nothing()
    {
        var cache = new AliasCache(0);
        cache.Add("t", "a", "1");
        Assert.False(cache.TryGet("t", "a", out _));
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void The_same_id_in_two_tenants_is_two_entries()
    {
        var cache = new AliasCache(10);
        cache.Add("t1", "resp_1", "t1/req/a");
        cache.Add("t2", "resp_1", "t2/req/b"); // not "known already": another tenant's id
        Assert.True(cache.TryGet("t1", "resp_1", out var first) && first == "t1/req/a");
        Assert.True(cache.TryGet("t2", "resp_1", out var second) && second == "t2/req/b");
        Assert.False(cache.TryGet("t3", "resp_1", out _));
        // The pair is hashed, not a joined string: no split of the same characters names the same entry.
        cache.Add("t", "1/resp", "t/req/c");
        Assert.False(cache.TryGet("t1", "/resp", out _));
        Assert.False(cache.TryGet("t1/", "resp", out _));
        var longId = "resp_" + new string('x', 300); // past the stack buffer the pair is hashed in
        cache.Add("t1", longId, "t1/req/d");
        Assert.True(cache.TryGet("t1", longId, out var fourth) && fourth == "t1/req/d");
        Assert.False(cache.TryGet("t2", longId, out _));
        Assert.Equal(4, cache.Count);
    }

    [Fact]
    public void A_full_cache_drops_oldest_first_after_wrapping_its_ring_many_times()
    {
        const int capacity = 7, ids = capacity * 5 + 3;
        var cache = new AliasCache(capacity);
        for (var i = 0; i < ids; i++)
        {
            cache.Add("t", $"resp_{i}", $"t/req/{i % 3}");
            if (i > 0) cache.Add("t", $"resp_{i - 1}", "t/req/other"); // known: ignored, and it keeps its place
            for (var j = 0; j <= i; j++)
                Assert.Equal(j > i - capacity, cache.TryGet("t", $"resp_{j}", out var key) && key == $"t/req/{j % 3}");
            Assert.Equal(Math.Min(i + 1, capacity), cache.Count);
        }
        cache.Add("t", "resp_0", "t/req/again"); // gone long ago: a new entry, the newest, and the oldest goes
        Assert.True(cache.TryGet("t", "resp_0", out var again) && again == "t/req/again");
        Assert.False(cache.TryGet("t", $"resp_{ids - capacity}", out _));
        Assert.True(cache.TryGet("t", $"resp_{ids - capacity + 1}", out _));
        Assert.Equal(capacity, cache.Count);
    }

    [Fact]
    public void Entries_of_one_conversation_share_its_key_instance_until_the_last_one_goes()
    {
        var cache = new AliasCache(2);
        cache.Add("t", "resp_1", new string("t/req/a"));
        cache.Add("t", "resp_2", new string("t/req/a")); // the same key, another copy (a turn's own header)
        Assert.True(cache.TryGet("t", "resp_1", out var first));
        Assert.True(cache.TryGet("t", "resp_2", out var second));
        Assert.Same(first, second);
        cache.Add("t", "resp_3", "t/req/b");
        cache.Add("t", "resp_4", "t/req/b"); // both entries of t/req/a gone, and with them its instance
        var copy = new string("t/req/a");
        cache.Add("t", "resp_5", copy);
        Assert.True(cache.TryGet("t", "resp_5", out var fifth));
        Assert.Same(copy, fifth);
    }

    [Fact]
    public void Known_conversations_keep_the_newest_keys_and_drop_the_oldest_first()
    {
        var known = new KnownConversations(3);
        foreach (var key in new[] { "t/req/a", "t/req/b", "t/req/c", "t/req/a", "t/req/d" }) known.Add(key);
        Assert.False(known.Contains("t/req/a")); // added again while known: it kept its place
        Assert.True(known.Contains("t/req/b"));
        Assert.True(known.Contains("t/req/d"));
        Assert.Equal(3, known.Count);
        var none = new KnownConversations(0);
        none.Add("t/req/a");
        Assert.False(none.Contains("t/req/a"));
    }

    /// <summary>
    /// An entry lives ~100,000 turns, long enough to be promoted through every GC generation: adding one (and the lookup
    /// the next turn makes) must allocate nothing, once the cache is full. Before, each add kept a key string, a
    /// dictionary node and a queue slot alive.
    /// </summary>
    [Fact]
    public void Adding_to_a_full_cache_allocates_nothing()
    {
        const int capacity = 1_000;
        var ids = Enumerable.Range(0, capacity * 4).Select(i => $"resp_{i}").ToArray();
        var conversations = Enumerable.Range(0, 50).Select(i => $"tenant/req/{i}").ToArray();
        var cache = new AliasCache(capacity);
        void Turns(int from, int to)
        {
            for (var i = from; i < to; i++)
            {
                cache.TryGet("tenant", ids[Math.Max(i - 10, 0)], out _);
                cache.Add("tenant", ids[i], conversations[i % conversations.Length]);
            }
        }
        Turns(0, capacity * 2); // full, and wrapped
        var before = GC.GetAllocatedBytesForCurrentThread();
        Turns(capacity * 2, capacity * 4);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(capacity, cache.Count);
    }
}
