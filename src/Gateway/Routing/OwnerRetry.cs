namespace CodexLb.Gateway.Routing;

/// <summary>
/// Retries a short grain call through an owner failure (a silo died and its grains are being reactivated elsewhere,
/// which takes about a second with the tuned membership). Failing that, the caller answers a retryable 503.
/// </summary>
public static class OwnerRetry
{
    private static readonly TimeSpan[] Backoff = [TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(700), TimeSpan.FromSeconds(1.5)];

    public static async Task<T> RunAsync<T>(Func<Task<T>> call)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await call().WaitAsync(TimeSpan.FromSeconds(3));
            }
            catch (Exception ex) when (attempt < Backoff.Length && TurnDispatcher.IsTransient(ex))
            {
                await Task.Delay(Backoff[attempt]);
            }
        }
    }
}
