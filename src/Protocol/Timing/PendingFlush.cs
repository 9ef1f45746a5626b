namespace CodexLb.Protocol.Timing;

/// <summary>
/// Runs a flush <c>delay</c> after something became pending, and never while nothing is: a periodic timer behind a batch
/// of counts woke an idle process several times a second forever (a timer-thread wake and a worker wake each, ~40 µs of
/// CPU on a small VM), whether it had counted anything or not. Under steady load it flushes as often as the periodic
/// timer did: the first count after a flush arms the next one.
/// </summary>
/// <remarks>
/// The caller adds to its batch first, then calls <see cref="Arm"/>. The flag is cleared before the flush takes the batch,
/// so a count added after that take arms the next flush, and one added before it is taken by this one (at worst it also
/// arms a flush that finds nothing).
/// </remarks>
public sealed class PendingFlush : IDisposable
{
    private readonly Action _flush;
    private readonly TimeSpan _delay;
    private readonly ITimer _timer;
    private int _armed;

    public PendingFlush(Action flush, TimeSpan delay, TimeProvider? time = null)
    {
        _flush = flush;
        _delay = delay;
        _timer = (time ?? TimeProvider.System).CreateTimer(static state => ((PendingFlush)state!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Whether a flush is due (for tests).</summary>
    public bool IsArmed => Volatile.Read(ref _armed) == 1;

    /// <summary>Something was added to the batch: flush it <c>delay</c> from now, unless a flush is due already.</summary>
    public void Arm()
    {
        if (Volatile.Read(ref _armed) != 0 || Interlocked.CompareExchange(ref _armed, 1, 0) != 0) return;
        try
        {
            _timer.Change(_delay, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // the process is stopping: what is added now is not flushed, as with the periodic timer it replaces
        }
    }

    private void Fire()
    {
        Volatile.Write(ref _armed, 0);
        _flush();
    }

    public void Dispose() => _timer.Dispose();
}
