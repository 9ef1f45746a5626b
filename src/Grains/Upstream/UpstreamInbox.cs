using System.Threading.Tasks.Sources;
using CodexLb.Protocol.Timing;

namespace CodexLb.Grains.Upstream;

/// <summary>
/// The events a socket's read loop hands to the one turn reading them: a queue under a lock and one wait, reused. A wait
/// ends with the next event, with the socket's end (null), at its timeout (every socket of the silo in one
/// <see cref="DeadlineQueue"/>), or when <see cref="Cancel"/>led. A channel with a timed, cancellable read made a channel
/// operation, two changes of a token source's timer and a linked registration per wait; a turn waits a few times.
/// </summary>
internal sealed class UpstreamInbox : Deadline, IValueTaskSource<UpstreamEvent?>
{
    private static readonly DeadlineQueue ReadTimeouts = new();

    private readonly Lock _gate = new();
    private readonly Queue<UpstreamEvent> _events = new();
    // Completed on the writer's thread (the read loop): the reader's own continuation goes where it awaits from.
    private ManualResetValueTaskSourceCore<UpstreamEvent?> _wait;
    private bool _waiting;
    private bool _completed;
    private TimeSpan _timeout; // of the wait in progress
    private long _waits; // the wait in progress is the n-th: its deadline's tag (a late expiry of an earlier one is ignored)
    private bool _moreAfterRead;

    /// <summary>
    /// When the reader took its last event (a read, or a wait's hand-over), more were queued behind it: its next read
    /// completes at once. Kept by the read under the lock it takes anyway, so asking costs no second lock per event; an
    /// event that came after that read is not counted (the next read finds it all the same).
    /// </summary>
    public bool MoreAfterRead => Volatile.Read(ref _moreAfterRead);

    /// <summary>The socket ended and every event was read.</summary>
    public bool IsDrained
    {
        get { lock (_gate) return _completed && _events.Count == 0; }
    }

    public bool TryRead(out UpstreamEvent upstreamEvent)
    {
        lock (_gate) return Dequeue(out upstreamEvent);
    }

    private bool Dequeue(out UpstreamEvent upstreamEvent)
    {
        var read = _events.TryDequeue(out upstreamEvent);
        _moreAfterRead = _events.Count > 0;
        return read;
    }

    /// <summary>
    /// The next event, null once the socket ended with none left; a <see cref="TimeoutException"/> when none came within
    /// <paramref name="timeout"/>, an <see cref="OperationCanceledException"/> when <see cref="Cancel"/>led first. One wait
    /// at a time (one reader).
    /// </summary>
    public ValueTask<UpstreamEvent?> WaitAsync(TimeSpan timeout)
    {
        lock (_gate)
        {
            if (Dequeue(out var ready)) return new(ready);
            if (_completed) return new((UpstreamEvent?)null);
            _wait.Reset();
            _waiting = true;
            _timeout = timeout;
            ReadTimeouts.Schedule(this, timeout, ++_waits);
            return new(this, _wait.Version);
        }
    }

    /// <summary>Events that came in one read of the socket, in order, under one lock: a waiting reader gets the first, the rest queue behind it.</summary>
    public void Write(List<UpstreamEvent> burst)
    {
        if (burst.Count == 0) return;
        lock (_gate)
        {
            if (_completed) return;
            for (var i = _waiting ? 1 : 0; i < burst.Count; i++) _events.Enqueue(burst[i]);
            if (!_waiting) return;
            _waiting = false;
            _moreAfterRead = burst.Count > 1; // the waiter takes the first: the queue was empty when it began to wait
        }
        ReadTimeouts.Remove(this);
        _wait.SetResult(burst[0]);
    }

    /// <summary>The socket ended: a wait in progress answers null, as every read after the last event does.</summary>
    public void Complete()
    {
        lock (_gate)
        {
            if (_completed) return;
            _completed = true;
            if (!_waiting) return;
            _waiting = false;
        }
        ReadTimeouts.Remove(this);
        _wait.SetResult(null);
    }

    /// <summary>Ends a wait in progress with an <see cref="OperationCanceledException"/> (its reader's turn was cancelled).</summary>
    public void Cancel()
    {
        if (!TryEndWait(wait: null)) return;
        ReadTimeouts.Remove(this);
        _wait.SetException(new OperationCanceledException());
    }

    protected override void Expire(long tag)
    {
        if (!TryEndWait(wait: tag)) return; // the deadline of a wait that already ended
        _wait.SetException(new TimeoutException("The upstream sent nothing within " + _timeout + "."));
    }

    /// <summary>Takes the wait in progress, unless none is (or it is not the <paramref name="wait"/>-th).</summary>
    private bool TryEndWait(long? wait)
    {
        lock (_gate)
        {
            if (!_waiting || (wait is { } number && number != _waits)) return false;
            _waiting = false;
            return true;
        }
    }

    public UpstreamEvent? GetResult(short token) => _wait.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _wait.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _wait.OnCompleted(continuation, state, token, flags);
}
