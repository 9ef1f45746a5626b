using CodexLb.Gateway.Hosting;
using CodexLb.Gateway.Routing;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Items;
using CodexLb.Protocol.Requests;
using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Endpoints;

/// <summary>
/// A response created with <c>conversation</c>. The provider holds no conversation of ours, so the request becomes what the
/// bridge already serves: a continuation of the conversation's last response (<c>previous_response_id</c>, and the provider
/// is sent only the new input), or, when the items changed since or there is no such response, the conversation's items
/// followed by the input (the bridge's content match still finds what the provider already has). The response's input
/// and output are added to the conversation before the client hears it completed (<see cref="ConversationTurn"/>).
/// </summary>
public sealed class ConversationResponses(IGrainFactory grains, IOptions<GatewayOptions> options)
{
    private IConversationsApiGrain Api => grains.GetGrain<IConversationsApiGrain>(0);

    /// <summary>
    /// A request that names a conversation, as its conversation continues it, routed by <paramref name="route"/>: after the
    /// conversation's last response, or with its items when that response expired or is gone (a 400 from the route).
    /// The route's error is the answer when there is one (the conversation unknown: a 404).
    /// </summary>
    public async Task<RoutedConversationTurn> RouteAsync(string tenant, ResponseCreateRequest request,
        Func<ResponseCreateRequest, ulong[], ValueTask<TurnRoute>> route, CancellationToken cancellationToken)
    {
        var (continued, turn, error) = await StartAsync(tenant, request, fromItems: false, cancellationToken);
        if (error is not null) return new(request, null, [], new TurnRoute(null, error));
        var fingerprints = ItemFingerprint.ComputeAll(continued!.InputItems);
        var routed = await RetryRouteAsync(turn!, continued, fingerprints, route) ?? await route(continued, fingerprints);
        if (routed.Error is not { Status: 400 } || turn!.StartedAfter is null) return new(continued, turn, fingerprints, routed);

        (continued, turn, error) = await StartAsync(tenant, request, fromItems: true, cancellationToken);
        if (error is not null) return new(request, null, [], new TurnRoute(null, error));
        fingerprints = ItemFingerprint.ComputeAll(continued!.InputItems);
        return new(continued, turn, fingerprints, await route(continued, fingerprints));
    }

    /// <summary>
    /// A client's retry of the conversation's last response that goes with the items it went with: routed to that response's
    /// owner, which answers it again (by content, nothing else names it). Null when this is no such retry, or the response
    /// is gone (it then runs as any request with items would).
    /// </summary>
    private static async ValueTask<TurnRoute?> RetryRouteAsync(ConversationTurn turn, ResponseCreateRequest continued, ulong[] fingerprints,
        Func<ResponseCreateRequest, ulong[], ValueTask<TurnRoute>> route)
    {
        if (turn.RetryOf is not { } retryOf || continued.PreviousResponseId is not null) return null;
        var owner = await route(continued.InConversation(retryOf, continued.InputItems), fingerprints);
        return owner.Key is null ? null : new TurnRoute(owner.Key, null);
    }

    /// <summary>The request as its conversation continues it, and the turn that records it; or the error to answer.</summary>
    private async Task<(ResponseCreateRequest? Request, ConversationTurn? Turn, OpenAIError? Error)> StartAsync(
        string tenant, ResponseCreateRequest request, bool fromItems, CancellationToken cancellationToken)
    {
        var id = request.ConversationId!;
        var inputHash = ItemFingerprint.OfSequence(request.InputItems);
        ConversationStart? start;
        try
        {
            start = await OwnerFailures.CallAsync(() => Api.Continue(tenant, id, fromItems, inputHash), options.Value.OwnerTimeout * 4, cancellationToken);
        }
        catch (Exception ex) when (OwnerFailures.IsTransient(ex))
        {
            return (null, null, ProxyErrors.OwnerUnreachable());
        }
        if (start is null) return (null, null, ProxyErrors.ConversationNotFound(id) with { Param = "conversation" });
        var continued = start.HeadResponseId is { } head
            ? request.InConversation(head, request.InputItems)
            : request.InConversation(null, [.. start.Items, .. request.InputItems]);
        return (continued, new ConversationTurn(this, tenant, id, start.Version, start.HeadResponseId, inputHash, request.InputItems) { RetryOf = start.RetryOf }, null);
    }

    /// <summary>
    /// Adds a completed response to its conversation, retried through owner loss: the store adds a response once, so a
    /// retry after an unclear failure adds nothing. A transient failure after the retries is the caller's to answer.
    /// </summary>
    internal Task AddAsync(string tenant, string conversationId, ConversationResponse response) =>
        OwnerFailures.CallAsync(() => Api.AddResponse(tenant, conversationId, response), options.Value.OwnerTimeout * 4);
}

/// <summary>A request in a conversation, routed: the request as it runs, the turn that records it, its fingerprints and its route.</summary>
public readonly record struct RoutedConversationTurn(ResponseCreateRequest Request, ConversationTurn? Conversation, ulong[] Fingerprints, TurnRoute Route);
