using CodexLb.Gateway.Limits;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace CodexLb.Tests.Unit;

/// <summary>
/// The rate of new conversations: a sliding minute of six 10-second segments per tenant, slid by the time that passed
/// when a tenant asks (no timer). A tenant's spent rate comes back segment by segment as the minute slides, all of it
/// after a quiet minute, and never touches another tenant's.
/// </summary>
public sealed class NewConversationLimiterTests
{
    private static NewConversationLimiter Limiter(int perMinute, TimeProvider time) =>
        new(Options.Create(new LimitOptions { NewConversationsPerMinute = perMinute }), time);

    [Fact]
    public void A_tenants_minute_slides_segment_by_segment_and_other_tenants_are_not_counted()
    {
        var time = new FakeTimeProvider();
        var limiter = Limiter(3, time);

        Assert.True(limiter.TryStart("a"));
        time.Advance(TimeSpan.FromSeconds(20));
        Assert.True(limiter.TryStart("a"));
        Assert.True(limiter.TryStart("a"));
        Assert.False(limiter.TryStart("a")); // three in the last minute
        Assert.True(limiter.TryStart("b")); // another tenant's own minute

        time.Advance(TimeSpan.FromSeconds(30)); // 50 s after the first: still inside its minute
        Assert.False(limiter.TryStart("a"));
        time.Advance(TimeSpan.FromSeconds(10)); // the first one's segment slid out, the two later ones count
        Assert.True(limiter.TryStart("a"));
        Assert.False(limiter.TryStart("a"));
    }

    [Fact]
    public void A_quiet_minute_gives_the_whole_rate_back_and_zero_is_unlimited()
    {
        var time = new FakeTimeProvider();
        var limiter = Limiter(2, time);
        Assert.True(limiter.TryStart("a"));
        Assert.True(limiter.TryStart("a"));
        Assert.False(limiter.TryStart("a"));
        time.Advance(TimeSpan.FromMinutes(30));
        Assert.True(limiter.TryStart("a"));
        Assert.True(limiter.TryStart("a"));
        Assert.False(limiter.TryStart("a"));

        var unlimited = Limiter(0, time);
        Assert.False(unlimited.Enabled);
        Assert.All(Enumerable.Range(0, 1000), _ => Assert.True(unlimited.TryStart("a")));
    }

    [Fact]
    public void Made_up_tenants_do_not_grow_the_table_without_bound_and_a_tenant_with_a_count_keeps_it()
    {
        var time = new FakeTimeProvider();
        var limiter = Limiter(1, time);
        Assert.True(limiter.TryStart("kept"));
        time.Advance(TimeSpan.FromSeconds(30));
        // Tenants that started a conversation within the minute are all kept: each one's count still holds.
        for (var i = 0; i < 20_000; i++) Assert.True(limiter.TryStart("made-up-" + i));
        Assert.Equal(20_001, limiter.Tenants);
        Assert.False(limiter.TryStart("kept")); // counted 30 s ago: still inside its minute, never dropped
        // Two minutes on, all of them are quiet: the next prune (the table doubled since the last) drops them.
        time.Advance(TimeSpan.FromMinutes(2));
        for (var i = 0; i < 20_000; i++) Assert.True(limiter.TryStart("later-" + i));
        Assert.True(limiter.Tenants <= 20_001, $"{limiter.Tenants} tenants kept (40,001 without pruning)");
        Assert.True(limiter.TryStart("kept"));
    }
}
