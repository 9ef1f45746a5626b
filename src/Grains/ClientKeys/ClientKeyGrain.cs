using CodexLb.Grains.Abstractions;

namespace CodexLb.Grains.ClientKeys;

/// <summary>
/// A client key's limits and usage (see <see cref="IClientKeyGrain"/>). Calls run one at a time and never await, so an
/// admission is exact however many gateways ask at once. The counts live in memory: an idle activation stays a day (its
/// day's counts are empty after that anyway); a silo's loss or restart forgets the current minute and day of its keys.
/// </summary>
[CollectionAgeLimit("1.00:00:00")]
public sealed class ClientKeyGrain(TimeProvider time) : Grain, IClientKeyGrain
{
    private readonly KeyLedger _ledger = new(time);

    public Task<KeyAdmission> Admit(KeyLimits limits, string model) => Task.FromResult(_ledger.Admit(limits, model));

    public Task Record(ModelUsage[] usage)
    {
        _ledger.Record(usage);
        return Task.CompletedTask;
    }

    public Task<KeyUsage> GetUsage() => Task.FromResult(_ledger.Usage());
}
