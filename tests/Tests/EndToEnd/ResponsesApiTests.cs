using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.EndToEnd;

/// <summary>
/// The Responses API beyond create, as the SDKs call it (retrieve, delete, cancel, input items, background), answered by
/// the bridge from its own tree on every responses path, scoped to the caller's key.
/// </summary>
[Collection(ProductCollection.Name)]
public sealed class ResponsesApiTests(ProductFixture product)
{
    private static JsonObject Stored(string text, string? previous = null, bool stream = false)
    {
        var body = Items.Body([Items.Message("user", text)], stream: stream, previousResponseId: previous);
        body.Remove("store"); // the API's default: stored
        return body;
    }

    private async Task<JsonElement> CreateAsync(JsonObject body)
    {
        var result = await SseClient.PostAsync(product.Http, "/v1/responses", body);
        Assert.Equal(HttpStatusCode.OK, result.Status);
        return result.Json;
    }

    private async Task<(HttpStatusCode Status, JsonElement Json)> SendAsync(HttpMethod method, string path, HttpClient? http = null)
    {
        using var response = await (http ?? product.Http).SendAsync(new HttpRequestMessage(method, path));
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    /// <summary>A background response that takes seconds (a second between events): still running when the test acts on it.</summary>
    private async Task<string> StartSlowBackgroundAsync()
    {
        var marker = "slow-background-" + Guid.NewGuid().ToString("N")[..8];
        product.Simulator.Faults.Add(Fault.Delay(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1)).WhenTextContains(marker).Times(1));
        var body = Stored("a long answer please " + marker);
        body["background"] = true;
        return (await CreateAsync(body)).GetProperty("id").GetString()!;
    }

    [Theory]
    [InlineData("/v1/responses")]
    [InlineData("/backend-api/codex/responses")]
    public async Task A_stored_response_is_retrieved_whole_and_only_by_its_own_key(string prefix)
    {
        var created = await CreateAsync(Stored("retrieve me please"));
        var id = created.GetProperty("id").GetString()!;

        var (status, retrieved) = await SendAsync(HttpMethod.Get, $"{prefix}/{id}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(id, retrieved.GetProperty("id").GetString());
        Assert.Equal("completed", retrieved.GetProperty("status").GetString());
        Assert.Equal(created.GetProperty("output").GetArrayLength(), retrieved.GetProperty("output").GetArrayLength());
        Assert.Equal(ResponseJson.OutputText(created), ResponseJson.OutputText(retrieved));
        Assert.False(string.IsNullOrEmpty(ResponseJson.OutputText(retrieved)));

        using var other = new HttpClient { BaseAddress = product.BaseUrl };
        other.DefaultRequestHeaders.Authorization = new("Bearer", ProductFixture.SecondApiKey);
        var (otherStatus, otherBody) = await SendAsync(HttpMethod.Get, $"{prefix}/{id}", other);
        Assert.Equal(HttpStatusCode.NotFound, otherStatus);
        Assert.Equal("invalid_request_error", otherBody.GetProperty("error").GetProperty("type").GetString());

        var (unknown, error) = await SendAsync(HttpMethod.Get, $"{prefix}/resp_never_issued_here");
        Assert.Equal(HttpStatusCode.NotFound, unknown);
        Assert.Contains("resp_never_issued_here", error.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task A_store_false_response_continues_but_is_not_retrievable_as_the_api_would_have_it()
    {
        var body = Stored("do not keep me");
        body["store"] = false;
        var id = (await CreateAsync(body)).GetProperty("id").GetString()!;

        var (status, error) = await SendAsync(HttpMethod.Get, $"/v1/responses/{id}");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("store:false", error.GetProperty("error").GetProperty("message").GetString());

        var next = await SseClient.PostAsync(product.Http, "/v1/responses", Stored("and continue", previous: id));
        Assert.Equal(HttpStatusCode.OK, next.Status);
    }

    [Fact]
    public async Task Input_items_list_the_whole_context_the_model_saw_newest_first_with_paging()
    {
        var first = await CreateAsync(Stored("first question about llamas"));
        var second = await CreateAsync(Stored("second question about alpacas", previous: first.GetProperty("id").GetString()));
        var id = second.GetProperty("id").GetString()!;

        var (status, page) = await SendAsync(HttpMethod.Get, $"/v1/responses/{id}/input_items");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("list", page.GetProperty("object").GetString());
        var items = page.GetProperty("data").EnumerateArray().Select(i => i.GetRawText()).ToList();
        // user 1, assistant 1 (and anything else of turn 1), user 2: newest first, the second turn's output not included.
        Assert.Contains("alpacas", items[0]);
        Assert.Contains("llamas", items[^1]);
        Assert.Equal(1 + first.GetProperty("output").GetArrayLength() + 1, items.Count);
        Assert.False(page.GetProperty("has_more").GetBoolean());

        Assert.All(page.GetProperty("data").EnumerateArray(), i => Assert.False(string.IsNullOrEmpty(i.GetProperty("id").GetString())));
        var (_, ascending) = await SendAsync(HttpMethod.Get, $"/v1/responses/{id}/input_items?order=asc&limit=1");
        Assert.Single(ascending.GetProperty("data").EnumerateArray());
        Assert.Contains("llamas", ascending.GetProperty("data")[0].GetRawText());
        Assert.True(ascending.GetProperty("has_more").GetBoolean());
        var cursor = ascending.GetProperty("last_id").GetString();
        var (_, following) = await SendAsync(HttpMethod.Get, $"/v1/responses/{id}/input_items?order=asc&limit=1&after={cursor}");
        Assert.NotEqual(cursor, following.GetProperty("data")[0].GetProperty("id").GetString());
        Assert.Contains(following.GetProperty("data")[0].GetProperty("content")[0].GetProperty("type").GetString(), new[] { "input_text", "output_text" });

        foreach (var bad in new[] { "limit=0", "limit=101", "limit=x", "order=sideways" })
        {
            var (badStatus, badBody) = await SendAsync(HttpMethod.Get, $"/v1/responses/{id}/input_items?{bad}");
            Assert.Equal(HttpStatusCode.BadRequest, badStatus);
            Assert.Equal(bad.Split('=')[0], badBody.GetProperty("error").GetProperty("param").GetString());
        }
    }

    [Fact]
    public async Task A_deleted_response_is_gone_for_retrieve_and_for_continuing()
    {
        var id = (await CreateAsync(Stored("delete me after"))).GetProperty("id").GetString()!;

        var (status, deleted) = await SendAsync(HttpMethod.Delete, $"/v1/responses/{id}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("response.deleted", deleted.GetProperty("object").GetString());
        Assert.True(deleted.GetProperty("deleted").GetBoolean());

        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Get, $"/v1/responses/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(HttpMethod.Delete, $"/v1/responses/{id}")).Status);
        var next = await SseClient.PostAsync(product.Http, "/v1/responses", Stored("continue a deleted one", previous: id));
        Assert.Equal(HttpStatusCode.BadRequest, next.Status);
        Assert.Equal("previous_response_not_found", next.Json.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_background_response_returns_at_once_runs_without_its_client_and_is_polled_to_completion()
    {
        var marker = "background-" + Guid.NewGuid().ToString("N")[..8];
        product.Simulator.Faults.Add(Fault.Delay(TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(40)).WhenTextContains(marker).Times(1));
        var body = Stored("run this in the background " + marker);
        body["background"] = true;

        var started = await CreateAsync(body);
        var id = started.GetProperty("id").GetString()!;
        Assert.NotEqual("completed", started.GetProperty("status").GetString());
        Assert.True(started.GetProperty("background").GetBoolean());

        JsonElement polled = default;
        for (var i = 0; i < 150; i++)
        {
            (_, polled) = await SendAsync(HttpMethod.Get, $"/v1/responses/{id}");
            if (polled.GetProperty("status").GetString() == "completed") break;
            await Task.Delay(100);
        }
        Assert.Equal("completed", polled.GetProperty("status").GetString());
        Assert.True(polled.GetProperty("background").GetBoolean());
        Assert.False(string.IsNullOrEmpty(ResponseJson.OutputText(polled)));
        Assert.Single(product.Simulator.Ledger.Requests, r => r.ResponseId == id);
    }

    [Fact]
    public async Task Cancel_stops_an_in_flight_response_upstream_and_leaves_a_completed_one_as_it_is()
    {
        var id = await StartSlowBackgroundAsync();

        var (status, cancelled) = await SendAsync(HttpMethod.Post, $"/v1/responses/{id}/cancel");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
        Assert.Equal(id, cancelled.GetProperty("id").GetString());
        Assert.True(cancelled.GetProperty("background").GetBoolean()); // as the client created it, not as it ran upstream
        // The provider was told to stop: the request never completed upstream.
        var record = await Eventually.ValueAsync(() => product.Simulator.Ledger.Requests.SingleOrDefault(r => r.ResponseId == id && r.EndedAt is not null));
        Assert.NotEqual(RequestOutcome.Completed, record.Outcome);

        var quick = Stored("short one in the background");
        quick["background"] = true;
        var done = (await CreateAsync(quick)).GetProperty("id").GetString()!;
        var finished = await Eventually.ValueAsync(async () =>
        {
            // Polled at once, it completes between reads: never "lost" (a 404) on the way.
            var (polledStatus, polled) = await SendAsync(HttpMethod.Get, $"/v1/responses/{done}");
            Assert.Equal(HttpStatusCode.OK, polledStatus);
            return polled.GetProperty("status").GetString() == "completed" ? "completed" : null;
        });
        var (doneStatus, unchanged) = await SendAsync(HttpMethod.Post, $"/v1/responses/{done}/cancel");
        Assert.Equal(HttpStatusCode.OK, doneStatus);
        Assert.Equal((finished, done), (unchanged.GetProperty("status").GetString(), unchanged.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task A_cancelled_background_response_reads_back_cancelled_by_retrieve_by_a_second_cancel_and_streamed_again()
    {
        var id = await StartSlowBackgroundAsync();
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, $"/v1/responses/{id}/cancel")).Status);

        // Over, as cancelled: never "lost with its owner" (a 404), whichever of its owner or the store answers.
        var (status, retrieved) = await SendAsync(HttpMethod.Get, $"/v1/responses/{id}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal((id, "cancelled", true), (retrieved.GetProperty("id").GetString(), retrieved.GetProperty("status").GetString(), retrieved.GetProperty("background").GetBoolean()));
        var (againStatus, again) = await SendAsync(HttpMethod.Post, $"/v1/responses/{id}/cancel"); // idempotent, as in the API
        Assert.Equal((HttpStatusCode.OK, "cancelled"), (againStatus, again.GetProperty("status").GetString()));
        var (itemsStatus, items) = await SendAsync(HttpMethod.Get, $"/v1/responses/{id}/input_items");
        Assert.Equal(HttpStatusCode.NotFound, itemsStatus);
        Assert.Contains("did not complete", items.GetProperty("error").GetProperty("message").GetString());
        var replayed = await SseClient.GetAsync(product.Http, $"/v1/responses/{id}?stream=true");
        Assert.Equal(("response.failed", "response_cancelled"), (replayed.Terminal?.Type, replayed.Terminal?.Data.GetProperty("response").GetProperty("error").GetProperty("code").GetString()));
        // A turn on it is still told it did not complete (retryable), never that it does not exist.
        var next = await SseClient.PostAsync(product.Http, "/v1/responses", Stored("continue the cancelled one", previous: id));
        Assert.Equal("previous_response_incomplete", next.Json.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_background_response_cut_off_by_the_provider_runs_again_under_its_id_when_polled_and_continues()
    {
        // The provider's socket closes after the fourth event, once: a foreground client would send the turn again; a
        // background response has no client that would, so the next poll runs it again.
        var marker = "cut-background-" + Guid.NewGuid().ToString("N")[..8];
        product.Simulator.Faults.Add(Fault.CloseAfter(4).WhenTextContains(marker).Times(1));
        var started = DateTimeOffset.UtcNow;
        var body = Stored("an answer cut short " + marker);
        body["background"] = true;
        var id = (await CreateAsync(body)).GetProperty("id").GetString()!;

        var polls = new List<string>();
        JsonElement final;
        while (true)
        {
            var (status, polled) = await SendAsync(HttpMethod.Get, $"/v1/responses/{id}");
            Assert.True(status == HttpStatusCode.OK, $"poll answered {(int)status}: {polled}");
            polls.Add(polled.GetProperty("status").GetString()!);
            if (polls[^1] is not ("queued" or "in_progress")) { final = polled; break; }
            Assert.True(polls.Count < 400, "never over: " + string.Join(",", polls));
            await Task.Delay(50);
        }
        Assert.Equal(("completed", id, true), (final.GetProperty("status").GetString(), final.GetProperty("id").GetString(), final.GetProperty("background").GetBoolean()));
        Assert.False(string.IsNullOrEmpty(ResponseJson.OutputText(final)));
        var generations = product.Simulator.Ledger.Requests.Where(r => r.StartedAt >= started && r.Generate).OrderBy(r => r.Id).ToList();
        Assert.True(generations.Count == 2, $"{generations.Count} generations (the cut run and its new one expected): {LedgerText.Lines(generations, "; ")}");

        // Continued from the id its client has: a delta on the new run's own response.
        var next = await CreateAsync(Stored("go on", previous: id));
        Assert.Equal("completed", next.GetProperty("status").GetString());
        var sent = product.Simulator.Ledger.Requests.Single(r => r.ResponseId == next.GetProperty("id").GetString());
        Assert.True(sent.IsDelta && sent.PreviousResponseId == generations[1].ResponseId, LedgerText.Line(sent));
    }

    [Fact]
    public async Task A_running_background_response_lists_its_input_items_the_context_it_continued_and_its_own()
    {
        var first = await CreateAsync(Stored("remember the otters"));
        var marker = "running-items-" + Guid.NewGuid().ToString("N")[..8];
        product.Simulator.Faults.Add(Fault.Delay(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1)).WhenTextContains(marker).Times(1));
        var body = Stored("and now the beavers " + marker, previous: first.GetProperty("id").GetString());
        body["background"] = true;
        var id = (await CreateAsync(body)).GetProperty("id").GetString()!;

        var (status, items) = await SendAsync(HttpMethod.Get, $"/v1/responses/{id}/input_items?order=asc");
        var (_, running) = await SendAsync(HttpMethod.Get, $"/v1/responses/{id}");
        Assert.Equal("in_progress", running.GetProperty("status").GetString()); // listed while it ran
        Assert.True(status == HttpStatusCode.OK, items.ToString());
        var listed = items.GetProperty("data").EnumerateArray().ToList();
        // The first turn's message and answer, then this turn's message: what its node will hold once it completed.
        Assert.Equal(["user", "assistant", "user"], listed.Select(i => i.GetProperty("role").GetString()));
        Assert.Contains(marker, listed[2].GetProperty("content")[0].GetProperty("text").GetString());
        Assert.All(listed, i => Assert.False(string.IsNullOrEmpty(i.GetProperty("id").GetString())));
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(HttpMethod.Post, $"/v1/responses/{id}/cancel")).Status);
    }

    [Fact]
    public async Task A_streamed_background_response_cut_off_by_the_provider_goes_on_in_the_same_stream_with_its_new_run()
    {
        // The client streams its background create. The provider's socket closes after the fourth event, once: the response
        // stays pending (a poll would run it again), so the stream must not tell its client it failed; it goes on by id.
        var marker = "cut-streamed-" + Guid.NewGuid().ToString("N")[..8];
        var followsBefore = await FollowsAfterFailureAsync();
        product.Simulator.Faults.Add(Fault.CloseAfter(4).WhenTextContains(marker).Times(1));
        var started = DateTimeOffset.UtcNow;
        var body = Stored("a streamed answer cut short " + marker, stream: true);
        body["background"] = true;
        var result = await SseClient.PostAsync(product.Http, "/v1/responses", body);

        Assert.Equal(HttpStatusCode.OK, result.Status);
        var types = string.Join(",", result.Events.Select(e => e.Type));
        Assert.DoesNotContain(result.Events, e => e.Type == "response.failed");
        Assert.True(result.Terminal?.Type == "response.completed", types);
        var created = result.Events.Where(e => e.Type == "response.created").Select(e => e.Data.GetProperty("response").GetProperty("id").GetString()).ToList();
        Assert.True(created.Count == 2, "the lost run's response.created, then its new run's: " + types);
        var id = created[0]!;
        Assert.Equal([id, id], created);
        Assert.Equal(id, result.ResponseId);
        var sequence = result.Events.Select(e => e.Data.GetProperty("sequence_number").GetInt64()).ToList();
        Assert.True(sequence.Zip(sequence.Skip(1)).All(p => p.First < p.Second), "sequence numbers not increasing: " + string.Join(",", sequence));
        // What the client's accumulator builds from the new run's events is the completed response.
        var newRun = result.Events.SkipWhile(e => e.Type != "response.created").Skip(1).SkipWhile(e => e.Type != "response.created");
        var deltas = string.Concat(newRun.Where(e => e.Type == "response.output_text.delta").Select(e => e.Data.GetProperty("delta").GetString()));
        Assert.Equal(ResponseJson.OutputText(result.Terminal!.Data.GetProperty("response")), deltas);

        var generations = product.Simulator.Ledger.Requests.Where(r => r.StartedAt >= started && r.Generate).OrderBy(r => r.Id).ToList();
        Assert.True(generations.Count == 2, $"{generations.Count} generations (the cut run and its new one expected): {LedgerText.Lines(generations, "; ")}");
        var (status, retrieved) = await SendAsync(HttpMethod.Get, $"/v1/responses/{id}");
        Assert.Equal((HttpStatusCode.OK, "completed"), (status, retrieved.GetProperty("status").GetString()));
        // Operators see it: one more stream went on by id after a failure that may pass.
        await Eventually.ValueAsync(async () => await FollowsAfterFailureAsync() > followsBefore ? "counted" : null);
    }

    /// <summary><c>codexlb_gateway_background_follows_total{after="failure"}</c> as the product's /metrics reads now.</summary>
    private async Task<double> FollowsAfterFailureAsync() => (await product.Http.GetStringAsync("/metrics")).Split('\n')
        .Where(l => l.StartsWith("codexlb_gateway_background_follows_total", StringComparison.Ordinal) && l.Contains("after=\"failure\""))
        .Sum(l => double.Parse(l.Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public async Task Cancel_refuses_a_foreground_response_running_or_completed_and_the_running_one_completes_untouched()
    {
        var marker = "foreground-" + Guid.NewGuid().ToString("N")[..8];
        product.Simulator.Faults.Add(Fault.Delay(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(150)).WhenTextContains(marker).Times(1));
        var started = DateTimeOffset.UtcNow;
        var running = CreateAsync(Stored("a slow foreground answer " + marker));
        var upstream = await Eventually.ValueAsync(() => product.Simulator.Ledger.Requests
            .FirstOrDefault(r => r.StartedAt >= started && r.ResponseId is not null && r.EndedAt is null));
        var id = upstream.ResponseId!;
        // The bridge holds it as running once response.created went by: retrieve answers it in progress.
        await Eventually.ValueAsync(async () => (await SendAsync(HttpMethod.Get, $"/v1/responses/{id}")).Status == HttpStatusCode.OK ? "running" : null);

        var (status, refused) = await SendAsync(HttpMethod.Post, $"/v1/responses/{id}/cancel");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request_error", refused.GetProperty("error").GetProperty("type").GetString());
        Assert.Contains("background", refused.GetProperty("error").GetProperty("message").GetString());

        // Nothing was stopped: the client's own request completes, and so did the provider's.
        var completed = await running;
        Assert.Equal((id, "completed"), (completed.GetProperty("id").GetString(), completed.GetProperty("status").GetString()));
        var record = await Eventually.ValueAsync(() => product.Simulator.Ledger.Requests.SingleOrDefault(r => r.ResponseId == id && r.EndedAt is not null));
        Assert.Equal(RequestOutcome.Completed, record.Outcome);

        var (doneStatus, doneRefused) = await SendAsync(HttpMethod.Post, $"/v1/responses/{id}/cancel");
        Assert.Equal(HttpStatusCode.BadRequest, doneStatus);
        Assert.Equal("invalid_request_error", doneRefused.GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task Input_tokens_and_compact_go_to_the_provider_with_a_previous_response_id_expanded_into_its_context()
    {
        var first = await CreateAsync(Stored("count the tokens of a conversation about otters"));
        var id = first.GetProperty("id").GetString()!;

        var alone = await PostJsonAsync("/v1/responses/input_tokens", new JsonObject { ["model"] = "gpt-5.5", ["input"] = "and then?" });
        var chained = await PostJsonAsync("/v1/responses/input_tokens",
            new JsonObject { ["model"] = "gpt-5.5", ["input"] = "and then?", ["previous_response_id"] = id });
        Assert.Equal("response.input_tokens", chained.GetProperty("object").GetString());
        // The provider never saw our id: the bridge sent the context it names, so the count covers it.
        Assert.True(chained.GetProperty("input_tokens").GetInt32() > alone.GetProperty("input_tokens").GetInt32());
        var forwarded = product.Simulator.Ledger.Requests.Where(r => r.Kind == RequestKind.InputTokens).TakeLast(2).ToList();
        Assert.All(forwarded, r => Assert.Null(r.PreviousResponseId));
        Assert.All(forwarded, r => Assert.Equal("Bearer " + ProductFixture.UpstreamKey, r.Authorization));

        var compacted = await PostJsonAsync("/backend-api/codex/responses/compact",
            new JsonObject { ["model"] = "gpt-5.5", ["input"] = new JsonArray(), ["previous_response_id"] = id });
        Assert.Equal("response.compaction", compacted.GetProperty("object").GetString());
        Assert.Contains(compacted.GetProperty("output").EnumerateArray(), i => i.GetProperty("type").GetString() == "compaction");
        Assert.Contains(compacted.GetProperty("output").EnumerateArray(), i => i.GetRawText().Contains("otters"));

        using var unknown = await product.Http.PostAsJsonAsync("/v1/responses/input_tokens", new { model = "gpt-5.5", input = "x", previous_response_id = "resp_not_ours" });
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        using var broken = await product.Http.PostAsync("/v1/responses/input_tokens", new StringContent("{not json", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, broken.StatusCode);
    }

    private async Task<JsonElement> PostJsonAsync(string path, JsonObject body)
    {
        using var response = await product.Http.PostAsync(path, new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    [Fact]
    public async Task Every_api_route_needs_the_key()
    {
        using var anonymous = new HttpClient { BaseAddress = product.BaseUrl };
        foreach (var (method, path) in new[] { (HttpMethod.Get, "/v1/responses/resp_x"), (HttpMethod.Delete, "/v1/responses/resp_x"),
                     (HttpMethod.Post, "/v1/responses/resp_x/cancel"), (HttpMethod.Get, "/v1/responses/resp_x/input_items"),
                     (HttpMethod.Post, "/v1/responses/input_tokens"), (HttpMethod.Post, "/v1/responses/compact") })
        {
            using var response = await anonymous.SendAsync(new HttpRequestMessage(method, path) { Content = JsonContent.Create(new { model = "gpt-5.5" }) });
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
    }
}
