using CodexLb.Protocol.Timing;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace CodexLb.Tests.Unit;

/// <summary>
/// A batch's flush runs its delay after the first addition and never while nothing was added: an idle process has no
/// timer pending for it (the account reports and the key usage reports used periodic timers that woke it forever).
/// </summary>
public sealed class PendingFlushTests
{
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(250);

    [Fact]
    public void Nothing_added_nothing_flushed_and_no_timer_pending()
    {
        var time = new FakeTimeProvider();
        var flushes = 0;
        using var flush = new PendingFlush(() => flushes++, Delay, time);

        time.Advance(TimeSpan.FromMinutes(5));

        Assert.Equal(0, flushes);
        Assert.False(flush.IsArmed);
    }

    [Fact]
    public void The_first_addition_flushes_once_after_the_delay_whatever_follows_it_in_the_window()
    {
        var time = new FakeTimeProvider();
        var flushes = 0;
        using var flush = new PendingFlush(() => flushes++, Delay, time);

        flush.Arm();
        time.Advance(Delay / 2);
        flush.Arm(); // a second count in the window: no second timer, no sooner flush
        time.Advance(Delay / 2 - TimeSpan.FromMilliseconds(1));
        Assert.Equal(0, flushes);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, flushes);

        time.Advance(TimeSpan.FromSeconds(10)); // idle again
        Assert.Equal(1, flushes);
        Assert.False(flush.IsArmed);
    }

    [Fact]
    public void An_addition_while_a_flush_runs_arms_the_next_one()
    {
        var time = new FakeTimeProvider();
        var flushes = 0;
        PendingFlush? flush = null;
        flush = new PendingFlush(() =>
        {
            // A count that comes in after the flush took the batch: it must not wait for another count to be sent.
            if (++flushes == 1) flush!.Arm();
        }, Delay, time);
        using var _ = flush;

        flush.Arm();
        time.Advance(Delay);
        Assert.Equal(1, flushes);
        Assert.True(flush.IsArmed);
        time.Advance(Delay);
        Assert.Equal(2, flushes);
        Assert.False(flush.IsArmed);
    }

    [Fact]
    public void An_addition_after_dispose_is_dropped_without_an_error()
    {
        var flushes = 0;
        var flush = new PendingFlush(() => flushes++, Delay);
        flush.Dispose();

        flush.Arm(); // a turn ending while the process stops

        Assert.Equal(0, flushes);
    }
}
