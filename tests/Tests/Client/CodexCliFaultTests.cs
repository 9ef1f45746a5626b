using CodexLb.Gateway.Routing;
using CodexLb.Gateway.Security;
using CodexLb.Grains.Abstractions;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace CodexLb.Tests.Client;

/// <summary>
/// The real Codex CLI, over websockets and over HTTP, while the provider drops the upstream socket between turns and
/// in the middle of a turn (in-band simulator directives, each firing once).
/// </summary>
[Collection(ProductCollection.Name)]
public sealed class CodexCliFaultTests(ProductFixture product, ITestOutputHelper output)
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Every_turn_completes_through_upstream_drops_and_later_turns_still_go_as_deltas(bool websockets)
    {
        using var codex = new CodexCli(product.BaseUrl, ProductFixture.ApiKey, websockets);
        var tag = Guid.NewGuid().ToString("N")[..8];
        var before = product.Simulator.Ledger.Requests.Count;

        var first = await codex.ExecAsync($"say hi [sim:close-between-turns#{tag}a]");
        output.WriteLine(first.Describe());
        Assert.True(first.ExitCode == 0 && first.TurnCompleted, first.Describe());

        var second = await codex.ResumeLastAsync($"please RUN_TOOL now [sim:close-after=3#{tag}b]");
        output.WriteLine(second.Describe());
        Assert.True(second.ExitCode == 0 && second.TurnCompleted, second.Describe());

        var third = await codex.ResumeLastAsync("and one more thing");
        output.WriteLine(third.Describe());
        Assert.True(third.ExitCode == 0 && third.TurnCompleted, third.Describe());

        var upstream = product.Simulator.Ledger.Requests.Skip(before).ToList();
        output.WriteLine(LedgerText.Lines(upstream));
        Assert.DoesNotContain(upstream, r => r.ErrorCode == "previous_response_not_found");

        var threadId = first.Events.First(e => e.GetProperty("type").GetString() == "thread.started").GetProperty("thread_id").GetString()!;
        var stats = await product.Grains.GetGrain<IConversationGrain>(ConversationKeyOf(threadId)).GetStats();
        foreach (var t in stats.RecentTurns)
            output.WriteLine($"client anchored={t.ClientAnchored} items={t.ClientItems} sentDelta={t.SentDelta} full={t.FullSends} replays={t.Replays} tokens={t.UpstreamInputTokens} {t.Outcome}");
        Assert.Contains(stats.RecentTurns, t => t.Outcome == "failed:stream_incomplete");
        // The last turn came after both faults: the bridge forwarded it as a delta on a live anchor.
        var last = stats.RecentTurns[^1];
        Assert.Equal("completed", last.Outcome);
        Assert.True(last.SentDelta);
        if (websockets) Assert.True(last.ClientAnchored, "the client fell back to resending its history");
        // No turn after the first carried more than one full send (one per fault at most).
        Assert.All(stats.RecentTurns, t => Assert.True(t.FullSends <= 1));
    }

    private string ConversationKeyOf(string threadId)
    {
        var tenant = product.App.Services.GetRequiredService<ClientAuthenticator>().Authenticate("Bearer " + ProductFixture.ApiKey)!;
        return TurnRouter.SessionKey(tenant, null, new HeaderDictionary { ["thread-id"] = threadId });
    }
}
