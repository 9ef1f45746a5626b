using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Telemetry;
using CodexLb.Grains.Upstream;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Responses;

namespace CodexLb.Grains.Conversation;

/// <summary>The parts of the Responses API that need the conversation itself: a response it is generating, and deletion.</summary>
public sealed partial class ConversationGrain
{
    public Task<byte[]?> GetRunningResponse(string responseId) =>
        Task.FromResult(RunningByResponse(responseId) is { } turn ? LatestAsAsked(turn) : null);

    public async Task<ApiReply?> CancelResponse(string responseId)
    {
        if (RunningByResponse(responseId) is not { } turn) return null;
        if (!turn.Background) return UpstreamHttp.Reply(ProxyErrors.CannotCancelSynchronous(responseId));
        var latest = turn.LatestResponse();
        turn.CancelRequested = true;
        BridgeMetrics.Cancellations.Add(1, new KeyValuePair<string, object?>("phase", "api"));
        await turn.Cancellation.CancelAsync();
        return latest is null ? null : new ApiReply(200, ResponseObjects.WithStatus(AsAsked(turn, latest)!, "cancelled"));
    }

    public ValueTask<TurnEvents> FollowResponse(string responseId, string follower, int from, CancellationToken cancellationToken = default)
    {
        // Running, or finished and still held for retries (FinishedTurnLifetime): its events are all here, in order. Of a
        // response run again here (its first run failed on the way), the newest run.
        if (_turns.Values.Where(t => t.ResponseId == responseId).MaxBy(t => t.Finished ? t.FinishedAt : DateTimeOffset.MaxValue) is not { } turn)
            return ValueTask.FromResult(Lost);
        if (!turn.Background) return ValueTask.FromResult(new TurnEvents([RunningTurn.Rejection(ProxyErrors.CannotStreamSynchronous(responseId))], true));
        return NextOf(turn, follower, turn.PositionOf(follower, from), cancellationToken);
    }

    /// <summary>A running response's object as its client asked for it: the provider runs every turn in the foreground.</summary>
    private static byte[]? AsAsked(RunningTurn turn, byte[]? response) =>
        response is not null && turn.Background ? ResponseObjects.AsBackground(response) : response;

    /// <summary>A running response's latest object (a re-run's first object until its own arrives), as its client asked for it.</summary>
    private static byte[]? LatestAsAsked(RunningTurn turn) => AsAsked(turn, turn.LatestResponse());

    public async Task<bool> DeleteResponse(string responseId)
    {
        var deleted = await store.DeleteAsync(Abstractions.ConversationKey.TenantOf(Key), responseId, CancellationToken.None);
        // What this activation holds may name it (cached nodes, views, the socket's anchor): forget it all; the tree
        // reloads what it needs from the store, where the deleted node and what depends on it are gone.
        _tree = new ConversationTree(store, Key) { HeadResponseId = _tree.HeadResponseId == responseId ? null : _tree.HeadResponseId };
        if (_socket is { } socket && socket.AnchorResponseId == responseId) socket.AnchorResponseId = null;
        return deleted;
    }

    private RunningTurn? RunningByResponse(string responseId) =>
        _turns.Values.FirstOrDefault(t => !t.Finished && t.ResponseId == responseId);
}
