using System.Text.Json;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.Clients;

/// <summary>The openai npm SDK (tests/Clients/openai-sdk.mjs): HTTP, the stored-response lifecycle, and its websocket client.</summary>
public sealed class OpenAiNodeSdkTests(ProductFixture product) : NodeClientTests(product, "openai-sdk.mjs")
{
    [Fact]
    public async Task Stream_events_arrive_in_the_responses_order()
    {
        var result = (await RunAsync("stream")).AssertOk();
        var events = result["events"].EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal(["response.created", "response.in_progress"], events.Take(2));
        Assert.Equal("response.completed", events[^1]);
        Assert.Contains("response.output_text.delta", events);
    }

    [Fact]
    public async Task Stored_responses_can_be_retrieved_listed_cancelled_and_deleted()
    {
        var result = (await RunAsync("lifecycle")).AssertOk();
        var created = Assert.Single(result.Turns);
        var retrieved = result["retrieved"];
        Assert.True(retrieved.TryGetProperty("id", out var retrievedId), $"retrieve failed: {retrieved}");
        Assert.Equal(created.Id, retrievedId.GetString());
        Assert.Equal(created.Text, retrieved.GetProperty("text").GetString());

        var inputItems = result["inputItems"];
        Assert.True(inputItems.ValueKind == JsonValueKind.Array, $"input_items failed: {inputItems}");
        var message = Assert.Single(inputItems.EnumerateArray());
        Assert.Equal("Remember this response.", message.GetProperty("text").GetString());

        var background = result["background"];
        var cancelled = result["cancelled"];
        Assert.True(cancelled.TryGetProperty("id", out var cancelledId), $"cancel failed: {cancelled}");
        Assert.Equal(background.GetProperty("id").GetString(), cancelledId.GetString());
        // A background response may finish before the cancel lands: then cancel returns it completed.
        Assert.Contains(cancelled.GetProperty("status").GetString(), new[] { "cancelled", "completed" });

        Assert.True(result["deleted"].GetProperty("ok").GetBoolean(), $"delete failed: {result["deleted"]}");
        var afterDelete = result["afterDelete"];
        Assert.False(afterDelete.GetProperty("ok").GetBoolean(), "a deleted response could still be retrieved");
        Assert.Equal(404, afterDelete.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task A_dropped_background_stream_resumes_by_id_with_retrieve_and_with_the_stream_helper()
    {
        Product.Simulator.Faults.Add((Fault.Delay(TimeSpan.Zero, TimeSpan.FromMilliseconds(50)) with { TextDeltas = 20 })
            .WhenTextContains("Count slowly in the background").Times(1));
        var result = (await RunAsync("background-resume")).AssertOk();
        var last = result["last"].GetInt64();
        var resumed = result["resumed"].EnumerateArray().ToList();
        // retrieve(id, {stream, starting_after}): every event after the last one seen, none twice, to the completed one.
        Assert.Equal(Enumerable.Range((int)last + 1, resumed.Count).Select(n => (long)n), resumed.Select(e => e.GetProperty("sequence").GetInt64()));
        Assert.Equal("response.completed", resumed[^1].GetProperty("type").GetString());
        var final = Assert.Single(result.Turns);
        Assert.Equal(final.Text, result["deltas"].GetString());
        // The helper replays from the start and emits only what comes after starting_after, and builds the same answer.
        Assert.Equal(resumed.Select(e => e.GetProperty("sequence").GetInt64()), result["helped"].EnumerateArray().Select(e => e.GetInt64()));
        Assert.Single(Product.Simulator.Ledger.Requests, r => r.ResponseId == final.Id); // generated once
    }

    [Fact]
    public async Task A_background_response_the_provider_cut_off_completes_under_its_id_for_a_polling_client_and_continues()
    {
        // The provider's socket closes after the fourth event, once: the SDK's client polls and never sends it again.
        Product.Simulator.Faults.Add(Fault.CloseAfter(4).WhenTextContains("even if cut off").Times(1));
        var started = DateTimeOffset.UtcNow;
        var result = (await RunAsync("background-poll")).AssertOk();
        var (final, next) = (result.Turns[0], result.Turns[1]);
        Assert.Equal(result["createdId"].GetString(), final.Id); // the id the client was given is the one that completed
        Assert.Equal(("completed", "completed"), (result["finalStatus"].GetString(), result["nextStatus"].GetString()));
        Assert.False(string.IsNullOrEmpty(final.Text));
        var generations = Product.Simulator.Ledger.Requests.Where(r => r.StartedAt >= started && r.Generate).OrderBy(r => r.Id).ToList();
        Assert.True(generations.Count == 3, $"the cut run, its new run and the next turn expected: {LedgerText.Lines(generations, "; ")}");
        Assert.True(generations[2].IsDelta && generations[2].PreviousResponseId == generations[1].ResponseId, LedgerText.Lines(generations, "; "));
        Assert.Equal(next.Id, generations[2].ResponseId);
    }

    [Fact]
    public async Task The_stream_helper_on_a_background_create_the_provider_cut_off_goes_on_to_the_new_runs_final_response()
    {
        Product.Simulator.Faults.Add(Fault.CloseAfter(4).WhenTextContains("Stream in the background, even if cut off").Times(1));
        var started = DateTimeOffset.UtcNow;
        var result = (await RunAsync("background-stream-cut")).AssertOk();
        var final = Assert.Single(result.Turns);
        var events = result["events"].EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.DoesNotContain("response.failed", events);
        Assert.Equal("response.completed", events[^1]);
        Assert.Equal([final.Id, final.Id], result["createdIds"].EnumerateArray().Select(e => e.GetString()));
        var sequences = result["sequences"].EnumerateArray().Select(e => e.GetInt64()).ToList();
        Assert.True(sequences.Zip(sequences.Skip(1)).All(p => p.First < p.Second), string.Join(",", sequences));
        // The helper's accumulated answer is the new run's alone (its second response.created started it afresh).
        Assert.Equal(result["newRunDeltas"].GetString(), final.Text);
        var generations = Product.Simulator.Ledger.Requests.Where(r => r.StartedAt >= started && r.Generate).ToList();
        Assert.True(generations.Count == 2, $"the cut run and its new run expected: {LedgerText.Lines(generations, "; ")}");
    }

    [Fact]
    public async Task Websocket_client_chains_turns_by_previous_response_id_as_deltas()
    {
        var result = (await RunAsync("websocket")).AssertOk();
        Assert.Equal(["Simulated answer #1.", "Simulated answer #2.", "Simulated answer #3."], result.Turns.Select(t => t.Text));
        Product.Simulator.Ledger.AssertDeltaChain(result.ResponseIds, 1, 1, 1);
    }

    [Fact]
    public async Task Websocket_client_resending_its_history_goes_upstream_as_deltas()
    {
        var result = (await RunAsync("websocket-history")).AssertOk();
        Assert.Equal(["Simulated answer #1.", "Simulated answer #2.", "Simulated answer #3."], result.Turns.Select(t => t.Text));
        Product.Simulator.Ledger.AssertDeltaChain(result.ResponseIds, 1, 1, 1);
    }
}
