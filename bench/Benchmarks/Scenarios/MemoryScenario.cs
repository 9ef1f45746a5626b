using System.Diagnostics;
using System.Runtime;
using CodexLb.Benchmarks.Infrastructure;
using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Upstream;
using CodexLb.UpstreamSimulator;
using StackExchange.Redis;

namespace CodexLb.Benchmarks.Scenarios;

/// <summary>
/// Memory per idle conversation at scale, with realistic contexts. The product runs in this process in production mode
/// (its response tree in a private redis-server, so the items a conversation's store keeps are not in this process); the
/// simulator runs in a child process so its half of each websocket is not counted either. K conversations each complete
/// one turn carrying a context of N KB (Codex-like items, unique per conversation); then the process is measured three
/// times after full compacting GCs: right after the turns (contexts cached, upstream sockets open), after the
/// conversations' idle release (CodexLb:State:IdleRelease), and after their upstream sockets' idle close. Per
/// conversation = (measure - baseline) / K, for the GC heap and the process RSS. Last, what the release costs the next
/// turn: a warm turn (previous_response_id) on a sample of released conversations, against the same turn on them warm.
/// </summary>
public static class MemoryScenario
{
    /// <param name="Trimmed">the working set after an aggressive GC, which returns the memory the GC keeps committed to the OS.</param>
    private readonly record struct Sample(long Managed, long HeapSize, long WorkingSet, long Private, long Trimmed);

    private static readonly TimeSpan IdleRelease = TimeSpan.FromSeconds(5), SocketIdle = TimeSpan.FromSeconds(20);
    private const int ItemBytes = 4 * 1024, ReloadSample = 200;

    public static async Task RunAsync(BenchOptions options)
    {
        var k = options.Quick ? 300 : options.Conversations;
        var contextKb = options.ContextKb;
        Log.Progress($"memory: redis-server, simulator child process, product in production mode (K = {k:N0}, {contextKb} KB contexts)");
        await using var redis = await RedisServer.StartAsync();
        await using var product = await Product.StartWithExternalSimulatorAsync(
        [
            "--CodexLb:Redis:ConnectionString", redis.Endpoint,
            "--CodexLb:Silo:ServeClients", "true", // production mode; this one process is also the clients' front door
            "--CodexLb:State:IdleRelease", IdleRelease.ToString(),
            "--CodexLb:Upstream:IdleTimeout", SocketIdle.ToString(),
            "--CodexLb:Limits:ConcurrentTurnsPerTenant", "0",
        ]);

        var tag = Guid.NewGuid().ToString("N")[..8];
        Log.Progress("memory: warm-up (50 conversations, 2 turns each)");
        using var client = new TurnClient(32);
        await TurnsAsync(client, product, $"mem-warm-{tag}", 50, contextKb, null);
        await TurnsAsync(client, product, $"mem-warm-{tag}", 50, contextKb, null);
        await Task.Delay(SocketIdle + TimeSpan.FromSeconds(12)); // the warm-up's own caches and sockets go first
        using var redisAdmin = await ConnectionMultiplexer.ConnectAsync($"{redis.Endpoint},allowAdmin=true");
        var redisServer = redisAdmin.GetServer(redisAdmin.GetEndPoints()[0]);
        var redisBefore = await RedisUsedMemoryAsync(redisServer);
        var before = Measure();
        Log.Progress($"memory: {k:N0} conversations, one turn each with a {contextKb} KB context");
        var anchors = new string?[k];
        var created = Stopwatch.StartNew();
        string collections;
        await using (var gc = new GcWatch())
        {
            await TurnsAsync(client, product, $"mem-{tag}", k, contextKb, anchors);
            collections = gc.Summary();
        }
        var active = Measure();
        var redisAfter = await RedisUsedMemoryAsync(redisServer);
        Log.Progress($"memory: turns done in {created.Elapsed.TotalSeconds:N0} s ({collections}); waiting for the idle release ({IdleRelease.TotalSeconds:N0} s)");
        await Task.Delay(IdleRelease + TimeSpan.FromSeconds(3));
        var released = Measure();
        var openAfterRelease = await OpenUpstreamConnectionsAsync(product);

        // What the release costs: the next turn reads its base back from the store (one read), where a warm one does not.
        // Both go upstream as deltas: the sockets still hold the anchors.
        // The newest conversations: their sockets are still open (the oldest ones' may have closed while the rest were made).
        var sample = Enumerable.Range(Math.Max(0, k - ReloadSample), Math.Min(ReloadSample, k)).Where(i => anchors[i] is not null).ToArray();
        Log.Progress($"memory: a warm turn on {sample.Length} released conversations, then again while their contexts are cached");
        var cold = await ChainedTurnsAsync(client, product, $"mem-{tag}", sample, anchors);
        var warm = await ChainedTurnsAsync(client, product, $"mem-{tag}", sample, anchors);
        // What idle conversations cost in CPU (this process: the product and an idle client): timers and socket keepalives.
        // While the newest conversations' sockets are still open (the count printed is the one read after the release).
        var cpuOpen = await IdleCpuAsync();

        Log.Progress($"memory: waiting for the upstream sockets' idle close ({SocketIdle.TotalSeconds:N0} s)");
        await Task.Delay(SocketIdle + TimeSpan.FromSeconds(12)); // each socket closes IdleTimeout after its last activity
        var idle = Measure();
        var ends = await UpstreamConnectionEndsAsync(product);
        var openAfterIdle = ends.GetValueOrDefault(ConnectionEnd.Open);
        var cpuClosed = await IdleCpuAsync();

        var table = new Table($"memory per conversation (K = {k:N0}, each one completed turn with a {contextKb} KB context; response tree in Redis)",
            "state", "GC heap (GetTotalMemory)", "per conversation", "process RSS", "per conversation", "RSS after an aggressive GC", "per conversation",
            "upstream sockets open");
        void Row(string name, Sample s, object sockets) => table.Add(name, Kb(s.Managed - before.Managed), $"{(s.Managed - before.Managed) / 1024.0 / k:N1} KB",
            Kb(s.WorkingSet - before.WorkingSet), $"{(s.WorkingSet - before.WorkingSet) / 1024.0 / k:N1} KB",
            Kb(s.Trimmed - before.Trimmed), $"{(s.Trimmed - before.Trimmed) / 1024.0 / k:N1} KB", sockets);
        Row($"right after the last turn (the last {IdleRelease.TotalSeconds:N0} s of conversations still cached)", active, "-");
        Row($"{IdleRelease.TotalSeconds + 3:N0} s after the last turn: every context released", released, openAfterRelease);
        Row($"{SocketIdle.TotalSeconds + 12:N0} s after the last turn: upstream sockets closed too", idle, openAfterIdle);
        table.Print();
        Log.Note("");
        Log.Note($"Baseline (after the warm-up): GC heap {Kb(before.Managed)}, RSS {Kb(before.WorkingSet)}. " +
                 $"GC heap size (GCMemoryInfo) idle: {Kb(idle.HeapSize - before.HeapSize)} over baseline.");
        var perReleased = (released.Managed - before.Managed) / 1024.0 / k;
        var perIdle = (idle.Managed - before.Managed) / 1024.0 / k;
        var rssIdle = (idle.WorkingSet - before.WorkingSet) / 1024.0 / k;
        var trimmedIdle = (idle.Trimmed - before.Trimmed) / 1024.0 / k;
        Log.Note($"Goal <= 64 KB per idle conversation: GC heap {perReleased:N1} KB with its socket open, {perIdle:N1} KB without -> " +
                 $"{(perReleased <= 64 ? "MET" : "MISSED")} / {(perIdle <= 64 ? "MET" : "MISSED")}; RSS {rssIdle:N1} KB -> {(rssIdle <= 64 ? "MET" : "MISSED")}, " +
                 $"after an aggressive GC {trimmedIdle:N1} KB -> {(trimmedIdle <= 64 ? "MET" : "MISSED")}.");

        var plainItems = Context("sample", contextKb).Sum(item => 4L + item.Length);
        Log.Note($"Redis used_memory grew {Kb(redisAfter - redisBefore)}: {(redisAfter - redisBefore) / 1024.0 / k:N1} KB per conversation, whose " +
                 $"items come to {plainItems / 1024.0:N1} KB plain (CodexLb:State:CompressItemsAbove " +
                 $"{Environment.GetEnvironmentVariable("CodexLb__State__CompressItemsAbove") ?? "at its default"}).");
        Log.Note($"Idle CPU of this process (the product, and the benchmark's client doing nothing), {IdleWindow.TotalSeconds:N0} s each: " +
                 $"{cpuOpen * 1000:N1} ms/s with the {k:N0} conversations active and {openAfterRelease} upstream sockets open " +
                 $"({cpuOpen * 1e6 / k:N1} µs per conversation per second), {cpuClosed * 1000:N1} ms/s once the sockets closed " +
                 $"({cpuClosed * 1e6 / k:N1} µs).");

        // A close the provider can see is ClientClosed; ClientAborted is a connection cut without a close frame.
        Log.Note("Upstream connections by how they ended (the simulator's ledger, after the idle close): " +
                 string.Join(", ", ends.OrderBy(e => e.Key).Select(e => $"{e.Key} {e.Value:N0}")) + ".");

        var reload = new Table($"the next turn after the release (previous_response_id, the {sample.Length} newest conversations, one at a time; both upstream as deltas on the socket still open)",
            "turn", "p50 µs", "p90 µs", "p99 µs");
        reload.Add("first turn after the release (base read from Redis)", cold.P50, cold.P90, cold.P99);
        reload.Add("the next turn (base cached)", warm.P50, warm.P90, warm.P99);
        reload.Print();

        await BareSocketReferenceAsync(product, Math.Min(k, 2000));
    }

    /// <summary>
    /// One turn on each of the sessions prefix-0 … prefix-(count-1), 32 at a time, each carrying a context of
    /// <paramref name="contextKb"/> KB whose first item names its session (no two conversations share a prefix).
    /// </summary>
    private static async Task TurnsAsync(TurnClient client, Product product, string prefix, int count, int contextKb, string?[]? anchors)
    {
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
        {
            using var capture = new MemoryStream();
            for (var i = Interlocked.Increment(ref next); i < count; i = Interlocked.Increment(ref next))
            {
                capture.SetLength(0);
                try
                {
                    var timing = await client.PostAsync(product.GatewayResponses, Bodies.Create(Context($"{prefix}-{i}", contextKb)), $"{prefix}-{i}", capture);
                    if (!timing.Completed) { failures.Add(FailureOf(timing.Status, capture)); continue; }
                    if (anchors is not null) anchors[i] = Bodies.CompletedResponseId(capture.GetBuffer().AsSpan(0, (int)capture.Length));
                }
                catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException)
                {
                    failures.Add(ex.GetType().Name + ": " + ex.Message);
                }
            }
        })));
        if (failures.IsEmpty) return;
        Log.Note($"WARNING: {failures.Count} of {count} turns failed:");
        foreach (var group in failures.GroupBy(f => f).OrderByDescending(g => g.Count())) Log.Note($"  {group.Count()} x {group.Key}");
    }

    /// <summary>A failed turn's status and the code its answer gave (an error's or a response.failed's), not its text.</summary>
    private static string FailureOf(int status, MemoryStream capture) =>
        $"HTTP {status}, code {Bodies.ErrorCode(capture.GetBuffer().AsSpan(0, (int)capture.Length)) ?? "(none: no completed event)"}";

    /// <summary>
    /// A Codex-like context: a user prompt naming the session, then tool outputs (files read) and messages of ~4 KB each,
    /// their text quoted from <see cref="SourceCorpus"/> at places the session and item pick.
    /// </summary>
    private static IEnumerable<byte[]> Context(string session, int contextKb)
    {
        yield return Bodies.Message("user", $"session {session}: look at the repository and fix the failing test");
        var seed = unchecked((long)0xCBF29CE484222325UL); // FNV-1a of the session: its own places in the corpus
        foreach (var c in session) seed = unchecked((seed ^ c) * 0x100000001B3L);
        for (var i = 0; i < contextKb * 1024 / ItemBytes; i++)
        {
            var text = SourceCorpus.Slice(seed + i, ItemBytes - 200);
            yield return i % 2 == 0 ? Bodies.FunctionOutput($"call_{i}", text) : Bodies.Message("user", $"note {i}: {text}");
        }
    }

    /// <summary>One warm turn (one new message after each session's anchor) per sample session, one at a time; the anchors move on.</summary>
    private static async Task<Distribution> ChainedTurnsAsync(TurnClient client, Product product, string prefix, int[] sample, string?[] anchors)
    {
        var latencies = new List<double>();
        using var capture = new MemoryStream();
        foreach (var i in sample)
        {
            capture.SetLength(0);
            var body = Bodies.Create([Bodies.Message("user", $"and now the next step ({i})")], previousResponseId: anchors[i]);
            var timing = await client.PostAsync(product.GatewayResponses, body, $"{prefix}-{i}", capture);
            if (!timing.Completed) continue;
            latencies.Add(timing.TtlbMicros);
            anchors[i] = Bodies.CompletedResponseId(capture.GetBuffer().AsSpan(0, (int)capture.Length)) ?? anchors[i];
        }
        return new Distribution(latencies);
    }

    private static readonly TimeSpan IdleWindow = TimeSpan.FromSeconds(10);

    /// <summary>This process's CPU seconds per second over <see cref="IdleWindow"/> of doing nothing.</summary>
    private static async Task<double> IdleCpuAsync()
    {
        var cpu = CpuTime.Now();
        await Task.Delay(IdleWindow);
        return (CpuTime.Now() - cpu) / IdleWindow.TotalSeconds;
    }

    private static async Task<long> RedisUsedMemoryAsync(IServer server) =>
        long.Parse((await RedisInfo.FieldsAsync(server, "memory"))["used_memory"], System.Globalization.CultureInfo.InvariantCulture);

    private static Sample Measure()
    {
        for (var i = 0; i < 3; i++)
        {
            GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }
        var managed = GC.GetTotalMemory(true);
        var info = GC.GetGCMemoryInfo(GCKind.FullBlocking);
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        var (workingSet, privateBytes) = (process.WorkingSet64, process.PrivateMemorySize64);
        // The server GC keeps freed segments committed after a peak (here: creating the K contexts); an aggressive
        // collection hands them back, so the trimmed figure is what the process needs rather than what it once held.
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        process.Refresh();
        return new Sample(managed, info.HeapSizeBytes, workingSet, privateBytes, process.WorkingSet64);
    }

    private static async Task<int> OpenUpstreamConnectionsAsync(Product product) =>
        (await UpstreamConnectionEndsAsync(product)).GetValueOrDefault(ConnectionEnd.Open);

    private static async Task<Dictionary<ConnectionEnd, int>> UpstreamConnectionEndsAsync(Product product)
    {
        using var http = new HttpClient();
        return (await SimulatorProcess.ReadLedgerAsync(http, product.SimulatorBaseUrl)).Connections.CountBy(c => c.EndedBy).ToDictionary();
    }

    /// <summary>Reference: what K upstream sockets cost in this process, each open and waiting for its next frame.</summary>
    private static async Task BareSocketReferenceAsync(Product product, int k)
    {
        Log.Progress($"memory: reference, {k:N0} bare upstream sockets");
        var before = Measure();
        var options = new UpstreamOptions { BaseUrl = product.SimulatorBaseUrl };
        var lease = new AccountLease { Account = "default", Available = true };
        var sockets = new List<UpstreamSocket>(k);
        var gate = new SemaphoreSlim(32);
        var tasks = Enumerable.Range(0, k).Select(async _ =>
        {
            await gate.WaitAsync();
            try
            {
                var socket = await UpstreamSocket.ConnectAsync(options, lease, TimeProvider.System, CancellationToken.None);
                lock (sockets) sockets.Add(socket);
            }
            finally
            {
                gate.Release();
            }
        });
        await Task.WhenAll(tasks);
        await Task.Delay(TimeSpan.FromSeconds(1));
        var after = Measure();
        var table = new Table($"reference: {k:N0} bare upstream sockets (UpstreamSocket, each waiting for its next frame)", "measure", "delta", "per socket");
        table.Add("GC.GetTotalMemory(true)", Kb(after.Managed - before.Managed), $"{(after.Managed - before.Managed) / 1024.0 / k:N1} KB");
        table.Add("process working set", Kb(after.WorkingSet - before.WorkingSet), $"{(after.WorkingSet - before.WorkingSet) / 1024.0 / k:N1} KB");
        table.Print();
        await Task.WhenAll(sockets.Select(s => s.DisposeAsync().AsTask()));
    }

    private static string Kb(long bytes) => $"{bytes / 1024.0:N0} KB";
}
