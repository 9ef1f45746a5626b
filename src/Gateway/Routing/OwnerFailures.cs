using Polly;
using Polly.Retry;

namespace CodexLb.Gateway.Routing;

/// <summary>
/// The one place that decides what counts as losing the conversation's owner (worth a rebind and a retry), and the one
/// retry policy for it. A cancelled or disposed call is the caller's own doing, never owner loss.
/// </summary>
public static class OwnerFailures
{
    public static bool IsTransient(Exception ex) => ex switch
    {
        OperationCanceledException or ObjectDisposedException => false,
        Orleans.Storage.InconsistentStateException => false,
        OrleansException or TimeoutException or System.Net.Sockets.SocketException or IOException => true,
        AggregateException aggregate => aggregate.InnerExceptions.All(IsTransient),
        _ => false,
    };

    /// <summary>
    /// Exponential backoff with jitter (100 ms doubling to at most 2 s, 5 retries): long enough to outlast a dead silo's
    /// declaration (about a second) and the new activation, short enough that a client's own retry is not needed.
    /// </summary>
    public static readonly ResiliencePipeline Retry = new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<Exception>(IsTransient),
            MaxRetryAttempts = 5,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromMilliseconds(100),
            MaxDelay = TimeSpan.FromSeconds(2),
        })
        .Build();

    /// <summary>A short call to the cluster (a lookup), each attempt bounded by the owner timeout.</summary>
    public static async Task<T> CallAsync<T>(Func<Task<T>> call, TimeSpan attemptTimeout, CancellationToken cancellationToken = default) =>
        await Retry.ExecuteAsync(static async (state, ct) => await state.call().WaitAsync(state.attemptTimeout, ct),
            (call, attemptTimeout), cancellationToken);
}
