using CodexLb.Benchmarks.Infrastructure;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Benchmarks.Scenarios;

/// <summary>
/// Relay cost per streamed event: sequential turns (c=1, EventDelay 0) through the bridge vs directly, at a high and a
/// low number of text deltas. Two baselines: the simulator's HTTP/SSE answer (what a client gets without the bridge)
/// and its WebSocket answer read by a bare ClientWebSocket (the frames the bridge itself has to read).
/// </summary>
/// <remarks>
/// The simulator splits its answer ("Simulated answer #1.", 20 characters) into at most one delta per character, so
/// SimulatorOptions.TextDeltas = 2000 yields ~20 deltas (~28 events) per turn. The per-event figure is therefore given
/// two ways: the whole turn's extra time over its events (the fixed per-turn cost included), and the marginal cost
/// (slope between TextDeltas = 1 and TextDeltas = 2000), which is the relay cost of one more event.
/// </remarks>
public static class RelayScenario
{
    public const int RequestedDeltas = 2000;

    public static async Task RunAsync(BenchOptions options)
    {
        Log.Progress($"relay: starting simulator (TextDeltas {RequestedDeltas}, EventDelay 0) + product");
        await using var product = await Product.StartAsync(new SimulatorOptions { TextDeltas = RequestedDeltas, EventDelay = TimeSpan.Zero });
        var simulator = product.Simulator!;
        using var client = new TurnClient(4);
        await using var ws = await DirectWebSocket.ConnectAsync(product.DirectWebSocket);
        var session = new ClientSession("relay-" + Guid.NewGuid().ToString("N"), BodyStyle.Single);
        var body = session.NextBody();
        var runs = options.Quick ? 40 : 500;
        const int rounds = 3;
        int[] settings = [RequestedDeltas, 1];

        var paths = new (string Name, Func<Task<TurnTiming>> Turn)[]
        {
            ("direct HTTP/SSE", () => client.PostAsync(product.DirectResponses, body, session.Id)),
            ("direct WebSocket", () => ws.TurnAsync(body)),
            ("bridge", () => client.PostAsync(product.GatewayResponses, body, session.Id)),
        };
        var results = new Dictionary<(string, int), PhaseResult>();
        foreach (var (name, _) in paths)
            foreach (var deltas in settings)
                results[(name, deltas)] = new PhaseResult();

        Log.Progress("relay: warm-up");
        foreach (var deltas in settings)
        {
            simulator.Options.TextDeltas = deltas;
            foreach (var (_, turn) in paths)
                for (var i = 0; i < 50; i++) await turn();
        }

        Log.Progress($"relay: {rounds} rounds of {runs} turns per path and setting");
        for (var round = 0; round < rounds; round++)
        {
            foreach (var deltas in settings)
            {
                simulator.Options.TextDeltas = deltas;
                foreach (var (name, turn) in paths)
                {
                    var phase = await Workload.RunAsync(1, runs, _ => turn());
                    var total = results[(name, deltas)];
                    total.Ttlb.AddRange(phase.Ttlb);
                    total.Ttfb.AddRange(phase.Ttfb);
                    total.Errors += phase.Errors;
                    total.Events += phase.Events;
                    total.CpuSeconds += phase.CpuSeconds;
                    total.AllocatedBytes += phase.AllocatedBytes;
                }
            }
        }

        double Events(string path, int deltas) => results[(path, deltas)].Events / (double)Math.Max(1, results[(path, deltas)].Turns);
        double Wall(string path, int deltas) => new Distribution(results[(path, deltas)].Ttlb).P50;
        double Cpu(string path, int deltas) => results[(path, deltas)].CpuSeconds * 1e6 / Math.Max(1, results[(path, deltas)].Turns);
        double Alloc(string path, int deltas) => results[(path, deltas)].AllocatedBytes / (double)Math.Max(1, results[(path, deltas)].Turns);

        var table = new Table($"relay: sequential turns (c=1), EventDelay 0, {rounds * runs} turns per path and setting",
            "path", "TextDeltas", "events/turn", "err", "TTLB p50 µs", "TTLB p90 µs", "CPU µs/turn", "alloc KB/turn");
        foreach (var (name, _) in paths)
            foreach (var deltas in settings)
            {
                var r = results[(name, deltas)];
                var d = new Distribution(r.Ttlb);
                table.Add(name, deltas, Events(name, deltas), r.Errors, d.P50, d.P90, Cpu(name, deltas), Alloc(name, deltas) / 1024);
            }
        table.Print();

        const string bridge = "bridge";
        var (high, low) = (settings[0], settings[1]);
        var events = Events(bridge, high);
        var extraEvents = events - Events(bridge, low);
        var perEvent = new Table("relay cost per event: bridge vs baseline",
            "baseline", "method", "wall µs/event (p50)", "CPU µs/event", "alloc B/event");
        foreach (var (baseline, _) in paths.Take(2))
        {
            perEvent.Add(baseline, $"whole turn / {events:N0} events", (Wall(bridge, high) - Wall(baseline, high)) / events,
                (Cpu(bridge, high) - Cpu(baseline, high)) / events, (Alloc(bridge, high) - Alloc(baseline, high)) / events);
            perEvent.Add(baseline, $"marginal ({extraEvents:N0} more events)",
                ((Wall(bridge, high) - Wall(baseline, high)) - (Wall(bridge, low) - Wall(baseline, low))) / extraEvents,
                ((Cpu(bridge, high) - Cpu(baseline, high)) - (Cpu(bridge, low) - Cpu(baseline, low))) / extraEvents,
                ((Alloc(bridge, high) - Alloc(baseline, high)) - (Alloc(bridge, low) - Alloc(baseline, low))) / extraEvents);
        }
        perEvent.Print();

        const string sse = "direct HTTP/SSE";
        var whole = (Wall(bridge, high) - Wall(sse, high)) / events;
        var marginal = ((Wall(bridge, high) - Wall(sse, high)) - (Wall(bridge, low) - Wall(sse, low))) / extraEvents;
        Log.Note("");
        if (events < RequestedDeltas)
            Log.Note($"NOTE: TextDeltas = {RequestedDeltas} gave {events:N0} events per turn: the simulator splits its 20-character answer into at most one delta per character.");
        Log.Note($"Goal relay cost <= 2 µs/event (wall p50, vs direct HTTP/SSE): marginal {marginal:N2} µs -> {(marginal <= 2 ? "MET" : "MISSED")}; " +
                 $"whole turn / events {whole:N2} µs -> {(whole <= 2 ? "MET" : "MISSED")}.");
        Log.Note("CPU and allocations are the whole process (client + simulator + product); the difference to a baseline is the extra work of the bridge path.");
    }
}
