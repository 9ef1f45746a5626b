using CodexLb.Grains.Abstractions;

namespace CodexLb.Grains.ClientKeys;

/// <summary>
/// One key's counts and the limit rules, apart from the grain so they can be tested with a fake clock. Requests and
/// tokens per model over a sliding minute and the current UTC day. Token limits are checked before a turn and charged
/// when its usage arrives (nobody knows a turn's tokens before it ran), so the turn that crosses a token limit completes
/// and the next one is refused.
/// </summary>
public sealed class KeyLedger(TimeProvider time)
{
    /// <summary>Distinct models tracked per key; more are counted as <see cref="OtherModel"/> (the model is the client's string).</summary>
    public const int MaxModels = 64;
    public const string OtherModel = "other";

    private readonly MinuteWindow _minute = new();
    private readonly Dictionary<string, ModelCounts> _models = new(StringComparer.Ordinal);
    private UsageCounts _today;
    private DateOnly _day;

    private sealed class ModelCounts
    {
        public readonly MinuteWindow Minute = new();
        public UsageCounts Today;
    }

    public KeyAdmission Admit(KeyLimits limits, string model)
    {
        var now = Now(out var second);
        if (limits.TokensPerDay > 0 && _today.Tokens >= limits.TokensPerDay)
            return new KeyAdmission(KeyLimit.TokensPerDay, (int)Math.Ceiling((DayEnd(now) - now).TotalSeconds));
        if (limits.TokensPerMinute > 0 && _minute.SecondsUntilBelow(second, static c => c.Tokens, limits.TokensPerMinute) is > 0 and var tokensWait)
            return new KeyAdmission(KeyLimit.TokensPerMinute, tokensWait);
        if (limits.RequestsPerMinute > 0 && _minute.SecondsUntilBelow(second, static c => c.Requests, limits.RequestsPerMinute) is > 0 and var requestsWait)
            return new KeyAdmission(KeyLimit.RequestsPerMinute, requestsWait);
        Add(second, model, new UsageCounts(1, 0, 0));
        return KeyAdmission.Admitted;
    }

    public void Record(IEnumerable<ModelUsage> usage)
    {
        Now(out var second);
        foreach (var u in usage)
            Add(second, u.Model, new UsageCounts(Math.Max(0, u.Requests), Math.Max(0, u.InputTokens), Math.Max(0, u.OutputTokens)));
    }

    /// <summary>The current UTC day (what <see cref="Seed"/> and the store key their counts by).</summary>
    public DateOnly Today
    {
        get { Now(out _); return _day; }
    }

    /// <summary>Adds a day's counts kept elsewhere (a previous activation's) to today's, leaving the minute alone.</summary>
    public void Seed(DateOnly day, IEnumerable<ModelUsage> usage)
    {
        Now(out _);
        if (day != _day) return;
        foreach (var u in usage)
        {
            var counts = new UsageCounts(u.Requests, u.InputTokens, u.OutputTokens);
            _today += counts;
            var model = _models.ContainsKey(u.Model) || _models.Count < MaxModels ? u.Model : OtherModel;
            if (!_models.TryGetValue(model, out var perModel)) _models[model] = perModel = new ModelCounts();
            perModel.Today += counts;
        }
    }

    public KeyUsage Usage()
    {
        var now = Now(out var second);
        var minute = new List<ModelUsage>();
        var day = new List<ModelUsage>();
        foreach (var (model, counts) in _models.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            var m = counts.Minute.Sum(second);
            if (m != default) minute.Add(new ModelUsage(model, m.Requests, m.InputTokens, m.OutputTokens));
            if (counts.Today != default) day.Add(new ModelUsage(model, counts.Today.Requests, counts.Today.InputTokens, counts.Today.OutputTokens));
        }
        return new KeyUsage([.. minute], [.. day], DayEnd(now));
    }

    private void Add(long second, string model, UsageCounts counts)
    {
        _minute.Add(second, counts);
        _today += counts;
        if (!_models.TryGetValue(model, out var perModel))
        {
            if (_models.Count >= MaxModels) model = OtherModel;
            if (!_models.TryGetValue(model, out perModel)) _models[model] = perModel = new ModelCounts();
        }
        perModel.Minute.Add(second, counts);
        perModel.Today += counts;
    }

    /// <summary>The current time; a new UTC day starts the day's counts afresh (and forgets models idle since).</summary>
    private DateTimeOffset Now(out long second)
    {
        var now = time.GetUtcNow();
        second = now.ToUnixTimeSeconds();
        var day = DateOnly.FromDateTime(now.UtcDateTime);
        if (day != _day)
        {
            _day = day;
            _today = default;
            foreach (var (model, counts) in _models.ToList())
            {
                counts.Today = default;
                if (counts.Minute.IsEmpty(second)) _models.Remove(model);
            }
        }
        return now;
    }

    private static DateTimeOffset DayEnd(DateTimeOffset now) => new(now.UtcDateTime.Date.AddDays(1), TimeSpan.Zero);
}
