using System.Globalization;
using CodexLb.Gateway.Hosting;
using CodexLb.Gateway.Routing;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Endpoints;

/// <summary>
/// <c>GET /v1/responses/{id}?stream=true[&amp;starting_after=N]</c>: a background response's events streamed again as
/// SSE, those numbered after N only (all of them without N), as the SDKs resume a dropped background stream. While it
/// runs, and for a while after it finished, they come from its conversation exactly as its own stream had them, then live
/// until its terminal event. Once it is over and its events are no longer held (a minute after it finished, or once a
/// later turn continued it), its stored object comes as <c>response.created</c> (numbered 0) and its terminal event
/// (numbered after the last the client has): the whole output in one event. A response created without
/// <c>background</c> is a 400, as in the API; an unknown, expired or <c>store:false</c> one a 404.
/// </summary>
public sealed class ResponseReplayEndpoint(GrainApiCalls calls, IGrainFactory grains, IOptions<GatewayOptions> options)
{
    private readonly GatewayOptions _options = options.Value;

    /// <summary>A retrieve that asks for the response's events (<c>stream=true</c>), not its object.</summary>
    public static bool IsAsked(HttpRequest request) => request.Query["stream"] == "true";

    public async Task StreamAsync(HttpContext context, string id)
    {
        if (!TryReadStartingAfter(context.Request.Query, out var startingAfter, out var invalid))
        {
            await ErrorResults.WriteAsync(context.Response, invalid);
            return;
        }
        if (await calls.AuthenticateAsync(context) is not { } tenant) return;
        await RelayAsync(new ReplayRelay(context, id, _options.KeepAliveInterval, startingAfter), tenant, id);
    }

    /// <summary>
    /// How long a stream by id waits, in all, for a response it cannot follow right now (its new run refused for want of
    /// capacity, its conversation moving off a draining silo) before it gives up with a retryable error. The response
    /// stays pending meanwhile: ending the stream with a terminal event it does not have would tell the client it is over.
    /// </summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Streams response <paramref name="id"/> into <paramref name="relay"/> through to its terminal event, from wherever it
    /// is: followed on the conversation that runs it, or read from its stored object once over. A response lost with its
    /// owner is run again by the look-up, and its new run follows (numbered past the lost one's events).
    /// </summary>
    internal async Task RelayAsync(ReplayRelay relay, string tenant, string id)
    {
        var context = relay.Context;
        var waited = TimeSpan.Zero;
        try
        {
            // A response that ends, or is let go, between the look-up and the follow is looked up again at once, as is one
            // lost with its owner mid-stream (the look-up runs it again: its new run follows, numbered past this one). One
            // that still cannot be followed after that is looked up again after each Retry-After, up to Patience.
            for (var lookup = 0; ; lookup++)
            {
                var replay = await OwnerFailures.CallAsync(() => grains.GetGrain<IResponsesApiGrain>(0).Replay(tenant, id),
                    _options.OwnerTimeout * 4, context.RequestAborted);
                OpenAIError why;
                if (replay.Refusal is { } refusal)
                {
                    if (!relay.Started) { await GrainApiCalls.WriteAsync(context, refusal); return; }
                    // It ran when the stream began: lost with its owner since (a 404), or on its way to another silo.
                    if (!IsTransient(refusal)) { await relay.FailAsync(ProxyErrors.ResponseInterrupted()); return; }
                    why = ProxyErrors.OwnerUnreachable() with { RetryAfterSeconds = refusal.RetryAfterSeconds ?? 1 };
                }
                else
                {
                    var followed = replay.ConversationKey is { } key
                        ? await FollowAsync(relay, grains.GetGrain<IConversationGrain>(key), id)
                        : default;
                    if (followed.Done) return;
                    if (replay.Final is { } final)
                    {
                        await relay.WriteSettledAsync(final);
                        return;
                    }
                    why = followed.Refused?.ToError() ?? ProxyErrors.ResponseInterrupted();
                }
                if (lookup == 0) continue;
                var pause = TimeSpan.FromSeconds(Math.Clamp(why.RetryAfterSeconds ?? 1, 1, 5));
                if (waited + pause > Patience || !ErrorCodes.IsRetryable(why.Code))
                {
                    if (relay.Started) await relay.FailAsync(why);
                    else await ErrorResults.WriteAsync(context.Response, why);
                    return;
                }
                if (relay.Started) await relay.HeartbeatAsync();
                await Task.Delay(pause, context.RequestAborted);
                waited += pause;
            }
        }
        catch (Exception ex) when (!context.RequestAborted.IsCancellationRequested && OwnerFailures.IsTransient(ex))
        {
            if (relay.Started) await relay.FailAsync(ProxyErrors.OwnerUnreachable());
            else await ErrorResults.WriteAsync(context.Response, ProxyErrors.OwnerUnreachable());
        }
    }

    private static bool IsTransient(ApiReply refusal) => refusal.Status >= 500 || refusal.Status == 429;

    /// <summary>
    /// Relays the owner's events until the terminal one (<c>Done</c>). Otherwise the owner no longer holds the response
    /// (it ended, or was let go: the store says how) or its new run was refused before it began (<c>Refused</c>, with why).
    /// </summary>
    private async Task<(bool Done, TurnRejection? Refused)> FollowAsync(ReplayRelay relay, IConversationGrain conversation, string id)
    {
        var aborted = relay.Context.RequestAborted;
        using var follower = new ResponseFollower(conversation, id, "replay:" + relay.Context.TraceIdentifier, _options.OwnerTimeout, aborted);
        while (true)
        {
            var answer = await follower.NextAsync();
            foreach (var turnEvent in answer.Events)
            {
                if (turnEvent.IsHeartbeat) await relay.HeartbeatAsync();
                else if (turnEvent.Rejection is { } rejection) return (false, rejection);
                else if (await relay.WriteAsync(turnEvent)) return (true, null);
            }
            if (answer.Ended) return (false, null); // over without a terminal event: the store says how it ended
            await relay.FlushAsync();
        }
    }

    private static bool TryReadStartingAfter(IQueryCollection query, out long? startingAfter, out OpenAIError error)
    {
        startingAfter = null;
        error = null!;
        if (!query.TryGetValue("starting_after", out var text)) return true;
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            startingAfter = value;
            return true;
        }
        error = ProxyErrors.InvalidRequest("'starting_after' must be a non-negative integer: the sequence_number of the last event the client has.", "starting_after");
        return false;
    }
}
