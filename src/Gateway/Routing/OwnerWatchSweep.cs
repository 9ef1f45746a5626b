using System.Diagnostics;

namespace CodexLb.Gateway.Routing;

/// <summary>
/// The deadlines of every <see cref="OwnerWatch"/> waiting in this process, checked every <see cref="Tick"/> by one timer
/// that runs only while a watch waits: a watch expires between its deadline and one tick later (the owner timeout is at
/// least a second, so a quarter-second late is within its meaning). Adding and removing is a linked-list step under a lock.
/// </summary>
internal static class OwnerWatchSweep
{
    public static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(250);

    private static readonly Lock Gate = new();
    private static readonly Timer Timer = new(static _ => Sweep(), null, Timeout.Infinite, Timeout.Infinite);
    private static OwnerWatch? _first;
    private static bool _ticking;

    public static void Add(OwnerWatch watch, long deadline)
    {
        lock (Gate)
        {
            watch.Deadline = deadline;
            if (watch.Swept) return; // still listed from its last call (a pull that raced this add removes it)
            watch.Swept = true;
            watch.SweepPrevious = null;
            watch.SweepNext = _first;
            if (_first is not null) _first.SweepPrevious = watch;
            _first = watch;
            if (_ticking) return;
            _ticking = true;
            Timer.Change(Tick, Tick); // under the lock, so a sweep that finds the list empty cannot stop it after this
        }
    }

    public static void Remove(OwnerWatch watch)
    {
        lock (Gate) Unlink(watch);
    }

    private static void Unlink(OwnerWatch watch)
    {
        if (!watch.Swept) return;
        watch.Swept = false;
        if (watch.SweepPrevious is { } previous) previous.SweepNext = watch.SweepNext;
        else _first = watch.SweepNext;
        if (watch.SweepNext is { } next) next.SweepPrevious = watch.SweepPrevious;
        watch.SweepPrevious = watch.SweepNext = null;
    }

    private static void Sweep()
    {
        List<OwnerWatch>? expired = null;
        lock (Gate)
        {
            var now = Stopwatch.GetTimestamp();
            for (var watch = _first; watch is not null;)
            {
                var next = watch.SweepNext;
                if (watch.Deadline <= now)
                {
                    Unlink(watch);
                    (expired ??= []).Add(watch);
                }
                watch = next;
            }
            if (_first is null)
            {
                // Nothing waits: the timer stops until the next watch (an idle gateway has no tick).
                _ticking = false;
                Timer.Change(Timeout.Infinite, Timeout.Infinite);
            }
        }
        if (expired is null) return;
        foreach (var watch in expired) watch.Expire();
    }
}
