using System.Text;
using CodexLb.Grains.Upstream;

namespace CodexLb.Tests.Unit;

/// <summary>
/// The hand-over from a socket's read loop to its reader: events in order, a waiting read answered by the next event,
/// the end after the last event, a timeout and a cancellation that end only the wait they belong to, and a wait after
/// either that reads normally.
/// </summary>
public sealed class UpstreamInboxTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    private static UpstreamEvent Event(int i) => new("response.output_text.delta", Encoding.UTF8.GetBytes($"{{\"n\":{i}}}"));

    private static int N(UpstreamEvent? e) => int.Parse(Encoding.UTF8.GetString(e!.Value.Data)[5..^1]);

    [Fact]
    public async Task Events_arrive_in_order_a_waiting_read_takes_the_next_and_the_end_comes_after_the_last()
    {
        var inbox = new UpstreamInbox();
        inbox.Write([Event(0)]);
        inbox.Write([Event(1)]);
        Assert.False(inbox.MoreAfterRead); // nothing read yet
        Assert.Equal(0, N(await inbox.WaitAsync(Generous)));
        Assert.True(inbox.MoreAfterRead);
        Assert.True(inbox.TryRead(out var second));
        Assert.Equal(1, N(second));
        Assert.False(inbox.MoreAfterRead);
        Assert.False(inbox.TryRead(out _));

        var waiting = inbox.WaitAsync(Generous).AsTask();
        Assert.False(waiting.IsCompleted);
        inbox.Write([Event(2)]);
        Assert.Equal(2, N(await waiting.WaitAsync(Generous)));
        Assert.False(inbox.MoreAfterRead); // a burst of one handed to the waiter leaves nothing behind

        inbox.Write([Event(3)]);
        inbox.Complete();
        inbox.Write([Event(4)]); // after the end: dropped
        Assert.False(inbox.IsDrained);
        Assert.Equal(3, N(await inbox.WaitAsync(Generous)));
        Assert.True(inbox.IsDrained);
        Assert.Null(await inbox.WaitAsync(Generous));

        var other = new UpstreamInbox();
        var ending = other.WaitAsync(Generous).AsTask();
        other.Complete();
        Assert.Null(await ending.WaitAsync(Generous));
    }

    [Fact]
    public async Task A_burst_goes_in_whole_and_in_order_to_a_waiting_read_and_behind_queued_events()
    {
        var inbox = new UpstreamInbox();
        var waiting = inbox.WaitAsync(Generous).AsTask();
        inbox.Write([Event(0), Event(1), Event(2)]);
        Assert.Equal(0, N(await waiting.WaitAsync(Generous))); // the waiter takes the first; the rest queue behind it
        Assert.True(inbox.MoreAfterRead);

        inbox.Write([Event(3)]);
        inbox.Write([]); // nothing read: nothing changes
        for (var i = 1; i <= 3; i++)
        {
            Assert.True(inbox.TryRead(out var next));
            Assert.Equal(i, N(next));
            Assert.Equal(i < 3, inbox.MoreAfterRead);
        }

        inbox.Complete();
        inbox.Write([Event(4), Event(5)]); // after the end: dropped
        Assert.True(inbox.IsDrained);
        Assert.Null(await inbox.WaitAsync(Generous));
    }

    [Fact]
    public async Task A_wait_times_out_on_its_own_deadline_and_the_next_wait_reads_normally()
    {
        var inbox = new UpstreamInbox();
        var started = System.Diagnostics.Stopwatch.StartNew();
        await Assert.ThrowsAsync<TimeoutException>(async () => await inbox.WaitAsync(TimeSpan.FromMilliseconds(200)));
        Assert.True(started.Elapsed >= TimeSpan.FromMilliseconds(190), $"timed out after {started.Elapsed}");

        // A wait that got its event long before its deadline is not ended by that deadline later.
        var answered = inbox.WaitAsync(TimeSpan.FromMilliseconds(150)).AsTask();
        inbox.Write([Event(1)]);
        Assert.Equal(1, N(await answered));
        var next = inbox.WaitAsync(Generous).AsTask();
        await Task.Delay(400);
        Assert.False(next.IsCompleted);
        inbox.Write([Event(2)]);
        Assert.Equal(2, N(await next.WaitAsync(Generous)));
    }

    [Fact]
    public async Task A_cancelled_wait_ends_at_once_and_a_cancel_without_a_wait_changes_nothing()
    {
        var inbox = new UpstreamInbox();
        inbox.Cancel(); // nobody waits
        var waiting = inbox.WaitAsync(Generous).AsTask();
        inbox.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Generous));

        inbox.Write([Event(5)]);
        Assert.Equal(5, N(await inbox.WaitAsync(Generous)));
    }

    [Fact]
    public async Task A_late_deadline_of_an_earlier_wait_does_not_end_the_current_one()
    {
        var inbox = new UpstreamInbox();
        var answered = inbox.WaitAsync(Generous).AsTask();
        var firstTag = inbox.Tag;
        inbox.Write([Event(1)]);
        Assert.Equal(1, N(await answered));

        var waiting = inbox.WaitAsync(Generous).AsTask();
        ((CodexLb.Protocol.Timing.Deadline)inbox).Expire(firstTag); // told after the next wait began
        Assert.False(waiting.IsCompleted);
        ((CodexLb.Protocol.Timing.Deadline)inbox).Expire(inbox.Tag);
        await Assert.ThrowsAsync<TimeoutException>(() => waiting.WaitAsync(Generous));
    }
}
