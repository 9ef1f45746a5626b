using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CodexLb.Gateway.Health;

/// <summary>Set when the process begins to shut down: readiness fails first so the load balancer stops sending work.</summary>
public sealed class DrainState : IHealthCheck
{
    private volatile bool _draining;

    public bool IsDraining => _draining;

    public void BeginDrain() => _draining = true;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(_draining ? HealthCheckResult.Unhealthy("draining") : HealthCheckResult.Healthy());
}
