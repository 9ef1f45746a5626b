using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.UpstreamSimulator;
using static CodexLb.Tests.Simulator.SimulatorSchemaTests;

namespace CodexLb.Tests.Simulator;

/// <summary>The HTTP calls on stored responses, input_tokens, compact and background mode.</summary>
public sealed class SimulatorStoredResponseTests
{
    [Theory]
    [InlineData("v1/responses")]
    [InlineData("backend-api/codex/responses")]
    [InlineData("responses")]
    public async Task A_stored_response_can_be_retrieved_listed_continued_and_deleted(string prefix)
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        using var http = new SimHttp(sim, prefix);
        var first = Body(Message("developer", "be nice"), Message("user", "My name is Alice."));

        var (_, created) = await http.PostAsync("", first);
        var id = created.GetProperty("id").GetString()!;
        var (status, retrieved) = await http.GetAsync(id);

        Assert.Equal(HttpStatusCode.OK, status);
        ResponsesSchema.AssertValid("ResponseResource", retrieved);
        Assert.Equal(created.GetRawText(), retrieved.GetRawText());

        var (_, page) = await http.GetAsync($"{id}/input_items?order=asc&limit=1");
        Assert.Equal("list", page.GetProperty("object").GetString());
        var item = Assert.Single(page.GetProperty("data").EnumerateArray());
        Assert.Equal("developer", item.GetProperty("role").GetString());
        Assert.Equal("input_text", item.GetProperty("content")[0].GetProperty("type").GetString());
        Assert.True(page.GetProperty("has_more").GetBoolean());
        Assert.Equal(item.GetProperty("id").GetString(), page.GetProperty("first_id").GetString());
        var (_, rest) = await http.GetAsync($"{id}/input_items?order=asc&after={page.GetProperty("last_id").GetString()}");
        Assert.Equal("My name is Alice.", Assert.Single(rest.GetProperty("data").EnumerateArray()).GetProperty("content")[0].GetProperty("text").GetString());
        Assert.False(rest.GetProperty("has_more").GetBoolean());
        var (_, newestFirst) = await http.GetAsync($"{id}/input_items");
        Assert.Equal("user", newestFirst.GetProperty("data")[0].GetProperty("role").GetString());

        // previous_response_id over HTTP continues from a stored response: cached tokens are its whole context.
        var next = Body(Message("user", "What is my name?"));
        next["previous_response_id"] = id;
        var (nextStatus, continued) = await http.PostAsync("", next);
        Assert.Equal(HttpStatusCode.OK, nextStatus);
        var usage = created.GetProperty("usage");
        Assert.Equal(usage.GetProperty("total_tokens").GetInt32(), continued.GetProperty("usage").GetProperty("input_tokens_details").GetProperty("cached_tokens").GetInt32());
        Assert.Equal(id, continued.GetProperty("previous_response_id").GetString());
        Assert.Contains("#2.", continued.GetProperty("output")[0].GetProperty("content")[0].GetProperty("text").GetString());

        var (deleteStatus, deleted) = await http.DeleteAsync(id);
        Assert.Equal(HttpStatusCode.OK, deleteStatus);
        Assert.True(deleted.GetProperty("deleted").GetBoolean());
        var (goneStatus, gone) = await http.GetAsync(id);
        Assert.Equal(HttpStatusCode.NotFound, goneStatus);
        Assert.Equal("invalid_request_error", gone.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal(JsonValueKind.Null, gone.GetProperty("error").GetProperty("code").ValueKind);

        var kinds = sim.Ledger.Requests.Select(r => r.Kind).ToList();
        Assert.Equal([RequestKind.Create, RequestKind.Retrieve, RequestKind.InputItems, RequestKind.InputItems, RequestKind.InputItems,
            RequestKind.Create, RequestKind.Delete, RequestKind.Retrieve], kinds);
        Assert.Equal(RequestOutcome.Error, sim.Ledger.Requests[^1].Outcome);
        Assert.Equal(404, sim.Ledger.Requests[^1].ErrorStatus);
        Assert.True(sim.Ledger.Requests[5].AnchorValid);
    }

    [Fact]
    public async Task Store_false_responses_are_not_kept_and_unknown_ids_are_404_everywhere()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        using var http = new SimHttp(sim);
        var body = Body(Message("user", "hi"));
        body["store"] = false;

        var (_, created) = await http.PostAsync("", body);
        var id = created.GetProperty("id").GetString()!;

        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(id)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await http.DeleteAsync(id)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await http.PostAsync($"{id}/cancel", new JsonObject())).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"{id}/input_items")).Status);
    }

    [Fact]
    public async Task Background_mode_answers_queued_at_once_completes_later_and_can_be_cancelled()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync(new SimulatorOptions { FirstEventDelay = TimeSpan.FromMilliseconds(300) });
        using var http = new SimHttp(sim);
        var body = Body(Message("user", "work in the background"));
        body["background"] = true;

        var (_, queued) = await http.PostAsync("", body);
        Assert.Equal("queued", queued.GetProperty("status").GetString());
        Assert.True(queued.GetProperty("background").GetBoolean());
        ResponsesSchema.AssertValid("ResponseResource", queued);
        var id = queued.GetProperty("id").GetString()!;
        var completed = await PollAsync(http, id, "completed");
        ResponsesSchema.AssertValid("ResponseResource", completed);
        Assert.NotEmpty(completed.GetProperty("output").EnumerateArray());
        Assert.Equal(RequestOutcome.Completed, sim.Ledger.Requests.First(r => r.ResponseId == id && r.Kind == RequestKind.Create).Outcome);

        // A hung background response stays in progress until it is cancelled.
        sim.Faults.Add(Fault.Hang());
        var (_, hung) = await http.PostAsync("", body);
        var hungId = hung.GetProperty("id").GetString()!;
        await PollAsync(http, hungId, "in_progress");
        var (cancelStatus, cancelled) = await http.PostAsync($"{hungId}/cancel", new JsonObject());
        Assert.Equal(HttpStatusCode.OK, cancelStatus);
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
        Assert.Equal("cancelled", (await http.GetAsync(hungId)).Body.GetProperty("status").GetString());
        await sim.Ledger.WaitUntilAsync(s => s.Requests.Any(r => r.ResponseId == hungId && r.Outcome == RequestOutcome.Cancelled), TimeSpan.FromSeconds(15));

        // Only background responses can be cancelled.
        var (_, foreground) = await http.PostAsync("", Body(Message("user", "plain")));
        var (notCancellable, error) = await http.PostAsync($"{foreground.GetProperty("id").GetString()}/cancel", new JsonObject());
        Assert.Equal(HttpStatusCode.BadRequest, notCancellable);
        Assert.Equal("invalid_request_error", error.GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task Input_tokens_counts_like_a_create_and_compact_returns_the_user_messages_and_a_compaction_item()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        using var http = new SimHttp(sim);
        var body = Body(Message("developer", "sys"), Message("user", "first question"), Message("assistant", "an answer"), Message("user", "second question"));

        var (_, created) = await http.PostAsync("", body.DeepClone());
        var (countStatus, count) = await http.PostAsync("input_tokens", body.DeepClone());
        Assert.Equal(HttpStatusCode.OK, countStatus);
        Assert.Equal("response.input_tokens", count.GetProperty("object").GetString());
        Assert.Equal(created.GetProperty("usage").GetProperty("input_tokens").GetInt32(), count.GetProperty("input_tokens").GetInt32());

        var (compactStatus, compacted) = await http.PostAsync("compact", body.DeepClone());
        Assert.Equal(HttpStatusCode.OK, compactStatus);
        ResponsesSchema.AssertValid("CompactResource", compacted);
        var output = compacted.GetProperty("output").EnumerateArray().ToList();
        Assert.Equal(["message", "message", "compaction"], output.Select(o => o.GetProperty("type").GetString()));
        Assert.All(output.Take(2), o => Assert.Equal("user", o.GetProperty("role").GetString()));
        Assert.StartsWith("cmp_", output[2].GetProperty("id").GetString());
        Assert.False(string.IsNullOrEmpty(output[2].GetProperty("encrypted_content").GetString()));

        var unknown = Body(Message("user", "x"));
        unknown["previous_response_id"] = "resp_nope";
        var (unknownStatus, error) = await http.PostAsync("input_tokens", unknown);
        Assert.Equal(HttpStatusCode.BadRequest, unknownStatus);
        Assert.Equal("previous_response_not_found", error.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal([RequestKind.Create, RequestKind.InputTokens, RequestKind.Compact, RequestKind.InputTokens], sim.Ledger.Requests.Select(r => r.Kind));
    }

    private static async Task<JsonElement> PollAsync(SimHttp http, string id, string status)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (true)
        {
            var (_, response) = await http.GetAsync(id);
            if (response.GetProperty("status").GetString() == status)
            {
                return response;
            }

            await Task.Delay(50, timeout.Token);
        }
    }
}
