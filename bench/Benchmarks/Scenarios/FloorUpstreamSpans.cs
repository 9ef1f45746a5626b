using CodexLb.Benchmarks.Infrastructure;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Benchmarks.Scenarios;

/// <summary>
/// One turn at a time, each turn paired with the simulator's own record of it (its ledger: from the request's arrival to
/// its terminal frame): the turn's time outside the upstream is its latency less that span, so the upstream's work and
/// its lateness drop out per turn, and what is left is the client, the kernel and the proxy. Read beside direct's row, it
/// says how much of a path's p99 no proxy caused (on the 2-core VM of the forty-sixth session, direct's own p99 outside
/// the upstream was ~3 ms on a p50 of ~0.5 ms).
/// </summary>
internal static class FloorUpstreamSpans
{
    /// <summary>µs: outside the upstream in all, on the way to it (client to the simulator's handler), and back.</summary>
    public readonly record struct TurnSpan(double Outside, double ToUpstream, double Back);

    /// <summary>Pairs each turn of <paramref name="batch"/> with the one request the simulator received during it.</summary>
    public static void Pair(PhaseResult batch, LedgerSnapshot ledger, List<TurnSpan> into)
    {
        var spans = ledger.Requests.Where(r => r.EndedAt is not null)
            .Select(r => (Start: r.StartedAt.UtcTicks, End: r.EndedAt!.Value.UtcTicks)).OrderBy(s => s.Start).ToArray();
        var starts = spans.Select(s => s.Start).ToArray();
        for (var i = 0; i < batch.Ends.Count; i++)
        {
            var (end, latency) = (batch.Ends[i], batch.Ttlb[i]);
            var start = end - (long)(latency * TimeSpan.TicksPerMicrosecond);
            var at = Array.BinarySearch(starts, start);
            if (at < 0) at = ~at;
            if (at >= spans.Length || spans[at].Start >= end) continue; // not in the ledger (it keeps the last requests only)
            var upstream = spans[at];
            into.Add(new TurnSpan(latency - Micros(upstream.End - upstream.Start), Micros(upstream.Start - start), Micros(end - upstream.End)));
        }
    }

    public static void Report(string setting, IEnumerable<(string Path, List<TurnSpan> Turns)> paths)
    {
        var table = new Table($"floor, {setting}: each turn's time outside the upstream (its latency less the simulator's own span for it, from the simulator's ledger), µs",
            "path", "turns paired", "outside p50", "outside p90", "outside p99", "to the upstream p50", "p99", "back p50", "p99");
        foreach (var (path, turns) in paths)
        {
            var (outside, to, back) = (new Distribution(turns.Select(t => t.Outside)), new Distribution(turns.Select(t => t.ToUpstream)), new Distribution(turns.Select(t => t.Back)));
            table.Add(path, turns.Count, outside.P50, outside.P90, outside.P99, to.P50, to.P99, back.P50, back.P99);
        }
        table.Print();
    }

    private static double Micros(long ticks) => ticks / (double)TimeSpan.TicksPerMicrosecond;
}
