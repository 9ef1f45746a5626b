using CodexLb.Gateway.Endpoints;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Events;

namespace CodexLb.Gateway.Routing;

/// <summary>
/// A turn's events as a gateway relays them. The grain sends at least a heartbeat every 500 ms, so a pull that brings
/// nothing within the owner timeout means the owner is slow or gone (an external client would otherwise wait out the
/// whole Orleans ResponseTimeout). Then the stream re-dispatches the same turn (same id, with the count of events already
/// relayed): a live owner re-attaches it where it was, so a stall costs no second generation; a new owner runs the turn
/// if nothing reached the client yet, or says it lost it (the caller then ends the stream retryably). Heartbeats never
/// reach a client, unless the caller asks for them (<see cref="MoveNextAsync(bool)"/>: the SSE relay's keepalives ride on
/// them). Disposing a stream whose client went away before the end tells the owner to stop the turn, unless the turn
/// runs in the background; a stream whose enumeration already ended costs the owner no dispose call.
/// </summary>
public sealed partial class TurnStream(IConversationGrain? grain, TurnRequest turn, TimeSpan ownerTimeout, CancellationToken aborted)
    : IAsyncDisposable
{
    /// <summary>The Orleans client span of an enumeration ends in its dispose: with a listener, the dispose call stays.</summary>
    private static readonly System.Diagnostics.ActivitySource OrleansCalls = new("Microsoft.Orleans.Application");

    private IAsyncEnumerator<TurnEvent>? _events;
    private OwnerWatch? _watch;
    private TurnEvent? _current;
    private int _delivered;
    private bool _ended;
    private bool _heartbeats;

    public TurnEvent Current => _current!;

    public string TurnId => turn.TurnId;

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
    public async ValueTask<bool> MoveNextAsync(bool heartbeats)
    {
        if (grain is null || _ended) return false;
        _heartbeats = heartbeats;
        try
        {
            _events ??= Open();
            return await NextAsync();
        }
        catch (Exception ex) when (!aborted.IsCancellationRequested && OwnerFailures.IsTransient(ex))
        {
            Abandon();
            return await OwnerFailures.Retry.ExecuteAsync(static async (stream, _) =>
            {
                stream.Redispatches++;
                stream._events = stream.Open();
                try
                {
                    return await stream.NextAsync();
                }
                catch
                {
                    stream.Abandon();
                    throw;
                }
            }, this, aborted);
        }
    }

    private IAsyncEnumerator<TurnEvent> Open() =>
        grain!.RunTurn(_delivered == 0 ? turn : turn with { ReplayFrom = _delivered, AttachOnly = true }, aborted).GetAsyncEnumerator(aborted);

    private async ValueTask<bool> NextAsync()
    {
        while (true)
        {
            var next = _events!.MoveNextAsync();
            var more = next.IsCompletedSuccessfully ? next.Result : await (_watch ??= new OwnerWatch(ownerTimeout)).WaitAsync(next);
            if (!more)
            {
                _ended = true;
                Finished();
                return false;
            }
            var turnEvent = _events.Current;
            if (turnEvent.IsHeartbeat)
            {
                if (!_heartbeats) continue;
                _current = turnEvent;
                return true;
            }
            // A re-dispatch after bytes reached the client found no turn to attach to: end the stream retryably.
            if (turnEvent.Rejection is { } lost && _delivered > 0)
                turnEvent = new TurnEvent(EventTypes.Failed, ResponseEvents.BuildFailed(lost.ToError(), ResponseId, _delivered));
            if (ResponseId is null && turnEvent.Type == EventTypes.Created) ResponseId = EventReader.Summarize(turnEvent.Data).ResponseId;
            _current = turnEvent;
            _delivered++;
            if (turnEvent.Rejection is not null || EventTypes.IsTerminal(turnEvent.Type))
            {
                _ended = true;
                // The owner ends its enumeration right after the terminal event; when that end came in the same batch,
                // the owner already dropped the enumerator: no dispose call is owed.
                var end = _events.MoveNextAsync();
                if (!end.IsCompleted) _tail = end;
                else if (end.IsCompletedSuccessfully) { if (!end.Result) Finished(); }
                else ObserveFailure(end);
            }
            return true;
        }
    }

    /// <summary>A pull issued after the terminal event that had not come back: the dispose waits for it instead of calling.</summary>
    private ValueTask<bool>? _tail;

    private static void ObserveFailure(ValueTask<bool> failed)
    {
        try { _ = failed.Result; } catch (Exception) { } // the dispose below cleans up
    }

    /// <summary>The owner reported the end of the enumeration (and dropped it): forget it without a dispose call.</summary>
    private void Finished()
    {
        if (OrleansCalls.HasListeners()) return; // the proxy's dispose also ends its client span
        _events = null;
    }

    /// <summary>Drops a call the owner does not answer; disposing it talks to that owner, so it runs in the background.</summary>
    private void Abandon()
    {
        _watch?.Dispose();
        _watch = null;
        _tail = null;
        if (_events is not { } events) return;
        _events = null;
        _ = events.DisposeAsync().AsTask().ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
    }

    public async ValueTask DisposeAsync()
    {
        if (grain is null) return;
        if (!_ended && aborted.IsCancellationRequested && !turn.Background)
        {
            // The client went away mid-turn: the owner stops the provider unless another client follows the turn.
            _ = grain.CancelTurn(turn.TurnId).WaitAsync(ownerTimeout).ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
        }
        try
        {
            if (_tail is { } tail && _events is not null)
            {
                // The pull after the terminal event ends the enumeration on the owner, as a dispose call would.
                _tail = null;
                if (!await (_watch ??= new OwnerWatch(ownerTimeout)).WaitAsync(tail)) Finished();
            }
        }
        catch (Exception)
        {
            // The owner did not answer in time: dispose below.
        }
        _watch?.Dispose();
        _watch = null;
        if (_events is not { } events) return;
        _events = null;
        try
        {
            await events.DisposeAsync();
        }
        catch (Exception)
        {
            // The grain side may be gone; its turn finishes (or failed) on its own.
        }
    }
}

/// <summary>The conversation's owner answered nothing, not even a heartbeat, within the owner timeout.</summary>
public sealed class OwnerUnreachableException(TimeSpan timeout) : TimeoutException($"The conversation owner sent nothing for {timeout}.");
