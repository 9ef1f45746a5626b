using System.Net.WebSockets;
using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Telemetry;
using CodexLb.Grains.Upstream;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Events;
using CodexLb.Protocol.Items;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// One turn's exchange with the provider: delta or full send, one replay when the socket is lost before
/// <c>response.created</c> (nothing reached the client yet), one transparent full resend when the provider forgot our
/// anchor, and after the first event no replay at all: a loss ends the stream retryably.
/// </summary>
public sealed partial class ConversationGrain
{
    private async Task ExecuteAsync(TurnRequest request, TurnSink sink, TurnAccounting turn)
    {
        var plan = _context.Plan(request);
        if (plan is null)
        {
            sink.Reject(ProxyErrors.PreviousResponseNotFound(request.PreviousResponseId!));
            return;
        }
        if (plan.Items.Sum(i => (long)i.Length) > _options.MaxContextBytes)
        {
            sink.Reject(new OpenAIError(400, ErrorCodes.ContextLengthExceeded,
                $"The conversation exceeds this bridge's context bound ({_options.MaxContextBytes} bytes); compact it.", ErrorTypes.InvalidRequest, "input"));
            return;
        }

        var replayed = false;
        var forceFull = false;
        while (true)
        {
            UpstreamSocket socket;
            try
            {
                socket = await EnsureSocketAsync();
            }
            catch (UpstreamConnectException ex)
            {
                LogConnectFailed(logger, Key, ex.Status);
                sink.Reject(ex.ToError());
                return;
            }

            var delta = !forceFull && plan.AnchorResponseId is not null && socket.AnchorResponseId == plan.AnchorResponseId;
            var frame = ResponseCreateFrame.Build(request.Settings, delta ? plan.AnchorResponseId : null, plan.Items, delta ? plan.BaseCount : 0);
            socket.AnchorResponseId = null; // the provider replaces (or on error evicts) its cached response
            try
            {
                await socket.SendAsync(frame, CancellationToken.None);
            }
            catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or InvalidOperationException)
            {
                await DropSocketAsync();
                if (!replayed) { replayed = true; CountReplay(turn); continue; }
                sink.Reject(ProxyErrors.UpstreamUnavailable("send failed"));
                return;
            }
            CountSend(turn, delta, frame.Length);

            UpstreamEvent? first;
            try
            {
                first = await socket.ReadAsync(_options.FirstEventTimeout, CancellationToken.None);
            }
            catch (TimeoutException)
            {
                await DropSocketAsync();
                sink.Reject(ProxyErrors.UpstreamTimeout());
                return;
            }

            if (first is not { } created)
            {
                // Lost before the provider acknowledged: nothing reached the client, so replay once on a fresh socket.
                LogSocketLost(logger, Key, socket.CloseReason);
                await DropSocketAsync();
                if (!replayed) { replayed = true; CountReplay(turn); continue; }
                sink.Reject(ProxyErrors.UpstreamUnavailable(socket.CloseReason ?? "connection lost"));
                return;
            }

            if (created.Type == EventTypes.Error)
            {
                var error = EventReader.Summarize(created.Data);
                if (error.ErrorCode == ErrorCodes.PreviousResponseNotFound && delta && !forceFull)
                {
                    // The provider forgot our anchor: resend the full context once; the client never hears of it.
                    forceFull = true;
                    CountReplay(turn);
                    continue;
                }
                if (error.ErrorCode == UpstreamErrors.ConnectionLimitReached && !replayed)
                {
                    // The provider retired this socket (its 60-minute limit): the socket's fault, not the client's.
                    await DropSocketAsync();
                    replayed = true;
                    CountReplay(turn);
                    continue;
                }
                sink.Reject(UpstreamErrors.ToClientError(error));
                return;
            }

            await RelayAsync(socket, created, plan, sink, turn);
            return;
        }
    }

    private void CountSend(TurnAccounting turn, bool delta, int bytes)
    {
        if (delta) state.State.DeltaSends++; else { state.State.FullSends++; turn.FullSends++; }
        state.State.BytesSent += bytes;
        turn.SentDelta = delta;
        turn.BytesSent += bytes;
        BridgeMetrics.UpstreamSends.Add(1, new KeyValuePair<string, object?>("kind", delta ? "delta" : "full"));
        BridgeMetrics.BytesSent.Add(bytes);
    }

    private void CountReplay(TurnAccounting turn)
    {
        state.State.Replays++;
        turn.Replays++;
        BridgeMetrics.Replays.Add(1);
    }

    private async Task RelayAsync(UpstreamSocket socket, UpstreamEvent first, TurnPlan plan, TurnSink sink, TurnAccounting turn)
    {
        var outputs = new List<byte[]>();
        string? responseId = null;
        var current = first;
        while (true)
        {
            switch (current.Type)
            {
                case EventTypes.Created:
                    responseId = EventReader.Summarize(current.Data).ResponseId;
                    break;
                case EventTypes.OutputItemDone:
                    if (EventReader.ReadRawProperty(current.Data, "item"u8) is { } item) outputs.Add(item);
                    break;
                case EventTypes.Completed:
                    await CompleteAsync(socket, current, plan, outputs, sink, turn);
                    return;
                case EventTypes.Failed or EventTypes.Incomplete:
                    sink.Relay(current);
                    return;
                case EventTypes.Error:
                    sink.Fail(UpstreamErrors.ToClientError(EventReader.Summarize(current.Data)), responseId);
                    return;
            }
            sink.Relay(current);

            UpstreamEvent? next;
            try
            {
                next = await socket.ReadAsync(_options.StreamIdleTimeout, CancellationToken.None);
            }
            catch (TimeoutException)
            {
                next = null;
            }
            if (next is not { } evt)
            {
                // Bytes already reached the client: never replay; end the stream retryably. The conversation stays valid.
                LogSocketLost(logger, Key, socket.CloseReason);
                await DropSocketAsync();
                sink.Fail(ProxyErrors.StreamIncomplete(), responseId);
                return;
            }
            current = evt;
        }
    }

    private async Task CompleteAsync(UpstreamSocket socket, UpstreamEvent completed, TurnPlan plan, List<byte[]> outputs, TurnSink sink, TurnAccounting turn)
    {
        var summary = EventReader.Summarize(completed.Data);
        if (summary.ResponseId is not { } responseId)
        {
            sink.Fail(ProxyErrors.StreamIncomplete(), null);
            return;
        }
        socket.AnchorResponseId = responseId;
        var kept = _context.Commit(plan, outputs, ItemFingerprint.ComputeAll(outputs), responseId);
        state.State.LastInputTokens = turn.InputTokens = summary.InputTokens ?? 0;
        state.State.LastCachedTokens = turn.CachedTokens = summary.CachedTokens ?? 0;
        turn.ResponseId = responseId;
        try
        {
            await PersistAsync(kept, responseId);
        }
        catch (Exception ex)
        {
            // Unpersisted, the id could not be routed by another gateway: fail the turn retryably instead.
            LogPersistFailed(logger, ex, Key);
            sink.Fail(ProxyErrors.UpstreamUnavailable("state could not be saved"), responseId);
            if (ex is Orleans.Storage.InconsistentStateException)
            {
                // Fenced: a newer activation of this conversation owns it now (we were partitioned, not dead).
                await DropSocketAsync();
                this.DeactivateOnIdle();
            }
            return;
        }
        sink.Relay(completed);
    }
}
