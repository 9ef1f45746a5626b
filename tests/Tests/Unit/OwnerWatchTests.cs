using System.Diagnostics;
using CodexLb.Gateway.Routing;
using CodexLb.Grains.Abstractions;

namespace CodexLb.Tests.Unit;

/// <summary>
/// A gateway's wait for its owner's answer: the answer when it comes, <see cref="OwnerUnreachableException"/> when nothing
/// comes within the owner timeout (never before it), each wait by its own deadline, and none once its caller let it go; a
/// client that goes away ends the wait at once.
/// </summary>
public sealed class OwnerWatchTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);

    private static TurnEvents Answer(string type) => new([new TurnEvent(type, [])], false);

    [Fact]
    public async Task An_answer_in_time_is_the_result_and_the_watch_serves_the_next_call()
    {
        OwnerWatch? watch = null;
        var first = new TaskCompletionSource<TurnEvents>();
        var waiting = OwnerWatch.Watch(ref watch, Timeout, default, new ValueTask<TurnEvents>(first.Task));
        first.SetResult(Answer("a"));
        Assert.Equal("a", (await waiting).Events[0].Type);

        var second = new TaskCompletionSource<TurnEvents>();
        var again = OwnerWatch.Watch(ref watch, Timeout, default, new ValueTask<TurnEvents>(second.Task));
        await Task.Delay(TimeSpan.FromMilliseconds(100));
        second.SetResult(Answer("b"));
        Assert.Equal("b", (await again.AsTask().WaitAsync(TimeSpan.FromSeconds(30))).Events[0].Type);
        OwnerWatch.Abandon(ref watch);
    }

    [Fact]
    public async Task Silence_expires_after_the_timeout_and_not_before_while_answered_waits_beside_it_are_untouched()
    {
        OwnerWatch? silent = null, answered = null;
        var never = new TaskCompletionSource<TurnEvents>();
        var late = new TaskCompletionSource<TurnEvents>();
        var started = Stopwatch.StartNew();
        var expiring = OwnerWatch.Watch(ref silent, Timeout, default, new ValueTask<TurnEvents>(never.Task)).AsTask();
        var answering = OwnerWatch.Watch(ref answered, TimeSpan.FromMinutes(1), default, new ValueTask<TurnEvents>(late.Task)).AsTask();

        await Assert.ThrowsAsync<OwnerUnreachableException>(() => expiring.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(started.Elapsed >= Timeout - TimeSpan.FromMilliseconds(20), $"expired after {started.Elapsed}");
        Assert.False(answering.IsCompleted);
        late.SetResult(Answer("c"));
        Assert.Equal("c", (await answering.WaitAsync(TimeSpan.FromSeconds(30))).Events[0].Type);

        // The abandoned call's late failure is observed by its watch, not left unobserved.
        never.SetException(new TimeoutException());
        OwnerWatch.Abandon(ref silent);
        OwnerWatch.Abandon(ref answered);
    }

    [Fact]
    public async Task A_disposed_watch_never_expires()
    {
        OwnerWatch? watch = null;
        var never = new TaskCompletionSource<TurnEvents>();
        var waiting = OwnerWatch.Watch(ref watch, Timeout, default, new ValueTask<TurnEvents>(never.Task)).AsTask();
        OwnerWatch.Abandon(ref watch); // the caller moved on (its turn stream ended)
        await Task.Delay(Timeout * 2);
        Assert.False(waiting.IsCompleted);
    }

    [Fact]
    public async Task A_client_that_goes_away_ends_the_wait_at_once_and_the_late_answer_is_dropped()
    {
        using var client = new CancellationTokenSource();
        OwnerWatch? watch = null;
        var first = new TaskCompletionSource<TurnEvents>();
        var answered = OwnerWatch.Watch(ref watch, TimeSpan.FromMinutes(1), client.Token, new ValueTask<TurnEvents>(first.Task));
        first.SetResult(Answer("a"));
        Assert.Equal("a", (await answered).Events[0].Type); // the client stays through the first call

        var late = new TaskCompletionSource<TurnEvents>();
        var waiting = OwnerWatch.Watch(ref watch, TimeSpan.FromMinutes(1), client.Token, new ValueTask<TurnEvents>(late.Task)).AsTask();
        Assert.False(waiting.IsCompleted);
        await client.CancelAsync();
        var cancelled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(client.Token, cancelled.CancellationToken);
        late.SetException(new TimeoutException()); // observed by the watch, not left unobserved
        OwnerWatch.Abandon(ref watch);
    }

    [Fact]
    public async Task A_call_made_after_the_client_went_away_ends_at_once()
    {
        using var client = new CancellationTokenSource();
        OwnerWatch? watch = null;
        var first = new TaskCompletionSource<TurnEvents>();
        var waiting = OwnerWatch.Watch(ref watch, TimeSpan.FromMinutes(1), client.Token, new ValueTask<TurnEvents>(first.Task)).AsTask();
        first.SetResult(Answer("a"));
        await waiting;
        await client.CancelAsync(); // between two calls: no wait to end yet

        var next = OwnerWatch.Watch(ref watch, TimeSpan.FromMinutes(1), client.Token, new ValueTask<TurnEvents>(new TaskCompletionSource<TurnEvents>().Task)).AsTask();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => next.WaitAsync(TimeSpan.FromSeconds(30)));
        OwnerWatch.Abandon(ref watch);
    }

    [Fact]
    public async Task A_late_deadline_of_an_answered_wait_does_not_fail_the_next_one()
    {
        // The queue's timer takes a deadline off, the answer comes and the next call starts before the timer tells the
        // watch: that telling is for the first wait (its tag), and the second wait keeps its own deadline.
        OwnerWatch? watch = null;
        var first = new TaskCompletionSource<TurnEvents>();
        var answered = OwnerWatch.Watch(ref watch, TimeSpan.FromMinutes(1), default, new ValueTask<TurnEvents>(first.Task));
        var firstTag = watch!.Tag;
        first.SetResult(Answer("a"));
        Assert.Equal("a", (await answered).Events[0].Type);

        var second = new TaskCompletionSource<TurnEvents>();
        var waiting = OwnerWatch.Watch(ref watch, TimeSpan.FromMinutes(1), default, new ValueTask<TurnEvents>(second.Task)).AsTask();
        Assert.NotEqual(firstTag, watch!.Tag);
        ((Protocol.Timing.Deadline)watch).Expire(firstTag);
        Assert.False(waiting.IsCompleted);

        ((Protocol.Timing.Deadline)watch).Expire(watch.Tag); // its own deadline does end it
        await Assert.ThrowsAsync<OwnerUnreachableException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(30)));
        second.SetResult(Answer("late")); // observed and dropped
        OwnerWatch.Abandon(ref watch);
    }
}
