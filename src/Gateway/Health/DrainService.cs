using CodexLb.Gateway.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Health;

/// <summary>
/// Graceful drain on SIGTERM, before any server or silo stops: readiness goes 503 and every kind of in-flight work stops
/// taking new turns (a silo's grains refuse them and move, <see cref="IInFlightWork.BeginDrain"/>), the process waits a
/// moment so load balancers notice, then waits (bounded) for in-flight turns; only then do Kestrel and the silo shut down, which
/// deactivates the conversations (their state is already persisted per turn) and closes their upstream sockets.
/// </summary>
/// <param name="work">every kind of in-flight work, this gateway's <see cref="DrainState"/> (its readiness) among them.</param>
public sealed partial class DrainService(IEnumerable<IInFlightWork> work, IOptions<GatewayOptions> options, ILogger<DrainService> logger)
    : IHostedLifecycleService
{
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        foreach (var w in work) w.BeginDrain();
        var o = options.Value;
        LogDraining(logger, o.DrainDelay, o.DrainTimeout);
        await Task.Delay(o.DrainDelay, CancellationToken.None);
        var deadline = DateTime.UtcNow + o.DrainTimeout;
        int remaining;
        while ((remaining = work.Sum(w => w.InFlight)) > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(100, CancellationToken.None);
        LogDrained(logger, remaining);
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Draining: readiness is 503; waiting {Delay} then up to {Timeout} for in-flight turns")]
    private static partial void LogDraining(ILogger logger, TimeSpan delay, TimeSpan timeout);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Drain finished with {Remaining} turns still in flight")]
    private static partial void LogDrained(ILogger logger, int remaining);
}
