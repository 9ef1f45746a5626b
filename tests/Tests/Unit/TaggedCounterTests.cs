using System.Diagnostics.Metrics;
using CodexLb.Protocol.Telemetry;

namespace CodexLb.Tests.Unit;

public sealed class TaggedCounterTests
{
    [Fact]
    public void Each_combination_of_tag_values_reports_its_own_running_total_when_collected()
    {
        using var meter = new Meter("test." + Guid.NewGuid().ToString("N"));
        var counter = new TaggedCounter(meter, "turns", null, null, "transport", "outcome");
        var bytes = new TaggedCounter(meter, "bytes", "By", null);
        counter.Add(1, "http", "completed");
        counter.Add(2, "http", "completed");
        counter.Add(1, "websocket", "completed");
        counter.Add(5, "http", "failed");
        bytes.Add(100);
        bytes.Add(23);

        var first = Collect(meter);
        Assert.Equal(3, first["turns|transport=http,outcome=completed"]);
        Assert.Equal(1, first["turns|transport=websocket,outcome=completed"]);
        Assert.Equal(5, first["turns|transport=http,outcome=failed"]);
        Assert.Equal(123, first["bytes|"]);
        Assert.Equal(4, first.Count);

        // Cumulative, as a counter is: a later collection reports the totals so far, not what was added since.
        counter.Add(1, "http", "completed");
        Assert.Equal(4, Collect(meter)["turns|transport=http,outcome=completed"]);
    }

    [Fact]
    public void Adds_from_many_threads_are_all_counted()
    {
        using var meter = new Meter("test." + Guid.NewGuid().ToString("N"));
        var counter = new TaggedCounter(meter, "sends", null, null, "kind");
        Parallel.For(0, 8, worker =>
        {
            for (var i = 0; i < 10_000; i++) counter.Add(1, i % 2 == 0 ? "delta" : "full");
        });
        var totals = Collect(meter);
        Assert.Equal(40_000, totals["sends|kind=delta"]);
        Assert.Equal(40_000, totals["sends|kind=full"]);
    }

    [Fact]
    public void Combinations_past_the_cap_are_counted_under_one_overflow_series()
    {
        using var meter = new Meter("test." + Guid.NewGuid().ToString("N"));
        var counter = new TaggedCounter(meter, "turns", null, null, "outcome");
        for (var i = 0; i < TaggedCounter.MaxCells + 50; i++) counter.Add(1, "failed:code" + i);
        counter.Add(2, "failed:code0"); // a known combination still counts as itself

        var totals = Collect(meter);
        Assert.Equal(TaggedCounter.MaxCells + 1, totals.Count);
        Assert.Equal(3, totals["turns|outcome=failed:code0"]);
        Assert.Equal(50, totals["turns|outcome=" + TaggedCounter.Overflow]);
    }

    [Fact]
    public void More_than_three_tags_are_refused_where_the_counter_is_made()
    {
        using var meter = new Meter("test." + Guid.NewGuid().ToString("N"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TaggedCounter(meter, "x", null, null, "a", "b", "c", "d"));
    }

    private static Dictionary<string, long> Collect(Meter meter)
    {
        var seen = new Dictionary<string, long>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) => { if (ReferenceEquals(instrument.Meter, meter)) l.EnableMeasurementEvents(instrument); },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
            seen[instrument.Name + "|" + string.Join(",", tags.ToArray().Select(t => $"{t.Key}={t.Value}"))] = value);
        listener.Start();
        listener.RecordObservableInstruments();
        return seen;
    }
}
