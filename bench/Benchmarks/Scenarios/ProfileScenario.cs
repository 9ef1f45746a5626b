using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Tracing;
using CodexLb.Benchmarks.Infrastructure;
using CodexLb.Gateway.Endpoints;
using CodexLb.Gateway.Routing;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Requests;
using CodexLb.UpstreamSimulator;
using Microsoft.Extensions.DependencyInjection;

namespace CodexLb.Benchmarks.Scenarios;

/// <summary>
/// Where a bridge turn's cost goes, without an external profiler: (1) the same turn cut at each layer (direct HTTP,
/// direct WebSocket, the conversation grain called in-process without the HTTP gateway, the whole bridge) under a
/// saturating closed loop, CPU and allocations per turn; (2) single Orleans calls the turn makes (a call on a warm
/// grain, the response index); (3) an allocation profile of
/// bridge turns from the runtime's GCAllocationTick events (one sample per ~100 KB allocated, with the type).
/// </summary>
public static class ProfileScenario
{
    private const int Concurrency = 16;

    public static async Task RunAsync(BenchOptions options)
    {
        Log.Progress("profile: starting simulator + product");
        await using var product = await Product.StartAsync(new SimulatorOptions());
        var grains = product.App.Services.GetRequiredService<IGrainFactory>();
        using var client = new TurnClient(64);
        var tag = Guid.NewGuid().ToString("N")[..8];
        var turns = options.Quick ? 100 : 400;

        var direct = Sessions($"prof-direct-{tag}");
        var bridge = Sessions($"prof-bridge-{tag}");
        var sockets = new DirectWebSocket[Concurrency];
        for (var i = 0; i < Concurrency; i++) sockets[i] = await DirectWebSocket.ConnectAsync(product.DirectWebSocket);
        var body = direct[0].NextBody();
        var grainKeys = Enumerable.Range(0, Concurrency).Select(i => ConversationKey.Create("bench", "prof", $"{tag}-{i}")).ToArray();

        var stages = new (string Name, string What, Func<int, Task<TurnTiming>> Turn)[]
        {
            ("direct HTTP/SSE", "simulator over HTTP (the baseline)", w => direct[w].TurnAsync(client, product.DirectResponses)),
            ("direct WebSocket", "simulator over a bare websocket (the upstream leg alone)", w => sockets[w].TurnAsync(body)),
            ("grain in-process", "IConversationGrain.RunTurn via IGrainFactory (no HTTP gateway)", w => GrainTurnAsync(grains, grainKeys[w], body)),
            ("bridge", "HTTP gateway -> grain -> websocket -> simulator", w => bridge[w].TurnAsync(client, product.GatewayResponses)),
        };
        var table = new Table($"profile: the same turn cut at each layer, closed loop c={Concurrency}, {turns} turns/worker (CPU/alloc = whole process)",
            "stage", "what", "turns/s", "TTLB p50 µs", "CPU µs/turn", "alloc KB/turn");
        foreach (var (name, what, turn) in stages)
        {
            Log.Progress($"profile: {name}");
            await Workload.RunAsync(Concurrency, 20, turn);
            var r = await Workload.RunAsync(Concurrency, turns, turn);
            table.Add(name, what, r.Turns / r.WallSeconds, new Distribution(r.Ttlb).P50, r.CpuSeconds * 1e6 / r.Turns, r.AllocatedBytes / 1024.0 / r.Turns);
        }
        table.Print();

        // Single Orleans calls of a turn.
        Log.Progress("profile: Orleans calls");
        var calls = new Table($"profile: Orleans calls the turn makes, closed loop c={Concurrency}", "call", "calls/s", "p50 µs", "CPU µs/call", "alloc KB/call");
        var warm = grains.GetGrain<IConversationGrain>(grainKeys[0]);
        await Call(calls, "IConversationGrain.GetStats (warm grain, in-process)", options.Quick ? 500 : 2000, _ => warm.GetStats());
        var next = 0;
        var index = grains.GetGrain<IResponseIndexGrain>(0);
        await Call(calls, "IResponseIndexGrain.Locate, never-issued id (stateless worker + store read)", options.Quick ? 200 : 1000,
            _ => index.Locate("bench", $"resp_{tag}_{Interlocked.Increment(ref next)}"));
        await Call(calls, "(not Orleans) PeriodicTimer cancelled while awaited, OCE caught", options.Quick ? 500 : 2000, _ => CancelledHeartbeatAsync());
        calls.Print();

        // Allocation profile.
        Log.Progress("profile: allocation sampling");
        var sampled = new (string Name, int Ops, Func<int, Task> Op)[]
        {
            ("bridge", options.Quick ? 100 : 300, w => bridge[w].TurnAsync(client, product.GatewayResponses)),
            ("direct HTTP", options.Quick ? 100 : 300, w => direct[w].TurnAsync(client, product.DirectResponses)),
            ("grain in-process", options.Quick ? 100 : 300, w => GrainTurnAsync(grains, grainKeys[w], body)),
            ("index Locate", options.Quick ? 100 : 300, _ => index.Locate("bench", $"resp_{tag}_s_{Interlocked.Increment(ref next)}")),
            ("timer+OCE", options.Quick ? 500 : 2000, _ => CancelledHeartbeatAsync()),
        };
        var profiles = new List<Dictionary<string, double>>();
        foreach (var (name, ops, op) in sampled)
        {
            Log.Progress($"profile: allocation sampling, {name}");
            profiles.Add(await SampleAsync(Concurrency, ops, op));
        }
        var allocations = new Table("profile: allocations by type (GCAllocationTick samples, ~100 KB each), KB per operation (turn or call)",
            ["type", .. sampled.Select(s => s.Name)]);
        foreach (var (type, _) in profiles[0].OrderByDescending(kv => kv.Value).Take(20))
            allocations.Add([type, .. profiles.Select(p => (object)(p.GetValueOrDefault(type) / 1024))]);
        allocations.Add(["(all types)", .. profiles.Select(p => (object)(p.Values.Sum() / 1024))]);
        allocations.Print();

        // Exceptions thrown (and caught) on the hot path.
        Log.Progress("profile: first-chance exceptions");
        var exceptions = new Table("profile: first-chance exceptions per turn (thrown and caught inside the process)", "path", "exception", "per turn", "thrown at");
        foreach (var (name, turn) in new (string, Func<int, Task<TurnTiming>>)[]
                 {
                     ("bridge", w => bridge[w].TurnAsync(client, product.GatewayResponses)),
                     ("direct HTTP/SSE", w => direct[w].TurnAsync(client, product.DirectResponses)),
                 })
        {
            var counter = new ExceptionCounter();
            AppDomain.CurrentDomain.FirstChanceException += counter.OnFirstChance;
            PhaseResult r;
            try
            {
                r = await Workload.RunAsync(Concurrency, options.Quick ? 20 : 50, turn);
            }
            finally
            {
                AppDomain.CurrentDomain.FirstChanceException -= counter.OnFirstChance;
            }
            if (counter.Counts.IsEmpty) exceptions.Add(name, "(none)", 0.0, "");
            foreach (var (key, count) in counter.Counts.OrderByDescending(kv => kv.Value).Take(8))
                exceptions.Add(name, key, count / (double)r.Turns, counter.Where.GetValueOrDefault(key) ?? "");
        }
        exceptions.Print();

        foreach (var socket in sockets) await socket.DisposeAsync();
    }

    private static ClientSession[] Sessions(string prefix) =>
        Enumerable.Range(0, Concurrency).Select(i => new ClientSession($"{prefix}-{i}", BodyStyle.Single)).ToArray();

    private static async Task<TurnTiming> GrainTurnAsync(IGrainFactory grains, string key, byte[] body)
    {
        var start = Stopwatch.GetTimestamp();
        if (!ResponseCreateParser.TryParse(body, out var parsed, out var error)) throw new InvalidOperationException(error?.Message);
        var request = ResponsesEndpoint.ToTurn(parsed!, Guid.NewGuid().ToString("N"));
        long first = 0;
        var events = 0;
        string? last = null;
        await using var stream = new TurnStream(grains.GetGrain<IConversationGrain>(key), request, TimeSpan.FromSeconds(30), default);
        while (await stream.MoveNextAsync())
        {
            if (first == 0) first = Stopwatch.GetTimestamp();
            events++;
            last = stream.Current.Type;
        }
        return new TurnTiming(start, first, Stopwatch.GetTimestamp(), last == "response.completed", 200, 0, events);
    }

    private static async Task Call(Table table, string name, int callsPerWorker, Func<int, Task> call)
    {
        await Workload.RunAsync(Concurrency, 20, async w => { await call(w); return Ok(); });
        var r = await Workload.RunAsync(Concurrency, callsPerWorker, async w =>
        {
            var start = Stopwatch.GetTimestamp();
            await call(w);
            var end = Stopwatch.GetTimestamp();
            return new TurnTiming(start, end, end, true, 200, 0, 0);
        });
        table.Add(name, r.Turns / r.WallSeconds, new Distribution(r.Ttlb).P50, r.CpuSeconds * 1e6 / r.Turns, r.AllocatedBytes / 1024.0 / r.Turns);
    }

    private static TurnTiming Ok() => new(0, 0, 0, true, 200, 0, 0);

    private sealed class ExceptionCounter
    {
        public ConcurrentDictionary<string, int> Counts { get; } = new();
        public ConcurrentDictionary<string, string> Where { get; } = new();

        public void OnFirstChance(object? sender, System.Runtime.ExceptionServices.FirstChanceExceptionEventArgs e)
        {
            var key = e.Exception.GetType().Name + ": " + Truncate(e.Exception.Message, 70);
            Counts.AddOrUpdate(key, 1, (_, v) => v + 1);
            if (!Where.ContainsKey(key))
            {
                // The frames of our own code and Orleans/ASP.NET that lead to the throw (skipping this handler).
                var frames = new StackTrace(1, false).GetFrames()
                    .Select(f => f.GetMethod())
                    .Where(m => m?.DeclaringType?.Namespace is { } ns && (ns.StartsWith("CodexLb", StringComparison.Ordinal) || ns.StartsWith("Orleans", StringComparison.Ordinal) || ns.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal)))
                    .Where(m => m!.DeclaringType!.Namespace != typeof(ProfileScenario).Namespace)
                    .Take(3)
                    .Select(m => $"{m!.DeclaringType!.Name}.{m.Name}");
                Where.TryAdd(key, string.Join(" < ", frames));
            }
        }

        private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length] + "…";
    }

    private static async Task<Dictionary<string, double>> SampleAsync(int workers, int opsPerWorker, Func<int, Task> op)
    {
        await Workload.RunAsync(workers, 10, async w => { await op(w); return Ok(); });
        using var sampler = new AllocationSampler();
        await Task.Delay(500); // the listener's session starts asynchronously
        sampler.Reset();
        var r = await Workload.RunAsync(workers, opsPerWorker, async w => { await op(w); return Ok(); });
        await Task.Delay(1000); // let buffered events arrive
        return sampler.Snapshot().ToDictionary(kv => kv.Key, kv => kv.Value / (double)r.Turns);
    }

    /// <summary>The pattern of a per-turn heartbeat loop: a PeriodicTimer awaited with a token that is cancelled when the turn ends.</summary>
    private static async Task CancelledHeartbeatAsync()
    {
        using var done = new CancellationTokenSource();
        var loop = HeartbeatLoopAsync(done.Token);
        done.Cancel();
        await loop;
    }

    private static async Task HeartbeatLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>GCAllocationTick_V4 (keyword GC, verbose): the type and amount of the allocation that crossed each ~100 KB.</summary>
    private sealed class AllocationSampler : EventListener
    {
        private readonly ConcurrentDictionary<string, long> _bytes = new();
        private volatile bool _recording;

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1);
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (!_recording || e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.PayloadNames is null) return;
            var type = e.PayloadNames.IndexOf("TypeName") is var t and >= 0 ? e.Payload![t] as string ?? "?" : "?";
            var amount = e.PayloadNames.IndexOf("AllocationAmount64") is var a and >= 0 ? Convert.ToInt64(e.Payload![a]) : 100_000;
            _bytes.AddOrUpdate(type, amount, (_, v) => v + amount);
        }

        public void Reset()
        {
            _bytes.Clear();
            _recording = true;
        }

        public Dictionary<string, long> Snapshot()
        {
            _recording = false;
            return new Dictionary<string, long>(_bytes);
        }
    }
}
