using CodexLb.Benchmarks.Infrastructure;

namespace CodexLb.Benchmarks.Scenarios;

/// <summary>
/// Two bridges against one simulator at c=64 over HTTP/SSE, batches alternating A, B, B, A…: A is this build's bridge, B
/// another build's (<c>--bridge-b</c> its CodexLb.Benchmarks.dll) or this build's with <c>--bridge-env</c>. The floor
/// compares the bridge with YARP; this compares two bridges, to tell a change of a few µs per turn from this host's drift,
/// which moves the floor's ratio by a tenth between runs of one build. Each round's B/A ratio of CPU per turn comes from
/// two batches seconds apart, so the drift cancels. It prints every round, the ratio over all turns with a bootstrap
/// interval over the rounds, and how many rounds B was cheaper in. Its resolution here is ~4% (docs/BENCHMARKS.md, "Two
/// bridges in one run"); turns/s is not compared: the second bridge started ran ~7% more of them, whichever it was.
/// </summary>
public static class AbScenario
{
    private const int Sessions = 256, Concurrency = 64;

    public static async Task RunAsync(BenchOptions options)
    {
        if (options.OtherBridge is null && options.BridgeEnvironment is not { Count: > 0 })
            throw new ArgumentException("ab compares two bridges: give --bridge-b PATH/CodexLb.Benchmarks.dll, or --bridge-env NAME=VALUE for B");
        var rounds = options.Quick ? 4 : 16;
        var batch = TimeSpan.FromSeconds(options.Quick ? 1.5 : 3);
        Log.Progress("ab: starting the simulator and the two bridges");
        await using var simulator = await SimulatorProcess.StartAsync(ledgerCapacity: 1_000);
        string[] arguments = ["--CodexLb:Limits:ConcurrentTurnsPerTenant", "0"]; // as in the floor: one tenant stands for every client
        await using var a = await BridgeProcess.StartAsync(simulator.BaseUrl, arguments);
        await using var b = await BridgeProcess.StartAsync(simulator.BaseUrl, arguments, options.BridgeEnvironment, options.OtherBridge);
        Log.Note($"A: this build's bridge (pid {a.Process.Id}); B: {options.OtherBridge ?? "this build's bridge"} (pid {b.Process.Id})" +
                 (options.BridgeEnvironment is { Count: > 0 } env ? $" with {string.Join(' ', env.Select(kv => $"{kv.Key}={kv.Value}"))}" : ""));

        using var client = new TurnClient(2 * Sessions);
        var sides = new[] { new Side("A", a, "ab-a"), new Side("B", b, "ab-b") };
        foreach (var side in sides) await Workload.RunAsync(Sessions, 2, side.Turn(client, Sessions)); // every conversation active
        // The runtime re-jits hot methods once the start-up's compiling quiets down: warm both alike before measuring.
        for (var i = 0; i < (options.Quick ? 2 : 6); i++)
            foreach (var side in sides) await Workload.RunAsync(Concurrency, int.MaxValue, side.Turn(client, Concurrency), TimeSpan.FromSeconds(5));

        var table = new Table($"ab: CPU per turn at c={Concurrency}, 0 ms work, HTTP/SSE, {rounds} rounds of {batch.TotalSeconds:N1} s per bridge",
            "round", "A µs/turn", "B µs/turn", "B/A", "A turns/s", "B turns/s");
        var pairs = new List<(Figures A, Figures B)>();
        for (var round = 0; round < rounds; round++)
        {
            // A then B, then B then A: neither is always the one measured after the other ran.
            foreach (var side in round % 2 == 0 ? sides : [sides[1], sides[0]]) await side.BatchAsync(client, batch);
            var (ra, rb) = (sides[0].Last!, sides[1].Last!);
            pairs.Add((ra, rb));
            table.Add(round + 1, ra.CpuMicrosPerTurn, rb.CpuMicrosPerTurn, Figures.Ratio(ra, rb).ToString("N3"), ra.TurnsPerSecond, rb.TurnsPerSecond);
        }
        table.Print();

        var summary = new Table("ab: both bridges over all rounds", "bridge", "CPU µs/turn", "alloc KB/turn", "work items/turn", "turns", "failed", "p50 ms", "p99 ms");
        foreach (var side in sides)
            summary.Add(side.Name, side.Total.CpuMicrosPerTurn, side.Total.AllocatedKbPerTurn, side.Total.WorkItemsPerTurn, side.Total.Turns, side.Total.Errors,
                side.Latency.P50 / 1000, side.Latency.P99 / 1000);
        summary.Print();
        var sorted = pairs.Select(p => Figures.Ratio(p.A, p.B)).Order().ToArray();
        Log.Note("");
        Log.Note($"B/A CPU per turn: median {sorted[sorted.Length / 2]:N3} (rounds {sorted[0]:N3}–{sorted[^1]:N3}); " +
                 $"B cheaper in {sorted.Count(r => r < 1)} of {sorted.Length} rounds; over all turns {Figures.Ratio(sides[0].Total, sides[1].Total):N3}, " +
                 $"95% interval {Interval(pairs)} (the rounds resampled).");
    }

    /// <summary>
    /// A percentile bootstrap of B/A over all turns: the rounds drawn with replacement 2,000 times (a round keeps its A and
    /// B batch together, so what the host did in those seconds stays paired).
    /// </summary>
    private static string Interval(List<(Figures A, Figures B)> pairs)
    {
        var random = new Random(12345);
        var ratios = new double[2000];
        for (var i = 0; i < ratios.Length; i++)
        {
            var (a, b) = (Figures.None, Figures.None);
            for (var j = 0; j < pairs.Count; j++)
            {
                var (ra, rb) = pairs[random.Next(pairs.Count)];
                (a, b) = (a + ra, b + rb);
            }
            ratios[i] = Figures.Ratio(a, b);
        }
        Array.Sort(ratios);
        return $"{ratios[50]:N3}–{ratios[1949]:N3}";
    }

    /// <summary>One bridge, its own 256 chained conversations, and what its batches measured.</summary>
    private sealed class Side(string name, BridgeProcess bridge, string prefix)
    {
        private readonly ChainSession[] _sessions = Enumerable.Range(0, Sessions).Select(i => new ChainSession($"{prefix}-{Guid.NewGuid():N}-{i}")).ToArray();
        private readonly int[] _cursors = new int[Sessions];
        private readonly List<double> _latencies = [];

        public string Name => name;

        public Figures? Last { get; private set; }

        public Figures Total { get; private set; } = Figures.None;

        public Distribution Latency => new(_latencies);

        /// <summary>Worker w at concurrency c cycles over sessions w, w + c, w + 2c… (one session apart per turn), as in the floor.</summary>
        public Func<int, Task<TurnTiming>> Turn(TurnClient client, int concurrency) =>
            w => _sessions[w + concurrency * (_cursors[w]++ % (Sessions / concurrency))].TurnAsync(client, bridge.Responses);

        public async Task BatchAsync(TurnClient client, TimeSpan duration)
        {
            Array.Clear(_cursors);
            var before = await ReadAsync();
            var result = await Workload.RunAsync(Concurrency, int.MaxValue, Turn(client, Concurrency), duration);
            var after = await ReadAsync();
            // CPU less the tier-up compiler's (as the floor charges it): a late re-jit is not what a turn costs.
            Last = new Figures(after.Cpu - before.Cpu - (after.TierUp - before.TierUp), after.Allocated - before.Allocated, after.WorkItems - before.WorkItems,
                result.Turns, result.Errors, result.WallSeconds);
            Total += Last;
            _latencies.AddRange(result.Ttlb);
        }

        private async Task<(double Cpu, double TierUp, long Allocated, long WorkItems)> ReadAsync()
        {
            var cpu = await bridge.Process.CpuSecondsAsync();
            return (cpu, bridge.Process.TierUpSeconds, bridge.Process.AllocatedBytes, bridge.Process.WorkItems);
        }
    }

    private sealed record Figures(double CpuSeconds, long Allocated, long WorkItems, int Turns, int Errors, double WallSeconds)
    {
        public static readonly Figures None = new(0, 0, 0, 0, 0, 0);

        /// <summary>B's CPU per turn over A's.</summary>
        public static double Ratio(Figures a, Figures b) => b.CpuMicrosPerTurn / a.CpuMicrosPerTurn;

        public double CpuMicrosPerTurn => CpuSeconds * 1e6 / Math.Max(1, Turns);

        public double AllocatedKbPerTurn => Allocated / 1024.0 / Math.Max(1, Turns);

        public double WorkItemsPerTurn => WorkItems / (double)Math.Max(1, Turns);

        public double TurnsPerSecond => Turns / Math.Max(1e-9, WallSeconds);

        public static Figures operator +(Figures x, Figures y) => new(x.CpuSeconds + y.CpuSeconds, x.Allocated + y.Allocated, x.WorkItems + y.WorkItems,
            x.Turns + y.Turns, x.Errors + y.Errors, x.WallSeconds + y.WallSeconds);
    }
}
