using System.Runtime.CompilerServices;
using CodexLb.Gateway.Endpoints;
using CodexLb.Gateway.Telemetry;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Events;

namespace CodexLb.Gateway.Routing;

/// <summary>
/// A turn's events as a gateway relays them: <see cref="IConversationGrain.RunTurn"/> starts the turn and answers with its
/// first events, then <see cref="IConversationGrain.NextEvents"/> asks for the rest, one call per burst (a short turn
/// often comes whole in the first answer). The grain sends at least a heartbeat every 500 ms, so a call that brings nothing
/// within the owner timeout means the owner is slow or gone (an external client would otherwise wait out the whole
/// Orleans ResponseTimeout). Then the stream re-dispatches the same turn (same id, with the count of events already
/// relayed): a live owner re-attaches it where it was, so a stall costs no second generation; a new owner runs the turn
/// if nothing reached the client yet, or says it lost it (the caller then ends the stream retryably). Heartbeats never
/// reach a client, unless the caller asks for them (<see cref="MoveNextAsync(bool)"/>: the SSE relay's keepalives ride on
/// them). Disposing a stream whose client went away before the end tells the owner to stop the turn, unless the turn
/// runs in the background or the stream gave up on an unreachable owner (the client is told to retry, and its retry
/// attaches to the turn wherever it still runs). The owner keeps nothing per caller, so a stream owes it no call when it ends.
/// </summary>
public sealed class TurnStream(IConversationGrain? grain, TurnRequest turn, TimeSpan ownerTimeout, CancellationToken aborted)
    : IAsyncDisposable
{
    private TurnEvent[] _batch = [];
    private int _next;
    private bool _ownerEnded;
    private OwnerWatch? _watch;
    private TurnEvent? _current;
    private int _delivered;
    private bool _ended;
    private bool _ownerMayHaveRun; // an owner answered for this turn, or failed without proving the call never arrived

    public TurnEvent Current => _current!;

    public string TurnId => turn.TurnId;

    /// <summary>The turn runs in the background: it goes on whether or not a client streams it, and is read back by its id.</summary>
    public bool Background => turn.Background;

    /// <summary>The id of the response this turn created, once <c>response.created</c> went by.</summary>
    public string? ResponseId { get; private set; }

    /// <summary>How many events went to the caller (the next sequence number of a failure the gateway writes itself).</summary>
    public int Delivered => _delivered;

    /// <summary>How often this stream had to re-dispatch its turn.</summary>
    public int Redispatches { get; private set; }

    public static TurnStream Rejected(TurnRejection rejection) =>
        new(null, new TurnRequest { Settings = [], InputItems = [], InputFingerprints = [] }, TimeSpan.Zero, default)
        { _current = TurnEvent.Rejected(rejection), _ended = true };

    /// <exception cref="OwnerUnreachableException">The owner stayed silent through every re-dispatch.</exception>
    public ValueTask<bool> MoveNextAsync() => MoveNextAsync(heartbeats: false);

    /// <param name="heartbeats">Also stop at the owner's heartbeats (<see cref="TurnEvent.IsHeartbeat"/>; never counted as delivered).</param>
    /// <exception cref="OwnerUnreachableException">The owner stayed silent through every re-dispatch.</exception>
    // Its state machine is reused from a pool when a finished one is free on the thread or core: with 64 turns in flight only ~1 in 8 is.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<bool> MoveNextAsync(bool heartbeats)
    {
        if (grain is null || _ended) return false;
        while (true)
        {
            while (_next < _batch.Length)
            {
                var turnEvent = _batch[_next++];
                if (turnEvent.IsHeartbeat)
                {
                    if (!heartbeats) continue;
                    _current = turnEvent;
                    return true;
                }
                Deliver(turnEvent);
                return true;
            }
            if (_ownerEnded)
            {
                _ended = true;
                return false;
            }
            var answer = await AskAsync();
            _batch = answer.Events;
            _next = 0;
            _ownerEnded = answer.Ended;
        }
    }

    private void Deliver(TurnEvent turnEvent)
    {
        // A re-dispatch after bytes reached the client found no turn to attach to: end the stream retryably.
        if (turnEvent.Rejection is { } lost && _delivered > 0)
            turnEvent = new TurnEvent(EventTypes.Failed, ResponseEvents.BuildFailed(lost.ToError(), ResponseId, _delivered));
        if (ResponseId is null && turnEvent.Type == EventTypes.Created) ResponseId = turnEvent.CreatedId ?? EventReader.ReadResponseId(turnEvent.Data);
        _current = turnEvent;
        _delivered++;
        if (turnEvent.Rejection is not null || EventTypes.IsTerminal(turnEvent.Type)) _ended = true; // nothing after it reaches the client
    }

    /// <summary>The owner's next answer; on owner failure the same turn is re-dispatched (see the class summary).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<TurnEvents> AskAsync()
    {
        aborted.ThrowIfCancellationRequested(); // no call for a client that is gone (the call carries no token to refuse it)
        try
        {
            // Once an event went to the client the rest is asked for by turn id; before, asking again is RunTurn (it re-attaches).
            return Answered(await WatchAsync(_delivered > 0 ? grain!.NextEvents(turn.TurnId, _delivered) : grain!.RunTurn(turn)));
        }
        catch (Exception ex) when (!aborted.IsCancellationRequested && OwnerFailures.IsTransient(ex))
        {
            Failed(ex);
            try
            {
                return await OwnerFailures.Retry.ExecuteAsync(static (stream, _) => stream.RedispatchAsync(), this, aborted);
            }
            catch (Exception unreachable) when (!aborted.IsCancellationRequested && OwnerFailures.IsTransient(unreachable))
            {
                // The caller ends its client's stream retryably. The turn may still run on an owner only this gateway cannot
                // reach: it is left running (no cancel on dispose), so the client's retry through another gateway attaches
                // to it instead of generating it again.
                _ended = true;
                throw;
            }
        }
    }

    private async ValueTask<TurnEvents> RedispatchAsync()
    {
        Redispatches++;
        GatewayMetrics.Rebinds.Add(1);
        try
        {
            // A new owner that runs the turn afresh learns that the lost one may have generated it already (a repeat it counts).
            var again = _delivered == 0 ? turn with { Redispatched = _ownerMayHaveRun } : turn with { ReplayFrom = _delivered, AttachOnly = true };
            return Answered(await WatchAsync(grain!.RunTurn(again)));
        }
        catch (Exception ex)
        {
            Failed(ex);
            throw;
        }
    }

    private TurnEvents Answered(TurnEvents answer)
    {
        _ownerMayHaveRun = true;
        return answer;
    }

    /// <summary>
    /// A message the cluster refused to deliver never reached an owner, and an owner that deactivates or moves (a draining
    /// silo) refuses a turn before running it; anything else (a timeout above all, or a silo that died under a call already
    /// delivered: <see cref="SiloUnavailableException"/>) may have run the turn there.
    /// </summary>
    private void Failed(Exception ex)
    {
        if (ex is not (OrleansMessageRejectionException or OwnerDeactivatingException) or SiloUnavailableException) _ownerMayHaveRun = true;
        Abandon();
    }

    // The client's going away ends the wait (the watch observes it): the grain call itself carries no token, which would
    // cost Orleans a registration and a token source per call.
    private ValueTask<TurnEvents> WatchAsync(ValueTask<TurnEvents> call) => OwnerWatch.Watch(ref _watch, ownerTimeout, aborted, call);

    /// <summary>Drops a call the owner does not answer (its watch expired; the call's late outcome is observed by it).</summary>
    private void Abandon() => OwnerWatch.Abandon(ref _watch);

    public ValueTask DisposeAsync()
    {
        if (grain is not null && !_ended && aborted.IsCancellationRequested && !turn.Background)
        {
            // The client went away mid-turn: the owner stops the provider unless another client follows the turn.
            _ = grain.CancelTurn(turn.TurnId).WaitAsync(ownerTimeout).ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
        }
        Abandon();
        return ValueTask.CompletedTask;
    }
}

/// <summary>The conversation's owner answered nothing, not even a heartbeat, within the owner timeout.</summary>
public sealed class OwnerUnreachableException(TimeSpan timeout) : TimeoutException($"The conversation owner sent nothing for {timeout}.");
