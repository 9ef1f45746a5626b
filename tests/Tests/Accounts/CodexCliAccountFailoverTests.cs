using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;
using Xunit.Abstractions;

namespace CodexLb.Tests.Accounts;

/// <summary>
/// The real Codex CLI runs a multi-turn session (one turn, then <c>codex exec resume --last</c>) while the account its
/// conversation is on runs out between turns: the session carries on, on another account, and the CLI never sees an error.
/// </summary>
public sealed class CodexCliAccountFailoverTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(true, SpentQuota.UsageLimit)]
    [InlineData(false, SpentQuota.RateLimit)]
    public async Task A_codex_session_survives_its_account_running_out_between_turns(bool websockets, SpentQuota limit)
    {
        await using var product = await AccountsProduct.StartAsync([("a", 1), ("b", 1)]);
        using var codex = new CodexCli(product.BaseUrl, ProductFixture.ApiKey, websockets);

        var first = await codex.ExecAsync("say hi " + Guid.NewGuid().ToString("N")[..8]);
        Assert.True(first.ExitCode == 0 && first.TurnCompleted, first.Describe());
        var account = AccountsProduct.AccountOf(product.RequestsSince(0).Last());
        var other = account == "a" ? "b" : "a";

        product.Simulator.Keys.Set(AccountsProduct.Key(account), new KeyPolicy { Quota = 0, Limit = limit, RetryAfter = TimeSpan.FromMinutes(5) });
        var mark = product.Simulator.Ledger.Requests.Count;
        for (var i = 1; i <= 3; i++)
        {
            var resumed = await codex.ResumeLastAsync($"resume number {i}");
            Assert.True(resumed.ExitCode == 0 && resumed.TurnCompleted, resumed.Describe());
        }

        var after = product.RequestsSince(mark);
        foreach (var r in after)
            output.WriteLine($"{AccountsProduct.AccountOf(r)} {LedgerText.Line(r)}");
        var completed = after.Where(r => r.Outcome == RequestOutcome.Completed).ToList();
        Assert.Equal(3, completed.Count); // one generation per CLI turn
        Assert.All(completed, r => Assert.Equal(other, AccountsProduct.AccountOf(r)));
        Assert.False(completed[0].IsDelta); // the move: the whole context once, on the new account
        Assert.All(completed.Skip(1), r => Assert.True(r.IsDelta, $"request {r.Id} went in full after the move"));
        Assert.All(after.Where(r => r.Outcome != RequestOutcome.Completed), r => Assert.Equal(account, AccountsProduct.AccountOf(r)));
    }
}
