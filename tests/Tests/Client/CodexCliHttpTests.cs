using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;
using Xunit.Abstractions;

namespace CodexLb.Tests.Client;

/// <summary>The real Codex CLI over HTTP against the embedded product: exec, then resume with a tool call.</summary>
[Collection(ProductCollection.Name)]
public sealed class CodexCliHttpTests(ProductFixture product, ITestOutputHelper output)
{
    [Fact]
    public async Task Exec_then_resume_with_a_tool_call_continue_as_deltas_over_one_upstream_socket()
    {
        using var codex = new CodexCli(product.BaseUrl, ProductFixture.ApiKey, websockets: false);
        var before = product.Simulator.Ledger.Requests.Count;

        var first = await codex.ExecAsync("say hi");
        output.WriteLine(first.Describe());
        Assert.True(first.ExitCode == 0 && first.TurnCompleted, first.Describe());

        var second = await codex.ResumeLastAsync("please RUN_TOOL now");
        output.WriteLine(second.Describe());
        Assert.True(second.ExitCode == 0 && second.TurnCompleted, second.Describe());
        Assert.Contains(second.Events, e => e.TryGetProperty("item", out var item) && item.TryGetProperty("type", out var t) && t.GetString() == "command_execution");

        var upstream = product.Simulator.Ledger.Requests.Skip(before).ToList();
        output.WriteLine(LedgerText.Lines(upstream));
        // exec (1 request), resume: the tool call and its follow-up (2 requests).
        Assert.True(upstream.Count >= 3, $"expected at least 3 upstream requests, saw {upstream.Count}");
        Assert.All(upstream, r => Assert.Equal(RequestOutcome.Completed, r.Outcome));
        Assert.Single(upstream.Select(r => r.ConnectionId).Distinct());
        Assert.False(upstream[0].IsDelta);
        Assert.All(upstream.Skip(1), r =>
        {
            Assert.True(r.IsDelta, $"request {r.IndexOnConnection} went as a full send");
            Assert.True(r.AnchorValid);
            Assert.NotNull(r.PreviousResponseId);
        });
    }
}
