using System.Diagnostics;
using System.Threading.Tasks.Sources;
using CodexLb.Grains.Abstractions;

namespace CodexLb.Gateway.Routing;

/// <summary>
/// Waits for a pending call for a turn's events, at most the owner timeout. The deadlines of all watches are checked by one
/// sweep (<see cref="OwnerWatchSweep"/>), as Kestrel checks its connections' timeouts on a heartbeat: a timer per watch
/// cost three objects and two timer-queue changes per turn (and woke the timer thread when due before its next wake). An expired watch
/// belongs to an abandoned call: it is never reused (the call still pending on it is observed and dropped).
/// </summary>
internal sealed class OwnerWatch : IValueTaskSource<TurnEvents>, IDisposable
{
    private const int Waiting = 1, Settled = 2; // 0: idle (made, or between calls)

    private readonly TimeSpan _timeout;
    private readonly Action _pulled;
    private ManualResetValueTaskSourceCore<TurnEvents> _core;
    private ValueTask<TurnEvents> _pending;
    private int _state;

    // Owned by OwnerWatchSweep, under its lock.
    internal OwnerWatch? SweepPrevious, SweepNext;
    internal bool Swept;
    internal long Deadline;

    public OwnerWatch(TimeSpan timeout)
    {
        _timeout = timeout;
        _pulled = OnPulled;
    }

    /// <summary>
    /// A caller's call watched with its own watch (made at its first pending call): a call already answered costs no watch.
    /// </summary>
    public static ValueTask<TurnEvents> Watch(ref OwnerWatch? watch, TimeSpan timeout, ValueTask<TurnEvents> call) =>
        call.IsCompletedSuccessfully ? call : (watch ??= new OwnerWatch(timeout)).WaitAsync(call);

    /// <summary>Drops a caller's watch after an abandoned call (its late outcome is observed by it): the next call gets a new one.</summary>
    public static void Abandon(ref OwnerWatch? watch)
    {
        watch?.Dispose();
        watch = null;
    }

    /// <summary>The call's outcome, or <see cref="OwnerUnreachableException"/> when the owner sent nothing in time.</summary>
    public ValueTask<TurnEvents> WaitAsync(ValueTask<TurnEvents> pending)
    {
        _core.Reset();
        _pending = pending;
        Volatile.Write(ref _state, Waiting);
        OwnerWatchSweep.Add(this, Stopwatch.GetTimestamp() + (long)(_timeout.TotalSeconds * Stopwatch.Frequency));
        pending.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_pulled);
        return new ValueTask<TurnEvents>(this, _core.Version);
    }

    private void OnPulled()
    {
        var pending = _pending;
        if (Interlocked.CompareExchange(ref _state, Settled, Waiting) != Waiting)
        {
            // Expired first: the caller moved on; observe the late outcome so it is not an unobserved failure.
            try { pending.GetAwaiter().GetResult(); } catch (Exception) { }
            return;
        }
        OwnerWatchSweep.Remove(this);
        try
        {
            _core.SetResult(pending.GetAwaiter().GetResult());
        }
        catch (Exception ex)
        {
            _core.SetException(ex);
        }
    }

    /// <summary>The sweep found the deadline passed (and took the watch off its list).</summary>
    internal void Expire()
    {
        if (Interlocked.CompareExchange(ref _state, Settled, Waiting) != Waiting) return;
        _core.SetException(new OwnerUnreachableException(_timeout));
    }

    public TurnEvents GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    public void Dispose() => OwnerWatchSweep.Remove(this);
}
