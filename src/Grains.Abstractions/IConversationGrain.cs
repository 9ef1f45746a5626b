using Orleans.Concurrency;

namespace CodexLb.Grains.Abstractions;

/// <summary>
/// One conversation: it owns the conversation's single upstream websocket and everything needed to continue the
/// conversation after a loss. Keyed by <see cref="ConversationKey"/>.
/// </summary>
public interface IConversationGrain : IGrainWithStringKey
{
    /// <summary>
    /// Runs one turn, or attaches to it when it is already running (same <see cref="TurnRequest.TurnId"/>, or the same
    /// anchor and input: a client's retry), and answers with its first events (from <see cref="TurnRequest.ReplayFrom"/>)
    /// as soon as there are any. The first event is either a <see cref="TurnEvent.Rejection"/> (nothing reached the client
    /// yet, answer with that status) or the first upstream event; the caller then asks <see cref="NextEvents"/> for the
    /// rest until a terminal event or <see cref="TurnEvents.Ended"/>. A short turn often comes whole in this one call.
    /// </summary>
    /// <remarks>
    /// It takes no cancellation token: a token costs Orleans a registration on the caller and a token source on the owner
    /// every call. A caller whose client went away stops waiting on its own side and calls <see cref="CancelTurn"/>; the
    /// owner answers the abandoned call by its next heartbeat.
    /// </remarks>
    ValueTask<TurnEvents> RunTurn(TurnRequest request);

    /// <summary>
    /// The events of a turn this caller follows, from position <paramref name="from"/> (the events it already has) on:
    /// as soon as there are any, or a heartbeat while the turn is quiet. A turn this owner does not know (it lost it)
    /// answers a retryable rejection, and nothing runs.
    /// </summary>
    ValueTask<TurnEvents> NextEvents(string turnId, int from);

    // The two calls of a gateway of the build before (they took the client's token): silos of a rolling deploy answer them.
    ValueTask<TurnEvents> RunTurn(TurnRequest request, CancellationToken cancellationToken);

    ValueTask<TurnEvents> NextEvents(string turnId, int from, CancellationToken cancellationToken);

    /// <summary>
    /// The events of a background response this conversation runs or has just finished, for a client streaming it again:
    /// from position <paramref name="from"/> on, as <see cref="NextEvents"/> answers them, for the follower
    /// <paramref name="follower"/> (any id of the caller's own). A response this owner no longer holds answers a rejection,
    /// and the caller reads its final state from the store instead. One created without <c>background</c> is refused (400).
    /// </summary>
    ValueTask<TurnEvents> FollowResponse(string responseId, string follower, int from, CancellationToken cancellationToken = default);

    /// <summary>
    /// The client of a turn went away: when no other client is attached to it, the provider is told to stop (its socket is
    /// closed) and the next turn starts at once. Answers while the turn streams.
    /// </summary>
    [AlwaysInterleave]
    Task CancelTurn(string turnId);

    /// <summary>Counters of this conversation (answers while a turn streams).</summary>
    [AlwaysInterleave]
    Task<ConversationStats> GetStats();

    /// <summary>The latest response object of a response this conversation is generating, or null when none runs.</summary>
    [AlwaysInterleave]
    Task<byte[]?> GetRunningResponse(string responseId);

    /// <summary>
    /// Stops a background response this conversation is generating, whoever follows it (they get <c>response.failed</c>,
    /// code <c>response_cancelled</c>): 200 with its response object, status <c>cancelled</c>. A response created without
    /// <c>background</c> is refused with a 400 and keeps running, as the Responses API refuses it; null when none runs.
    /// </summary>
    [AlwaysInterleave]
    Task<ApiReply?> CancelResponse(string responseId);

    /// <summary>
    /// A background response whose owner was lost mid-generation (the store holds it as started, and nothing here runs it):
    /// runs it again on this conversation under the id its client has, and answers its response object (in progress); with
    /// <paramref name="cancel"/>, ends it cancelled instead, without running it, and answers that object. A response already
    /// running here is answered as it runs (or cancelled). Null when it cannot be recovered (not a background response, or
    /// over, or lost too often): it then reads as the store holds it.
    /// </summary>
    Task<byte[]?> RecoverResponse(string responseId, bool cancel);

    /// <summary>Deletes a response of this conversation from the tree and from what this activation holds; false when unknown.</summary>
    Task<bool> DeleteResponse(string responseId);
}
