using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Timing;
using Microsoft.Extensions.Logging;

namespace CodexLb.Grains.ClientKeys;

/// <summary>
/// A client key's limits and usage (see <see cref="IClientKeyGrain"/>). Calls run one at a time and never await, so an
/// admission is exact however many gateways ask at once. The day's counts are read from <see cref="IKeyUsageStore"/> on
/// activation and what changed is written back a second after its first change (and on deactivation), so a silo's loss or a rolling deploy
/// costs at most a second of a key's daily count, never its whole budget; the sliding minute lives in memory only.
/// </summary>
[CollectionAgeLimit("1.00:00:00")]
public sealed partial class ClientKeyGrain(TimeProvider time, IKeyUsageStore store, ILogger<ClientKeyGrain> logger) : Grain, IClientKeyGrain
{
    private static readonly TimeSpan FlushPeriod = TimeSpan.FromSeconds(1);
    private readonly KeyLedger _ledger = new(time);
    private readonly Dictionary<(DateOnly Day, string Model), ModelUsage> _unsaved = [];
    private PendingGrainFlush? _flush;

    private string Key => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var day = _ledger.Today;
        _ledger.Seed(day, await store.LoadDayAsync(Key, day, cancellationToken));
        _flush = new PendingGrainFlush(this, FlushAsync, FlushPeriod);
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _flush = null; // the last flush: what it fails to write is not armed again on a grain that is going
        return FlushAsync(cancellationToken);
    }

    public Task<KeyAdmission> Admit(KeyLimits limits, string model)
    {
        var admission = _ledger.Admit(limits, model);
        if (admission.IsAdmitted) Unsaved(_ledger.Today, new ModelUsage(model, 1, 0, 0));
        return Task.FromResult(admission);
    }

    public Task Record(ModelUsage[] usage)
    {
        _ledger.Record(usage);
        foreach (var u in usage) Unsaved(_ledger.Today, u);
        return Task.CompletedTask;
    }

    public Task<KeyUsage> GetUsage() => Task.FromResult(_ledger.Usage());

    private void Unsaved(DateOnly day, ModelUsage delta)
    {
        var at = (day, delta.Model);
        _unsaved[at] = _unsaved.TryGetValue(at, out var u)
            ? u with { Requests = u.Requests + delta.Requests, InputTokens = u.InputTokens + delta.InputTokens, OutputTokens = u.OutputTokens + delta.OutputTokens }
            : delta;
        _flush?.Arm();
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_unsaved.Count == 0) return;
        var batch = _unsaved.ToList();
        _unsaved.Clear();
        foreach (var day in batch.GroupBy(b => b.Key.Day))
        {
            try
            {
                await store.AddAsync(Key, day.Key, [.. day.Select(b => b.Value)], cancellationToken);
            }
            catch (Exception ex)
            {
                // Kept for the next flush: the counts in memory stay exact meanwhile; only a loss of this silo would lose them.
                foreach (var (at, usage) in day) Unsaved(at.Day, usage);
                LogFlushFailed(logger, ex);
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A client key's usage could not be saved; it is retried")]
    private static partial void LogFlushFailed(ILogger logger, Exception ex);
}
