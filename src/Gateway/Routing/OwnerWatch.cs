using System.Threading.Tasks.Sources;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Timing;

namespace CodexLb.Gateway.Routing;

/// <summary>
/// Waits for a pending call for a turn's events, at most the owner timeout, and no longer than its client stays. The
/// deadlines of all watches wait in one <see cref="DeadlineQueue"/>: a timer per watch cost three objects and two
/// timer-queue changes per turn. The client's going away is watched here, once per watch, not by the grain call:
/// a call given a cancellable token costs Orleans a registration on the caller and a token source on the owner every call,
/// and the owner answers a call nobody waits for by its next heartbeat anyway (the caller's stream tells it to stop the
/// turn). An expired or aborted watch belongs to an abandoned call: it is never reused (the call still pending on it is
/// observed and dropped).
/// </summary>
internal sealed class OwnerWatch : Deadline, IValueTaskSource<TurnEvents>, IDisposable
{
    private const int Waiting = 1, Settled = 2; // 0: idle (made, or between calls)

    /// <summary>The deadlines of every watch in this process.</summary>
    internal static readonly DeadlineQueue Deadlines = new();

    private readonly TimeSpan _timeout;
    private readonly CancellationToken _aborted;
    private readonly CancellationTokenRegistration _abortion;
    private readonly Action _pulled;
    private ManualResetValueTaskSourceCore<TurnEvents> _core;
    private ValueTask<TurnEvents> _pending;
    private long _state; // (n << 2) | the n-th wait's phase; n is its deadline's tag, so a late earlier deadline settles nothing

    public OwnerWatch(TimeSpan timeout, CancellationToken aborted)
    {
        _timeout = timeout;
        _aborted = aborted;
        _pulled = OnPulled;
        _abortion = aborted.UnsafeRegister(static watch => ((OwnerWatch)watch!).Abort(), this);
    }

    /// <summary>
    /// A caller's call watched with its own watch (made at its first pending call): a call already answered costs no watch.
    /// <paramref name="aborted"/> is the caller's client going away (the same for every call of one caller).
    /// </summary>
    public static ValueTask<TurnEvents> Watch(ref OwnerWatch? watch, TimeSpan timeout, CancellationToken aborted, ValueTask<TurnEvents> call) =>
        call.IsCompletedSuccessfully ? call : (watch ??= new OwnerWatch(timeout, aborted)).WaitAsync(call);

    /// <summary>Drops a caller's watch after an abandoned call (its late outcome is observed by it): the next call gets a new one.</summary>
    public static void Abandon(ref OwnerWatch? watch)
    {
        watch?.Dispose();
        watch = null;
    }

    /// <summary>
    /// The call's outcome; <see cref="OwnerUnreachableException"/> when the owner sent nothing in time, or an
    /// <see cref="OperationCanceledException"/> as soon as the client went away.
    /// </summary>
    public ValueTask<TurnEvents> WaitAsync(ValueTask<TurnEvents> pending)
    {
        _core.Reset();
        _pending = pending;
        var wait = CurrentWait + 1;
        Volatile.Write(ref _state, wait << 2 | Waiting);
        Deadlines.Schedule(this, _timeout, wait);
        pending.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_pulled);
        if (_aborted.IsCancellationRequested) Abort(); // gone before this call (its registration fired between calls)
        return new ValueTask<TurnEvents>(this, _core.Version);
    }

    private void OnPulled()
    {
        var pending = _pending;
        if (!TrySettle(CurrentWait)) // the pull is the current wait's: an abandoned watch is never reused
        {
            // Expired first: the caller moved on; observe the late outcome so it is not an unobserved failure.
            try { pending.GetAwaiter().GetResult(); } catch (Exception) { }
            return;
        }
        Deadlines.Remove(this);
        try
        {
            _core.SetResult(pending.GetAwaiter().GetResult());
        }
        catch (Exception ex)
        {
            _core.SetException(ex);
        }
    }

    /// <summary>
    /// The owner timeout of the <paramref name="tag"/>-th wait passed (the queue took the watch off): it fails unless it
    /// was answered first, even when the answer came just as the deadline was being told and the next wait already began.
    /// </summary>
    protected override void Expire(long tag)
    {
        if (!TrySettle(tag)) return;
        _core.SetException(new OwnerUnreachableException(_timeout));
    }

    /// <summary>The client went away: the caller stops waiting at once.</summary>
    private void Abort()
    {
        if (!TrySettle(CurrentWait)) return; // no wait in progress: WaitAsync checks the token after arming
        Deadlines.Remove(this);
        _core.SetException(new OperationCanceledException(_aborted));
    }

    /// <summary>The number of the wait in progress, or of the last one.</summary>
    private long CurrentWait => Volatile.Read(ref _state) >> 2;

    /// <summary>Ends the <paramref name="wait"/>-th wait if it is still in progress: one of its pull, deadline and abort wins.</summary>
    private bool TrySettle(long wait) =>
        Interlocked.CompareExchange(ref _state, wait << 2 | Settled, wait << 2 | Waiting) == (wait << 2 | Waiting);

    public TurnEvents GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    public void Dispose()
    {
        _abortion.Dispose();
        Deadlines.Remove(this);
    }
}
