using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Hosting;
using CodexLb.Grains.Telemetry;
using CodexLb.Grains.Upstream;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Events;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// One conversation. It owns the conversation's single upstream websocket and its items, so it can always continue
/// the conversation itself: a turn goes upstream as a delta when the socket still holds the anchor, and as the full
/// context (once) when it does not. Reentrant so that a queued turn or a stats call never waits on a streaming one;
/// turns themselves are serialized by <see cref="TurnQueue"/>.
/// </summary>
[Reentrant]
public sealed partial class ConversationGrain(
    [PersistentState("conversation", StorageNames.Conversations)] IPersistentState<ConversationState> state,
    IConversationContextStore contextStore,
    ActiveTurns activeTurns,
    IOptions<UpstreamOptions> upstreamOptions,
    TimeProvider time,
    ILogger<ConversationGrain> logger) : Grain, IConversationGrain
{
    private readonly UpstreamOptions _options = upstreamOptions.Value;
    private readonly TurnQueue _queue = new(upstreamOptions.Value.TurnQueueLimit);
    private ConversationContext _context = null!;
    private UpstreamSocket? _socket;
    private int _persistedCount;
    private readonly Queue<TurnRecord> _recentTurns = new();
    private const int RecentTurnLimit = 64;

    private string Key => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var items = await contextStore.LoadAsync(Key, cancellationToken);
        _persistedCount = items.Count;
        _context = new ConversationContext(state.State, items);
        _persistedCount = Math.Min(_persistedCount, _context.Items.Count);
        BridgeMetrics.ActiveConversations.Add(1);
        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(1).Ticks, Math.Min(_options.IdleTimeout.Ticks / 2, TimeSpan.FromSeconds(30).Ticks)));
        this.RegisterGrainTimer(CloseIdleSocketAsync, new GrainTimerCreationOptions(period, period) { Interleave = true, KeepAlive = false });
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        BridgeMetrics.ActiveConversations.Add(-1);
        await DropSocketAsync();
    }

    public Task<ConversationStats> GetStats()
    {
        var s = state.State;
        return Task.FromResult(new ConversationStats
        {
            LastResponseId = s.LastResponseId, Turns = s.Turns, ContextItems = s.ItemCount, FullSends = s.FullSends,
            DeltaSends = s.DeltaSends, Replays = s.Replays, UpstreamConnects = s.UpstreamConnects, LastInputTokens = s.LastInputTokens,
            LastCachedTokens = s.LastCachedTokens, BytesSent = s.BytesSent, SocketOpen = _socket?.IsOpen == true,
            RecentTurns = [.. _recentTurns],
        });
    }

    public IAsyncEnumerable<TurnEvent> RunTurn(TurnRequest request, CancellationToken cancellationToken = default)
    {
        var sink = new TurnSink(_options.HeartbeatInterval);
        if (_queue.TryAdmit()) _ = RunAdmittedAsync(request, sink);
        else
        {
            sink.Reject(ProxyErrors.QueueFull());
            sink.Complete();
        }
        // The turn runs to its end even if the caller goes away, so the conversation's state stays consistent.
        return sink.Reader.ReadAllAsync(cancellationToken);
    }

    private async Task RunAdmittedAsync(TurnRequest request, TurnSink sink)
    {
        var record = new TurnAccounting();
        using var activity = BridgeMetrics.Source.StartActivity("codexlb.upstream_turn");
        activeTurns.Enter();
        try
        {
            await _queue.WaitAsync();
            try
            {
                await ExecuteAsync(request, sink, record);
            }
            finally
            {
                _queue.Exit();
            }
        }
        catch (Exception ex)
        {
            LogTurnFailed(logger, ex, Key, request.RequestId);
            sink.Reject(ProxyErrors.Internal());
        }
        finally
        {
            activeTurns.Exit();
            sink.Complete();
            Record(request, sink, record);
            activity?.SetTag("codexlb.sent_delta", record.SentDelta).SetTag("codexlb.full_sends", record.FullSends)
                .SetTag("codexlb.replays", record.Replays).SetTag("gen_ai.usage.input_tokens", record.InputTokens)
                .SetTag("codexlb.outcome", sink.Outcome);
        }
    }

    private void Record(TurnRequest request, TurnSink sink, TurnAccounting turn)
    {
        _recentTurns.Enqueue(new TurnRecord
        {
            ResponseId = turn.ResponseId, ClientAnchored = request.PreviousResponseId is not null, ClientItems = request.InputItems.Length,
            SentDelta = turn.SentDelta, FullSends = turn.FullSends, Replays = turn.Replays, UpstreamInputTokens = turn.InputTokens,
            CachedTokens = turn.CachedTokens, BytesSent = turn.BytesSent, Outcome = sink.Outcome,
        });
        while (_recentTurns.Count > RecentTurnLimit) _recentTurns.Dequeue();
        BridgeMetrics.Turns.Add(1, new KeyValuePair<string, object?>("outcome", sink.Outcome));
        if (turn.InputTokens > 0) BridgeMetrics.ContextTokens.Record(turn.InputTokens);
    }

    private async Task PersistAsync(int keptPrefix, string responseId)
    {
        var keep = Math.Min(keptPrefix, _persistedCount);
        var appended = _context.Items.Skip(keep).ToList();
        await contextStore.SaveAsync(Key, keep, appended, CancellationToken.None);
        _persistedCount = _context.Items.Count;
        var alias = GrainFactory.GetGrain<IResponseAliasGrain>(ConversationKey.AliasKey(ConversationKey.TenantOf(Key), responseId));
        await Task.WhenAll(state.WriteStateAsync(), WithOwnerRetries(() => alias.Bind(Key)));
    }

    /// <summary>
    /// The alias grain may sit on a silo that just died; it is reactivated elsewhere within about a second, so a short
    /// retry saves the turn from failing (a failure would still be retryable for the client).
    /// </summary>
    private static async Task WithOwnerRetries(Func<Task> call)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await call();
                return;
            }
            catch (Exception ex) when (attempt < 4 && ex is (OrleansException or TimeoutException) and not Orleans.Storage.InconsistentStateException)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250 * attempt));
            }
        }
    }

    private async Task<UpstreamSocket> EnsureSocketAsync()
    {
        if (_socket is { IsOpen: true } open && time.GetUtcNow() - open.OpenedAt < _options.MaxSocketAge) return open;
        await DropSocketAsync();
        _socket = await UpstreamSocket.ConnectAsync(_options, time, CancellationToken.None);
        state.State.UpstreamConnects++;
        BridgeMetrics.UpstreamConnects.Add(1);
        BridgeMetrics.OpenSockets.Add(1);
        return _socket;
    }

    private async Task DropSocketAsync()
    {
        if (_socket is not { } socket) return;
        _socket = null;
        BridgeMetrics.OpenSockets.Add(-1);
        await socket.DisposeAsync();
    }

    private async Task CloseIdleSocketAsync(CancellationToken cancellationToken)
    {
        if (_socket is { } socket && _queue.IsIdle && time.GetUtcNow() - socket.LastActivity > _options.IdleTimeout)
            await DropSocketAsync();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Turn {RequestId} of conversation {Conversation} failed unexpectedly")]
    private static partial void LogTurnFailed(ILogger logger, Exception ex, string conversation, string requestId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream connect failed for conversation {Conversation} (status {Status})")]
    private static partial void LogConnectFailed(ILogger logger, string conversation, int status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Upstream socket of conversation {Conversation} lost: {Reason}")]
    private static partial void LogSocketLost(ILogger logger, string conversation, string? reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Conversation {Conversation} could not persist its turn")]
    private static partial void LogPersistFailed(ILogger logger, Exception ex, string conversation);
}
