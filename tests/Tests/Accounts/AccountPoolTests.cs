using System.Net;
using System.Text.Json.Nodes;
using CodexLb.Grains.Abstractions;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;
using Xunit.Abstractions;

namespace CodexLb.Tests.Accounts;

/// <summary>Placement by capacity, stickiness, failover before the first byte, and every account cooling.</summary>
public sealed class AccountPoolTests(ITestOutputHelper output)
{
    private static JsonObject NewTurn(string text) => Items.Body([Items.Message("developer", "sys"), Items.Message("user", text)]);

    private static Dictionary<string, string> Session(string id) => Items.Session(id);

    [Fact]
    public async Task New_conversations_spread_over_three_accounts_in_proportion_to_capacity_and_stay_on_their_account()
    {
        await using var product = await AccountsProduct.StartAsync([("a", 1), ("b", 1), ("c", 2)]);
        var mark = product.Simulator.Ledger.Requests.Count;
        var sessions = Enumerable.Range(0, 12).Select(i => $"spread-{i}-{Guid.NewGuid():N}").ToList();
        var last = new Dictionary<string, string>();
        foreach (var session in sessions)
        {
            var turn = await SseClient.PostAsync(product.Http, "/v1/responses", NewTurn("hello " + session), Session(session));
            Assert.Equal("response.completed", turn.Terminal?.Type);
            last[session] = turn.ResponseId!;
        }
        var first = product.RequestsSince(mark);
        var perAccount = first.GroupBy(AccountsProduct.AccountOf).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine(string.Join(", ", perAccount.Select(p => $"{p.Key}={p.Value}")));
        Assert.Equal(3, perAccount.GetValueOrDefault("a"));
        Assert.Equal(3, perAccount.GetValueOrDefault("b"));
        Assert.Equal(6, perAccount.GetValueOrDefault("c"));

        // Each conversation's next turn goes to the same account, as a delta on the same socket.
        var accountOf = first.ToDictionary(r => r.ConnectionId!.Value, AccountsProduct.AccountOf);
        mark = product.Simulator.Ledger.Requests.Count;
        foreach (var session in sessions)
            Assert.Equal("response.completed", (await SseClient.PostAsync(product.Http, "/v1/responses",
                Items.Body([Items.Message("user", "again")], previousResponseId: last[session]), Session(session))).Terminal?.Type);
        var second = product.RequestsSince(mark);
        Assert.All(second, r =>
        {
            Assert.True(r.IsDelta, $"request {r.Id} went in full");
            Assert.Equal(accountOf[r.ConnectionId!.Value], AccountsProduct.AccountOf(r));
        });

        // Each account's turns and tokens, as the operator sees them, are what the provider billed it.
        var billed = first.Concat(second).GroupBy(AccountsProduct.AccountOf)
            .ToDictionary(g => g.Key, g => (Turns: g.Count(), Input: g.Sum(r => (long)r.ContextTokens), Output: g.Sum(r => (long)r.OutputTokens)));
        var health = await product.WaitForHealthAsync(h => h.Sum(a => a.Turns) == 24);
        Assert.All(health, a =>
        {
            Assert.Equal(billed[a.Name].Turns, a.Turns);
            Assert.Equal(billed[a.Name].Input, a.InputTokens);
            Assert.Equal(billed[a.Name].Output, a.OutputTokens);
            Assert.True(a.OutputTokens > 0, $"{a.Name} reported no output tokens");
        });
    }

    [Fact]
    public async Task An_account_that_starts_answering_429_gets_no_new_conversation_and_its_conversations_move_before_the_first_byte()
    {
        await using var product = await AccountsProduct.StartAsync([("a", 1), ("b", 1), ("c", 1)]);
        var sessions = Enumerable.Range(0, 3).Select(i => $"limit-{i}-{Guid.NewGuid():N}").ToList();
        var firstIds = new Dictionary<string, TurnResult>();
        foreach (var session in sessions)
        {
            var turn = await SseClient.PostAsync(product.Http, "/v1/responses", NewTurn("first " + session), Session(session));
            Assert.Equal("response.completed", turn.Terminal?.Type);
            firstIds[session] = turn;
        }
        var onA = sessions.Single(s => AccountsProduct.AccountOf(product.Simulator.Ledger.Requests.Single(r => r.ResponseId == firstIds[s].ResponseId)) == "a");
        var contextOfA = product.Simulator.Ledger.Requests.Single(r => r.ResponseId == firstIds[onA].ResponseId);

        // Account a is rate limited from now on: its open socket answers 429 frames, new handshakes 429.
        product.Simulator.Keys.Set(AccountsProduct.Key("a"), new KeyPolicy { Quota = 0, RetryAfter = TimeSpan.FromSeconds(120) });
        var mark = product.Simulator.Ledger.Requests.Count;
        var secondIds = new Dictionary<string, string>();
        foreach (var session in sessions)
        {
            var turn = await SseClient.PostAsync(product.Http, "/v1/responses",
                Items.Body([Items.Message("user", "second")], previousResponseId: firstIds[session].ResponseId), Session(session));
            Assert.True(turn.Status == HttpStatusCode.OK && turn.Terminal?.Type == "response.completed", $"{session}: {turn.Status} {turn.RawBody[..Math.Min(300, turn.RawBody.Length)]}");
            secondIds[session] = turn.ResponseId!;
        }
        var moved = product.Simulator.Ledger.Requests.Skip(mark).Where(r => r.Generate).ToList();
        foreach (var r in moved) output.WriteLine($"{AccountsProduct.AccountOf(r)} conn {r.ConnectionId} delta={r.IsDelta} items={r.InputItemCount} ctx={r.ContextTokens} {r.Outcome} {r.ErrorCode}");
        var refused = Assert.Single(moved, r => AccountsProduct.AccountOf(r) == "a");
        Assert.Equal("rate_limit_exceeded", refused.ErrorCode);
        var resend = moved.Single(r => r.Outcome == RequestOutcome.Completed && !r.IsDelta);
        Assert.NotEqual("a", AccountsProduct.AccountOf(resend));
        // The move is one full resend of the conversation's context (its first turn's context and output, then the new message).
        Assert.True(resend.ContextTokens >= contextOfA.ContextTokens + contextOfA.OutputTokens,
            $"moved context {resend.ContextTokens} < {contextOfA.ContextTokens}+{contextOfA.OutputTokens}");

        var health = await product.WaitForHealthAsync(h => h.Single(x => x.Name == "a").State == AccountState.Cooling);
        Assert.Equal(AccountState.Cooling, health.Single(x => x.Name == "a").State);

        // New conversations avoid a while it cools: not even a handshake goes to it.
        var connections = product.Simulator.Ledger.Connections.Count;
        mark = product.Simulator.Ledger.Requests.Count;
        for (var i = 0; i < 6; i++)
            Assert.Equal("response.completed", (await SseClient.PostAsync(product.Http, "/v1/responses", NewTurn($"new {i} {Guid.NewGuid():N}"))).Terminal?.Type);
        Assert.DoesNotContain(product.RequestsSince(mark), r => AccountsProduct.AccountOf(r) == "a");
        Assert.DoesNotContain(product.Simulator.Ledger.Connections.Skip(connections), c => c.Authorization == "Bearer " + AccountsProduct.Key("a"));

        // The moved conversation continues on its new account as deltas again.
        mark = product.Simulator.Ledger.Requests.Count;
        var third = await SseClient.PostAsync(product.Http, "/v1/responses", Items.Body([Items.Message("user", "third")], previousResponseId: secondIds[onA]), Session(onA));
        Assert.Equal("response.completed", third.Terminal?.Type);
        var next = Assert.Single(product.RequestsSince(mark));
        Assert.True(next.IsDelta, "the turn after the move went in full");
        Assert.Equal(AccountsProduct.AccountOf(resend), AccountsProduct.AccountOf(next));
    }

    [Fact]
    public async Task A_rate_limit_after_the_first_byte_ends_that_turn_retryably_and_cools_the_account_for_the_next_conversations()
    {
        await using var product = await AccountsProduct.StartAsync([("a", 1), ("b", 1)]);
        var marker = "late-limit-" + Guid.NewGuid().ToString("N")[..8];
        product.Simulator.Faults.Add(Fault.Failed("rate_limit_exceeded", "Rate limit reached.").WhenTextContains(marker).Times(1));
        var mark = product.Simulator.Ledger.Requests.Count;

        var turn = await SseClient.PostAsync(product.Http, "/v1/responses", NewTurn("stream then fail " + marker), Session("late-" + marker));
        Assert.Equal("response.created", turn.Events[0].Type); // bytes reached the client: the turn could not move
        Assert.Equal("response.failed", turn.Terminal?.Type);
        var limited = AccountsProduct.AccountOf(Assert.Single(product.RequestsSince(mark)));

        var health = await product.WaitForHealthAsync(h => h.Single(x => x.Name == limited).State == AccountState.Cooling);
        Assert.Equal(AccountState.Cooling, health.Single(x => x.Name == limited).State);
        mark = product.Simulator.Ledger.Requests.Count;
        for (var i = 0; i < 3; i++)
            Assert.Equal("response.completed", (await SseClient.PostAsync(product.Http, "/v1/responses", NewTurn($"after {i} {marker}"),
                Session($"after-{i}-{marker}"))).Terminal?.Type);
        Assert.All(product.RequestsSince(mark), r => Assert.NotEqual(limited, AccountsProduct.AccountOf(r)));
    }
}
