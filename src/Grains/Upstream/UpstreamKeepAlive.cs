using Microsoft.Extensions.Hosting;

namespace CodexLb.Grains.Upstream;

/// <summary>
/// Keeps the silo's idle upstream sockets alive with one sweep every <see cref="SweepInterval"/>: a socket silent for
/// <see cref="Silence"/> sends a pong, so none stays silent longer than <see cref="Interval"/>.
/// One timer for all of them (as Kestrel's heartbeat does for its connections): a timer per socket put thousands of
/// entries in the runtime's timer queue and woke a thread for each firing, which an idle silo paid in CPU.
/// </summary>
public sealed class UpstreamKeepAlive(UpstreamSocketBudget budget, TimeProvider time) : BackgroundService
{
    /// <summary>The longest an upstream socket stays silent: middleboxes and the provider time out idle connections.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(20);
    public static readonly TimeSpan SweepInterval = Interval / 4;
    public static readonly TimeSpan Silence = Interval - SweepInterval;

    private readonly List<UpstreamSocket> _sockets = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(SweepInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false)) Sweep();
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One pass over the open sockets (a pong from each that was silent long enough).</summary>
    private void Sweep()
    {
        budget.CopyOpenTo(_sockets);
        foreach (var socket in _sockets) socket.KeepAliveIfIdle(Silence);
        _sockets.Clear(); // holds no socket until the next sweep
    }
}
