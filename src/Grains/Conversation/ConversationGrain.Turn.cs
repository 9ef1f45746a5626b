using System.Net.WebSockets;
using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Accounts;
using CodexLb.Grains.Telemetry;
using CodexLb.Grains.Tree;
using CodexLb.Grains.Upstream;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Events;
using CodexLb.Protocol.Items;
using CodexLb.Protocol.Responses;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// One turn's exchange with the provider: delta or full send, one replay when the socket is lost before
/// <c>response.created</c> (nothing reached the client yet), one transparent full resend when the provider forgot our
/// anchor, and after the first event no replay at all: a loss ends the stream retryably.
/// </summary>
public sealed partial class ConversationGrain
{
    private async Task ExecuteAsync(TurnRequest request, RunningTurn sink, TurnAccounting turn, CancellationToken cancellationToken)
    {
        var (plan, missing) = await _tree.PlanAsync(request, cancellationToken);
        if (plan is null)
        {
            // A background response lost with its owner runs again: ours to recover, so a 5xx every SDK retries; this turn,
            // sent again, waits behind the new run.
            var recovering = missing == ResponseStatus.Pending && await TryRecoverAsync(request.PreviousResponseId!);
            sink.Reject(recovering ? ProxyErrors.PreviousResponseRecovering(request.PreviousResponseId!) : MissingBaseError(missing, request.PreviousResponseId!));
            return;
        }
        if (plan.Bytes > _options.MaxContextBytes)
        {
            sink.Reject(new OpenAIError(400, ErrorCodes.ContextLengthExceeded,
                $"The conversation exceeds this bridge's context bound ({_options.MaxContextBytes} bytes); compact it.", ErrorTypes.InvalidRequest, "input"));
            return;
        }
        if (!request.Generate && _socket is { IsOpen: true, AnchorResponseId: not null })
        {
            // A warm-up must not make the provider forget the response our socket is anchored on: answer it here.
            CountBase("warmup");
            await WarmUpLocallyAsync(request, plan, sink);
            return;
        }
        CountBase(plan.Base.ResponseId is null ? "none" : plan.Base.ResponseId == request.PreviousResponseId ? "anchor" : "content");

        var replayed = false;
        var forceFull = false;
        var accounts = new AccountAttempts(); // accounts this turn left before its first byte
        while (true)
        {
            UpstreamSocket socket;
            OpenAIError? moveError;
            try
            {
                socket = await EnsureSocketAsync(cancellationToken);
            }
            catch (UpstreamCapacityException)
            {
                sink.Reject(ProxyErrors.Capacity());
                return;
            }
            catch (AccountsUnavailableException ex)
            {
                AccountMetrics.Unavailable.Add(1);
                sink.Reject(ex.ToError());
                return;
            }
            catch (AccountLeaseRefusedException ex)
            {
                // Known to be cooling (or to need re-auth) before we even connect: move without asking the provider.
                if ((moveError = await MoveAccountAsync("cooling", null, ex.Lease.RetryAfterSeconds, accounts)) is null) continue;
                sink.Reject(moveError);
                return;
            }
            catch (UpstreamConnectException ex) when (AccountFailure.FromHandshake(ex.Status, ex.RetryAfterSeconds, [], time.GetUtcNow()) is { } failure)
            {
                LogConnectFailed(logger, Key, ex.Status);
                if ((moveError = await MoveAccountAsync(failure.Reason, failure, failure.RetryAfterSeconds, accounts)) is null) continue;
                sink.Reject(moveError);
                return;
            }
            catch (UpstreamConnectException ex)
            {
                LogConnectFailed(logger, Key, ex.Status);
                sink.Reject(ex.ToError());
                return;
            }

            var delta = !forceFull && plan.AnchorResponseId is not null && socket.AnchorResponseId == plan.AnchorResponseId;
            if (!delta && !plan.Base.HasItems)
            {
                // The grain keeps no items between turns: a full send reads its base's once.
                var (loaded, gone) = await _tree.WithBaseItemsAsync(plan, cancellationToken);
                if (loaded is null)
                {
                    sink.Reject(MissingBaseError(gone, plan.Base.ResponseId!));
                    return;
                }
                plan = loaded;
            }
            var store = _options.UpstreamStore(request.Store, socket.BackendApi);
            var items = delta ? plan.NewItems : FullSendItems(plan, providerStores: store != false);
            int frameLength;
            var anchor = delta ? socket.ProviderAnchorId : null;
            socket.AnchorResponseId = null; // the provider replaces (or on error evicts) its cached response
            if (sink is { Resumed: not null, Sent: false }) await CountRunAsync(sink);
            try
            {
                sink.Sent = true;
                using var frame = ResponseCreateFrame.Rent(request.Settings, anchor, items, store);
                frameLength = frame.Length;
                await socket.SendAsync(frame.Memory, cancellationToken); // the socket has copied (and masked) it when this completes
            }
            catch (WebSocketException)
            {
                DropSocket();
                if (!replayed) { replayed = true; CountReplay(turn); continue; }
                sink.Reject(ProxyErrors.UpstreamUnavailable("send failed"));
                return;
            }
            CountSend(turn, delta, frameLength, delta ? plan.NewCount : items.Count);
            if (request.Generate) turn.Generations++;

            UpstreamEvent? first;
            try
            {
                first = await socket.ReadFirstAsync(_options.FirstEventTimeout, cancellationToken);
            }
            catch (TimeoutException)
            {
                DropSocket();
                sink.Reject(ProxyErrors.UpstreamTimeout());
                return;
            }

            if (first is not { } created)
            {
                // Lost before the provider acknowledged: nothing reached the client, so replay once on a fresh socket.
                LogSocketLost(logger, Key, socket.CloseReason);
                DropSocket();
                if (!replayed) { replayed = true; CountReplay(turn); continue; }
                sink.Reject(ProxyErrors.UpstreamUnavailable(socket.CloseReason ?? "connection lost"));
                return;
            }

            if (created.Type == EventTypes.Error)
            {
                if (request.Generate) turn.Generations--; // refused: the provider generated nothing
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
                    DropSocket();
                    replayed = true;
                    CountReplay(turn);
                    continue;
                }
                if (AccountFailure.FromErrorEvent(created.Data, time.GetUtcNow()) is { } failure)
                {
                    // The account is rate limited, out of quota or refused: nothing reached the client, so move it.
                    if ((moveError = await MoveAccountAsync(failure.Reason, failure, failure.RetryAfterSeconds, accounts)) is null) continue;
                    sink.Reject(moveError);
                    return;
                }
                sink.Reject(UpstreamErrors.ToClientError(error));
                return;
            }

            turnReports.Started(socket.Account);
            try
            {
                await RelayAsync(socket, created, request, plan, sink, turn, cancellationToken);
            }
            finally
            {
                turnReports.Ended(socket.Account, turn.InputTokens, turn.OutputTokens, socket.Usage);
            }
            return;
        }
    }

    private static OpenAIError MissingBaseError(ResponseStatus missing, string responseId) => missing switch
    {
        ResponseStatus.Expired => ProxyErrors.PreviousResponseExpired(responseId),
        // Started but never completed (a turn that failed, or whose owner died): ours, so retryable, never a 400.
        ResponseStatus.Pending => ProxyErrors.PreviousResponseIncomplete(responseId),
        _ => ProxyErrors.PreviousResponseNotFound(responseId),
    };

    private void CountSend(TurnAccounting turn, bool delta, int bytes, int items)
    {
        if (delta) _counters.DeltaSends++; else { _counters.FullSends++; turn.FullSends++; }
        _counters.BytesSent += bytes;
        turn.ItemsSent = items;
        turn.SentDelta = delta;
        turn.BytesSent += bytes;
        BridgeMetrics.UpstreamSends.Add(1, delta ? "delta" : "full");
        BridgeMetrics.BytesSent.Add(bytes);
    }

    private static void CountBase(string how) => BridgeMetrics.TurnBases.Add(1, how);

    private void CountReplay(TurnAccounting turn)
    {
        _counters.Replays++;
        turn.Replays++;
        BridgeMetrics.Replays.Add(1);
    }

    /// <summary>
    /// Persists a completed turn before the client sees it complete; a turn that could not be persisted fails retryably
    /// (unpersisted, its id could not be continued). Fenced by a newer activation, this one stops owning anything.
    /// </summary>
    private async Task<bool> TryPersistAsync(ResponseNode node, ContextView view, RunningTurn sink)
    {
        try
        {
            if (await PersistAsync(node, view)) return true;
            LogFenced(logger, Key);
            BridgeMetrics.FencedWrites.Add(1);
            sink.Fail(ProxyErrors.UpstreamUnavailable("the conversation moved to another owner"), node.Id);
            DropSocket();
            Retire(sink);
        }
        catch (Exception ex)
        {
            LogPersistFailed(logger, ex, Key);
            sink.Fail(ProxyErrors.UpstreamUnavailable("state could not be saved"), node.Id);
        }
        return false;
    }

    /// <summary>
    /// Lets any gateway route a client that chains on this response before it completes (it then waits behind it). Not
    /// worth failing a turn over: a client that cannot be routed gets a retryable error, never a 400.
    /// </summary>
    private async Task MarkPendingAsync(TurnRequest request, string responseId, byte[] createdEvent)
    {
        try
        {
            // Nobody follows a background response: what it takes to run it again is kept, should its owner be lost.
            if (request.Background && request.Store != false && EventReader.ReadRawProperty(createdEvent, "response"u8) is { } created)
                await store.MarkResumableAsync(Key, responseId, Resumable(new ResumableResponse { Request = request, Created = ResponseObjects.AsBackground(created) }), CancellationToken.None);
            else await store.MarkPendingAsync(Key, responseId, CancellationToken.None);
        }
        catch (Exception ex)
        {
            LogPendingNotMarked(logger, ex, Key);
        }
    }

    /// <summary>A long response's pending marker lives on (refreshed every third of its lifetime while it runs).</summary>
    private async Task RefreshPendingAsync(string responseId)
    {
        try
        {
            await store.RefreshPendingAsync(Key, responseId, CancellationToken.None);
        }
        catch (Exception ex)
        {
            LogPendingNotMarked(logger, ex, Key);
        }
    }

    /// <summary>
    /// Keeps how a started response ended without completing, for retrieve (cancelled, failed, incomplete). Not worth
    /// failing anything over: unsettled, it reads as interrupted once this owner lets it go.
    /// </summary>
    private async Task SettleAsync(string responseId, byte[] ended)
    {
        try
        {
            await store.SettleAsync(Key, responseId, ended, CancellationToken.None);
        }
        catch (Exception ex)
        {
            LogNotSettled(logger, ex, Key);
        }
    }

    /// <summary>A <c>generate:false</c> answer from the bridge: a chainable id for the warm-up's context, nothing upstream.</summary>
    private async Task WarmUpLocallyAsync(TurnRequest request, TurnPlan plan, RunningTurn sink)
    {
        var responseId = "resp_" + Guid.NewGuid().ToString("N");
        var (node, view) = ConversationTree.BuildNode(plan, responseId, [], [], Key, synthetic: true);
        var model = Protocol.Requests.RequestSettings.ReadString(request.Settings, "model");
        var createdAt = time.GetUtcNow().ToUnixTimeSeconds();
        sink.Relay(new UpstreamEvent(EventTypes.Created, ResponseEvents.BuildWarmUp(EventTypes.Created, responseId, model, createdAt, 0)));
        if (await TryPersistAsync(node, view, sink))
            sink.Relay(new UpstreamEvent(EventTypes.Completed, ResponseEvents.BuildWarmUp(EventTypes.Completed, responseId, model, createdAt, 1)));
    }

    private async Task RelayAsync(UpstreamSocket socket, UpstreamEvent first, TurnRequest request, TurnPlan plan, RunningTurn sink, TurnAccounting turn,
        CancellationToken cancellationToken)
    {
        var outputs = new List<byte[]>();
        string? responseId = null;
        var markedAt = DateTimeOffset.MaxValue; // when the response was last marked pending (refreshed while it runs)
        var current = first;
        while (true)
        {
            switch (current.Type)
            {
                case EventTypes.Created:
                    responseId = EventReader.ReadResponseId(current.Data);
                    // A re-run keeps the id its client has (marked pending when it was resumed): only a first run is marked.
                    if (sink.Resumed is null && (sink.ResponseId = responseId) is not null) await MarkPendingAsync(request, responseId!, current.Data);
                    markedAt = socket.LastActivity;
                    break;
                case EventTypes.OutputItemDone:
                    if (EventReader.ReadRawProperty(current.Data, "item"u8) is { } item) outputs.Add(item);
                    break;
                case EventTypes.Completed:
                    await CompleteAsync(socket, current, responseId, request, plan, outputs, sink, turn);
                    return;
                case EventTypes.Failed or EventTypes.Incomplete:
                    ReportLateAccountFailure(socket, current);
                    sink.Relay(current);
                    return;
                case EventTypes.Error:
                    ReportLateAccountFailure(socket, current);
                    // The provider may still send frames of the failed response: this socket carries no further turn.
                    DropSocket();
                    sink.Fail(UpstreamErrors.ToClientError(EventReader.Summarize(current.Data)), sink.ResponseId);
                    return;
            }
            sink.Relay(current, more: socket.MoreAfterRead); // followers wake once per burst, not once per event
            if (socket.LastActivity - markedAt >= _pendingRefresh && sink.ResponseId is { } running)
            {
                // A long response (a background one can run for an hour) stays routable while it runs. The socket's clock
                // is read once per burst already: no clock read per event here.
                markedAt = socket.LastActivity;
                await RefreshPendingAsync(running);
            }

            UpstreamEvent? next;
            try
            {
                next = await socket.ReadAsync(_options.StreamIdleTimeout, cancellationToken);
            }
            catch (TimeoutException)
            {
                next = null;
            }
            if (next is not { } evt)
            {
                // Bytes already reached the client: never replay; end the stream retryably. The conversation stays valid.
                LogSocketLost(logger, Key, socket.CloseReason);
                DropSocket();
                sink.Fail(ProxyErrors.StreamIncomplete(), sink.ResponseId);
                return;
            }
            current = evt;
        }
    }

    private async Task CompleteAsync(UpstreamSocket socket, UpstreamEvent completed, string? createdId, TurnRequest request, TurnPlan plan,
        List<byte[]> outputs, RunningTurn sink, TurnAccounting turn)
    {
        var summary = EventReader.Summarize(completed.Data, knownId: createdId);
        if (summary.ResponseId is not { } responseId || (createdId is not null && responseId != createdId))
        {
            // Not the response this turn created: the socket's frames can no longer be trusted to belong to anyone.
            DropSocket();
            sink.Fail(ProxyErrors.StreamIncomplete(), sink.ResponseId);
            return;
        }
        var outputPrints = ItemFingerprint.ComputeAll(outputs);
        // The response object is read where it lies in the event (the envelope built from it is the node's own copy).
        var response = request.Store != false && summary.Response is { } found ? completed.Data.AsSpan(found) : default;
        var providerId = responseId;
        if (sink.Resumed is not null)
        {
            // A re-run is stored under the id its client has; the provider knows it by its own.
            responseId = sink.ResponseId!;
            if (!response.IsEmpty) response = ResponseObjects.WithId(response, responseId);
        }
        if (!response.IsEmpty && request.ConversationId is { } conversation) response = ResponseObjects.InConversation(response, conversation);
        var (node, view) = ConversationTree.BuildNode(plan, responseId, outputs, outputPrints, Key, response: response, background: request.Background);
        _counters.LastInputTokens = turn.InputTokens = summary.InputTokens ?? 0;
        _counters.LastCachedTokens = turn.CachedTokens = summary.CachedTokens ?? 0;
        turn.OutputTokens = summary.OutputTokens ?? 0;
        turn.ResponseId = responseId;
        if (!await TryPersistAsync(node, view, sink)) return;
        socket.AnchorAs(responseId, providerId);
        sink.Relay(completed, completion: summary.ErrorCode is null
            ? new TurnCompletion(responseId, summary.InputTokens, summary.CachedTokens, summary.OutputTokens) : null);
    }
}
