namespace CodexLb.Grains.ClientKeys;

/// <summary>Requests and tokens, added up.</summary>
public record struct UsageCounts(long Requests, long InputTokens, long OutputTokens)
{
    public readonly long Tokens => InputTokens + OutputTokens;

    public static UsageCounts operator +(UsageCounts a, UsageCounts b) =>
        new(a.Requests + b.Requests, a.InputTokens + b.InputTokens, a.OutputTokens + b.OutputTokens);
}

/// <summary>
/// A sliding minute in sixty one-second buckets: what was counted in the last 60 seconds (to the second), and when
/// enough of it will have slid out to fall under a limit. Fixed size, whatever the rate.
/// </summary>
public sealed class MinuteWindow
{
    public const int Seconds = 60;
    private readonly long[] _second = new long[Seconds]; // the Unix second each bucket currently holds
    private readonly UsageCounts[] _counts = new UsageCounts[Seconds];

    public void Add(long now, UsageCounts counts)
    {
        var i = Index(now);
        if (_second[i] != now) (_second[i], _counts[i]) = (now, default);
        _counts[i] += counts;
    }

    public UsageCounts Sum(long now)
    {
        var sum = default(UsageCounts);
        for (var i = 0; i < Seconds; i++)
            if (Live(_second[i], now)) sum += _counts[i];
        return sum;
    }

    /// <summary>Seconds until the measure of the window is below <paramref name="limit"/> (0 when it already is): the oldest buckets slide out first.</summary>
    public int SecondsUntilBelow(long now, Func<UsageCounts, long> measure, long limit)
    {
        var total = measure(Sum(now));
        if (total < limit) return 0;
        for (var second = now - Seconds + 1; second <= now; second++)
        {
            var i = Index(second);
            if (_second[i] != second) continue;
            total -= measure(_counts[i]);
            if (total < limit) return (int)(second + Seconds - now); // the bucket leaves the window at second + 60
        }
        return Seconds;
    }

    public bool IsEmpty(long now) => Sum(now) == default;

    private static bool Live(long second, long now) => second <= now && now - second < Seconds && second != 0;

    private static int Index(long second) => (int)(((second % Seconds) + Seconds) % Seconds);
}
