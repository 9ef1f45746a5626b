using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CodexLb.Gateway.Health;

/// <summary>Work a drain waits for: turns still streaming through this process.</summary>
public interface IInFlightWork
{
    int InFlight { get; }

    /// <summary>The drain began: accept no new work from now on.</summary>
    void BeginDrain();
}

/// <summary>
/// Set when the process begins to shut down: readiness fails first so the load balancer stops sending work, new turns
/// are refused with a retryable 503, and the drain waits for the turns this gateway is relaying.
/// </summary>
public sealed class DrainState : IHealthCheck, IInFlightWork
{
    private volatile bool _draining;
    private int _inFlight;

    public bool IsDraining => _draining;

    public int InFlight => Volatile.Read(ref _inFlight);

    public void BeginDrain() => _draining = true;

    /// <summary>Counts a turn as in flight until the returned scope is disposed.</summary>
    public TurnScope Track()
    {
        Interlocked.Increment(ref _inFlight);
        return new TurnScope(this);
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(_draining ? HealthCheckResult.Unhealthy("draining") : HealthCheckResult.Healthy());

    public readonly struct TurnScope(DrainState owner) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref owner._inFlight);
    }
}
