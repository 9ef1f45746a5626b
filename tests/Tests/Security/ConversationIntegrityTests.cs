using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using CodexLb.Tests.Infrastructure;

namespace CodexLb.Tests.Security;

/// <summary>
/// A rejected turn leaves its conversation exactly as it was (issue 10, finding 2): invalid UTF-8 inside an item used to
/// be forwarded, the provider dropped the socket, and the conversation's next valid turn went upstream in full.
/// </summary>
[Collection(ProductCollection.Name)]
public sealed class ConversationIntegrityTests(ProductFixture product)
{
    private const string Marker = "\"@@BAD@@\"";

    /// <summary>A body with its last item's text replaced by raw bytes (the placeholder keeps the JSON well formed until then).</summary>
    private static byte[] Spliced(JsonObject body, byte[] replacement)
    {
        var text = Encoding.UTF8.GetBytes(body.ToJsonString());
        var marker = Encoding.UTF8.GetBytes(Marker);
        var at = text.AsSpan().IndexOf(marker);
        Assert.True(at >= 0);
        return [.. text[..at], (byte)'"', .. replacement, (byte)'"', .. text[(at + marker.Length)..]];
    }

    private static IEnumerable<(string What, byte[] Body)> Rejected(IReadOnlyList<JsonNode> history, string newText, string? previous = null)
    {
        JsonObject With(JsonNode extra, Action<JsonObject>? edit = null)
        {
            var body = Items.Body([.. history, extra], previousResponseId: previous);
            edit?.Invoke(body);
            return body;
        }
        var placeholder = Items.Message("user", "@@BAD@@");
        yield return ("invalid UTF-8 in an item", Spliced(With(placeholder), [.. Encoding.UTF8.GetBytes(newText), 0xFF, 0xFE]));
        yield return ("an overlong sequence in an item", Spliced(With(placeholder), [0xC0, 0xAF]));
        yield return ("a lone surrogate escape in an item", Spliced(With(placeholder), Encoding.UTF8.GetBytes(newText + "\\ud800")));
        yield return ("model as an object", Encoding.UTF8.GetBytes(With(Items.Message("user", newText), b => b["model"] = new JsonObject { ["id"] = "gpt-5.5" }).ToJsonString()));
        yield return ("model as a number", Encoding.UTF8.GetBytes(With(Items.Message("user", newText), b => b["model"] = 5).ToJsonString()));
        yield return ("no model", Encoding.UTF8.GetBytes(With(Items.Message("user", newText), b => b.Remove("model")).ToJsonString()));
        yield return ("input as a number", Encoding.UTF8.GetBytes(With(Items.Message("user", newText), b => b["input"] = 7).ToJsonString()));
        yield return ("oversize", Encoding.UTF8.GetBytes(With(Items.Message("user", newText + new string('x', (int)ProductFixture.BodyLimit))).ToJsonString()));
        yield return ("truncated", Encoding.UTF8.GetBytes(With(Items.Message("user", newText)).ToJsonString()[..^7]));
    }

    [Fact]
    public async Task Rejected_http_turns_leave_the_conversation_as_it_was_and_the_next_turn_goes_upstream_as_a_delta()
    {
        var session = Items.Session("integrity-" + Guid.NewGuid());
        List<JsonNode> history = [Items.Message("developer", "You are Codex. " + new string('s', 3000)), Items.Message("user", "first question")];
        var first = await SseClient.PostAsync(product.Http, "/v1/responses", Items.Body(history), session);
        Assert.Equal("response.completed", first.Terminal!.Type);
        history.AddRange(first.OutputItems.Select(i => i.ToNode()));
        var sent = product.Simulator.Ledger.Requests.Count;

        foreach (var (what, body) in Rejected(history, "second question"))
        {
            var answer = await HostileClient.PostAsync(product.Http, body, session);
            Assert.True(answer.Code is >= 400 and < 500, $"{what}: {answer.Code} {HostileClient.Shorten(answer.Body)}");
            _ = answer.Error;
        }
        Assert.Equal(sent, product.Simulator.Ledger.Requests.Count); // nothing reached the provider

        history.Add(Items.Message("user", "second question"));
        var second = await SseClient.PostAsync(product.Http, "/v1/responses", Items.Body(history), session);
        Assert.Equal("response.completed", second.Terminal!.Type);
        var (u1, u2) = (Upstream(first.ResponseId!), Upstream(second.ResponseId!));
        Assert.True(u2.IsDelta, "the next valid turn went upstream in full");
        Assert.Equal(first.ResponseId, u2.PreviousResponseId);
        Assert.Equal(1, u2.InputItemCount);
        Assert.Equal(u1.ConnectionId, u2.ConnectionId);
    }

    [Fact]
    public async Task Rejected_websocket_frames_leave_the_conversation_as_it_was_and_the_next_turn_goes_upstream_as_a_delta()
    {
        await using var ws = await RawWebSocket.ConnectAsync(product.BaseUrl, ProductFixture.ApiKey, Items.Session("integrity-ws-" + Guid.NewGuid()));
        var firstFrame = Items.Body([Items.Message("developer", "sys " + new string('s', 2000)), Items.Message("user", "first over ws")]);
        firstFrame["type"] = "response.create";
        var first = await ws.TurnAsync(firstFrame.ToJsonString());
        Assert.Equal("response.completed", first![^1].GetProperty("type").GetString());
        var firstId = first[^1].GetProperty("response").GetProperty("id").GetString()!;
        var sent = product.Simulator.Ledger.Requests.Count;

        foreach (var (what, body) in Rejected([], "second over ws", previous: firstId))
        {
            var frame = JsonTypeFirst(body);
            var answer = await ws.TurnAsync(frame, WebSocketMessageType.Binary);
            Assert.True(answer is [{ } e] && e.GetProperty("type").GetString() == "error" && e.GetProperty("status").GetInt32() is >= 400 and < 500,
                $"{what}: {(answer is null ? "closed" : string.Join(" | ", answer.Select(a => HostileClient.Shorten(a.GetRawText()))))}");
            _ = HostileClient.AssertOpenAIError(answer![0].GetRawText());
        }
        Assert.Equal(WebSocketState.Open, ws.State);
        Assert.Equal(sent, product.Simulator.Ledger.Requests.Count);

        var secondFrame = Items.Body([Items.Message("user", "second over ws")], previousResponseId: firstId);
        secondFrame["type"] = "response.create";
        var second = await ws.TurnAsync(secondFrame.ToJsonString());
        Assert.Equal("response.completed", second![^1].GetProperty("type").GetString());
        var u2 = Upstream(second[^1].GetProperty("response").GetProperty("id").GetString()!);
        Assert.True(u2.IsDelta, "the next valid turn went upstream in full");
        Assert.Equal(firstId, u2.PreviousResponseId);
        Assert.Equal(Upstream(firstId).ConnectionId, u2.ConnectionId);
    }

    /// <summary>An HTTP body as a websocket frame: <c>"type":"response.create"</c> first, so a truncated body stays a create frame.</summary>
    private static byte[] JsonTypeFirst(byte[] body) => [.. "{\"type\":\"response.create\","u8, .. body.AsSpan(1)];

    private UpstreamSimulator.RequestRecord Upstream(string responseId) => product.Simulator.Ledger.Requests.Single(r => r.ResponseId == responseId);
}
