using System.Diagnostics;
using CodexLb.Protocol.Timing;

namespace CodexLb.Tests.Unit;

/// <summary>
/// The one timer behind many deadlines: each entry expires once, not before its deadline, in deadline order whatever the
/// order they were listed in; a removed entry never expires; moving an entry moves its deadline, unless it asked to keep
/// a sooner one.
/// </summary>
public sealed class DeadlineQueueTests
{
    // xunit makes an instance per test: each test has its own queue, log and clock (started with the test's first entry).
    private readonly DeadlineQueue _queue = new();
    private readonly List<(string Name, TimeSpan At)> _log = [];
    private Stopwatch? _clock;

    private sealed class Entry(string name, List<(string Name, TimeSpan At)> log, Stopwatch clock) : Deadline
    {
        public List<long> Tags { get; } = [];

        protected internal override void Expire(long tag)
        {
            lock (log)
            {
                log.Add((name, clock.Elapsed));
                Tags.Add(tag);
            }
        }
    }

    private Entry Named(string name) => new(name, _log, _clock ??= Stopwatch.StartNew());

    private async Task WaitForAsync(int count)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            lock (_log) if (_log.Count >= count) return;
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), $"only {_log.Count} of {count} expired");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task Entries_expire_once_each_in_deadline_order_and_never_before_their_deadline()
    {
        // Listed out of order: the later first, then one due sooner than the timer is armed for.
        _queue.Schedule(Named("late"), TimeSpan.FromMilliseconds(600));
        _queue.Schedule(Named("soon"), TimeSpan.FromMilliseconds(200));
        _queue.Schedule(Named("middle"), TimeSpan.FromMilliseconds(400));

        await WaitForAsync(3);
        await Task.Delay(300); // nothing expires twice
        lock (_log)
        {
            Assert.Equal(["soon", "middle", "late"], _log.Select(e => e.Name));
            Assert.True(_log[0].At >= TimeSpan.FromMilliseconds(200), $"soon expired at {_log[0].At}");
            Assert.True(_log[2].At >= TimeSpan.FromMilliseconds(600), $"late expired at {_log[2].At}");
        }
        Assert.Equal(0, _queue.Count);
    }

    [Fact]
    public async Task A_removed_entry_never_expires_and_the_rest_still_do()
    {
        var answered = Named("answered");
        _queue.Schedule(answered, TimeSpan.FromMilliseconds(150)); // the timer is armed for it
        _queue.Schedule(Named("silent"), TimeSpan.FromMilliseconds(300));
        _queue.Remove(answered);
        _queue.Remove(answered); // twice is harmless

        await WaitForAsync(1);
        await Task.Delay(300);
        lock (_log) Assert.Equal(["silent"], _log.Select(e => e.Name));
    }

    [Fact]
    public async Task Scheduling_again_moves_the_deadline_unless_the_sooner_one_is_kept()
    {
        var moved = Named("moved");
        var kept = Named("kept");
        _queue.Schedule(moved, TimeSpan.FromMilliseconds(100));
        _queue.Schedule(moved, TimeSpan.FromMilliseconds(500)); // a new call: its own deadline
        _queue.Schedule(kept, TimeSpan.FromMilliseconds(200), tag: 7);
        _queue.Schedule(kept, TimeSpan.FromMilliseconds(2000), tag: 8, keepSooner: true); // a second waiter: the first one's stays
        Assert.Equal(2, _queue.Count);

        await WaitForAsync(2);
        lock (_log)
        {
            Assert.Equal(["kept", "moved"], _log.Select(e => e.Name));
            Assert.True(_log[0].At < TimeSpan.FromMilliseconds(1500), $"kept expired at {_log[0].At}");
            Assert.True(_log[1].At >= TimeSpan.FromMilliseconds(500), $"moved expired at {_log[1].At}");
            Assert.Equal([7L], kept.Tags); // the kept listing keeps its tag
        }
    }

    [Fact]
    public async Task An_entry_listed_again_after_it_expired_expires_again()
    {
        var entry = Named("again");
        _queue.Schedule(entry, TimeSpan.FromMilliseconds(50), tag: 1);
        await WaitForAsync(1);
        _queue.Schedule(entry, TimeSpan.FromMilliseconds(50), tag: 2); // the next wait of the same owner
        await WaitForAsync(2);
        Assert.Equal(0, _queue.Count);
        lock (_log) Assert.Equal([1L, 2L], entry.Tags); // each expiry tells which listing it was
    }
}
