using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Accounts;
using CodexLb.Grains.Tree;
using CodexLb.Grains.Upstream;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Responses;
using Orleans.Concurrency;

namespace CodexLb.Grains.ResponsesApi;

/// <summary>
/// Retrieve, delete, cancel and input items from the tenant's response tree; input tokens and compaction forwarded to
/// the provider with any <c>previous_response_id</c> expanded (the provider holds no context of ours). A stateless worker:
/// a completed response costs one store read and no activation; only a running one reaches its conversation. One
/// reentrant worker per silo: every call only awaits the store, a conversation or the provider, so one serves them all at
/// once (as non-reentrant workers, at most one per core, a few slow compactions queued every other call behind them).
/// </summary>
[StatelessWorker(1)]
[Reentrant]
public sealed class ResponsesApiGrain(IResponseTreeStore store, UpstreamHttp upstream, Orleans.Serialization.Serializer<ResumableResponse> resumables)
    : Grain, IResponsesApiGrain
{
    public async Task<ApiReply> Retrieve(string tenant, string responseId)
    {
        var (answer, stored) = await LoadSettledAsync(tenant, responseId,
            async conversation => await conversation.GetRunningResponse(responseId) is { } running ? Ok(running) : null, AsIs,
            static (_, recovered) => Ok(recovered));
        return answer ?? Stored(stored, responseId) ?? Ok(ResponseObjects.Compose(stored.Envelope!, stored.Outputs));
    }

    public async Task<ApiReply> Cancel(string tenant, string responseId)
    {
        var (answer, stored) = await LoadSettledAsync(tenant, responseId, conversation => conversation.CancelResponse(responseId), AsIs,
            static (_, cancelled) => Ok(cancelled), cancelLost: true);
        if ((answer ?? Stored(stored, responseId)) is { } reply) return reply;
        // Only a background response can be cancelled. One already over (it may have finished before the cancel arrived)
        // is answered as it is: cancel changes nothing.
        return ResponseObjects.IsBackground(stored.Envelope)
            ? Ok(ResponseObjects.Compose(stored.Envelope!, stored.Outputs))
            : UpstreamHttp.Reply(ProxyErrors.CannotCancelSynchronous(responseId));
    }

    public async Task<ResponseReplay> Replay(string tenant, string responseId)
    {
        var (running, stored) = await LoadSettledAsync(tenant, responseId, async conversation =>
            await conversation.GetRunningResponse(responseId) is { } response
                ? ResponseObjects.IsBackground(response) ? new ResponseReplay { ConversationKey = conversation.GetPrimaryKeyString() } : NotStreamable(responseId)
                : null,
            static lost => new ResponseReplay { Refusal = lost },
            static (conversation, _) => new ResponseReplay { ConversationKey = conversation.GetPrimaryKeyString() });
        if (running is not null) return running;
        if (Stored(stored, responseId) is { } refusal) return new ResponseReplay { Refusal = refusal };
        // Over: its conversation may still hold its events (for a while after it finished); else the stored object stands in.
        return ResponseObjects.IsBackground(stored.Envelope)
            ? new ResponseReplay { ConversationKey = stored.ConversationKey, Final = ResponseObjects.Compose(stored.Envelope!, stored.Outputs) }
            : NotStreamable(responseId);
    }

    private static ResponseReplay NotStreamable(string responseId) =>
        new() { Refusal = UpstreamHttp.Reply(ProxyErrors.CannotStreamSynchronous(responseId)) };

    public async Task<ApiReply> Delete(string tenant, string responseId)
    {
        var location = await store.LocateAsync(tenant, responseId, CancellationToken.None);
        if (location.Status != ResponseStatus.Found || location.ConversationKey is null) return NotFound(responseId, location.Status);
        var deleted = await GrainFactory.GetGrain<IConversationGrain>(location.ConversationKey).DeleteResponse(responseId);
        return deleted ? Ok(ResponseObjects.Deleted(responseId)) : NotFound(responseId, ResponseStatus.Unknown);
    }

    public async Task<ApiReply> ListInputItems(string tenant, string responseId, int limit, bool ascending, string? after)
    {
        var stored = await LoadAsync(tenant, responseId);
        List<byte[]>? input;
        if (stored.Pending)
        {
            input = await RunningInputAsync(tenant, responseId);
            if (input is null) return UpstreamHttp.Reply(ProxyErrors.ResponseInProgress(responseId));
        }
        else
        {
            if (Stored(stored, responseId) is { } error) return error;
            var path = await store.LoadPathAsync(tenant, responseId, CancellationToken.None);
            if (path.Status == ResponseStatus.Pending) // over without completing (cancelled, failed): no node holds its context
                return UpstreamHttp.Reply(ProxyErrors.ResponseNotFound(responseId, "it did not complete, and input items are kept only for completed responses."));
            if (path.Status != ResponseStatus.Found) return NotFound(responseId, path.Status);
            var context = path.ContextItems();
            input = context.GetRange(0, context.Count - Math.Min(stored.Outputs.Count, context.Count));
        }
        for (var i = 0; i < input.Count; i++) input[i] = ResponseObjects.AsListed(input[i], responseId, i);
        return Ok(ResponseObjects.InputItemsPage(input, new InputItemsQuery(limit, ascending, after)));
    }

    /// <summary>
    /// A running background response's input, as its completed node will hold it: the context its request continued
    /// (<c>previous_response_id</c>) and the items the request sent. Null when the request is not kept (a foreground
    /// response) or what it continued is not readable yet (itself still running).
    /// </summary>
    private async Task<List<byte[]>?> RunningInputAsync(string tenant, string responseId)
    {
        if (await store.LoadResumableAsync(tenant, responseId, CancellationToken.None) is not { } saved) return null;
        var request = resumables.Deserialize(saved)!.Request;
        var input = new List<byte[]>();
        if (request.PreviousResponseId is { } previous)
        {
            var path = await store.LoadPathAsync(tenant, previous, CancellationToken.None);
            if (path.Status != ResponseStatus.Found) return null;
            input.AddRange(path.ContextItems());
        }
        input.AddRange(request.InputItems);
        return input;
    }

    public async Task<ApiReply> Forward(string tenant, string operation, byte[] body)
    {
        string? conversation = null;
        var (expanded, error) = await ContextExpansion.ExpandAsync(body, async (id, ct) =>
        {
            var path = await store.LoadPathAsync(tenant, id, ct);
            conversation = path.Nodes.Count > 0 ? path.Nodes[0].ConversationKey : null;
            return path;
        }, CancellationToken.None);
        if (error is not null) return UpstreamHttp.Reply(error);
        // The conversation's own account (its context may hold what only that account can read), else the pool's best.
        var pool = GrainFactory.GetGrain<IAccountPoolGrain>(IAccountPoolGrain.Key);
        var assignment = await pool.Peek(conversation);
        if (assignment.Account is null) return UpstreamHttp.Reply(AccountsUnavailableException.Error(assignment.RetryAfterSeconds));
        var account = GrainFactory.GetGrain<IAccountGrain>(assignment.Account);
        var lease = await account.Lease();
        if (!lease.Available) return UpstreamHttp.Reply(AccountsUnavailableException.Error(lease.RetryAfterSeconds));
        var reply = await upstream.PostAsync(lease, "responses/" + operation, expanded!, CancellationToken.None);
        if (AccountFailure.FromHandshake(reply.Status, reply.RetryAfterSeconds, reply.Body, DateTimeOffset.UtcNow) is { } failure)
            await account.Report(failure.ToReport());
        return reply;
    }

    private Task<StoredResponse> LoadAsync(string tenant, string responseId) => store.LoadResponseAsync(tenant, responseId, CancellationToken.None);

    /// <summary>
    /// The stored response, and for one the store holds as running, its conversation's answer (<paramref name="whileRunning"/>).
    /// When the conversation no longer runs it, the store is read again: it completed since the first read (a short
    /// background response polled at once) and is answered as stored, or, still pending, it was lost with its owner. A
    /// background one then runs again on its conversation (or, <paramref name="cancelLost"/>, ends cancelled there), and
    /// <paramref name="recovered"/> makes the answer from its object; any other is lost (<paramref name="lost"/>).
    /// </summary>
    private async Task<(T? Answer, StoredResponse Stored)> LoadSettledAsync<T>(string tenant, string responseId,
        Func<IConversationGrain, Task<T?>> whileRunning, Func<ApiReply, T> lost, Func<IConversationGrain, byte[], T> recovered,
        bool cancelLost = false) where T : class
    {
        var stored = await LoadAsync(tenant, responseId);
        if (!stored.Pending) return (null, stored);
        var conversation = Conversation(stored);
        if (await whileRunning(conversation) is { } answer) return (answer, stored);
        stored = await LoadAsync(tenant, responseId);
        if (!stored.Pending) return (null, stored);
        try
        {
            if (await conversation.RecoverResponse(responseId, cancelLost) is { } response) return (recovered(conversation, response), stored);
        }
        catch (OwnerDeactivatingException)
        {
            // Its conversation is moving off a draining silo: asked again, the caller finds it on another.
            return (lost(UpstreamHttp.Reply(ProxyErrors.DrainActive())), stored);
        }
        stored = await LoadAsync(tenant, responseId); // ended failed there (lost too often), or not a background one
        return (stored.Pending ? lost(Lost(responseId)) : null, stored);
    }

    private IConversationGrain Conversation(StoredResponse stored) => GrainFactory.GetGrain<IConversationGrain>(stored.ConversationKey!);

    /// <summary>Why a stored response cannot be returned, or null when it can.</summary>
    private static ApiReply? Stored(StoredResponse stored, string responseId) => stored switch
    {
        { Status: ResponseStatus.Found, Envelope: not null } => null,
        { Status: ResponseStatus.Found } => UpstreamHttp.Reply(ProxyErrors.ResponseNotFound(responseId,
            "it was created with store:false, so it can be continued (previous_response_id) but not retrieved.")),
        _ => NotFound(responseId, stored.Status),
    };

    private static ApiReply NotFound(string responseId, ResponseStatus status) => UpstreamHttp.Reply(status == ResponseStatus.Expired
        ? ProxyErrors.ResponseNotFound(responseId, "it has expired (this bridge keeps responses for CodexLb:State:Retention after their last use).")
        : ProxyErrors.ResponseNotFound(responseId));

    private static ApiReply Lost(string responseId) => UpstreamHttp.Reply(ProxyErrors.ResponseNotFound(responseId,
        "it was interrupted before it completed (its owner was lost); send the turn again."));

    private static ApiReply Ok(byte[] body) => new(200, body);

    private static readonly Func<ApiReply, ApiReply> AsIs = static reply => reply;
}
