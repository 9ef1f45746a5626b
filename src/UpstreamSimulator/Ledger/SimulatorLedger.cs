using CodexLb.UpstreamSimulator.Ledger;

namespace CodexLb.UpstreamSimulator;

/// <summary>Both lists of a ledger, taken under one lock.</summary>
public sealed record LedgerSnapshot(IReadOnlyList<ConnectionRecord> Connections, IReadOnlyList<RequestRecord> Requests);

/// <summary>
/// Everything the simulator saw: connections and requests, in arrival order. Readers get immutable snapshots;
/// writers mutate entries under one lock, so a snapshot never shows a half-updated request.
/// </summary>
public sealed class SimulatorLedger
{
    private readonly Lock _gate = new();
    private readonly List<ConnectionEntry> _connections = [];
    private readonly List<RequestEntry> _requests = [];
    private readonly int _capacity;
    private long _nextRequestId;
    private TaskCompletionSource? _changed; // only allocated while someone waits

    /// <param name="capacity">Records kept per list; beyond it the oldest tenth is forgotten (long benchmarks).</param>
    public SimulatorLedger(int capacity = 100_000) => _capacity = Math.Max(10, capacity);

    public IReadOnlyList<ConnectionRecord> Connections => Snapshot().Connections;

    public IReadOnlyList<RequestRecord> Requests => Snapshot().Requests;

    public LedgerSnapshot Snapshot()
    {
        lock (_gate)
        {
            return new LedgerSnapshot(
                _connections.Select(c => c.ToRecord()).ToArray(),
                _requests.Select(r => r.ToRecord()).ToArray());
        }
    }

    /// <summary>Forgets all records. Live connections keep working; their later updates are not recorded.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _connections.Clear();
            _requests.Clear();
        }

        Signal();
    }

    /// <summary>Waits until <paramref name="predicate"/> holds for a snapshot; throws <see cref="TimeoutException"/>.</summary>
    public async Task<LedgerSnapshot> WaitUntilAsync(Func<LedgerSnapshot, bool> predicate, TimeSpan timeout, CancellationToken ct = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                changed = (_changed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            var snapshot = Snapshot();
            if (predicate(snapshot))
            {
                return snapshot;
            }

            try
            {
                await changed.WaitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException($"Ledger condition not met within {timeout}.");
            }
        }
    }

    internal ConnectionEntry OpenConnection(long id, string path, string? authorization, string? beta)
    {
        var entry = new ConnectionEntry
        {
            Id = id, Path = path, OpenedAt = DateTimeOffset.UtcNow, Authorization = authorization, OpenAIBeta = beta,
        };
        lock (_gate)
        {
            Append(_connections, entry);
        }

        Signal();
        return entry;
    }

    internal RequestEntry StartRequest(long? connectionId, int index, SimTransport transport, string? authorization,
        RequestKind kind = RequestKind.Create)
    {
        var entry = new RequestEntry
        {
            ConnectionId = connectionId, IndexOnConnection = index, Transport = transport,
            StartedAt = DateTimeOffset.UtcNow, Authorization = authorization, Kind = kind,
        };
        lock (_gate)
        {
            entry.Id = ++_nextRequestId;
            Append(_requests, entry);
        }

        Signal();
        return entry;
    }

    internal void Update<T>(T entry, Action<T> change)
    {
        lock (_gate)
        {
            change(entry);
        }

        Signal();
    }

    private void Signal()
    {
        TaskCompletionSource? waiting;
        lock (_gate)
        {
            waiting = _changed;
            _changed = null;
        }

        waiting?.TrySetResult();
    }

    private void Append<T>(List<T> list, T entry)
    {
        if (list.Count >= _capacity)
        {
            list.RemoveRange(0, Math.Max(1, _capacity / 10));
        }

        list.Add(entry);
    }
}
