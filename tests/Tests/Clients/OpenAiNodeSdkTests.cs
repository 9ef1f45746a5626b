using System.Text.Json;
using CodexLb.Tests.Infrastructure;

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
