using CodexLb.Benchmarks.Infrastructure;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Benchmarks.Scenarios;

/// <summary>
/// Streamed turns per second at concurrency 256 with 20 ms of simulated upstream work (FirstEventDelay), closed loop:
/// each of 256 clients sends its next turn (same one-message body, its own session) as soon as the last one ended.
/// </summary>
public static class ThroughputScenario
{
    public const int Concurrency = 256;
    public static readonly TimeSpan UpstreamWork = TimeSpan.FromMilliseconds(20);

    public static async Task RunAsync(BenchOptions options)
    {
        Log.Progress("throughput: starting simulator (FirstEventDelay 20 ms) + product");
        await using var product = await Product.StartAsync(new SimulatorOptions { FirstEventDelay = UpstreamWork });
        using var client = new TurnClient(Concurrency * 2);
        var bridgeDuration = TimeSpan.FromSeconds(options.Quick ? 5 : options.ThroughputSeconds);
        var directDuration = TimeSpan.FromSeconds(options.Quick ? 3 : Math.Max(5, options.ThroughputSeconds / 2));

        var tag = Guid.NewGuid().ToString("N")[..8];
        var direct = Enumerable.Range(0, Concurrency).Select(w => new ClientSession($"tput-direct-{tag}-{w}", BodyStyle.Single)).ToArray();
        var bridge = Enumerable.Range(0, Concurrency).Select(w => new ClientSession($"tput-bridge-{tag}-{w}", BodyStyle.Single)).ToArray();

        Log.Progress("throughput: warm-up (activates 256 conversations, opens their upstream sockets)");
        await Workload.RunAsync(Concurrency, 5, w => direct[w].TurnAsync(client, product.DirectResponses));
        await Workload.RunAsync(Concurrency, 5, w => bridge[w].TurnAsync(client, product.GatewayResponses));

        Log.Progress($"throughput: direct for {directDuration.TotalSeconds:N0} s");
        var d = await Workload.RunAsync(Concurrency, int.MaxValue, w => direct[w].TurnAsync(client, product.DirectResponses), directDuration);
        Log.Progress($"throughput: bridge for {bridgeDuration.TotalSeconds:N0} s");
        var mark = LatencyScenario.LastRequestId(product.Simulator!);
        var b = await Workload.RunAsync(Concurrency, int.MaxValue, w => bridge[w].TurnAsync(client, product.GatewayResponses), bridgeDuration);
        var sends = LatencyScenario.Sends(product.Simulator!, mark);

        var ceiling = Concurrency / UpstreamWork.TotalSeconds;
        var table = new Table($"throughput: streamed turns/s, c={Concurrency}, 20 ms upstream work per turn (ceiling {ceiling:N0}/s = c / 20 ms)",
            "path", "seconds", "turns", "err", "turns/s", "% of ceiling", "TTLB p50 ms", "TTLB p99 ms", "CPU µs/turn", "alloc KB/turn", "upstream sends");
        foreach (var (name, r, s) in new[] { ("direct", d, "-"), ("bridge", b, $"{sends.Delta} delta / {sends.Full} full") })
        {
            var ttlb = new Distribution(r.Ttlb);
            var rate = r.Turns / r.WallSeconds;
            table.Add(name, r.WallSeconds, r.Turns, r.Errors, rate, 100 * rate / ceiling, ttlb.P50 / 1000, ttlb.P99 / 1000,
                r.CpuSeconds * 1e6 / Math.Max(1, r.Turns), r.AllocatedBytes / 1024.0 / Math.Max(1, r.Turns), s);
        }
        table.Print();
        Log.Note("");
        Log.Note($"CPU is this whole process (client, simulator and product share {Environment.ProcessorCount} cores); bridge - direct CPU per turn ≈ the bridge's own cost: " +
                 $"{(b.CpuSeconds / Math.Max(1, b.Turns) - d.CpuSeconds / Math.Max(1, d.Turns)) * 1e6:N0} µs.");
    }
}
