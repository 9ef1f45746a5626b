namespace CodexLb.Tests.Infrastructure;

/// <summary>Polls a condition every 50 ms for up to 10 s: for what the product does after it answered (a ledger entry, a state).</summary>
public static class Eventually
{
    public static Task<T> ValueAsync<T>(Func<T?> probe) where T : class => ValueAsync(() => Task.FromResult(probe()));

    public static async Task<T> ValueAsync<T>(Func<Task<T?>> probe) where T : class
    {
        for (var i = 0; i < 200; i++)
        {
            if (await probe() is { } value) return value;
            await Task.Delay(50);
        }
        throw new TimeoutException("condition not met");
    }
}
