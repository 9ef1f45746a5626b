using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using CodexLb.Protocol.Streaming;
using CodexLb.UpstreamSimulator.Faults;
using CodexLb.UpstreamSimulator.Ledger;
using CodexLb.UpstreamSimulator.Model;

namespace CodexLb.UpstreamSimulator.WebSockets;

/// <summary>
/// One websocket connection. The receive loop keeps reading while a response streams, so a second
/// response.create can be refused and a client close noticed; the response itself runs as a separate task.
/// </summary>
internal sealed class WebSocketSession
{
    private const int MaxMessageBytes = 64 * 1024 * 1024;

    private readonly WebSocket _socket;
    private readonly ConnectionEntry _connection;
    private readonly SimulatorCore _core;
    private readonly BatchingStream? _connectionStream;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _turnCts = new();
    private readonly CancellationTokenSource _receiveCts = new();
    private readonly TaskCompletionSource _dropped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly DateTimeOffset _openedAt = DateTimeOffset.UtcNow;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
    private int _requestCount;
    private Task _inFlight = Task.CompletedTask;
    private RequestEntry? _lastStarted;

    // Written by the turn task before it sends the terminal frame, read by the receive loop: the client may send
    // its next request the instant it sees response.completed, and it must find the anchor already in place.
    private volatile bool _busy;
    private volatile bool _closing;
    private Anchor? _anchor;

    /// <param name="connectionStream">the upgraded connection under <paramref name="socket"/>, when it can hold writes.</param>
    public WebSocketSession(WebSocket socket, ConnectionEntry connection, SimulatorCore core, BatchingStream? connectionStream = null)
    {
        _socket = socket;
        _connectionStream = connectionStream;
        _connection = connection;
        _core = core;
    }

    private string? Authorization => _connection.Authorization;

    /// <summary>Runs until the client closes or the connection is dropped. The session owns (and disposes) the socket.</summary>
    public async Task RunAsync()
    {
        _core.Register(_connection.Id, () => Drop(ConnectionEnd.ServerClosed));
        var receiveLoop = ReceiveLoopAsync();

        // A drop returns from the upgrade handler without touching the socket: Kestrel then flushes the frames
        // already sent and closes the connection (no close frame). Aborting or disposing the websocket instead
        // would reset the connection and discard frames still queued in Kestrel's output pipe. The receive loop
        // ends by itself once Kestrel tears the connection down, and cleans up.
        await Task.WhenAny(receiveLoop, _dropped.Task);
    }

    /// <summary>Accepts and immediately drops a connection (accept-then-fail handshake).</summary>
    public static async Task FailHandshakeAsync(WebSocket socket, bool graceful)
    {
        if (!graceful)
        {
            return; // see RunAsync: returning from the handler is the drop; the socket is left to Kestrel
        }

        using (socket)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await socket.CloseOutputAsync(WebSocketCloseStatus.InternalServerError, "simulated fault", timeout.Token);
                var scratch = new byte[256];
                while (socket.State == WebSocketState.CloseSent)
                {
                    await socket.ReceiveAsync(scratch.AsMemory(), timeout.Token);
                }
            }
            catch (Exception ex) when (IsConnectionLoss(ex))
            {
                // The peer left first.
            }
        }
    }

    internal static bool IsConnectionLoss(Exception ex) =>
        ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException
            or Microsoft.AspNetCore.Connections.ConnectionAbortedException;

    private async Task ReceiveLoopAsync()
    {
        try
        {
            while (true)
            {
                var (length, type) = await ReceiveMessageAsync(_receiveCts.Token);
                if (type == WebSocketMessageType.Close)
                {
                    _core.EndConnection(_connection, ConnectionEnd.ClientClosed);
                    await ReplyToCloseAsync();
                    break;
                }

                await OnMessageAsync(type, _buffer.AsMemory(0, length));
            }
        }
        catch (Exception ex) when (IsConnectionLoss(ex))
        {
            _core.EndConnection(_connection, ConnectionEnd.ClientAborted);
        }
        finally
        {
            await _turnCts.CancelAsync();
            await _inFlight;
            _core.Unregister(_connection.Id);
            _core.EndConnection(_connection, ConnectionEnd.ClientAborted);
            ArrayPool<byte>.Shared.Return(_buffer);
            _socket.Dispose();
        }
    }

    private async Task OnMessageAsync(WebSocketMessageType type, ReadOnlyMemory<byte> message)
    {
        if (_closing)
        {
            return; // A fault is closing this socket; late frames are dropped like a dying server would.
        }

        var index = ++_requestCount;
        _core.Ledger.Update(_connection, c => c.RequestCount = index);
        var entry = _core.Ledger.StartRequest(_connection.Id, index, SimTransport.WebSocket, Authorization);
        _core.Ledger.Update(entry, e => e.RequestBytes = message.Length);

        if (type != WebSocketMessageType.Text)
        {
            await RejectAsync(entry, SimErrors.InvalidJson("binary frames are not supported"));
            return;
        }

        CreateRequest request;
        try
        {
            request = CreateRequest.Parse(message, _core.Options.DefaultModel);
        }
        catch (JsonException ex)
        {
            await RejectAsync(entry, SimErrors.InvalidJson(ex.Message));
            return;
        }

        _core.Describe(entry, request);
        if (request.Type != "response.create")
        {
            await RejectAsync(entry, SimErrors.UnsupportedEvent(request.Type));
        }
        else if (_busy)
        {
            await RejectAsync(entry, SimErrors.ResponseInProgress());
        }
        else if (DateTimeOffset.UtcNow - _openedAt >= _core.Options.MaxConnectionLifetime)
        {
            await RejectAsync(entry, SimErrors.ConnectionLimitReached(_core.Options.MaxConnectionLifetime));
            await CloseGracefullyAsync(ConnectionEnd.ServerClosed, WebSocketCloseStatus.PolicyViolation);
        }
        else if (request.Generate && _core.Keys.Consume(Authorization, message.Span) is { } refused)
        {
            // The key's quota is spent (or it sent another organisation's reasoning): its error frame, nothing generated.
            _core.Finish(entry, RequestOutcome.Error, refused.Error);
            await SendAsync(refused.Frame, _turnCts.Token);
        }
        else
        {
            _busy = true;
            _lastStarted = entry;
            var run = RunTurnAsync(request, entry);
            // A response that ended with a mid-stream error may still send its trailing frame: wait for both at the end.
            _inFlight = _inFlight.IsCompleted ? run : Task.WhenAll(_inFlight, run);
        }
    }

    private async Task RunTurnAsync(CreateRequest request, RequestEntry entry)
    {
        var ct = _turnCts.Token;
        try
        {
            var context = new FaultContext(_connection.Id, entry.IndexOnConnection, SimTransport.WebSocket, request.LatestUserText);
            var (turn, effects) = _core.Prepare(request, entry, _anchor, context);
            using var frames = turn.Frames; // rented: given back once every frame went out (each send copies it)
            if (effects.Hang)
            {
                await Task.Delay(Timeout.Infinite, ct);
            }

            if (turn.Kind == TurnKind.Completed && _core.Keys.RateLimitsEvent(Authorization) is { } usage)
            {
                await SendAsync(usage, ct); // the ChatGPT backend reports the key's windows before each response
            }
            _core.Keys.BindReasoning(Authorization, turn.Items.Where(i => i.IsReasoning).Select(i => i.Id));
            if (effects.StrayFrame)
            {
                await SendAsync(_core.Planner.StrayFrame(request.Model), ct);
            }

            var count = turn.Frames.Count;
            if (effects.MidStreamError is { } error && effects.ErrorAt < count)
            {
                await FailMidStreamAsync(request, entry, turn, effects, error, ct);
                return;
            }

            var limit = Math.Min(effects.StopBefore ?? count, count);
            var closeAfter = effects.StopBefore is not null || effects.CloseAtEnd;
            // As over HTTP (HttpResponsesEndpoint flushes only before a delay or at the end): frames with no delay between
            // them leave in one write, so a proxy on either transport reads an answer the provider made at once at once.
            var batched = effects.EventDelay == TimeSpan.Zero && limit > 1 ? _connectionStream : null;
            try
            {
                for (var i = 0; i < limit; i++)
                {
                    await SimulatedDelay.WaitAsync(i == 0 ? effects.FirstEventDelay : effects.EventDelay, effects.PreciseDelays, ct);
                    if (i == 0) batched?.Hold();
                    if (i == count - 1)
                    {
                        Commit(request, entry, turn, closeAfter);
                    }

                    await SendAsync(turn.Frames[i], ct);
                }
            }
            finally
            {
                if (batched is not null) await ReleaseAsync(batched);
            }

            if (closeAfter)
            {
                if (limit < count)
                {
                    _closing = true;
                    _core.Finish(entry, RequestOutcome.ClosedByFault);
                }

                if (effects.Graceful)
                {
                    await CloseGracefullyAsync(ConnectionEnd.ClosedByFault, WebSocketCloseStatus.InternalServerError);
                }
                else
                {
                    Drop(ConnectionEnd.ClosedByFault);
                }
            }
        }
        catch (Exception ex) when (IsConnectionLoss(ex))
        {
            // The connection went away mid-response.
        }
        finally
        {
            _core.AbortIfInFlight(entry);
        }
    }

    /// <summary>
    /// The provider gives up on a response it is streaming: an error frame ends it (the connection takes the next request
    /// from then on), and one more frame of it that was already on its way follows.
    /// </summary>
    private async Task FailMidStreamAsync(CreateRequest request, RequestEntry entry, Turn turn, TurnEffects effects, SimError error, CancellationToken ct)
    {
        for (var i = 0; i < effects.ErrorAt; i++)
        {
            await SimulatedDelay.WaitAsync(i == 0 ? effects.FirstEventDelay : effects.EventDelay, effects.PreciseDelays, ct);
            await SendAsync(turn.Frames[i], ct);
        }

        if (request.PreviousResponseId is not null)
        {
            _anchor = null; // A continuation that fails evicts the connection's cached state.
        }

        _core.Finish(entry, RequestOutcome.Error, error);
        _busy = false;
        await SendAsync(TurnPlanner.PlanError(error).Frames[0], ct);
        await SimulatedDelay.WaitAsync(effects.EventDelay, effects.PreciseDelays, ct);
        await SendAsync(turn.Frames[effects.ErrorAt], ct);
    }

    /// <summary>Makes the turn's result visible (anchor, ledger, busy flag) just before its terminal frame goes out.</summary>
    private void Commit(CreateRequest request, RequestEntry entry, Turn turn, bool closing)
    {
        if (closing)
        {
            _closing = true;
        }

        if (turn.NextAnchor is { } next)
        {
            _anchor = next;
        }
        else if (request.PreviousResponseId is not null)
        {
            _anchor = null; // A continuation that fails evicts the connection's cached state.
        }

        _core.Finish(entry, turn);
        _busy = false;
    }

    private async Task RejectAsync(RequestEntry entry, SimError error)
    {
        _core.Finish(entry, RequestOutcome.Error, error);
        await SendAsync(TurnPlanner.PlanError(error).Frames[0], _turnCts.Token);
    }

    /// <summary>Ends the connection without a close frame (see <see cref="RunAsync"/>).</summary>
    private void Drop(ConnectionEnd reason)
    {
        _closing = true;
        _core.EndConnection(_connection, reason);
        _turnCts.Cancel(); // ends a hung or delayed turn
        // Recorded now, not when the cancelled turn gets to its cleanup: a host disposed with this connection open returns
        // first, and its ledger must already say so (a response that ended before keeps its outcome).
        if (_lastStarted is { } last) _core.AbortIfInFlight(last);
        _dropped.TrySetResult();
    }

    /// <summary>Sends a close frame; the receive loop then reads the peer's reply (or gives up after a while).</summary>
    private async Task CloseGracefullyAsync(ConnectionEnd reason, WebSocketCloseStatus status)
    {
        _closing = true;
        _core.EndConnection(_connection, reason);
        await _sendLock.WaitAsync();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _socket.CloseOutputAsync(status, status == WebSocketCloseStatus.InternalServerError ? "simulated fault" : null, timeout.Token);
        }
        catch (Exception ex) when (IsConnectionLoss(ex))
        {
            // Already gone.
        }
        finally
        {
            _sendLock.Release();
        }

        _receiveCts.CancelAfter(TimeSpan.FromSeconds(5));
    }

    private async Task ReplyToCloseAsync()
    {
        await _sendLock.WaitAsync();
        try
        {
            if (_socket.State == WebSocketState.CloseReceived)
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
            }
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Sends the held frames; a connection lost meanwhile is the receive loop's to notice.</summary>
    private static async Task ReleaseAsync(BatchingStream stream)
    {
        try
        {
            await stream.ReleaseAsync(CancellationToken.None);
        }
        catch (Exception ex) when (IsConnectionLoss(ex))
        {
        }
    }

    private async Task SendAsync(ReadOnlyMemory<byte> frame, CancellationToken ct)
    {
        await _sendLock.WaitAsync(ct);
        try
        {
            await _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, ct);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async Task<(int Length, WebSocketMessageType Type)> ReceiveMessageAsync(CancellationToken ct)
    {
        var length = 0;
        while (true)
        {
            if (length == _buffer.Length)
            {
                if (length >= MaxMessageBytes)
                {
                    throw new WebSocketException(WebSocketError.Faulted, "Message too large.");
                }

                var bigger = ArrayPool<byte>.Shared.Rent(length * 2);
                _buffer.AsSpan(0, length).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = bigger;
            }

            var result = await _socket.ReceiveAsync(_buffer.AsMemory(length), ct);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return (0, WebSocketMessageType.Close);
            }

            length += result.Count;
            if (result.EndOfMessage)
            {
                return (length, result.MessageType);
            }
        }
    }
}
