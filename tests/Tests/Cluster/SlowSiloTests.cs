using System.Diagnostics;
using CodexLb.Tests.Infrastructure;
using CodexLb.Tests.Recovery;
using Xunit.Abstractions;

namespace CodexLb.Tests.Cluster;

/// <summary>
/// A silo starved of CPU, not dead: stopped and continued by signals (as <c>cpulimit</c> does) so that it runs a tenth of
/// the time, while conversations on it and on the other silo take turns through both gateways. Slow is not lost: every
/// turn completes, once upstream, chained on what the client has, and the slow silo stays a member.
/// </summary>
[Collection(ClusterSmokeCollection.Name)]
public sealed class SlowSiloTests(ITestOutputHelper output)
{
    private const int Conversations = 8, TurnsPerConversation = 9;

    [Fact]
    public async Task Turns_on_a_silo_starved_of_cpu_complete_once_each_and_chained_and_it_stays_a_member()
    {
        await using var cluster = await ClusterHarness.StartAsync(silos: 2, gateways: 2, new ClusterHarnessOptions
        {
            Label = "slow-silo", ApiKey = "sk-slow-silo-key",
            SiloArgs = ["--Logging:LogLevel:Default", "Warning"],
            GatewayArgs = ["--Logging:LogLevel:Default", "Warning"],
            SimulatorArgs = ["--Simulator:FirstEventDelay", "00:00:00.150", "--Simulator:EventDelay", "00:00:00.040"],
        });
        var clock = Stopwatch.StartNew();
        var clients = ChaosClient.Alternating(Conversations, cluster, clock);
        var traffic = Task.WhenAll(clients.Select(c => c.TalkAsync(turn => turn <= TurnsPerConversation, startSpreadMs: 1000, pauseMs: 500, pauseSpreadMs: 1000)));

        // A tenth of the wall for 12 s: 100 ms running in every 1,000. Each stop (900 ms) holds its turns' events, heartbeats
        // and membership probes, but is shorter than a gateway's owner timeout (2 s) and a missed probe (up to 2 s).
        // Once every conversation has its owner, the silo that owns the most is slowed.
        while (clients.Any(c => c.Turns.Count == 0)) await Task.Delay(100);
        var owned = await cluster.ConversationsPerSiloAsync();
        var slow = owned.MaxBy(o => o.Conversations).Silo;
        output.WriteLine($"MEASURED owners: {string.Join(", ", owned.Select(o => $"{o.Silo.Name} {o.Conversations}"))}; slowed {slow.Name}");
        Assert.True(owned.Single(o => o.Silo == slow).Conversations >= 2, "the slowed silo owns too few conversations to say anything");
        var (from, to) = (clock.Elapsed.TotalSeconds, clock.Elapsed.TotalSeconds + 12);
        using (var lift = new CancellationTokenSource(TimeSpan.FromSeconds(12)))
            await slow.ThrottleAsync(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(900), lift.Token);
        await traffic;

        var turns = clients.SelectMany(c => c.Turns).ToList();
        var during = turns.Where(t => t.StartedAt < to && t.EndedAt > from).ToList();
        static string Seconds(IEnumerable<TurnLog> set) => set.Any() ? $"{set.Select(t => t.EndedAt - t.StartedAt).Order().ElementAt(set.Count() / 2):F2}s median, {set.Max(t => t.EndedAt - t.StartedAt):F2}s slowest" : "-";
        output.WriteLine($"MEASURED {turns.Count} turns, {turns.Sum(t => t.Attempts)} attempts; {during.Count} overlapped the throttle ({Seconds(during)}), " +
                         $"the rest {Seconds(turns.Except(during))}");
        foreach (var t in turns.Where(t => t.Errors.Count > 0))
            output.WriteLine($"conv {t.Conversation} turn {t.Turn} ({t.Attempts} attempts): {string.Join(" | ", t.Errors)}");

        Assert.Equal(Conversations * TurnsPerConversation, turns.Count);
        Assert.DoesNotContain(turns.SelectMany(t => t.Errors), e => e.Contains("previous_response_not_found"));
        var ledger = await cluster.Sim.GetRequestsAsync();
        var generated = ledger.Where(r => r.Generate && r.Tag is not null).GroupBy(r => r.Tag!).ToDictionary(g => g.Key, g => g.ToList());
        var byResponse = ledger.Where(r => r.ResponseId is not null).ToDictionary(r => r.ResponseId!);
        foreach (var t in turns)
        {
            var mine = generated.GetValueOrDefault(ChaosClient.TagOf(t.Conversation, t.Turn)) ?? [];
            Assert.True(mine.Count == 1, $"conv {t.Conversation} turn {t.Turn} generated {mine.Count} times: {LedgerText.Lines(mine, " | ")}; errors: {string.Join(" | ", t.Errors)}");
            t.AssertContinued(byResponse[t.ResponseId!]);
        }
        Assert.True(slow.IsRunning, $"the slow silo left the cluster:\n{slow.TailReport()}");
        cluster.ThrowIfAnyExitedUnexpectedly();
    }
}
