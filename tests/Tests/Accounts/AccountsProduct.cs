using CodexLb.Grains.Abstractions;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.Accounts;

/// <summary>
/// The embedded product (<see cref="ProductFixture"/>) with upstream accounts configured: each test starts its own, so
/// cooldowns and placements never leak between tests. Account N's platform key is <c>sk-acct-{name}</c>.
/// </summary>
public sealed class AccountsProduct(Func<AccountsProduct, IEnumerable<string>> args) : ProductFixture
{
    /// <summary>Evaluated once the simulator runs (an account's token URL points at it).</summary>
    protected override IEnumerable<string> ExtraArgs => args(this);

    public static async Task<AccountsProduct> StartAsync(Func<AccountsProduct, IEnumerable<string>> args)
    {
        var product = new AccountsProduct(args);
        await product.InitializeAsync();
        return product;
    }

    public static string Key(string account) => "sk-acct-" + account;

    /// <summary>Platform-key accounts with these names (and weights, default 1), plus any further configuration.</summary>
    public static async Task<AccountsProduct> StartAsync(IEnumerable<(string Name, double Weight)> accounts, params string[] more)
    {
        var args = new List<string>();
        var i = 0;
        foreach (var (name, weight) in accounts)
        {
            args.AddRange([$"--CodexLb:Accounts:{i}:Name", name, $"--CodexLb:Accounts:{i}:ApiKey", Key(name), $"--CodexLb:Accounts:{i}:Weight",
                weight.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            i++;
        }
        args.AddRange(more);
        return await StartAsync(_ => args);
    }

    public IAccountPoolGrain Pool => Grains.GetGrain<IAccountPoolGrain>(IAccountPoolGrain.Key);

    /// <summary>Upstream creates (generating) since <paramref name="from"/>, grouped by the key that made them.</summary>
    public IReadOnlyList<RequestRecord> RequestsSince(int from) => Simulator.Ledger.Requests.Skip(from).Where(r => r.Generate).ToList();

    /// <summary>The account (by its key) a request went upstream with.</summary>
    public static string AccountOf(RequestRecord request) => request.Authorization?.Replace("Bearer sk-acct-", "") ?? "?";

    /// <summary>Waits (generously) until the pool's view satisfies <paramref name="condition"/>.</summary>
    public async Task<IReadOnlyList<AccountHealth>> WaitForHealthAsync(Func<IReadOnlyList<AccountHealth>, bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var health = await Pool.GetHealth();
            if (condition(health) || DateTime.UtcNow > deadline) return health;
            await Task.Delay(50);
        }
    }
}
