using System.Diagnostics;
using System.Threading.Tasks.Sources;
using CodexLb.Grains.Abstractions;

namespace CodexLb.Gateway.Routing;

/// <summary>
/// Waits for a pending call for a turn's events, at most the owner timeout: one timer per turn stream, re-armed by each
/// call, where <c>AsTask().WaitAsync(timeout)</c> made a task, a timer and a second task per call. An expired watch
/// belongs to an abandoned call: it is never reused (the call still pending on it is observed and dropped).
/// </summary>
internal sealed class OwnerWatch : IValueTaskSource<TurnEvents>, IDisposable
{
    private const int Idle = 0, Waiting = 1, Settled = 2;

    private readonly TimeSpan _timeout;
    private readonly Timer _timer;
    private readonly Action _pulled;
    private ManualResetValueTaskSourceCore<TurnEvents> _core;
    private ValueTask<TurnEvents> _pending;
    private long _deadline;
    private int _state;

    public OwnerWatch(TimeSpan timeout)
    {
        _timeout = timeout;
        _pulled = OnPulled;
        _timer = new Timer(static watch => ((OwnerWatch)watch!).OnTimer(), this, Timeout.Infinite, Timeout.Infinite);
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
        _deadline = Stopwatch.GetTimestamp() + (long)(_timeout.TotalSeconds * Stopwatch.Frequency);
        Volatile.Write(ref _state, Waiting);
        _timer.Change(_timeout, Timeout.InfiniteTimeSpan);
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
        _timer.Change(Timeout.Infinite, Timeout.Infinite);
        try
        {
            _core.SetResult(pending.GetAwaiter().GetResult());
        }
        catch (Exception ex)
        {
            _core.SetException(ex);
        }
    }

    private void OnTimer()
    {
        if (Volatile.Read(ref _state) != Waiting) return;
        // A tick armed by an earlier pull can land on this one: only its own deadline expires it.
        var left = _deadline - Stopwatch.GetTimestamp();
        if (left > 0)
        {
            try { _timer.Change(TimeSpan.FromSeconds((double)left / Stopwatch.Frequency), Timeout.InfiniteTimeSpan); }
            catch (ObjectDisposedException) { } // the stream is done with it
            return;
        }
        if (Interlocked.CompareExchange(ref _state, Settled, Waiting) != Waiting) return;
        _core.SetException(new OwnerUnreachableException(_timeout));
    }

    public TurnEvents GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    public void Dispose() => _timer.Dispose();
}
