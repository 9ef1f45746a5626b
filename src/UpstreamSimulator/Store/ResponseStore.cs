namespace CodexLb.UpstreamSimulator.Store;

/// <summary>
/// Stored responses (HTTP requests with store:true, and background ones), bounded: beyond the capacity the oldest
/// are forgotten, as a benchmark may create millions. Thread-safe.
/// </summary>
internal sealed class ResponseStore(int capacity)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, StoredResponse> _byId = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();
    private readonly int _capacity = Math.Max(1, capacity);

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _byId.Count;
            }
        }
    }

    public void Add(StoredResponse response)
    {
        lock (_gate)
        {
            _byId[response.Id] = response;
            _order.Enqueue(response.Id);
            while (_byId.Count > _capacity && _order.TryDequeue(out var oldest))
            {
                _byId.Remove(oldest);
            }

            // Deleted ids linger in the queue; keep it from growing without bound.
            if (_order.Count > 2 * _capacity)
            {
                var live = _order.Where(_byId.ContainsKey).ToArray();
                _order.Clear();
                foreach (var id in live)
                {
                    _order.Enqueue(id);
                }
            }
        }
    }

    public StoredResponse? Get(string id)
    {
        lock (_gate)
        {
            return _byId.GetValueOrDefault(id);
        }
    }

    public StoredResponse? Remove(string id)
    {
        lock (_gate)
        {
            return _byId.Remove(id, out var removed) ? removed : null;
        }
    }
}
