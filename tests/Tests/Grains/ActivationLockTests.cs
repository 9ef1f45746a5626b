using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Xunit.Abstractions;

namespace CodexLb.Tests.Grains;

/// <summary>
/// New activations that message each other as they start must not deadlock (Orleans 10.4 starts an activation under its
/// lock: src/Grains/Hosting/ActivationStartsOutsideLock.cs). The pair that did, after a silo stop: the account pool (its
/// activation asks every account for its health) and an account (its first report pushes to the pool).
/// Without the yield this test hangs in its first or second round.
/// </summary>
public sealed class ActivationLockTests(ITestOutputHelper output)
{
    private const int Accounts = 64;

    [Fact]
    public async Task The_pool_and_its_accounts_activating_at_once_all_answer()
    {
        // Each round starts a fresh silo: the pool and every account activate together, from two directions at once.
        for (var round = 0; round < 4; round++)
        {
            var cluster = await StartAsync();
            try
            {
                var grains = cluster.Client;
                var names = Enumerable.Range(0, Accounts).Select(i => "acct-" + i).ToArray();
                // The accounts' first calls push health to the pool while the pool's activation asks each for its own.
                var reports = names.Select(n => grains.GetGrain<IAccountGrain>(n).Report(new AccountReport { Event = AccountEvent.SocketOpened }));
                var pool = grains.GetGrain<IAccountPoolGrain>(IAccountPoolGrain.Key).GetHealth();
                await Task.WhenAll(reports).WaitAsync(TimeSpan.FromSeconds(20));
                var health = await pool.WaitAsync(TimeSpan.FromSeconds(20));
                Assert.Equal(Accounts, health.Count);
                // Every account still answers (a deadlocked activation never would).
                var each = await Task.WhenAll(names.Select(n => grains.GetGrain<IAccountGrain>(n).GetHealth())).WaitAsync(TimeSpan.FromSeconds(20));
                Assert.Equal(names, each.Select(h => h.Name));
                output.WriteLine($"round {round}: pool and {Accounts} accounts answered");
            }
            finally
            {
                // A deadlocked silo never stops: do not let it hold the test run.
                await cluster.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
            }
        }
    }

    private static async Task<InProcessTestCluster> StartAsync()
    {
        var settings = new Dictionary<string, string?>
        {
            ["CodexLb:Upstream:BaseUrl"] = "http://127.0.0.1:9/v1",
            ["CodexLb:Upstream:ApiKey"] = "sk-unused",
        };
        for (var i = 0; i < Accounts; i++)
        {
            settings[$"CodexLb:Accounts:{i}:Name"] = "acct-" + i;
            settings[$"CodexLb:Accounts:{i}:ApiKey"] = "sk-acct-" + i;
        }
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddSingleton<IConfiguration>(configuration);
            silo.Services.AddConversationGrainServices(configuration);
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }
}
