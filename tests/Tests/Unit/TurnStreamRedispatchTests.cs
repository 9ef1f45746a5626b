using System.Diagnostics.Metrics;
using CodexLb.Gateway.Routing;
using CodexLb.Gateway.Telemetry;
using CodexLb.Grains.Abstractions;

namespace CodexLb.Tests.Unit;

/// <summary>
/// A gateway's re-dispatch of a turn: it counts as a rebind (a retried lookup never does), and it tells the next owner
/// whether the lost one may have run the turn, so a fresh run there is counted as a repeated generation only then.
/// </summary>
[Collection(GatewayMeterCollection.Name)]
public sealed class TurnStreamRedispatchTests
{
    private static readonly TurnRequest Turn = new() { Settings = [], InputItems = [], InputFingerprints = [], TurnId = "t1" };

    private static readonly TurnEvents Completed = new([new TurnEvent("response.completed", """{"type":"response.completed","response":{"id":"resp_1"}}"""u8.ToArray())], true);

    /// <summary>An owner whose first RunTurn fails with <paramref name="failure"/> and whose next one answers.</summary>
    private sealed class FailingOnce(Exception failure) : IConversationGrain
    {
        public List<TurnRequest> Calls { get; } = [];

        public ValueTask<TurnEvents> RunTurn(TurnRequest request)
        {
            Calls.Add(request);
            return Calls.Count == 1 ? ValueTask.FromException<TurnEvents>(failure) : ValueTask.FromResult(Completed);
        }

        public ValueTask<TurnEvents> NextEvents(string turnId, int from) => throw new NotSupportedException();
        public ValueTask<TurnEvents> RunTurn(TurnRequest request, CancellationToken cancellationToken) => throw new NotSupportedException();
        public ValueTask<TurnEvents> NextEvents(string turnId, int from, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task CancelTurn(string turnId) => Task.CompletedTask;
        public Task<ConversationStats> GetStats() => throw new NotSupportedException();
        public Task<byte[]?> GetRunningResponse(string responseId) => throw new NotSupportedException();
        public ValueTask<TurnEvents> FollowResponse(string responseId, string follower, int from, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task<ApiReply?> CancelResponse(string responseId) => throw new NotSupportedException();
        public Task<bool> DeleteResponse(string responseId) => throw new NotSupportedException();
        public Task<byte[]?> RecoverResponse(string responseId, bool cancel) => throw new NotSupportedException();
    }

    /// <summary>Counts <c>codexlb.gateway.rebinds</c> while it lives (the collection runs alone: no other test adds to it).</summary>
    private sealed class RebindCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _count;

        public RebindCounter()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == GatewayMetrics.Name && instrument.Name == "codexlb.gateway.rebinds") listener.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _count, value));
            _listener.Start();
        }

        public long Count => Interlocked.Read(ref _count);

        public void Dispose() => _listener.Dispose();
    }

    private static async Task<(FailingOnce Owner, TurnStream Stream)> RunAsync(Exception firstFailure)
    {
        var owner = new FailingOnce(firstFailure);
        var stream = new TurnStream(owner, Turn, TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.True(await stream.MoveNextAsync());
        Assert.Equal("response.completed", stream.Current.Type);
        return (owner, stream);
    }

    [Fact]
    public async Task A_redispatch_after_a_failure_that_may_have_reached_the_owner_says_so_and_counts_one_rebind()
    {
        using var rebinds = new RebindCounter();
        var (owner, stream) = await RunAsync(new SiloUnavailableException("gone"));
        Assert.Equal(1, stream.Redispatches);
        Assert.Equal([false, true], owner.Calls.Select(c => c.Redispatched));
        Assert.Equal(1, rebinds.Count);
    }

    [Fact]
    public async Task A_redispatch_after_a_rejected_message_says_the_turn_never_ran()
    {
        // Orleans makes this one itself (its constructors are internal): a message the cluster refused to deliver.
        var rejected = (Exception)Activator.CreateInstance(typeof(OrleansMessageRejectionException),
            System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance, null, ["rejected"], null)!;
        var (owner, _) = await RunAsync(rejected);
        Assert.Equal([false, false], owner.Calls.Select(c => c.Redispatched));
    }

    [Fact]
    public async Task A_refusal_by_an_owner_that_deactivates_or_moves_off_a_draining_silo_says_the_turn_never_ran()
    {
        var (owner, _) = await RunAsync(new OwnerDeactivatingException());
        Assert.Equal([false, false], owner.Calls.Select(c => c.Redispatched));
    }

    /// <summary>An owner that answers the turn's first event, then is unreachable (every later call times out) or silent.</summary>
    private sealed class LostAfterFirstEvent(bool unreachable) : IConversationGrain
    {
        private static readonly TurnEvents Created = new([new TurnEvent("response.created", """{"type":"response.created","response":{"id":"resp_1"}}"""u8.ToArray())], false);
        private int _runs;

        public int Cancels { get; private set; }

        public ValueTask<TurnEvents> RunTurn(TurnRequest request) =>
            _runs++ == 0 ? ValueTask.FromResult(Created) : ValueTask.FromException<TurnEvents>(new TimeoutException("unreachable"));

        public ValueTask<TurnEvents> NextEvents(string turnId, int from) =>
            unreachable ? ValueTask.FromException<TurnEvents>(new TimeoutException("unreachable")) : new(new TaskCompletionSource<TurnEvents>().Task);

        public ValueTask<TurnEvents> RunTurn(TurnRequest request, CancellationToken cancellationToken) => throw new NotSupportedException();
        public ValueTask<TurnEvents> NextEvents(string turnId, int from, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task CancelTurn(string turnId)
        {
            Cancels++;
            return Task.CompletedTask;
        }

        public Task<ConversationStats> GetStats() => throw new NotSupportedException();
        public Task<byte[]?> GetRunningResponse(string responseId) => throw new NotSupportedException();
        public ValueTask<TurnEvents> FollowResponse(string responseId, string follower, int from, CancellationToken cancellationToken = default) => throw new NotSupportedException();
        public Task<ApiReply?> CancelResponse(string responseId) => throw new NotSupportedException();
        public Task<bool> DeleteResponse(string responseId) => throw new NotSupportedException();
        public Task<byte[]?> RecoverResponse(string responseId, bool cancel) => throw new NotSupportedException();
    }

    /// <summary>
    /// How often a stream tells the owner to stop the turn when its client closes after the turn's first event: mid-turn, or
    /// after the stream gave up on an unreachable owner (every re-dispatch failed; its caller ended the client's stream
    /// retryably).
    /// </summary>
    private static async Task<int> CancelsWhenTheClientLeavesAsync(bool ownerUnreachable)
    {
        using var client = new CancellationTokenSource();
        var owner = new LostAfterFirstEvent(ownerUnreachable);
        var stream = new TurnStream(owner, Turn, TimeSpan.FromSeconds(5), client.Token);
        Assert.True(await stream.MoveNextAsync());
        if (ownerUnreachable) await Assert.ThrowsAsync<TimeoutException>(async () => await stream.MoveNextAsync());
        await client.CancelAsync();
        await stream.DisposeAsync();
        await Task.Delay(100); // a cancel is sent without waiting for it
        return owner.Cancels;
    }

    [Fact]
    public async Task A_stream_that_gave_up_on_an_unreachable_owner_leaves_the_turn_running_for_the_clients_retry() =>
        Assert.Equal(0, await CancelsWhenTheClientLeavesAsync(ownerUnreachable: true));

    [Fact]
    public async Task A_client_that_goes_away_mid_turn_stops_it() =>
        Assert.Equal(1, await CancelsWhenTheClientLeavesAsync(ownerUnreachable: false));

    [Fact]
    public async Task A_retried_lookup_is_no_rebind()
    {
        using var rebinds = new RebindCounter();
        Assert.Equal((42, 3), await OwnerFailuresTests.LookupLostTwiceAsync());
        Assert.Equal(0, rebinds.Count);
    }
}

/// <summary>Tests that read the gateway's process-wide meter: they run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GatewayMeterCollection
{
    public const string Name = "gateway-meter";
}
