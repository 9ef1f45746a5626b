using CodexLb.Grains.Abstractions;

namespace CodexLb.Grains.ClientKeys;

/// <summary>
/// A key's counts for one UTC day, outside its grain, so a silo's loss or a rolling deploy does not hand a key a fresh
/// daily budget. Written as increments (several activations in a split-brain moment add, never overwrite), kept two days.
/// </summary>
public interface IKeyUsageStore
{
    Task<IReadOnlyList<ModelUsage>> LoadDayAsync(string usageKey, DateOnly day, CancellationToken cancellationToken);

    Task AddAsync(string usageKey, DateOnly day, IReadOnlyList<ModelUsage> deltas, CancellationToken cancellationToken);
}

/// <summary>The embedded default: the day's counts in this process (they outlive an activation, not the process).</summary>
public sealed class MemoryKeyUsageStore : IKeyUsageStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Key, DateOnly Day), Dictionary<string, ModelUsage>> _days = [];
    private DateOnly _swept;

    public Task<IReadOnlyList<ModelUsage>> LoadDayAsync(string usageKey, DateOnly day, CancellationToken cancellationToken)
    {
        lock (_lock)
            return Task.FromResult<IReadOnlyList<ModelUsage>>(_days.TryGetValue((usageKey, day), out var models) ? [.. models.Values] : []);
    }

    public Task AddAsync(string usageKey, DateOnly day, IReadOnlyList<ModelUsage> deltas, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (day > _swept)
            {
                // Once per new day, not per write: what is older than yesterday is kept nowhere (Redis expires it too).
                _swept = day;
                foreach (var stale in _days.Keys.Where(k => k.Day < day.AddDays(-1)).ToList()) _days.Remove(stale);
            }
            if (!_days.TryGetValue((usageKey, day), out var models)) _days[(usageKey, day)] = models = new(StringComparer.Ordinal);
            foreach (var d in deltas)
                models[d.Model] = models.TryGetValue(d.Model, out var m)
                    ? m with { Requests = m.Requests + d.Requests, InputTokens = m.InputTokens + d.InputTokens, OutputTokens = m.OutputTokens + d.OutputTokens }
                    : d;
        }
        return Task.CompletedTask;
    }
}
