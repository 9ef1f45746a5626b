using CodexLb.Gateway.Routing;

namespace CodexLb.Tests.Unit;

public sealed class OwnerFailuresTests
{
    public static TheoryData<Exception, bool> Cases => new()
    {
        { new SiloUnavailableException("gone"), true },
        { new OrleansException("rejected"), true },
        { new CodexLb.Grains.Abstractions.OwnerDeactivatingException(), true },
        { new OwnerUnreachableException(TimeSpan.FromSeconds(2)), true },
        { new TimeoutException(), true },
        { new System.Net.Sockets.SocketException(111), true },
        { new AggregateException(new TimeoutException(), new SiloUnavailableException()), true },
        // The caller's own doing, or a fence: never owner loss.
        { new OperationCanceledException(), false },
        { new TaskCanceledException(), false },
        { new ObjectDisposedException("stream"), false },
        { new Orleans.Storage.InconsistentStateException("etag"), false },
        { new InvalidOperationException(), false },
        { new AggregateException(new TimeoutException(), new InvalidOperationException()), false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Only_owner_loss_is_transient(Exception error, bool transient) => Assert.Equal(transient, OwnerFailures.IsTransient(error));

    /// <summary>A lookup whose owner is lost twice and then answers 42: the answer and the calls it took.</summary>
    internal static async Task<(int Result, int Calls)> LookupLostTwiceAsync()
    {
        var calls = 0;
        var result = await OwnerFailures.CallAsync(async () =>
        {
            await Task.Yield();
            if (++calls < 3) throw new SiloUnavailableException("gone");
            return 42;
        }, TimeSpan.FromSeconds(5));
        return (result, calls);
    }

    [Fact]
    public async Task The_lookup_pipeline_retries_owner_loss_and_gives_up_on_anything_else()
    {
        Assert.Equal((42, 3), await LookupLostTwiceAsync());

        var calls = 0;
        await Assert.ThrowsAsync<InvalidOperationException>(() => OwnerFailures.CallAsync<int>(() => { calls++; throw new InvalidOperationException(); }, TimeSpan.FromSeconds(5)));
        Assert.Equal(1, calls);
    }
}
