using CodexLb.Grains.Telemetry;
using Microsoft.Extensions.Options;

namespace CodexLb.Grains.Upstream;

/// <summary>
/// The upstream sockets one silo may hold (<c>CodexLb:Upstream:MaxSocketsPerSilo</c>): every socket is a file descriptor
/// and provider-side state. At the bound the socket idle the longest is closed to make room (its conversation reconnects
/// on its next turn, with one full send); when every socket is in a turn, the new turn is answered 503 retryably. The
/// budget is also what <c>codexlb_upstream_open_sockets</c> reports: the gauge moves exactly when a socket takes or gives
/// back its slot, so a socket that kept its slot after it closed shows there.
/// </summary>
public sealed class UpstreamSocketBudget(IOptions<UpstreamOptions> options)
{
    private readonly Lock _lock = new();
    private readonly HashSet<UpstreamSocket> _open = [];
    private int _reserved;

    public int Count
    {
        get { lock (_lock) return _open.Count + _reserved; }
    }

    /// <summary>Reserves room for a socket about to connect, evicting the longest-idle one at the bound.</summary>
    public bool TryReserve()
    {
        UpstreamSocket? victim = null;
        lock (_lock)
        {
            if (_open.Count + _reserved >= options.Value.MaxSocketsPerSilo)
            {
                foreach (var socket in _open)
                    if (!socket.Busy && (victim is null || socket.LastActivity < victim.LastActivity)) victim = socket;
                if (victim is null) return false;
                _open.Remove(victim);
                BridgeMetrics.OpenSockets.Add(-1);
            }
            _reserved++;
        }
        victim?.Evict();
        return true;
    }

    /// <summary>The reserved room is now this connected socket (or, with null, no longer needed).</summary>
    public void Admit(UpstreamSocket? socket)
    {
        lock (_lock)
        {
            _reserved--;
            if (socket is not null && _open.Add(socket)) BridgeMetrics.OpenSockets.Add(1);
        }
    }

    /// <summary>Copies the open sockets into <paramref name="sockets"/> (cleared first): a snapshot to work on outside the lock.</summary>
    public void CopyOpenTo(List<UpstreamSocket> sockets)
    {
        sockets.Clear();
        lock (_lock) sockets.AddRange(_open);
    }

    public void Release(UpstreamSocket socket)
    {
        lock (_lock)
            if (_open.Remove(socket)) BridgeMetrics.OpenSockets.Add(-1);
    }
}

/// <summary>Every upstream socket of this silo is in a turn and the budget is spent.</summary>
public sealed class UpstreamCapacityException() : Exception("This silo holds as many upstream sockets as it may, all of them busy.");
