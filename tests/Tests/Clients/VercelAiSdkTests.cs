using CodexLb.Tests.Infrastructure;

namespace CodexLb.Tests.Clients;

/// <summary>
/// The Vercel AI SDK (tests/Clients/vercel-ai.mjs) with its Responses model <c>openai.responses(...)</c>. It has no API
/// for stored responses (retrieve/cancel/delete), so it runs the common scenarios only.
/// </summary>
public sealed class VercelAiSdkTests(ProductFixture product) : NodeClientTests(product, "vercel-ai.mjs")
{
    /// <summary>
    /// With its default <c>store:true</c> the SDK sends the tool loop's reasoning back as an <c>item_reference</c> (it
    /// names a stored item instead of resending it); the provider must still get only the tool output.
    /// </summary>
    [Fact]
    public async Task Tool_round_trip_with_an_item_reference_sends_only_the_tool_output_upstream()
    {
        var result = (await RunAsync("tool-stored")).AssertOk();
        Assert.Equal(ToolResult, Assert.Single(result["toolResults"].EnumerateArray()).GetString());
        Assert.Equal(2, result.Turns.Count);
        Product.Simulator.Ledger.AssertDeltaChain(result.ResponseIds, 1, 1);
    }

    /// <summary>
    /// A chat app on a reasoning model with the default <c>store:true</c>: the SDK resends the whole history every turn,
    /// each earlier answer as an <c>item_reference</c> to its <c>msg_</c> id (and its reasoning to its <c>rs_</c> id). The
    /// references must resume the conversation they name: from the second turn on only the new user message goes upstream.
    /// </summary>
    [Fact]
    public async Task Full_history_with_item_references_goes_upstream_as_deltas()
    {
        var result = (await RunAsync("history-stored")).AssertOk();
        Product.Simulator.Ledger.AssertDeltaChain(result.ResponseIds, 1, 1, 1);
        Assert.Equal([Answer(1), Answer(2), Answer(3)], result.Turns.Select(t => t.Text));
    }
}
