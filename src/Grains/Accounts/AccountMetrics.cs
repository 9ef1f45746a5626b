using System.Diagnostics.Metrics;

namespace CodexLb.Grains.Accounts;

/// <summary>The account pool's meter (exported with the grains' meter name): failovers, stripped reasoning, state changes.</summary>
public static class AccountMetrics
{
    private static readonly Meter Meter = new(Telemetry.BridgeMetrics.MeterName);

    public static readonly Counter<long> Failovers = Meter.CreateCounter<long>("codexlb.account.failovers",
        description: "Turns moved to another upstream account before their first byte, by reason (rate_limited, usage_limit_reached, insufficient_quota, auth_failed, cooling)");

    public static readonly Counter<long> ReasoningStripped = Meter.CreateCounter<long>("codexlb.reasoning_items.stripped",
        description: "Reasoning items left out of a resend because another account (organisation) produced them");

    public static readonly Counter<long> StateChanges = Meter.CreateCounter<long>("codexlb.account.state_changes",
        description: "Upstream account state changes, by new state (ready, cooling, exhausted, reauthrequired)");

    public static readonly Counter<long> Unavailable = Meter.CreateCounter<long>("codexlb.account.pool_exhausted",
        description: "Turns answered 429 because no upstream account could serve");
}
