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

    private static async Task WaitForAsync(List<(string Name, TimeSpan At)> log, int count)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            lock (log) if (log.Count >= count) return;
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), $"only {log.Count} of {count} expired");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task Entries_expire_once_each_in_deadline_order_and_never_before_their_deadline()
    {
        var queue = new DeadlineQueue();
        var clock = Stopwatch.StartNew();
        var log = new List<(string Name, TimeSpan At)>();
        // Listed out of order: the later first, then one due sooner than the timer is armed for.
        queue.Schedule(new Entry("late", log, clock), TimeSpan.FromMilliseconds(600));
        queue.Schedule(new Entry("soon", log, clock), TimeSpan.FromMilliseconds(200));
        queue.Schedule(new Entry("middle", log, clock), TimeSpan.FromMilliseconds(400));

        await WaitForAsync(log, 3);
        await Task.Delay(300); // nothing expires twice
        lock (log)
        {
            Assert.Equal(["soon", "middle", "late"], log.Select(e => e.Name));
            Assert.True(log[0].At >= TimeSpan.FromMilliseconds(200), $"soon expired at {log[0].At}");
            Assert.True(log[2].At >= TimeSpan.FromMilliseconds(600), $"late expired at {log[2].At}");
        }
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public async Task A_removed_entry_never_expires_and_the_rest_still_do()
    {
        var queue = new DeadlineQueue();
        var clock = Stopwatch.StartNew();
        var log = new List<(string Name, TimeSpan At)>();
        var answered = new Entry("answered", log, clock);
        queue.Schedule(answered, TimeSpan.FromMilliseconds(150)); // the timer is armed for it
        queue.Schedule(new Entry("silent", log, clock), TimeSpan.FromMilliseconds(300));
        queue.Remove(answered);
        queue.Remove(answered); // twice is harmless

        await WaitForAsync(log, 1);
        await Task.Delay(300);
        lock (log) Assert.Equal(["silent"], log.Select(e => e.Name));
    }

    [Fact]
    public async Task Scheduling_again_moves_the_deadline_unless_the_sooner_one_is_kept()
    {
        var queue = new DeadlineQueue();
        var clock = Stopwatch.StartNew();
        var log = new List<(string Name, TimeSpan At)>();
        var moved = new Entry("moved", log, clock);
        var kept = new Entry("kept", log, clock);
        queue.Schedule(moved, TimeSpan.FromMilliseconds(100));
        queue.Schedule(moved, TimeSpan.FromMilliseconds(500)); // a new call: its own deadline
        queue.Schedule(kept, TimeSpan.FromMilliseconds(200), tag: 7);
        queue.Schedule(kept, TimeSpan.FromMilliseconds(2000), tag: 8, keepSooner: true); // a second waiter: the first one's stays
        Assert.Equal(2, queue.Count);

        await WaitForAsync(log, 2);
        lock (log)
        {
            Assert.Equal(["kept", "moved"], log.Select(e => e.Name));
            Assert.True(log[0].At < TimeSpan.FromMilliseconds(1500), $"kept expired at {log[0].At}");
            Assert.True(log[1].At >= TimeSpan.FromMilliseconds(500), $"moved expired at {log[1].At}");
            Assert.Equal([7L], kept.Tags); // the kept listing keeps its tag
        }
    }

    [Fact]
    public async Task An_entry_listed_again_after_it_expired_expires_again()
    {
        var queue = new DeadlineQueue();
        var clock = Stopwatch.StartNew();
        var log = new List<(string Name, TimeSpan At)>();
        var entry = new Entry("again", log, clock);
        queue.Schedule(entry, TimeSpan.FromMilliseconds(50), tag: 1);
        await WaitForAsync(log, 1);
        queue.Schedule(entry, TimeSpan.FromMilliseconds(50), tag: 2); // the next wait of the same owner
        await WaitForAsync(log, 2);
        Assert.Equal(0, queue.Count);
        lock (log) Assert.Equal([1L, 2L], entry.Tags); // each expiry tells which listing it was

    }
}
