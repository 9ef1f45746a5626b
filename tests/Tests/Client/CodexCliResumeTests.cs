using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;
using Xunit.Abstractions;

namespace CodexLb.Tests.Client;

/// <summary>
/// The real Codex CLI, one turn and then several <c>codex exec resume --last</c> turns, each a new CLI process. Over
/// websockets each process warms up with the system items and then sends the whole history anchored on its warm-up;
/// the bridge must still send the provider only what is new.
/// </summary>
[Collection(ProductCollection.Name)]
public sealed class CodexCliResumeTests(ProductFixture product, ITestOutputHelper output)
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Every_generating_frame_after_the_first_carries_only_the_new_items(bool websockets)
    {
        using var codex = new CodexCli(product.BaseUrl, ProductFixture.ApiKey, websockets);
        var before = product.Simulator.Ledger.Requests.Count;

        var first = await codex.ExecAsync("say hi " + Guid.NewGuid().ToString("N")[..8]);
        Assert.True(first.ExitCode == 0 && first.TurnCompleted, first.Describe());
        for (var i = 1; i <= 4; i++)
        {
            var resumed = await codex.ResumeLastAsync($"resume number {i}");
            Assert.True(resumed.ExitCode == 0 && resumed.TurnCompleted, resumed.Describe());
        }

        var upstream = product.Simulator.Ledger.Requests.Skip(before).ToList();
        var ledger = LedgerText.Lines(upstream);
        var recorded = codex.RecordedTurns();
        output.WriteLine(ledger);
        foreach (var turn in recorded) output.WriteLine("client turn: " + turn);
        Assert.Equal(5, recorded.Count);
        var generating = upstream.Where(r => r.Generate).ToList();
        Assert.Equal(5, generating.Count); // one generation per client turn
        Assert.All(upstream, r => Assert.Equal(RequestOutcome.Completed, r.Outcome));
        for (var i = 1; i < generating.Count; i++)
        {
            var (previous, r) = (generating[i - 1], generating[i]);
            Assert.True(r.IsDelta, $"request {r.Id} went upstream in full ({r.InputItemCount} items)");
            // Exactly what the resume added (its new user message, and any context update the CLI itself appended, such as
            // a skill list that changed since the session's first process), anchored on the turn before: the provider's
            // cached context is that turn's whole context and output, so nothing of the history was sent again.
            // The rollout is read right: this turn of it is the resume's, and it added at least its prompt.
            Assert.Contains(recorded[i].Summary, item => item.Contains($"resume number {i}", StringComparison.Ordinal));
            Assert.True(recorded[i].InputItems == r.InputItemCount,
                $"resume {i}: {r.InputItemCount} items upstream; the client added {recorded[i]}\n{ledger}");
            Assert.Equal(previous.ResponseId, r.PreviousResponseId);
            Assert.Equal(previous.ContextTokens + previous.OutputTokens, r.CachedTokens);
        }
        // A resume's warm-up never replaces the provider-side anchor: at most the first process's warm-up went upstream.
        Assert.True(upstream.Count(r => !r.Generate) <= 1, $"{upstream.Count(r => !r.Generate)} warm-ups reached the provider");
        Assert.Single(upstream.Select(r => r.ConnectionId).Distinct());
    }
}
