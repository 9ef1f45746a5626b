namespace CodexLb.Grains.Timing;

/// <summary>
/// A grain's flush, run on the grain's own scheduler <c>delay</c> after something became pending, and never while nothing
/// is: the grain-side twin of <see cref="CodexLb.Protocol.Timing.PendingFlush"/>. A periodic grain timer that found
/// nothing to write still woke the runtime's timer thread and a worker every period, for as long as the grain lived.
/// </summary>
/// <remarks>
/// The flag is cleared before the flush runs, so what the grain adds while it runs (the timer interleaves) arms the next
/// one; what the flush fails to write it puts back and arms again.
/// </remarks>
internal sealed class PendingGrainFlush(IGrainBase grain, Func<CancellationToken, Task> flush, TimeSpan delay)
{
    private IGrainTimer? _timer;
    private bool _armed;

    /// <summary>Something became pending: flush <c>delay</c> from now, unless a flush is due already.</summary>
    public void Arm()
    {
        if (_armed) return;
        _armed = true;
        if (_timer is null)
            _timer = grain.RegisterGrainTimer(FireAsync, new GrainTimerCreationOptions(delay, Timeout.InfiniteTimeSpan) { Interleave = true, KeepAlive = false });
        else _timer.Change(delay, Timeout.InfiniteTimeSpan);
    }

    private Task FireAsync(CancellationToken cancellationToken)
    {
        _armed = false;
        return flush(cancellationToken);
    }
}
