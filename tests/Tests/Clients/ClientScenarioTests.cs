using System.Text.Json;
using CodexLb.Tests.Infrastructure;

namespace CodexLb.Tests.Clients;

/// <summary>
/// The scenarios every Responses client runs against the embedded product, with the same checks on the answers and on
/// what the bridge sent upstream. A derived class says how its client runs a scenario (a Node script, or in-process)
/// and adds what only that client can do. One product per class; its scenarios run one after another.
/// </summary>
public abstract class ClientScenarioTests(ProductFixture product) : IClassFixture<ProductFixture>
{
    public const string ToolName = "exec_command";
    public const string ToolResult = "sim-tool-ran";

    protected ProductFixture Product => product;

    protected abstract Task<ScenarioResult> RunAsync(string scenario);

    protected static string Answer(int k) => $"Simulated answer #{k}.";

    [Fact]
    public async Task Create_answers_and_goes_upstream_once()
    {
        var result = (await RunAsync("create")).AssertOk();
        var turn = Assert.Single(result.Turns);
        Assert.Equal(Answer(1), turn.Text);
        product.Simulator.Ledger.AssertDeltaChain(result.ResponseIds, 1);
    }

    [Fact]
    public async Task Stream_deltas_add_up_to_the_final_answer()
    {
        var result = (await RunAsync("stream")).AssertOk();
        var turn = Assert.Single(result.Turns);
        Assert.Equal(Answer(1), turn.Text);
        Assert.Equal(turn.Text, result["deltas"].GetString());
        product.Simulator.Ledger.AssertDeltaChain(result.ResponseIds, 1);
    }

    /// <summary>The model calls the client's function, the client returns its output, the model answers; the output goes upstream alone.</summary>
    [Fact]
    public async Task Tool_round_trip_sends_only_the_tool_output_upstream()
    {
        var result = (await RunAsync("tool")).AssertOk();
        var call = Assert.Single(result["calls"].EnumerateArray());
        Assert.Equal(ToolName, call.GetProperty("name").GetString());
        Assert.True(JsonDocument.Parse(call.GetProperty("arguments").GetString()!).RootElement.TryGetProperty("cmd", out _));
        Assert.Equal(2, result.Turns.Count);
        Assert.False(string.IsNullOrEmpty(result.Turns[^1].Text), "no answer after the tool output");
        product.Simulator.Ledger.AssertDeltaChain(result.ResponseIds, 1, 1);
    }

    [Fact]
    public async Task Previous_response_id_chain_goes_upstream_as_deltas()
    {
        var result = (await RunAsync("chain")).AssertOk();
        Assert.Equal([Answer(1), Answer(2), Answer(3)], result.Turns.Select(t => t.Text));
        product.Simulator.Ledger.AssertDeltaChain(result.ResponseIds, 1, 1, 1);
    }

    /// <summary>The client resends its whole conversation every turn; the provider still gets each item once.</summary>
    [Fact]
    public async Task Full_history_resends_go_upstream_as_deltas()
    {
        var result = (await RunAsync("history")).AssertOk();
        Assert.Equal([Answer(1), Answer(2), Answer(3)], result.Turns.Select(t => t.Text));
        product.Simulator.Ledger.AssertDeltaChain(result.ResponseIds, 1, 1, 1);
    }

    [Fact]
    public async Task Structured_output_matches_the_json_schema()
    {
        var result = (await RunAsync("structured")).AssertOk();
        var parsed = result["parsed"];
        Assert.Equal(JsonValueKind.String, parsed.GetProperty("city").ValueKind);
        Assert.True(parsed.GetProperty("temperature_c").TryGetInt64(out _), $"temperature_c is not an integer: {parsed}");
        Assert.Contains(parsed.GetProperty("sunny").ValueKind, new[] { JsonValueKind.True, JsonValueKind.False });
        Assert.Equal(["city", "sunny", "temperature_c"], parsed.EnumerateObject().Select(p => p.Name).Order());
        product.Simulator.Ledger.AssertDeltaChain(result.ResponseIds, 1);
    }
}

/// <summary>A client that is a Node script of tests/Clients.</summary>
public abstract class NodeClientTests(ProductFixture product, string script) : ClientScenarioTests(product)
{
    protected override async Task<ScenarioResult> RunAsync(string scenario) =>
        new($"{script} {scenario}", await ClientScripts.RunAsync(script, Product.BaseUrl, ProductFixture.ApiKey, scenario));
}
