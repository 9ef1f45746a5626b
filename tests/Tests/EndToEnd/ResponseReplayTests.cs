using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Net.Http.Json;
using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Conversation;
using CodexLb.Grains.Tree;
using CodexLb.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.EndToEnd;

/// <summary>
/// A background response streamed again by id (<c>GET /v1/responses/{id}?stream=true&amp;starting_after=N</c>), as the
/// SDKs resume a dropped background stream: from the event after N, from its conversation while it runs or is held, from
/// the store once it is let go, and never generated twice.
/// </summary>
[Collection(ProductCollection.Name)]
public sealed class ResponseReplayTests(ProductFixture product)
{
    private static JsonObject Background(string text, string? previous = null)
    {
        var body = Items.Body([Items.Message("user", text)], stream: true, previousResponseId: previous);
        body.Remove("store"); // the API's default: stored
        body["background"] = true;
        return body;
    }

    private static long Sequence(SseEvent e) => e.Data.GetProperty("sequence_number").GetInt64();

    private static string Deltas(IEnumerable<SseEvent> events) =>
        string.Concat(events.Where(e => e.Type == "response.output_text.delta").Select(e => e.Data.GetProperty("delta").GetString()));

    /// <summary>Creates a streamed background response and reads its first <paramref name="take"/> events, then drops the stream.</summary>
    private async Task<List<SseEvent>> StartAndDropAsync(JsonObject body, int take)
    {
        var first = new List<SseEvent>();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses") { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
        using var response = await product.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await foreach (var e in SseClient.ReadAsync(await response.Content.ReadAsStreamAsync()))
        {
            first.Add(e);
            if (first.Count == take) break;
        }
        return first;
    }

    [Fact]
    public async Task A_dropped_background_stream_resumes_at_the_next_event_live_and_the_provider_generates_it_once()
    {
        var marker = "replay-" + Guid.NewGuid().ToString("N")[..8];
        product.Simulator.Faults.Add((Fault.Delay(TimeSpan.Zero, TimeSpan.FromMilliseconds(60)) with { TextDeltas = 30 }).WhenTextContains(marker).Times(1));
        var first = await StartAndDropAsync(Background("stream this in the background " + marker), take: 6);
        var id = first[0].Data.GetProperty("response").GetProperty("id").GetString()!;
        var last = Sequence(first[^1]);

        var resumed = await SseClient.GetAsync(product.Http, $"/v1/responses/{id}?stream=true&starting_after={last}");
        Assert.Equal((HttpStatusCode.OK, "text/event-stream"), (resumed.Status, resumed.ContentType));
        // Every event after the last one the client had, none missing and none twice, through to the terminal one.
        Assert.Equal(Enumerable.Range((int)last + 1, resumed.Events.Count).Select(n => (long)n), resumed.Events.Select(Sequence));
        Assert.Equal("response.completed", resumed.Terminal?.Type);
        var completed = resumed.Terminal!.Data.GetProperty("response");
        Assert.Equal(ResponseJson.OutputText(completed), Deltas(first) + Deltas(resumed.Events));
        // Streamed, first and again, it says what its client created: a background response (the provider ran it in the foreground).
        Assert.True(first[0].Data.GetProperty("response").GetProperty("background").GetBoolean());
        Assert.True(completed.GetProperty("background").GetBoolean());
        Assert.Equal(30, first.Concat(resumed.Events).Count(e => e.Type == "response.output_text.delta"));
        var record = Assert.Single(product.Simulator.Ledger.Requests, r => r.ResponseId == id); // generated once
        Assert.Equal(RequestOutcome.Completed, record.Outcome);

        // Without starting_after, while the conversation still holds it: every event, byte for byte as the first stream had them.
        var whole = await SseClient.GetAsync(product.Http, $"/v1/responses/{id}?stream=true");
        Assert.Equal(first.Concat(resumed.Events).Select(e => e.Data.GetRawText()), whole.Events.Select(e => e.Data.GetRawText()));
        Assert.Single(product.Simulator.Ledger.Requests, r => r.ResponseId == id);
    }

    [Fact]
    public async Task A_background_response_whose_events_were_let_go_streams_again_from_the_store_as_created_and_its_terminal_event()
    {
        var done = await SseClient.PostAsync(product.Http, "/v1/responses", Background("a short background answer"));
        Assert.Equal(HttpStatusCode.OK, done.Status);
        var id = done.ResponseId!;
        var text = ResponseJson.OutputText(done.Terminal!.Data.GetProperty("response"));
        // A turn that continues it proves its client had it: the conversation lets its events go at once.
        var next = await SseClient.PostAsync(product.Http, "/v1/responses", Items.Body([Items.Message("user", "and then?")], stream: true, previousResponseId: id));
        Assert.Equal("response.completed", next.Terminal?.Type);

        var replayed = await SseClient.GetAsync(product.Http, $"/v1/responses/{id}?stream=true");
        Assert.Equal(HttpStatusCode.OK, replayed.Status);
        Assert.Equal(["response.created", "response.completed"], replayed.Events.Select(e => e.Type));
        Assert.Equal([0L, 1L], replayed.Events.Select(Sequence));
        Assert.Equal("in_progress", replayed.Events[0].Data.GetProperty("response").GetProperty("status").GetString());
        var completed = replayed.Events[1].Data.GetProperty("response");
        Assert.Equal((id, "completed", true), (completed.GetProperty("id").GetString(), completed.GetProperty("status").GetString(), completed.GetProperty("background").GetBoolean()));
        Assert.Equal(text, ResponseJson.OutputText(completed));

        // After event 7: the terminal event alone, numbered after what the client has.
        var after = await SseClient.GetAsync(product.Http, $"/v1/responses/{id}?stream=true&starting_after=7");
        var terminal = Assert.Single(after.Events);
        Assert.Equal(("response.completed", 8L), (terminal.Type, Sequence(terminal)));
        Assert.Equal(text, ResponseJson.OutputText(terminal.Data.GetProperty("response")));
        Assert.Single(product.Simulator.Ledger.Requests, r => r.ResponseId == id);
    }

    [Fact]
    public async Task Streaming_again_is_refused_for_a_foreground_response_a_bad_cursor_an_unknown_id_and_another_key()
    {
        var foreground = Items.Body([Items.Message("user", "a foreground answer")], stream: true);
        foreground.Remove("store");
        var created = await SseClient.PostAsync(product.Http, "/v1/responses", foreground);
        var id = created.ResponseId!;

        var refused = await SseClient.GetAsync(product.Http, $"/v1/responses/{id}?stream=true");
        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
        Assert.Equal(("invalid_request_error", "stream"), (refused.Json.GetProperty("error").GetProperty("type").GetString(), refused.Json.GetProperty("error").GetProperty("param").GetString()));
        Assert.Contains("background", refused.Json.GetProperty("error").GetProperty("message").GetString());

        var background = await SseClient.PostAsync(product.Http, "/v1/responses", Background("a background answer"));
        var backgroundId = background.ResponseId!;
        foreach (var cursor in new[] { "-1", "abc", "1.5", "" })
        {
            var bad = await SseClient.GetAsync(product.Http, $"/v1/responses/{backgroundId}?stream=true&starting_after={cursor}");
            Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
            Assert.Equal("starting_after", bad.Json.GetProperty("error").GetProperty("param").GetString());
        }

        var unknown = await SseClient.GetAsync(product.Http, "/v1/responses/resp_never_issued_here?stream=true");
        Assert.Equal(HttpStatusCode.NotFound, unknown.Status);

        using var other = new HttpClient { BaseAddress = product.BaseUrl };
        other.DefaultRequestHeaders.Authorization = new("Bearer", ProductFixture.SecondApiKey);
        var foreign = await SseClient.GetAsync(other, $"/v1/responses/{backgroundId}?stream=true");
        Assert.Equal(HttpStatusCode.NotFound, foreign.Status);
    }
    [Fact]
    public async Task A_lost_response_whose_new_runs_are_refused_for_a_while_is_streamed_by_id_through_to_its_completion()
    {
        // A response of this key's tenant, lost with its owner mid-generation: the store holds what it takes to run it again.
        var tenant = ConversationKey.TenantOf((await SseClient.PostAsync(product.Http, "/v1/responses", Background("a tenant probe"))).TurnState!);
        var key = ConversationKey.Create(tenant, "session", Guid.NewGuid().ToString("N"));
        var id = "resp_lost" + Guid.NewGuid().ToString("N");
        var created = Encoding.UTF8.GetBytes(
            $$"""{"id":"{{id}}","object":"response","created_at":1765000000,"status":"in_progress","background":true,"error":null,"model":"gpt-5","output":[]}""");
        var resumables = product.App.Services.GetRequiredService<Orleans.Serialization.Serializer<ResumableResponse>>();
        var saved = resumables.SerializeToArray(new ResumableResponse { Request = Turns.Request(Background("run me again " + id)), Created = created });
        await product.App.Services.GetRequiredService<IResponseTreeStore>().MarkResumableAsync(key, id, saved, CancellationToken.None);
        // Its conversation's new owner has no socket: the provider refuses the next three handshakes (each new run's).
        product.Simulator.Faults.Add(Fault.RefuseHandshake(503).Times(3));
        TurnResult streamed;
        try
        {
            streamed = await SseClient.GetAsync(product.Http, $"/v1/responses/{id}?stream=true");
        }
        finally
        {
            product.Simulator.Faults.Clear(); // none left for the next test, whatever happened here
        }

        // The stream waits the refusals out (a response.failed would tell the client it is over, and it is not): the new
        // run whole, under the client's id, numbered as the first new run.
        Assert.Equal((HttpStatusCode.OK, "text/event-stream"), (streamed.Status, streamed.ContentType));
        Assert.DoesNotContain(streamed.Events, e => e.Type == "response.failed");
        Assert.Equal("response.created", streamed.Events[0].Type);
        Assert.Equal("response.completed", streamed.Terminal?.Type);
        Assert.Equal(id, streamed.Terminal!.Data.GetProperty("response").GetProperty("id").GetString());
        Assert.Equal(ResumedResponse.SequenceGap, Sequence(streamed.Events[0]));
        var retrieved = await product.Http.GetFromJsonAsync<JsonElement>($"/v1/responses/{id}");
        Assert.Equal("completed", retrieved.GetProperty("status").GetString());
    }
}
