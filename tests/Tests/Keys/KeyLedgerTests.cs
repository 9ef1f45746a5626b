using CodexLb.Grains.Abstractions;
using CodexLb.Grains.ClientKeys;
using Microsoft.Extensions.Time.Testing;

namespace CodexLb.Tests.Keys;

/// <summary>A key's windows and limits on a fake clock: the sliding minute, the UTC day, the order of the limits and Retry-After.</summary>
public sealed class KeyLedgerTests
{
    // 10:00:00 UTC: a day with room on both sides.
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 3, 14, 10, 0, 0, TimeSpan.Zero));

    private KeyLedger Ledger() => new(_time);

    [Fact]
    public void Requests_past_the_per_minute_limit_are_refused_until_the_oldest_slide_out()
    {
        var ledger = Ledger();
        var limits = new KeyLimits(RequestsPerMinute: 3, 0, 0);
        Assert.True(ledger.Admit(limits, "m").IsAdmitted);           // t = 0
        Assert.True(ledger.Admit(limits, "m").IsAdmitted);           // t = 0
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(ledger.Admit(limits, "m").IsAdmitted);           // t = 30

        _time.Advance(TimeSpan.FromSeconds(1));                      // t = 31
        var refused = ledger.Admit(limits, "m");
        Assert.Equal(KeyLimit.RequestsPerMinute, refused.Refused);
        Assert.Equal(29, refused.RetryAfterSeconds);                 // the two of t = 0 leave the window at t = 60

        _time.Advance(TimeSpan.FromSeconds(28));                     // t = 59: still inside
        Assert.False(ledger.Admit(limits, "m").IsAdmitted);
        _time.Advance(TimeSpan.FromSeconds(1));                      // t = 60: two slid out, room for two
        Assert.True(ledger.Admit(limits, "m").IsAdmitted);
        Assert.True(ledger.Admit(limits, "m").IsAdmitted);
        var again = ledger.Admit(limits, "m");
        Assert.Equal(KeyLimit.RequestsPerMinute, again.Refused);
        Assert.Equal(30, again.RetryAfterSeconds);                   // the one of t = 30 leaves at t = 90
    }

    [Fact]
    public void Refused_turns_are_not_counted()
    {
        var ledger = Ledger();
        var limits = new KeyLimits(2, 0, 0);
        for (var i = 0; i < 10; i++) ledger.Admit(limits, "m");
        var usage = ledger.Usage();
        Assert.Equal(2, Assert.Single(usage.Minute).Requests);
        Assert.Equal(2, Assert.Single(usage.Day).Requests);
    }

    [Fact]
    public void Tokens_per_minute_refuse_the_next_turn_once_reached_and_recover_as_they_slide_out()
    {
        var ledger = Ledger();
        var limits = new KeyLimits(0, TokensPerMinute: 1_000, 0);
        Assert.True(ledger.Admit(limits, "m").IsAdmitted);
        ledger.Record([new ModelUsage("m", 0, 600, 100)]);           // t = 0: 700
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(ledger.Admit(limits, "m").IsAdmitted);           // 700 < 1000: admitted, its cost is not known yet
        ledger.Record([new ModelUsage("m", 0, 250, 150)]);           // t = 10: 1100, over

        _time.Advance(TimeSpan.FromSeconds(5));                      // t = 15
        var refused = ledger.Admit(limits, "m");
        Assert.Equal(KeyLimit.TokensPerMinute, refused.Refused);
        Assert.Equal(45, refused.RetryAfterSeconds);                 // the 700 of t = 0 leave at t = 60: 400 < 1000

        _time.Advance(TimeSpan.FromSeconds(45));
        Assert.True(ledger.Admit(limits, "m").IsAdmitted);
    }

    [Fact]
    public void The_daily_budget_is_insufficient_quota_until_midnight_utc_and_a_new_day_starts_afresh()
    {
        var ledger = Ledger();
        var limits = new KeyLimits(RequestsPerMinute: 1, TokensPerMinute: 10, TokensPerDay: 5_000);
        Assert.True(ledger.Admit(limits, "m").IsAdmitted);
        ledger.Record([new ModelUsage("m", 0, 4_000, 1_500)]);

        var refused = ledger.Admit(limits, "m");
        Assert.Equal(KeyLimit.TokensPerDay, refused.Refused);        // the day is checked first: it is the longest wait
        Assert.Equal(14 * 3600, refused.RetryAfterSeconds);          // 10:00 -> 24:00

        _time.Advance(TimeSpan.FromHours(3));
        Assert.Equal(KeyLimit.TokensPerDay, ledger.Admit(limits, "m").Refused);
        _time.Advance(TimeSpan.FromHours(11));                       // 00:00 the next day
        Assert.True(ledger.Admit(limits, "m").IsAdmitted);
        var usage = ledger.Usage();
        Assert.Equal(1, Assert.Single(usage.Day).Requests);
        Assert.Equal(0, usage.Day[0].TotalTokens);
        Assert.Equal(new DateTimeOffset(2025, 3, 16, 0, 0, 0, TimeSpan.Zero), usage.DayEndsAt);
    }

    [Fact]
    public void Usage_is_per_model_the_minute_slides_and_the_day_stays()
    {
        var ledger = Ledger();
        ledger.Record([new ModelUsage("a", 2, 100, 10), new ModelUsage("b", 1, 50, 5)]);
        _time.Advance(TimeSpan.FromSeconds(30));
        ledger.Record([new ModelUsage("a", 1, 1, 1)]);

        var now = ledger.Usage();
        Assert.Equal([("a", 3L, 101L, 11L), ("b", 1L, 50L, 5L)], now.Minute.Select(m => (m.Model, m.Requests, m.InputTokens, m.OutputTokens)));
        _time.Advance(TimeSpan.FromSeconds(40));                     // t = 70: only t = 30 is still in the minute
        var later = ledger.Usage();
        Assert.Equal([("a", 1L, 1L, 1L)], later.Minute.Select(m => (m.Model, m.Requests, m.InputTokens, m.OutputTokens)));
        Assert.Equal([("a", 3L, 101L, 11L), ("b", 1L, 50L, 5L)], later.Day.Select(m => (m.Model, m.Requests, m.InputTokens, m.OutputTokens)));
    }

    [Fact]
    public void A_key_without_limits_is_never_refused()
    {
        var ledger = Ledger();
        ledger.Record([new ModelUsage("m", 1_000_000, 1_000_000_000, 1_000_000_000)]);
        Assert.True(ledger.Admit(KeyLimits.None, "m").IsAdmitted);
    }

    [Fact]
    public void Past_the_model_bound_further_models_are_counted_as_other()
    {
        var ledger = Ledger();
        for (var i = 0; i < KeyLedger.MaxModels + 10; i++) ledger.Record([new ModelUsage($"model-{i}", 1, 0, 0)]);
        var day = ledger.Usage().Day;
        Assert.Equal(KeyLedger.MaxModels + 1, day.Length);
        Assert.Equal(10, day.Single(m => m.Model == KeyLedger.OtherModel).Requests);
        Assert.Equal(KeyLedger.MaxModels + 10, day.Sum(m => m.Requests));
    }

    [Fact]
    public void The_minute_window_counts_the_last_sixty_seconds_to_the_second()
    {
        var window = new MinuteWindow();
        for (long second = 1_000; second < 1_120; second++) window.Add(second, new UsageCounts(1, 0, 0));
        Assert.Equal(60, window.Sum(1_119).Requests);                // 1060..1119
        Assert.Equal(30, window.Sum(1_149).Requests);                // 1090..1119
        Assert.Equal(0, window.Sum(1_179).Requests);
        Assert.Equal(1, window.SecondsUntilBelow(1_119, c => c.Requests, 60));  // 1060 leaves at 1120
        Assert.Equal(0, window.SecondsUntilBelow(1_119, c => c.Requests, 61));
    }
}
