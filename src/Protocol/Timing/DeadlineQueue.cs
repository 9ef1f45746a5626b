using System.Diagnostics;

namespace CodexLb.Protocol.Timing;

/// <summary>
/// Something that must happen by a deadline unless it is taken off a <see cref="DeadlineQueue"/> first (an answer that
/// came, a wait that ended). The links are the queue's, under its lock: listing costs no object.
/// </summary>
public abstract class Deadline
{
    internal Deadline? QueuePrevious, QueueNext;
    internal bool Queued;
    internal long Due;
    internal long Tag;

    /// <summary>Listed in a queue: it expires unless taken off first.</summary>
    public bool IsScheduled => Volatile.Read(ref Queued);

    /// <summary>
    /// The deadline of the listing tagged <paramref name="tag"/> passed: called on the queue's timer thread, outside its
    /// lock, once the entry left the queue. The entry may be listed again by then (the next wait of its owner): the tag
    /// tells a late expiry of an earlier listing apart.
    /// </summary>
    protected internal abstract void Expire(long tag);
}

/// <summary>
/// The deadlines of many waits, in order, behind one timer armed for the earliest, as Kestrel checks its connections'
/// timeouts on one heartbeat: a timer per wait cost objects and two timer-queue changes each, and a wait that nearly
/// always ends in milliseconds needs neither. Deadlines are nearly always added in order (one timeout per queue), so an
/// add is a step from the tail; a removal is an unlink. The timer is re-armed only when it fires, or when an entry due
/// sooner than it is armed for arrives; an idle queue has no timer pending.
/// </summary>
public sealed class DeadlineQueue
{
    private readonly Lock _gate = new();
    private readonly Timer _timer;
    private Deadline? _first, _last;
    private long _armedFor = long.MaxValue; // the timestamp the timer fires at (MaxValue: not armed)

    public DeadlineQueue() => _timer = new Timer(static queue => ((DeadlineQueue)queue!).Fire(), this, Timeout.Infinite, Timeout.Infinite);

    /// <summary>How many entries are listed (for tests).</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                var count = 0;
                for (var entry = _first; entry is not null; entry = entry.QueueNext) count++;
                return count;
            }
        }
    }

    /// <summary>
    /// Lists <paramref name="entry"/> to expire <paramref name="timeout"/> from now, with <paramref name="tag"/> (given
    /// back to <see cref="Deadline.Expire"/>: which wait of the entry the listing is for); one already listed moves to its
    /// new deadline and tag, unless <paramref name="keepSooner"/> and it is due sooner already (a wait another waiter
    /// started first keeps its listing).
    /// </summary>
    public void Schedule(Deadline entry, TimeSpan timeout, long tag = 0, bool keepSooner = false)
    {
        var due = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        lock (_gate)
        {
            if (entry.Queued)
            {
                if (keepSooner && entry.Due <= due) return;
                Unlink(entry);
            }
            entry.Due = due;
            entry.Tag = tag;
            entry.Queued = true;
            var before = _last;
            while (before is not null && before.Due > due) before = before.QueuePrevious;
            entry.QueuePrevious = before;
            entry.QueueNext = before is null ? _first : before.QueueNext;
            if (entry.QueueNext is { } next) next.QueuePrevious = entry; else _last = entry;
            if (before is not null) before.QueueNext = entry; else _first = entry;
            if (due < _armedFor) Arm(due);
        }
    }

    /// <summary>Takes <paramref name="entry"/> off the queue: it will not expire (nothing happens when it is not listed).</summary>
    public void Remove(Deadline entry)
    {
        if (!Volatile.Read(ref entry.Queued)) return; // only the owner of the entry lists it: not listed stays so
        lock (_gate) Unlink(entry);
    }

    private void Unlink(Deadline entry)
    {
        if (!entry.Queued) return;
        entry.Queued = false;
        if (entry.QueuePrevious is { } previous) previous.QueueNext = entry.QueueNext; else _first = entry.QueueNext;
        if (entry.QueueNext is { } next) next.QueuePrevious = entry.QueuePrevious; else _last = entry.QueuePrevious;
        entry.QueuePrevious = entry.QueueNext = null;
    }

    /// <summary>Under the lock: the timer fires at <paramref name="due"/> (a millisecond late at most, never early).</summary>
    private void Arm(long due)
    {
        _armedFor = due;
        var milliseconds = Math.Max(0, (due - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency + 1);
        _timer.Change(milliseconds, Timeout.Infinite);
    }

    private void Fire()
    {
        List<(Deadline Entry, long Tag)>? expired = null; // its own list: an entry listed again before it is told relinks
        lock (_gate)
        {
            var now = Stopwatch.GetTimestamp();
            while (_first is { } entry && entry.Due <= now)
            {
                Unlink(entry);
                (expired ??= []).Add((entry, entry.Tag));
            }
            _armedFor = long.MaxValue;
            if (_first is { } next) Arm(next.Due);
        }
        if (expired is null) return;
        foreach (var (entry, tag) in expired) entry.Expire(tag);
    }
}
