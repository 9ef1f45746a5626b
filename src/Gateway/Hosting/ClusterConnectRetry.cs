using Microsoft.Extensions.Logging;

namespace CodexLb.Gateway.Hosting;

/// <summary>
/// A gateway that starts while Redis or every silo is out of reach (Redis rescheduled, a rolling restart of both) keeps
/// trying every <see cref="Delay"/> instead of exiting: an exit would leave Kubernetes to restart it with a growing
/// back-off long after the cluster is back. Its start-up probe (120 s in deploy/k8s) still bounds the wait. Each failed
/// attempt is one warning naming the exception's type only (a Redis message can carry its endpoint and options).
/// </summary>
public sealed partial class ClusterConnectRetry(ILogger<ClusterConnectRetry> logger) : IClientConnectionRetryFilter
{
    public static readonly TimeSpan Delay = TimeSpan.FromSeconds(2);

    public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested) return false;
        LogRetrying(logger, exception.GetType().Name, Delay.TotalSeconds);
        await Task.Delay(Delay, cancellationToken);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not connect to the cluster ({ExceptionType}); retrying in {Seconds} s")]
    private static partial void LogRetrying(ILogger logger, string exceptionType, double seconds);
}
