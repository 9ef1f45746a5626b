using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Telemetry;
using CodexLb.Grains.Tree;
using CodexLb.Grains.Upstream;
using CodexLb.Protocol.Errors;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// One conversation. It owns the conversation's single upstream websocket and reads and writes its part of the response
/// tree, so it can always continue any response the tenant holds: a turn goes upstream as a delta when the socket still
/// holds its base, and as the full context (once) when it does not. Each activation claims the conversation's epoch, so
/// a stale activation (a partitioned silo) can write nothing. Reentrant so that a queued turn or a stats call never waits
/// on a streaming one; turns themselves are serialized by <see cref="TurnQueue"/>.
/// </summary>
[Reentrant]
public sealed partial class ConversationGrain(
    IResponseTreeStore store,
    ActiveTurns activeTurns,
    UpstreamSocketBudget socketBudget,
    IOptions<UpstreamOptions> upstreamOptions,
    IOptions<Accounts.PoolOptions> poolOptions,
    IOptions<StateOptions> stateOptions,
    Accounts.AccountTurnReports turnReports,
    TimeProvider time,
    IClusterMembershipService membership,
    ILocalSiloDetails localSilo,
    Orleans.Serialization.Serializer<ResumableResponse> resumables,
    ILogger<ConversationGrain> logger) : Grain, IConversationGrain
{
    private readonly UpstreamOptions _options = upstreamOptions.Value;
    private readonly TimeSpan _idleRelease = stateOptions.Value.IdleRelease;
    private readonly TimeSpan _pendingRefresh = stateOptions.Value.PendingLifetime / 3;
    private readonly TurnQueue _queue = new(upstreamOptions.Value.TurnQueueLimit);
    private readonly ConversationCounters _counters = new();
    private ConversationTree _tree = null!;
    private UpstreamSocket? _socket;
    private Task _socketsClosing = Task.CompletedTask; // dropped sockets finishing their close handshake; deactivation awaits them
    private long _epoch;
    private int _persistedTurns;
    // Grows with use (an idle conversation of one turn holds one), never past the limit. Each record's response id is kept
    // inline: a string kept for 64 turns was alive at every gen0 collection of a busy silo.
    private readonly Queue<(TurnRecord Record, InlineId ResponseId)> _recentTurns = new();
    private readonly Dictionary<string, RunningTurn> _turns = new(StringComparer.Ordinal);
    private readonly Dictionary<ulong, RunningTurn> _turnsByFingerprint = new();
    private readonly LinkedList<RunningTurn> _finishedTurns = new(); // in FinishedAt order: expiry drops from the head
    private IGrainTimer? _housekeeping;
    private DateTimeOffset? _housekeepingAt; // when the housekeeping timer fires, while it is armed
    private DateTimeOffset _lastTurnEnded;
    private bool _deactivating;
    private const int RecentTurnLimit = 64;
    private static readonly TimeSpan FinishedTurnLifetime = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long a delivered answer still counts as undelivered for a client asking the same again: the owner cannot tell a
    /// gateway that read the terminal event and died before writing it (its client retries at once) from a client asking
    /// again on purpose, so within this window the answer is replayed, as it is to identical requests sent together.
    /// </summary>
    public static readonly TimeSpan DeliveredRetryGrace = TimeSpan.FromSeconds(5);

    // Read once: Orleans decodes the key into a new string on every GetPrimaryKeyString, and a turn names its key several times.
    private string Key => _key ??= this.GetPrimaryKeyString();
    private string? _key;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var head = await store.ClaimAsync(Key, cancellationToken);
        _epoch = head.Epoch;
        _persistedTurns = head.Turns;
        _tree = new ConversationTree(store, Key) { HeadResponseId = head.ResponseId };
        BridgeMetrics.ActiveConversations.Add(1);
    }

    /// <summary>
    /// Running turns are cancelled and awaited: Orleans drops a deactivating grain's enumerations, so no client can receive
    /// the rest of a turn, and stopping the provider at once beats paying for an answer nobody gets (the gateway re-dispatches
    /// and answers retryably). A graceful silo stop drains its turns before grains deactivate, so this is the rare path. A
    /// connect in flight is cancelled with its turn, and dropped sockets finish their close handshakes: no socket outlives the
    /// grain.
    /// </summary>
    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _deactivating = true;
        _accountsGone = reason.ReasonCode == DeactivationReasonCode.ShuttingDown; // the account grains go with the silo
        await ((Task)Task.WhenAll(_recoveries.Values)).WaitAsync(cancellationToken) // none starts a run from here on
            .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        var running = _turns.Values.Where(t => !t.Finished).Distinct().ToList();
        foreach (var turn in running) await turn.Cancellation.CancelAsync();
        await Task.WhenAll(running.Select(t => t.Execution)).WaitAsync(cancellationToken)
            .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        BridgeMetrics.ActiveConversations.Add(-1);
        BridgeMetrics.Deactivations.Add(1, reason.ReasonCode.ToString());
        if (reason.ReasonCode is DeactivationReasonCode.DuplicateActivation or DeactivationReasonCode.DirectoryFailure)
            LogDirectoryLost(logger, Key, reason.ReasonCode, running.Count);
        DropSocket();
        await _socketsClosing.WaitAsync(cancellationToken)
            .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        if (_account is not null && !_accountsGone) await Pool.Release(Key); // one-way: this conversation no longer loads its account
    }

    public Task<ConversationStats> GetStats()
    {
        var c = _counters;
        return Task.FromResult(new ConversationStats
        {
            LastResponseId = _tree.HeadResponseId, Turns = _persistedTurns, ContextItems = _tree.HeadCount, FullSends = c.FullSends,
            DeltaSends = c.DeltaSends, Replays = c.Replays, UpstreamConnects = c.UpstreamConnects, LastInputTokens = c.LastInputTokens,
            LastCachedTokens = c.LastCachedTokens, BytesSent = c.BytesSent, SocketOpen = _socket?.IsOpen == true,
            RecentTurns = [.. _recentTurns.Select(static t => t.Record with { ResponseId = t.ResponseId.Value })],
        });
    }

    public ValueTask<TurnEvents> RunTurn(TurnRequest request) => RunTurn(request, CancellationToken.None);

    public ValueTask<TurnEvents> NextEvents(string turnId, int from) => NextEvents(turnId, from, CancellationToken.None);

    public ValueTask<TurnEvents> RunTurn(TurnRequest request, CancellationToken cancellationToken)
    {
        // A reentrant grain can still be called while it deactivates: nothing runs here, the caller re-dispatches.
        if (_deactivating) throw new OwnerDeactivatingException();
        var context = _tree.ContextOfAsync(request, cancellationToken);
        return context.IsCompletedSuccessfully ? Start(request, context.Result, cancellationToken) : StartAsync(request, context, cancellationToken);
    }

    /// <summary>The anchor was read from the store first: other calls ran meanwhile, so everything is decided after it.</summary>
    private async ValueTask<TurnEvents> StartAsync(TurnRequest request, ValueTask<ulong?> context, CancellationToken cancellationToken)
    {
        ulong? chain;
        try
        {
            chain = await context;
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            chain = null; // the turn's own plan reads the anchor again and reports the failure to its client
        }
        if (_deactivating) throw new OwnerDeactivatingException();
        return await Start(request, chain, cancellationToken);
    }

    private ValueTask<TurnEvents> Start(TurnRequest request, ulong? context, CancellationToken cancellationToken)
    {
        // The answered turn first: it is usually the only finished one, and an empty list reads no clock.
        ForgetAnswered(request.PreviousResponseId ?? request.ResumeFromResponseId);
        ForgetFinishedTurns();
        var turnId = request.TurnId.Length > 0 ? request.TurnId : Guid.NewGuid().ToString("N");
        var fingerprint = TurnFingerprint.Of(request, context);
        // A turn started while its base was still running was printed as sent (the base's context was not known yet): once
        // the base completed, its gateway's re-dispatch and a client's retry print by context, and are matched as sent too.
        ulong? asSent = null;
        ulong AsSent() => asSent ??= context is not null && request.PreviousResponseId is not null ? TurnFingerprint.Of(request, null) : fingerprint;
        if (_turns.TryGetValue(turnId, out var same) && (same.Fingerprint == fingerprint || same.Fingerprint == AsSent()))
        {
            // Before its first event a gateway also asks again this way when the turn was only quiet (heartbeats).
            return Reattach(same, turnId, request.ReplayFrom, request.ReplayFrom > 0 ? "redispatch" : null, cancellationToken);
        }
        // A client's retry of a turn it never got the answer to (its gateway died): the same context and settings, however
        // sent (the Codex CLI retries an anchored websocket turn as its full history on a new connection).
        if ((_turnsByFingerprint.TryGetValue(fingerprint, out var retried) || (AsSent() != fingerprint && _turnsByFingerprint.TryGetValue(AsSent(), out retried)))
            && AnswersRetry(retried))
            return Reattach(retried, turnId, 0, "retry", cancellationToken);

        if (activeTurns.Draining && !request.AttachOnly) throw MoveForDrain();
        if (_fencedTurn is not null && !request.AttachOnly) throw StepAside();
        var turn = new RunningTurn(turnId, fingerprint) { Background = request.Background, ConversationId = request.ConversationId };
        if (request.AttachOnly) turn.Reject(ProxyErrors.TurnLost());
        else if (!_queue.TryAdmit()) turn.Reject(ProxyErrors.QueueFull());
        else
        {
            _turns[turnId] = turn;
            _turnsByFingerprint[fingerprint] = turn;
            turn.Execution = RunAdmittedAsync(request, turn, RerunOf(request, retried));
            return turn.NextAsync(turnId, 0, _options.HeartbeatInterval, cancellationToken);
        }
        turn.Complete(time.GetUtcNow());
        return turn.NextAsync(turnId, 0, _options.HeartbeatInterval, cancellationToken);
    }

    /// <summary>
    /// Whether a client's retry gets this turn's answer: while it runs, when it finished with nobody listening, and, for
    /// <see cref="DeliveredRetryGrace"/>, when a gateway read its completed answer. A failure a client was told is never
    /// replayed: asking again after it is trying again.
    /// </summary>
    private bool AnswersRetry(RunningTurn turn) =>
        !turn.Finished || !turn.Delivered || (turn.Outcome == "completed" && time.GetUtcNow() - turn.FinishedAt <= DeliveredRetryGrace);

    /// <summary>
    /// Why a turn that runs here may repeat a generation already paid for: its gateway re-dispatched it after losing an owner
    /// that may have sent it upstream, or the client asked again for an answer that was delivered (to a gateway that died,
    /// or to a client that wants it once more). Null for a first run.
    /// </summary>
    private static string? RerunOf(TurnRequest request, RunningTurn? delivered) =>
        !request.Generate ? null : request.Redispatched ? "redispatch" : delivered is not null ? "retry" : null;

    public ValueTask<TurnEvents> NextEvents(string turnId, int from, CancellationToken cancellationToken) =>
        _turns.TryGetValue(turnId, out var turn)
            ? NextOf(turn, turnId, from, cancellationToken)
            : ValueTask.FromResult(Lost);

    /// <summary>What a turn this activation does not hold answers (lost with an earlier activation, or let go).</summary>
    private static readonly TurnEvents Lost = new([RunningTurn.Rejection(ProxyErrors.TurnLost())], true);

    private ValueTask<TurnEvents> Reattach(RunningTurn turn, string turnId, int from, string? reason, CancellationToken cancellationToken)
    {
        turn.Attach(turnId);
        if (turnId != turn.TurnId && _turns.TryAdd(turnId, turn)) turn.AddKey(turnId);
        if (reason is not null) BridgeMetrics.Reattachments.Add(1, new KeyValuePair<string, object?>("reason", reason));
        return NextOf(turn, turnId, from, cancellationToken);
    }

    public async Task CancelTurn(string turnId)
    {
        if (!_turns.TryGetValue(turnId, out var turn) || turn.Finished) return;
        _turns.Remove(turnId);
        Unindex(turn);
        if (!turn.Detach(turnId)) return; // another client (a retry through another gateway) still follows it
        BridgeMetrics.Cancellations.Add(1, new KeyValuePair<string, object?>("phase", turn.Sent ? "upstream" : "queued"));
        await turn.Cancellation.CancelAsync();
    }

    /// <summary>
    /// Finished turns stay attachable for a short while: a gateway re-dispatching its own turn (same id) always finds it,
    /// whoever else read it; a client's retry (another id, same content) only attaches while nobody got the answer.
    /// </summary>
    private void ForgetFinishedTurns()
    {
        if (_finishedTurns.First is null) return;
        var now = time.GetUtcNow();
        while (_finishedTurns.First?.Value is { } turn && now - turn.FinishedAt > FinishedTurnLifetime)
        {
            _finishedTurns.RemoveFirst();
            Forget(turn);
        }
    }

    /// <summary>
    /// Arms the conversation's one housekeeping timer (<see cref="HousekeepAsync"/>) to fire in <paramref name="due"/>,
    /// unless it fires sooner already. One one-shot timer for everything a quiet conversation lets go: two per
    /// conversation (a periodic socket check beside it) were 2,058 of a busy silo's 3,640 timer entries, each walked by the
    /// runtime's timer thread and each firing waking a thread.
    /// </summary>
    private void ScheduleHousekeeping(TimeSpan due)
    {
        if (due < TimeSpan.FromMilliseconds(100)) due = TimeSpan.FromMilliseconds(100);
        // Armed to fire sooner already (a busy conversation: the last turn's release time): it fires, finds the
        // conversation not quiet long enough and re-arms for the rest. No timer change per turn.
        var at = time.GetUtcNow() + due;
        if (_housekeepingAt is { } armed && armed <= at) return;
        _housekeepingAt = at;
        if (_housekeeping is null)
        {
            _housekeeping = this.RegisterGrainTimer(HousekeepAsync,
                new GrainTimerCreationOptions(due, Timeout.InfiniteTimeSpan) { Interleave = true, KeepAlive = false });
        }
        else _housekeeping.Change(due, Timeout.InfiniteTimeSpan);
    }

    /// <summary>
    /// What a quiet conversation lets go, each when it falls due: the tree's cached nodes, views and ids but its head's
    /// header once it was quiet for <see cref="StateOptions.IdleRelease"/> (the store has the rest: a turn on the head
    /// reads nothing, one on an older response reads its path once), its finished turns' events as they expire, and its
    /// upstream socket once idle for <see cref="UpstreamOptions.IdleTimeout"/>. Then it re-arms for the next of these.
    /// </summary>
    private Task HousekeepAsync(CancellationToken cancellationToken)
    {
        _housekeepingAt = null; // fired (one-shot): whatever comes next arms it again
        if (!_queue.IsIdle) return Task.CompletedTask; // the running turn re-arms the timer when it ends
        var now = time.GetUtcNow();
        if (_socket is { } idle && now - idle.LastActivity > _options.IdleTimeout) DropSocket();
        var quiet = now - _lastTurnEnded;
        if (quiet < _idleRelease) ScheduleHousekeeping(_idleRelease - quiet);
        else
        {
            if (!_tree.IsReleased) _tree = _tree.Released();
            ForgetFinishedTurns();
            if (_finishedTurns.First?.Value is { } oldest) ScheduleHousekeeping(oldest.FinishedAt + FinishedTurnLifetime - now + TimeSpan.FromSeconds(1));
        }
        if (_socket is { } socket) ScheduleHousekeeping(socket.LastActivity + _options.IdleTimeout - now);
        return Task.CompletedTask;
    }

    /// <summary>
    /// A turn that continues the last finished turn's answer proves its client has that answer: no gateway re-attaches to
    /// it any more, so the owner lets it go now instead of after <see cref="FinishedTurnLifetime"/> (unless a follower is
    /// still reading it: a slow client whose retry through another gateway already got the answer). Kept for a minute,
    /// every turn and its events were most of a busy silo's heap, and all of them died old: gen2 collections and long pauses.
    /// </summary>
    private void ForgetAnswered(string? baseResponseId)
    {
        if (baseResponseId is null || _finishedTurns.Last is not { Value: { Delivered: true, StillRead: false } answered } last || answered.ResponseId != baseResponseId)
            return;
        _finishedTurns.Remove(last);
        Forget(answered);
    }

    /// <summary>No id leads to a finished turn any more, nor does a retry's fingerprint.</summary>
    private void Forget(RunningTurn turn)
    {
        foreach (var key in turn.Keys)
            if (_turns.TryGetValue(key, out var held) && held == turn) _turns.Remove(key);
        Unindex(turn);
    }

    /// <summary>A turn no id leads to any more is no retry's target either.</summary>
    private void Unindex(RunningTurn turn)
    {
        foreach (var key in turn.Keys)
            if (_turns.TryGetValue(key, out var held) && held == turn) return;
        if (_turnsByFingerprint.TryGetValue(turn.Fingerprint, out var indexed) && indexed == turn) _turnsByFingerprint.Remove(turn.Fingerprint);
    }

    private async Task RunAdmittedAsync(TurnRequest request, RunningTurn turn, string? rerun)
    {
        var record = new TurnAccounting { Rerun = rerun };
        var cancellation = turn.Cancellation.Token;
        using var activity = BridgeMetrics.Source.StartActivity("codexlb.upstream_turn");
        activeTurns.Enter();
        try
        {
            await _queue.EnterAsync(cancellation);
            try
            {
                await ExecuteAsync(request, turn, record, cancellation);
            }
            finally
            {
                _queue.Exit();
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // The client went away (or the grain is deactivating): the provider was told to stop by closing the socket.
            if (turn.Sent) DropSocket();
            if (turn.CancelRequested) turn.Fail(ProxyErrors.ResponseCancelled(), turn.ResponseId);
            else turn.Cancelled();
        }
        catch (Exception ex)
        {
            LogTurnFailed(logger, ex, Key, request.RequestId);
            turn.Reject(ProxyErrors.Internal());
        }
        finally
        {
            if (_socket is { } socket) socket.Busy = false;
            // Read back as it ended, before it reads as finished here (retrieve asks the store once this owner lets it go).
            if (turn.ResponseId is { } responseId && KeepsEnd(turn, request) && turn.EndedResponse() is { } ended)
                await SettleAsync(responseId, ended);
            else if (IsRefusedRerun(turn) && turn.Resumed!.Before is { } before)
                await NoteRefusalAsync(turn.ResponseId!, before);
            activeTurns.Exit();
            turn.Complete(time.GetUtcNow());
            _finishedTurns.AddLast(turn);
            // Finished: nothing cancels or awaits it any more; its registrations and state machine need not stay a minute.
            turn.Cancellation.Dispose();
            turn.Execution = Task.CompletedTask;
            _lastTurnEnded = turn.FinishedAt;
            ScheduleHousekeeping(_idleRelease);
            Record(request, turn, record);
            CountGenerations(record);
            activity?.SetTag("codexlb.sent_delta", record.SentDelta).SetTag("codexlb.full_sends", record.FullSends)
                .SetTag("codexlb.replays", record.Replays).SetTag("gen_ai.usage.input_tokens", record.InputTokens)
                .SetTag("codexlb.outcome", turn.Outcome);
        }
    }

    /// <summary>
    /// Whether a turn over without completing keeps how it ended, for retrieve. Not a background response stopped only
    /// because this activation goes away, nor one the bridge ended on a failure that may pass (the provider's socket lost
    /// mid-answer, a new run refused for want of capacity): nobody sends a background response again, so it stays pending,
    /// and the next call that asks for it runs it again (<see cref="RecoverResponse"/>).
    /// </summary>
    private bool KeepsEnd(RunningTurn turn, TurnRequest request) =>
        turn.Outcome != "completed" && request.Store != false
        && !(turn.Background && !turn.CancelRequested && (_deactivating || turn.Failure is { } failure && ErrorCodes.IsRetryable(failure.Code)));

    /// <summary>A background response's new run refused before the provider was asked, for a reason that may pass: it stays pending.</summary>
    private bool IsRefusedRerun(RunningTurn turn) =>
        turn is { Resumed: not null, Sent: false, CancelRequested: false, Failure: { } failure } && !_deactivating && ErrorCodes.IsRetryable(failure.Code);

    /// <summary>
    /// Generations per client turn, and the ones beyond its first (duplicated work: what an operator alerts on). A re-run
    /// counts the generation its earlier run is presumed to have paid for (an upper bound when that owner died before
    /// sending it: nothing here can know).
    /// </summary>
    private static void CountGenerations(TurnAccounting turn)
    {
        var generations = turn.GenerationsPerClientTurn;
        BridgeMetrics.Generations.Record(generations);
        if (generations > 1)
            BridgeMetrics.Regenerations.Add(generations - 1, new KeyValuePair<string, object?>("reason", turn.Rerun ?? "replay"));
    }

    private void Record(TurnRequest request, RunningTurn sink, TurnAccounting turn)
    {
        if (_recentTurns.Count == RecentTurnLimit) _recentTurns.Dequeue(); // before the enqueue: the queue never grows past the limit
        _recentTurns.Enqueue((new TurnRecord
        {
            ClientAnchored = request.PreviousResponseId is not null, ClientItems = request.InputItems.Length,
            SentDelta = turn.SentDelta, FullSends = turn.FullSends, Replays = turn.Replays, UpstreamInputTokens = turn.InputTokens,
            CachedTokens = turn.CachedTokens, BytesSent = turn.BytesSent, Outcome = sink.Outcome, ItemsSent = turn.ItemsSent,
            Generations = turn.GenerationsPerClientTurn,
        }, InlineId.Of(turn.ResponseId)));
        BridgeMetrics.Turns.Add(1, sink.Outcome);
        if (turn.InputTokens > 0) BridgeMetrics.ContextTokens.Record(turn.InputTokens);
    }

    /// <summary>
    /// Writes the completed turn's node, its index entry and the head in one store round trip, fenced by this
    /// activation's epoch. False when a newer activation owns the conversation (nothing was written).
    /// </summary>
    private async Task<bool> PersistAsync(ResponseNode node, ContextView view)
    {
        if (!await store.AppendAsync(_epoch, node, CancellationToken.None)) return false;
        _tree.Commit(node, view);
        _persistedTurns++;
        return true;
    }

    private async ValueTask<UpstreamSocket> EnsureSocketAsync(CancellationToken cancellationToken)
    {
        if (_socket is { IsOpen: true } open && time.GetUtcNow() - open.OpenedAt < _options.MaxSocketAge) return open.MarkBusy();
        DropSocket();
        var lease = await LeaseAsync(); // the conversation's account: one grain call per connect, never per turn
        if (!socketBudget.TryReserve()) throw new UpstreamCapacityException();
        UpstreamSocket socket;
        try
        {
            socket = await UpstreamSocket.ConnectAsync(_options, lease, time, cancellationToken);
        }
        catch
        {
            socketBudget.Admit(null);
            throw;
        }
        socketBudget.Admit(socket);
        socket.Busy = true;
        _socket = socket;
        // Only a conversation with a socket looks at it again (a silo's idle conversations, 100,000 in the memory benchmark,
        // had ticked every few seconds each for a socket most of them no longer had), once, when it could be idle.
        ScheduleHousekeeping(_options.IdleTimeout);
        ReportAccount(socket.Account, new AccountReport { Event = AccountEvent.SocketOpened, Usage = socket.Usage });
        _counters.UpstreamConnects++;
        BridgeMetrics.UpstreamConnects.Add(1);
        if (_deactivating || cancellationToken.IsCancellationRequested)
        {
            // The grain is going away (or the client did) while the handshake completed: closed the one way every socket
            // is, which gives its slot in the budget back (a socket disposed here once kept its slot for good).
            DropSocket();
            cancellationToken.ThrowIfCancellationRequested();
            throw new UpstreamConnectException(0, 1, new ObjectDisposedException(nameof(ConversationGrain)));
        }
        return socket;
    }

    /// <summary>
    /// Lets the socket go. Its close handshake (our close frame, the provider's reply, at most
    /// <see cref="UpstreamSocket.CloseTimeout"/>) runs on without the turn waiting for it: a socket is dropped on the
    /// turn's path, often because the provider stalled, and the replay must not wait for a reply that may never come.
    /// </summary>
    private void DropSocket()
    {
        if (_socket is not { } socket) return;
        _socket = null;
        socketBudget.Release(socket);
        ReportAccount(socket.Account, new AccountReport { Event = AccountEvent.SocketClosed });
        var closing = socket.DisposeAsync().AsTask();
        _socketsClosing = _socketsClosing.IsCompleted ? closing : Task.WhenAll(_socketsClosing, closing);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Turn {RequestId} of conversation {Conversation} failed unexpectedly")]
    private static partial void LogTurnFailed(ILogger logger, Exception ex, string conversation, string requestId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Conversation {Conversation} deactivated because the grain directory lost track of it ({Reason}); {Running} running turns stopped")]
    private static partial void LogDirectoryLost(ILogger logger, string conversation, DeactivationReasonCode reason, int running);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream connect failed for conversation {Conversation} (status {Status})")]
    private static partial void LogConnectFailed(ILogger logger, string conversation, int status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Upstream socket of conversation {Conversation} lost: {Reason}")]
    private static partial void LogSocketLost(ILogger logger, string conversation, string? reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Conversation {Conversation} could not persist its turn")]
    private static partial void LogPersistFailed(ILogger logger, Exception ex, string conversation);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Conversation {Conversation}: a started response could not be made routable")]
    private static partial void LogPendingNotMarked(ILogger logger, Exception ex, string conversation);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Conversation {Conversation}: how a response ended without completing could not be kept (it reads as interrupted)")]
    private static partial void LogNotSettled(ILogger logger, Exception ex, string conversation);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Conversation {Conversation}: a newer activation owns it; this one stops")]
    private static partial void LogFenced(ILogger logger, string conversation);
}
