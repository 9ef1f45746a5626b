using CodexLb.Grains.Abstractions;
using CodexLb.Grains.ClientKeys;
using CodexLb.Tests.Infrastructure;
using CodexLb.Tests.State;
using Microsoft.Extensions.Time.Testing;

namespace CodexLb.Tests.Keys;

/// <summary>A key's daily counts outlive its grain: the store adds increments, and a new activation starts from them.</summary>
public abstract class KeyUsageStoreContract
{
    protected abstract IKeyUsageStore Store { get; }

    [Fact]
    public async Task Increments_add_up_per_model_and_day_and_keys_and_days_stay_apart()
    {
        var key = "k" + Guid.NewGuid().ToString("N")[..8];
        // Today, not a fixed date: the Redis store expires a day's counts two days after it, so a fixed day's writes
        // vanish once the calendar passes it (this test failed on 2026-12-03 for that reason alone).
        var day = DateOnly.FromDateTime(DateTime.UtcNow);
        await Store.AddAsync(key, day, [new ModelUsage("gpt-5.5", 1, 10, 2), new ModelUsage("mini", 1, 0, 0)], CancellationToken.None);
        await Store.AddAsync(key, day, [new ModelUsage("gpt-5.5", 2, 5, 1)], CancellationToken.None);
        await Store.AddAsync(key, day.AddDays(1), [new ModelUsage("gpt-5.5", 7, 7, 7)], CancellationToken.None);
        await Store.AddAsync(key + "-other", day, [new ModelUsage("gpt-5.5", 9, 9, 9)], CancellationToken.None);

        var loaded = (await Store.LoadDayAsync(key, day, CancellationToken.None)).OrderBy(m => m.Model).ToList();
        Assert.Equal([new ModelUsage("gpt-5.5", 3, 15, 3), new ModelUsage("mini", 1, 0, 0)], loaded);
        Assert.Empty(await Store.LoadDayAsync(key, day.AddDays(-1), CancellationToken.None));
    }
}

public sealed class MemoryKeyUsageStoreTests : KeyUsageStoreContract
{
    protected override IKeyUsageStore Store { get; } = new MemoryKeyUsageStore();
}

public sealed class RedisKeyUsageStoreTests(RedisServerFixture server) : KeyUsageStoreContract, IClassFixture<RedisServerFixture>
{
    protected override IKeyUsageStore Store { get; } = new RedisKeyUsageStore(server.Redis, "test:" + Guid.NewGuid().ToString("N")[..6] + ":");
}

public sealed class KeyLedgerSeedTests
{
    [Fact]
    public void A_seeded_day_counts_against_the_daily_budget_and_shows_in_usage_while_the_minute_starts_empty()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero));
        var ledger = new KeyLedger(time);
        ledger.Seed(ledger.Today, [new ModelUsage("gpt-5.5", 4, 900, 100)]);
        ledger.Seed(ledger.Today.AddDays(-1), [new ModelUsage("gpt-5.5", 50, 50, 50)]); // another day: ignored

        var usage = ledger.Usage();
        Assert.Equal([new ModelUsage("gpt-5.5", 4, 900, 100)], usage.Day);
        Assert.Empty(usage.Minute);
        Assert.Equal(KeyLimit.TokensPerDay, ledger.Admit(new KeyLimits(0, 0, TokensPerDay: 1000), "gpt-5.5").Refused);
        Assert.True(ledger.Admit(new KeyLimits(0, 0, TokensPerDay: 1001), "gpt-5.5").IsAdmitted);
    }
}

[Collection(GrainClusterCollection.Name)]
public sealed class ClientKeyGrainPersistenceTests(GrainClusterFixture fixture)
{
    [Fact]
    public async Task A_new_activation_of_a_key_starts_from_the_days_saved_counts()
    {
        var grain = fixture.Grains.GetGrain<IClientKeyGrain>("persist-" + Guid.NewGuid().ToString("N")[..8]);
        var limits = new KeyLimits(0, 0, TokensPerDay: 1000);
        Assert.True((await grain.Admit(limits, "gpt-5.5")).IsAdmitted);
        await grain.Record([new ModelUsage("gpt-5.5", 0, 700, 300)]);
        Assert.Equal(KeyLimit.TokensPerDay, (await grain.Admit(limits, "gpt-5.5")).Refused);

        // Its silo drops it (a deploy, a crash after the last save): the next call is a new activation.
        await grain.AsReference<Orleans.Core.Internal.IGrainManagementExtension>().DeactivateOnIdle();
        await Task.Delay(500);

        var usage = await grain.GetUsage();
        Assert.Empty(usage.Minute); // the minute lives in memory: this is a new activation
        var day = Assert.Single(usage.Day);
        Assert.Equal(new ModelUsage("gpt-5.5", 1, 700, 300), day);
        Assert.Equal(KeyLimit.TokensPerDay, (await grain.Admit(limits, "gpt-5.5")).Refused);
    }

    [Fact]
    public async Task Each_admission_is_saved_about_a_second_later_while_the_grain_stays_active()
    {
        var key = "flush-" + Guid.NewGuid().ToString("N")[..8];
        var grain = fixture.Grains.GetGrain<IClientKeyGrain>(key);
        var day = DateOnly.FromDateTime(DateTime.UtcNow);
        async Task<ModelUsage?> Saved(long requests) =>
            (await fixture.KeyUsage.LoadDayAsync(key, day, CancellationToken.None)).SingleOrDefault(u => u.Requests == requests);

        Assert.True((await grain.Admit(KeyLimits.None, "gpt-5.5")).IsAdmitted);
        await Eventually.ValueAsync(() => Saved(1));
        Assert.True((await grain.Admit(KeyLimits.None, "gpt-5.5")).IsAdmitted); // after that flush ran: arms the next one
        await Eventually.ValueAsync(() => Saved(2));
    }
}
