using System.Globalization;
using CodexLb.Grains.Abstractions;
using StackExchange.Redis;

namespace CodexLb.Grains.ClientKeys;

/// <summary>
/// Production: one Redis hash per key and day (<c>{prefix}usage:{key}:{yyyyMMdd}</c>), fields <c>{model}\n{r|i|o}</c>
/// incremented in one transaction, expiring two days after the day began.
/// </summary>
public sealed class RedisKeyUsageStore(IConnectionMultiplexer redis, string keyPrefix) : IKeyUsageStore
{
    public async Task<IReadOnlyList<ModelUsage>> LoadDayAsync(string usageKey, DateOnly day, CancellationToken cancellationToken)
    {
        var fields = await redis.GetDatabase().HashGetAllAsync(Key(usageKey, day));
        var models = new Dictionary<string, ModelUsage>(StringComparer.Ordinal);
        foreach (var field in fields)
        {
            var name = (string)field.Name!;
            var split = name.LastIndexOf('\n');
            if (split <= 0 || !field.Value.TryParse(out long value)) continue;
            var model = name[..split];
            var m = models.GetValueOrDefault(model) ?? new ModelUsage(model, 0, 0, 0);
            models[model] = name[(split + 1)..] switch
            {
                "r" => m with { Requests = value },
                "i" => m with { InputTokens = value },
                "o" => m with { OutputTokens = value },
                _ => m,
            };
        }
        return [.. models.Values];
    }

    public async Task AddAsync(string usageKey, DateOnly day, IReadOnlyList<ModelUsage> deltas, CancellationToken cancellationToken)
    {
        var key = Key(usageKey, day);
        var batch = redis.GetDatabase().CreateTransaction();
        var writes = new List<Task>();
        foreach (var d in deltas)
        {
            if (d.Requests != 0) writes.Add(batch.HashIncrementAsync(key, d.Model + "\nr", d.Requests));
            if (d.InputTokens != 0) writes.Add(batch.HashIncrementAsync(key, d.Model + "\ni", d.InputTokens));
            if (d.OutputTokens != 0) writes.Add(batch.HashIncrementAsync(key, d.Model + "\no", d.OutputTokens));
        }
        writes.Add(batch.KeyExpireAsync(key, day.AddDays(2).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc)));
        await batch.ExecuteAsync();
        await Task.WhenAll(writes);
    }

    private RedisKey Key(string usageKey, DateOnly day) => $"{keyPrefix}usage:{usageKey}:{day.ToString("yyyyMMdd", CultureInfo.InvariantCulture)}";
}
