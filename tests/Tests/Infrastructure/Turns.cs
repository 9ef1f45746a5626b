using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.Grains.Abstractions;
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

    public static async Task<List<TurnEvent>> RunAsync(IConversationGrain grain, JsonObject body)
    {
        var events = new List<TurnEvent>();
        await foreach (var e in grain.RunTurn(Request(body))) events.Add(e);
        return events;
    }

    public static string ResponseId(this IReadOnlyList<TurnEvent> events) =>
        JsonDocument.Parse(events[^1].Data).RootElement.GetProperty("response").GetProperty("id").GetString()!;

    public static IEnumerable<JsonNode> Outputs(this IReadOnlyList<TurnEvent> events) => events
        .Where(e => e.Type == "response.output_item.done")
        .Select(e => JsonNode.Parse(e.Data)!["item"]!.DeepClone());
}
