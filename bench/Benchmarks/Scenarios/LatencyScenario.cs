using CodexLb.Benchmarks.Infrastructure;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Benchmarks.Scenarios;

/// <summary>
/// Added latency per turn: the same body, stream:true, posted to the simulator's /v1/responses (direct, HTTP/SSE) and
/// to the gateway (bridge: gateway → ConversationGrain → warm upstream websocket → simulator), on warm sessions.
/// c=1 interleaves direct and bridge turn by turn; c=64 measures a direct phase, then a bridge phase.
/// </summary>
public static class LatencyScenario
{
    public static async Task RunAsync(BenchOptions options)
    {
        Log.Progress("latency: starting simulator + product");
        await using var product = await Product.StartAsync(new SimulatorOptions());
        using var client = new TurnClient(256);
        var simulator = product.Simulator!;

        var ttlb = new Table("latency: time to last byte per turn (µs), stream:true",
            "c", "body", "path", "turns", "err", "p50", "p90", "p99", "max", "mean", "upstream sends");
        var ttfb = new Table("latency: time to first byte per turn (µs), stream:true",
            "c", "body", "path", "turns", "p50", "p90", "p99", "max", "mean");
        var cpu = new Table("latency at c=64: process CPU per turn (client + simulator + product, all in this process)",
            "body", "path", "turns/s", "CPU µs/turn", "alloc KB/turn");
        double? addedP99AtC1 = null;
        var gcNotes = new List<string>();

        foreach (var style in new[] { BodyStyle.Single, BodyStyle.Codex })
        {
            foreach (var concurrency in new[] { 1, 64 })
            {
                var tag = $"{style}-{concurrency}-{Guid.NewGuid():N}"[..24];
                var direct = Enumerable.Range(0, concurrency).Select(w => new ClientSession($"direct-{tag}-{w}", style)).ToArray();
                var bridge = Enumerable.Range(0, concurrency).Select(w => new ClientSession($"bridge-{tag}-{w}", style)).ToArray();
                var warmup = concurrency == 1 ? (options.Quick ? 100 : 400) : (options.Quick ? 4 : 12);
                var turns = concurrency == 1 ? (options.Quick ? 300 : 2000) : (options.Quick ? 30 : 150);
                Log.Progress($"latency: {style} c={concurrency}: warm-up {warmup} turns/worker, then {turns} turns/worker per path");

                PhaseResult d, b;
                (int Delta, int Full) sends;
                if (concurrency == 1)
                {
                    // Interleaved turn by turn (alternating which goes first), so drift hits both paths alike.
                    await Interleaved(client, product, direct[0], bridge[0], warmup, new PhaseResult(), new PhaseResult());
                    var mark = LastRequestId(simulator);
                    d = new PhaseResult();
                    b = new PhaseResult();
                    var (gen0, gen2, pause) = (GC.CollectionCount(0), GC.CollectionCount(2), GC.GetTotalPauseDuration());
                    await Interleaved(client, product, direct[0], bridge[0], turns, d, b);
                    sends = Sends(simulator, mark);
                    var slow = b.Ttlb.Count(t => t > 1000);
                    gcNotes.Add($"c=1 {style}: {turns} direct + {turns} bridge turns saw {GC.CollectionCount(0) - gen0} GCs ({GC.CollectionCount(2) - gen2} gen2), " +
                                $"{(GC.GetTotalPauseDuration() - pause).TotalMilliseconds:N1} ms paused in all; {slow} bridge turns took > 1 ms.");
                }
                else
                {
                    await Workload.RunAsync(concurrency, warmup, w => direct[w].TurnAsync(client, product.DirectResponses));
                    await Workload.RunAsync(concurrency, warmup, w => bridge[w].TurnAsync(client, product.GatewayResponses));
                    d = await Workload.RunAsync(concurrency, turns, w => direct[w].TurnAsync(client, product.DirectResponses));
                    var mark = LastRequestId(simulator);
                    b = await Workload.RunAsync(concurrency, turns, w => bridge[w].TurnAsync(client, product.GatewayResponses));
                    sends = Sends(simulator, mark);
                    cpu.Add(style.ToString(), "direct", d.Turns / d.WallSeconds, d.CpuSeconds * 1e6 / d.Turns, d.AllocatedBytes / 1024.0 / d.Turns);
                    cpu.Add(style.ToString(), "bridge", b.Turns / b.WallSeconds, b.CpuSeconds * 1e6 / b.Turns, b.AllocatedBytes / 1024.0 / b.Turns);
                    cpu.Add(style.ToString(), "bridge - direct", double.NaN, (b.CpuSeconds / b.Turns - d.CpuSeconds / d.Turns) * 1e6,
                        (b.AllocatedBytes / (double)b.Turns - d.AllocatedBytes / (double)d.Turns) / 1024.0);
                }

                var (dl, bl) = (new Distribution(d.Ttlb), new Distribution(b.Ttlb));
                var (df, bf) = (new Distribution(d.Ttfb), new Distribution(b.Ttfb));
                var body = style == BodyStyle.Single ? "single message" : $"codex history ≤{ClientSession.CodexCycle} turns";
                ttlb.Add(concurrency, body, "direct", dl.Count, d.Errors, dl.P50, dl.P90, dl.P99, dl.Max, dl.Mean, "-");
                ttlb.Add(concurrency, body, "bridge", bl.Count, b.Errors, bl.P50, bl.P90, bl.P99, bl.Max, bl.Mean, $"{sends.Delta} delta / {sends.Full} full");
                ttlb.Add(concurrency, body, "added (bridge - direct)", "", "", bl.P50 - dl.P50, bl.P90 - dl.P90, bl.P99 - dl.P99, double.NaN, bl.Mean - dl.Mean, "");
                ttfb.Add(concurrency, body, "direct", df.Count, df.P50, df.P90, df.P99, df.Max, df.Mean);
                ttfb.Add(concurrency, body, "bridge", bf.Count, bf.P50, bf.P90, bf.P99, bf.Max, bf.Mean);
                ttfb.Add(concurrency, body, "added (bridge - direct)", "", bf.P50 - df.P50, bf.P90 - df.P90, bf.P99 - df.P99, double.NaN, bf.Mean - df.Mean);
                if (concurrency == 1 && style == BodyStyle.Single) addedP99AtC1 = bl.P99 - dl.P99;
            }
        }

        ttlb.Print();
        ttfb.Print();
        cpu.Print();
        Log.Note("");
        Log.Note("Added = difference of the percentiles of the two distributions (not a per-turn pairing).");
        foreach (var note in gcNotes) Log.Note(note);
        if (addedP99AtC1 is { } added)
            Log.Note($"Goal p99 added <= 1 ms at c=1 (single-message body, time to last byte): {added / 1000:N3} ms -> {(added <= 1000 ? "MET" : "MISSED")}");
    }

    private static async Task Interleaved(TurnClient client, Product product, ClientSession direct, ClientSession bridge, int turns, PhaseResult d, PhaseResult b)
    {
        for (var i = 0; i < turns; i++)
        {
            if (i % 2 == 0)
            {
                d.Add(await direct.TurnAsync(client, product.DirectResponses));
                b.Add(await bridge.TurnAsync(client, product.GatewayResponses));
            }
            else
            {
                b.Add(await bridge.TurnAsync(client, product.GatewayResponses));
                d.Add(await direct.TurnAsync(client, product.DirectResponses));
            }
        }
    }

    public static long LastRequestId(UpstreamSimulatorHost simulator) => simulator.Ledger.Requests.LastOrDefault()?.Id ?? 0;

    /// <summary>How the bridge forwarded the turns since the mark (websocket requests only: the direct calls are HTTP).</summary>
    public static (int Delta, int Full) Sends(UpstreamSimulatorHost simulator, long mark)
    {
        var sent = simulator.Ledger.Requests.Where(r => r.Id > mark && r.Transport == SimTransport.WebSocket).ToList();
        return (sent.Count(r => r.IsDelta), sent.Count(r => !r.IsDelta));
    }
}
