using Microsoft.Extensions.Logging;

namespace CodexLb.Gateway.Hosting;

/// <summary>
/// A gateway that starts while Redis or every silo is out of reach (Redis rescheduled, a rolling restart of both) keeps
/// trying instead of exiting: an exit would leave Kubernetes to restart it with a growing back-off long after the cluster
/// is back. Its start-up probe (120 s in deploy/k8s) still bounds the wait. The first retries come quickly and the wait
/// doubles up to <see cref="MaxDelay"/>: a gateway started beside its silos (a fresh cluster, a deploy of both) most often
/// misses the first silo's entry in Redis by well under a second, and a flat 2 s wait held its readiness back by that
/// much. Each failed attempt is one warning naming the exception's type only (a Redis message can carry its endpoint and
/// options).
/// </summary>
public sealed partial class ClusterConnectRetry(ILogger<ClusterConnectRetry> logger) : IClientConnectionRetryFilter
{
    public static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(250);
    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(2);

    private int _failures; // Orleans asks one attempt at a time, during the client's start only

    /// <summary>The wait after the <paramref name="failures"/>-th failed attempt (1-based): 0.25, 0.5, 1, then 2 s each.</summary>
    public static TimeSpan DelayAfter(int failures)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failures, 1);
        var doublings = Math.Min(failures - 1, 8); // 0.25 s * 2^8 is far past the cap
        var delay = FirstDelay * (1 << doublings);
        return delay < MaxDelay ? delay : MaxDelay;
    }

    public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested) return false;
        var delay = DelayAfter(++_failures);
        LogRetrying(logger, exception.GetType().Name, delay.TotalSeconds);
        await Task.Delay(delay, cancellationToken);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not connect to the cluster ({ExceptionType}); retrying in {Seconds} s")]
    private static partial void LogRetrying(ILogger logger, string exceptionType, double seconds);
}
