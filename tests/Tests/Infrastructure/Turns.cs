using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Events;
using CodexLb.Protocol.Requests;

namespace CodexLb.Tests.Infrastructure;

/// <summary>Runs turns directly on conversation grains, the way a gateway does.</summary>
public static class Turns
{
    public static TurnRequest Request(JsonObject body)
    {
        Assert.True(ResponseCreateParser.TryParse(Encoding.UTF8.GetBytes(body.ToJsonString()), out var parsed, out var error), error?.Message);
        return CodexLb.Gateway.Endpoints.ResponsesEndpoint.ToTurn(parsed!, Guid.NewGuid().ToString("N"));
    }

    public static Task<List<TurnEvent>> RunAsync(IConversationGrain grain, JsonObject body) => grain.RunAsync(Request(body));

    private static async Task<List<TurnEvent>> RunAsync(this IConversationGrain grain, TurnRequest request)
    {
        var events = new List<TurnEvent>();
        await foreach (var e in grain.Follow(request)) events.Add(e);
        return events;
    }

    /// <summary>
    /// What a gateway does while the owner deactivates (<see cref="OwnerDeactivatingException"/>: it drains, or it was
    /// fenced): the same turn again, every 100 ms, until a new activation takes it (at most 50 times).
    /// </summary>
    public static async Task<List<TurnEvent>> RedispatchAsync(this IConversationGrain grain, TurnRequest request)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await grain.RunAsync(request);
            }
            catch (OwnerDeactivatingException) when (attempt < 50)
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>
    /// A turn's events exactly as the owner answers them (heartbeats and rejections included, nothing converted):
    /// <see cref="IConversationGrain.RunTurn"/>, then <see cref="IConversationGrain.NextEvents"/> from the position reached,
    /// until a terminal event or the end. Unlike a gateway it never re-dispatches: a turn the owner lost ends in its rejection.
    /// <paramref name="pauseBeforeEachRead"/>: a slow follower (a busy gateway) waits this long before each further read.
    /// </summary>
    public static async IAsyncEnumerable<TurnEvent> Follow(this IConversationGrain grain, TurnRequest request,
        TimeSpan pauseBeforeEachRead = default, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (request.TurnId.Length == 0) request = request with { TurnId = Guid.NewGuid().ToString("N") }; // the id it is followed by
        var position = request.ReplayFrom;
        var answer = await grain.RunTurn(request).AsTask().WaitAsync(cancellationToken); // as a gateway calls it: no token
        while (true)
        {
            foreach (var e in answer.Events)
            {
                yield return e;
                if (e.IsHeartbeat) continue;
                position++;
                if (e.Rejection is not null || EventTypes.IsTerminal(e.Type)) yield break;
            }
            if (answer.Ended) yield break;
            if (pauseBeforeEachRead > TimeSpan.Zero) await Task.Delay(pauseBeforeEachRead, cancellationToken);
            answer = await grain.NextEvents(request.TurnId, position).AsTask().WaitAsync(cancellationToken);
        }
    }

    public static string ResponseId(this IReadOnlyList<TurnEvent> events) =>
        JsonDocument.Parse(events[^1].Data).RootElement.GetProperty("response").GetProperty("id").GetString()!;

    public static IEnumerable<JsonNode> Outputs(this IReadOnlyList<TurnEvent> events) => events
        .Where(e => e.Type == "response.output_item.done")
        .Select(e => JsonNode.Parse(e.Data)!["item"]!.DeepClone());
}
