using System.Threading.RateLimiting;
using CodexLb.Gateway.Limits;

namespace CodexLb.Tests.Unit;

/// <summary>
/// The per-tenant tables of the gateway's limits: a tenant holding a permit keeps its limiter (and so its count) through
/// any prune, and idle tenants are dropped once the table doubled since its last prune.
/// </summary>
public sealed class TenantTableTests
{
    [Fact]
    public void A_tenant_holding_a_permit_keeps_its_limiter_and_idle_tenants_are_dropped()
    {
        var table = new TenantTable<ConcurrencyLimiter>(
            () => new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = 1, QueueLimit = 0 }), ClientPermits.IsIdle);
        var busy = table.For("busy");
        using var held = busy.AttemptAcquire();
        Assert.True(held.IsAcquired);

        for (var i = 0; i < 10_000; i++) table.For("idle-" + i);

        Assert.True(table.Count < 10_001, $"{table.Count} tenants kept");
        Assert.Same(busy, table.For("busy")); // never dropped: a new limiter would have let a second request in
        Assert.False(table.For("busy").AttemptAcquire().IsAcquired);
    }
}
