using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using CodexLb.Benchmarks.Infrastructure;
using CodexLb.UpstreamSimulator;
using StackExchange.Redis;

namespace CodexLb.Benchmarks.Scenarios;

/// <summary>
/// Conversation state per turn in PRODUCTION mode: a private <c>redis-server</c> (no persistence), the simulator and the
/// product in this process with <c>CodexLb:Redis:ConnectionString</c> (Redis clustering + Redis state, the gateway
/// co-hosted). K conversations x T turns, Codex-like (session headers, the full history every request, growing by the
/// previous output items and a new user message each turn), 32 at a time. Per turn, from deltas of Redis
/// <c>INFO commandstats/stats/memory/cpu</c> and <c>DBSIZE</c> around the driven turns (the warm-up excluded): commands,
/// bytes written to Redis, memory, keys; then every key's TTL by key shape (SCAN + PTTL, MEMORY USAGE on a sample); the
/// product's Orleans/bridge counters from <c>GET /metrics</c>; and, since commandstats also counts the commands a Lua
/// script runs, the round trips per turn from a further sample of conversations run under <c>MONITOR</c>.
/// </summary>
public static class StateScenario
{
    private const int Concurrency = 32;
    private const int WarmupConversations = 64;
    private const int WarmupTurns = 3;

    public static async Task RunAsync(BenchOptions options)
    {
        var k = options.Quick ? 200 : options.StateConversations;
        var t = options.Quick ? 5 : options.StateTurns;
        await using var redis = await RedisServer.StartAsync();
        Log.Progress($"state: redis-server on {redis.Endpoint} (pid {redis.ProcessId}); starting simulator + product in production mode");
        await using var product = await Product.StartAsync(new SimulatorOptions(),
        [
            "--CodexLb:Redis:ConnectionString", redis.Endpoint,
            "--CodexLb:Silo:ServeClients", "true", // production mode; this one process is also the clients' front door
            // Close an upstream socket 5 s after its conversation's last turn: K conversations would otherwise hold 2K
            // sockets in this process (product + simulator side) and run out of file descriptors. Closing writes no state.
            "--CodexLb:Upstream:IdleTimeout", "00:00:05",
        ]);
        using var admin = await ConnectionMultiplexer.ConnectAsync($"{redis.Endpoint},allowAdmin=true");
        var server = admin.GetServer(redis.Endpoint);
        using var client = new TurnClient(Concurrency);
        using var metricsHttp = new HttpClient { BaseAddress = product.GatewayUrl };

        var tag = Guid.NewGuid().ToString("N")[..8];
        Log.Progress($"state: warm-up ({WarmupConversations} conversations x {WarmupTurns} turns)");
        var warm = await DriveAsync(client, product, $"state-warm-{tag}", WarmupConversations, WarmupTurns);
        if (warm.Errors > 0) Log.Note($"WARNING: {warm.Errors} warm-up turns failed");
        await Task.Delay(TimeSpan.FromSeconds(1));

        var before = await RedisSnapshot.TakeAsync(server);
        var metricsBefore = await Metrics.ScrapeAsync(metricsHttp);
        Log.Progress($"state: driving {k:N0} conversations x {t} turns, {Concurrency} at a time");
        var run = await DriveAsync(client, product, $"state-{tag}", k, t);
        var metricsAfter = await Metrics.ScrapeAsync(metricsHttp);
        var after = await RedisSnapshot.TakeAsync(server);
        var turns = run.Turns;
        Log.Progress($"state: {turns:N0} turns in {run.WallSeconds:N0} s ({turns / run.WallSeconds:N0} turns/s), {run.Errors} errors; scanning keys");
        var keys = await KeyCensus.TakeAsync(admin.GetDatabase(), server);

        PrintSummary(k, t, run, before, after, keys);
        PrintCommands(turns, before, after);
        keys.Print(k, turns);
        Metrics.Print(metricsBefore, metricsAfter, turns, k);

        // Round trips: commandstats counts the commands a Lua script runs as well, so a sample runs under MONITOR, which
        // tells a client's command ("[0 127.0.0.1:port]") from one run inside a script ("[0 lua]").
        var sample = Math.Min(k, MonitorSampleConversations);
        Log.Progress($"state: round-trip sample under MONITOR ({sample} new conversations x {t} turns)");
        await using var monitor = await RedisMonitor.StartAsync(redis.Endpoint);
        var sampled = await DriveAsync(client, product, $"state-monitor-{tag}", sample, t);
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        monitor.Print(sampled.Turns, sample, t, sampled.WallSeconds);
    }

    private const int MonitorSampleConversations = 200;

    private static void PrintSummary(int k, int t, DriveResult run, RedisSnapshot before, RedisSnapshot after, KeyCensus keys)
    {
        var turns = (double)run.Turns;
        var commands = after.Commands.Where(c => !RedisSnapshot.OwnCommands.Contains(c.Key))
            .Sum(c => c.Value.Calls - before.Commands.GetValueOrDefault(c.Key).Calls);
        var redisCpu = after.Seconds("used_cpu_user") + after.Seconds("used_cpu_sys") - before.Seconds("used_cpu_user") - before.Seconds("used_cpu_sys");
        var netIn = after.Stat("total_net_input_bytes") - before.Stat("total_net_input_bytes");
        var netOut = after.Stat("total_net_output_bytes") - before.Stat("total_net_output_bytes");
        var memory = after.Memory("used_memory") - before.Memory("used_memory");
        var table = new Table($"state: Redis per turn, production mode ({k:N0} conversations x {t} turns = {run.Turns:N0} completed turns, c={Concurrency}, warm-up excluded)",
            "measure", "total (delta)", "per turn", "per conversation");
        table.Add("turns completed / failed", $"{run.Turns:N0} / {run.Errors:N0}", "-", "-");
        table.Add("wall time, turns/s", $"{run.WallSeconds:N1} s", $"{turns / run.WallSeconds:N0} turns/s", "-");
        table.Add("Redis commands executed (incl. those inside Lua scripts; excl. the benchmark's INFO/DBSIZE)", commands, commands / turns, commands / (double)k);
        table.Add("Redis process CPU (INFO cpu used_cpu_user + used_cpu_sys)", $"{redisCpu:N2} s", $"{redisCpu * 1e6 / turns:N1} µs", $"{redisCpu * 1e6 / k:N0} µs");
        table.Add("bytes written to Redis (total_net_input_bytes)", Size(netIn), Size(netIn / turns), Size(netIn / (double)k));
        table.Add("bytes read from Redis (total_net_output_bytes)", Size(netOut), Size(netOut / turns), Size(netOut / (double)k));
        table.Add("item payload the clients added (new user message + output items)", Size(run.AddedItemBytes), Size(run.AddedItemBytes / turns), Size(run.AddedItemBytes / (double)k));
        table.Add("request bodies the clients sent (full history)", Size(run.BodyBytes), Size(run.BodyBytes / turns), Size(run.BodyBytes / (double)k));
        table.Add("Redis used_memory", Size(memory), Size(memory / turns), Size(memory / (double)k));
        table.Add("Redis keys (DBSIZE)", after.Keys - before.Keys, (after.Keys - before.Keys) / turns, (after.Keys - before.Keys) / (double)k);
        table.Add("keys with no TTL (excl. Orleans membership)", keys.NoTtlExcludingMembership, "-", "-");
        table.Add("Redis expired_keys / evicted_keys meanwhile", $"{after.Stat("expired_keys") - before.Stat("expired_keys"):N0} / {after.Stat("evicted_keys") - before.Stat("evicted_keys"):N0}", "-", "-");
        table.Print();
        Log.Note("");
        Log.Note($"Redis after the run: used_memory {Size(after.Memory("used_memory"))}, used_memory_dataset {Size(after.Memory("used_memory_dataset"))}, " +
                 $"{after.Keys:N0} keys in all (warm-up and membership included); redis_version {after.Info.GetValueOrDefault("redis_version", "?")}.");
    }

    private static void PrintCommands(int turns, RedisSnapshot before, RedisSnapshot after)
    {
        var table = new Table("state: Redis commands per turn (INFO commandstats delta / completed turns; counts the commands a Lua script runs too, and a script's usec includes theirs: round trips are in the MONITOR table below)",
            "command", "calls", "per turn", "usec per call", "usec per turn");
        var rows = after.Commands
            .Select(c => (Name: c.Key, Calls: c.Value.Calls - before.Commands.GetValueOrDefault(c.Key).Calls, Usec: c.Value.Usec - before.Commands.GetValueOrDefault(c.Key).Usec))
            .Where(r => r.Calls > 0)
            .OrderByDescending(r => r.Calls);
        foreach (var (name, calls, usec) in rows)
            table.Add(RedisSnapshot.OwnCommands.Contains(name) ? name + " (the benchmark's own)" : name, calls, calls / (double)turns, usec / (double)calls, usec / (double)turns);
        table.Print();
    }

    private static string Size(double bytes) => Math.Abs(bytes) switch
    {
        >= 1024 * 1024 * 10 => $"{bytes / 1024 / 1024:N1} MB",
        >= 1024 * 10 => $"{bytes / 1024:N1} KB",
        _ => $"{bytes:N0} B",
    };

    private sealed class DriveResult
    {
        public int Turns;
        public int Errors;
        public long AddedItemBytes;
        public long BodyBytes;
        public double WallSeconds;
    }

    /// <summary>
    /// <paramref name="conversations"/> Codex-like conversations of <paramref name="turns"/> turns each: a worker takes the
    /// next conversation and runs its turns one after the other, <see cref="Concurrency"/> workers.
    /// </summary>
    private static async Task<DriveResult> DriveAsync(TurnClient client, Product product, string prefix, int conversations, int turns)
    {
        var result = new DriveResult();
        var next = -1;
        var progress = Stopwatch.StartNew();
        var start = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(_ => Task.Run(async () =>
        {
            using var capture = new MemoryStream();
            for (var c = Interlocked.Increment(ref next); c < conversations; c = Interlocked.Increment(ref next))
            {
                var session = $"{prefix}-{c}";
                var history = new List<byte[]>();
                for (var turn = 1; turn <= turns; turn++)
                {
                    var message = Bodies.Message("user", $"prompt {turn} of session {session}: look at the repository and answer briefly");
                    history.Add(message);
                    var body = Bodies.Create(history);
                    capture.SetLength(0);
                    TurnTiming timing;
                    try
                    {
                        timing = await client.PostAsync(product.GatewayResponses, body, session, capture);
                    }
                    catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException)
                    {
                        timing = default;
                    }
                    if (!timing.Completed)
                    {
                        history.RemoveAt(history.Count - 1);
                        Interlocked.Increment(ref result.Errors);
                        continue;
                    }
                    var outputs = Bodies.OutputItems(capture.GetBuffer().AsSpan(0, (int)capture.Length));
                    history.AddRange(outputs);
                    Interlocked.Increment(ref result.Turns);
                    Interlocked.Add(ref result.AddedItemBytes, message.Length + outputs.Sum(o => (long)o.Length));
                    Interlocked.Add(ref result.BodyBytes, body.Length);
                }
                if (c > 0 && c % 1000 == 0)
                    Log.Progress($"state: {c:N0} of {conversations:N0} conversations started, {Volatile.Read(ref result.Turns):N0} turns, {progress.Elapsed.TotalSeconds:N0} s");
            }
        })));
        result.WallSeconds = (Stopwatch.GetTimestamp() - start) / (double)Stopwatch.Frequency;
        return result;
    }

    /// <summary>A MONITOR connection counting commands by origin (a client's round trip or a command inside a Lua script).</summary>
    private sealed class RedisMonitor : IAsyncDisposable
    {
        private readonly TcpClient _tcp;
        private readonly Task _reader;
        private readonly Dictionary<(bool Lua, string Command), long> _counts = [];
        private long _started = Stopwatch.GetTimestamp();

        private RedisMonitor(TcpClient tcp)
        {
            _tcp = tcp;
            _reader = Task.Run(ReadAsync);
        }

        public static async Task<RedisMonitor> StartAsync(string endpoint)
        {
            var at = endpoint.LastIndexOf(':');
            var tcp = new TcpClient();
            await tcp.ConnectAsync(endpoint[..at], int.Parse(endpoint[(at + 1)..], CultureInfo.InvariantCulture));
            await tcp.GetStream().WriteAsync("MONITOR\r\n"u8.ToArray());
            var monitor = new RedisMonitor(tcp);
            return monitor;
        }

        private async Task ReadAsync()
        {
            using var reader = new StreamReader(_tcp.GetStream(), System.Text.Encoding.UTF8, false, 1 << 16);
            try
            {
                while (await reader.ReadLineAsync() is { } line)
                {
                    // +1700000000.123456 [0 127.0.0.1:54321] "evalsha" "…" …   or   … [0 lua] "hset" …
                    if (line == "+OK") { _started = Stopwatch.GetTimestamp(); continue; }
                    var close = line.IndexOf("] \"", StringComparison.Ordinal);
                    if (close < 0) continue;
                    var end = line.IndexOf('"', close + 3);
                    if (end < 0) continue;
                    var key = (line.AsSpan(0, close).EndsWith(" lua"), line[(close + 3)..end].ToLowerInvariant());
                    lock (_counts) _counts[key] = _counts.GetValueOrDefault(key) + 1;
                }
            }
            catch (IOException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
        }

        public void Print(int turns, int conversations, int turnsEach, double driveSeconds)
        {
            Dictionary<(bool Lua, string Command), long> counts;
            lock (_counts) counts = new(_counts);
            var window = (Stopwatch.GetTimestamp() - _started) / (double)Stopwatch.Frequency;
            var table = new Table($"state: round trips per turn (MONITOR over {conversations} new conversations x {turnsEach} turns = {turns:N0} turns, {window:N1} s window; " +
                                  "client = a command a client sent, one round trip; in script = run by a Lua script)",
                "command", "client calls", "client per turn", "in-script calls", "in-script per turn");
            foreach (var command in counts.Keys.Select(c => c.Command).Distinct().OrderByDescending(c => counts.GetValueOrDefault((false, c)) + counts.GetValueOrDefault((true, c))))
            {
                var (client, lua) = (counts.GetValueOrDefault((false, command)), counts.GetValueOrDefault((true, command)));
                table.Add(command, client, client / (double)turns, lua, lua / (double)turns);
            }
            var (clientTotal, luaTotal) = (counts.Where(c => !c.Key.Lua).Sum(c => c.Value), counts.Where(c => c.Key.Lua).Sum(c => c.Value));
            table.Add("**all**", clientTotal, clientTotal / (double)turns, luaTotal, luaTotal / (double)turns);
            table.Print();
            Log.Note("");
            Log.Note($"Store round trips per turn: {clientTotal / (double)turns:N2} (every client command in the window, Orleans membership and client heartbeats included; " +
                     $"the turns took {driveSeconds:N1} s).");
        }

        public async ValueTask DisposeAsync()
        {
            _tcp.Dispose();
            await _reader;
        }
    }

    private readonly record struct CommandStat(long Calls, long Usec);

    /// <summary>INFO commandstats / stats / memory and DBSIZE at one moment.</summary>
    private sealed record RedisSnapshot(Dictionary<string, CommandStat> Commands, Dictionary<string, string> Info, long Keys)
    {
        /// <summary>What the benchmark itself sends around the measurement (not the product's traffic).</summary>
        public static readonly HashSet<string> OwnCommands = ["info", "dbsize", "scan", "ttl", "memory|usage", "memory", "client|setname", "client|setinfo", "client", "config|get", "config", "cluster|nodes", "cluster"];

        public long Stat(string name) => long.Parse(Info[name], CultureInfo.InvariantCulture);

        public long Memory(string name) => Stat(name);

        public double Seconds(string name) => double.Parse(Info[name], CultureInfo.InvariantCulture);

        public static async Task<RedisSnapshot> TakeAsync(IServer server)
        {
            var commands = new Dictionary<string, CommandStat>();
            foreach (var line in await RedisInfo.LinesAsync(server, "commandstats"))
            {
                // cmdstat_evalsha:calls=1,usec=2,usec_per_call=2.00,rejected_calls=0,failed_calls=0
                if (!line.StartsWith("cmdstat_", StringComparison.Ordinal)) continue;
                var colon = line.IndexOf(':');
                var fields = line[(colon + 1)..].Split(',').Select(f => f.Split('=')).ToDictionary(f => f[0], f => f[1]);
                commands[line[8..colon]] = new CommandStat(long.Parse(fields["calls"], CultureInfo.InvariantCulture), long.Parse(fields["usec"], CultureInfo.InvariantCulture));
            }
            var info = new Dictionary<string, string>();
            foreach (var section in new[] { "stats", "memory", "server", "cpu" })
                foreach (var (name, value) in await RedisInfo.FieldsAsync(server, section)) info[name] = value;
            var keys = (long)await server.ExecuteAsync("DBSIZE");
            return new RedisSnapshot(commands, info, keys);
        }
    }

    /// <summary>Every key (SCAN), grouped by shape, with its TTL and, for a sample, MEMORY USAGE.</summary>
    private sealed class KeyCensus
    {
        private const int MemorySamplePerGroup = 2000;

        private sealed class Group
        {
            public long Count;
            public long NoTtl;
            public long Sampled;
            public long SampledBytes;
            public string Type = "";
            public string Example = "";
        }

        private readonly SortedDictionary<string, Group> _groups = new(StringComparer.Ordinal);

        public long NoTtlExcludingMembership => _groups.Where(g => !IsMembership(g.Key)).Sum(g => g.Value.NoTtl);

        public static async Task<KeyCensus> TakeAsync(IDatabase db, IServer server)
        {
            var census = new KeyCensus();
            var batch = new List<RedisKey>(1000);
            await foreach (var key in server.KeysAsync(pageSize: 1000))
            {
                batch.Add(key);
                if (batch.Count == 1000) await census.AddAsync(db, batch);
            }
            await census.AddAsync(db, batch);
            return census;
        }

        private async Task AddAsync(IDatabase db, List<RedisKey> keys)
        {
            var ttls = keys.Select(k => db.ExecuteAsync("PTTL", k)).ToArray();
            await Task.WhenAll(ttls);
            var sampled = new List<(RedisKey Key, Group Group, Task<RedisResult> Usage, Task<RedisType>? Type)>();
            for (var i = 0; i < keys.Count; i++)
            {
                var name = Shape(keys[i]!);
                if (!_groups.TryGetValue(name, out var group)) _groups[name] = group = new Group { Example = keys[i]! };
                group.Count++;
                if ((long)ttls[i].Result == -1) group.NoTtl++;
                if (group.Count <= MemorySamplePerGroup)
                    sampled.Add((keys[i], group, db.ExecuteAsync("MEMORY", "USAGE", keys[i], "SAMPLES", "0"), group.Count == 1 ? db.KeyTypeAsync(keys[i]) : null));
            }
            foreach (var (_, group, usage, type) in sampled)
            {
                var bytes = await usage;
                if (!bytes.IsNull) { group.Sampled++; group.SampledBytes += (long)bytes; }
                if (type is not null) group.Type = (await type).ToString().ToLowerInvariant();
            }
            keys.Clear();
        }

        public void Print(int conversations, int turns)
        {
            var table = new Table("state: Redis keys after the run by key shape (all keys, warm-up and membership included; variable parts shown as *)",
                "key shape", "type", "keys", "per turn", "per conversation", "TTL -1 (none)", "MEMORY USAGE avg", "est. total", "example");
            foreach (var (name, g) in _groups.OrderByDescending(g => g.Value.Count))
            {
                var average = g.Sampled == 0 ? double.NaN : g.SampledBytes / (double)g.Sampled;
                table.Add(name + (IsMembership(name) ? " (Orleans membership)" : ""), g.Type, g.Count, g.Count / (double)turns, g.Count / (double)conversations,
                    g.NoTtl, double.IsNaN(average) ? "-" : $"{average:N0} B", double.IsNaN(average) ? "-" : $"{average * g.Count / 1024 / 1024:N1} MB",
                    "`" + (g.Example.Length > 90 ? g.Example[..90] + "…" : g.Example) + "`");
            }
            table.Print();
            Log.Note("");
            Log.Note($"Keys with no TTL: {_groups.Where(g => IsMembership(g.Key)).Sum(g => g.Value.NoTtl):N0} Orleans membership, {NoTtlExcludingMembership:N0} other. " +
                     $"MEMORY USAGE (SAMPLES 0) on up to {MemorySamplePerGroup:N0} keys per shape; est. total = average x keys.");
        }

        private static bool IsMembership(string shape) => shape.Contains("members", StringComparison.OrdinalIgnoreCase);

        /// <summary>The key with each variable segment (any digit, a {hash tag}, or longer than 24 characters) replaced by *.</summary>
        private static string Shape(string key)
        {
            var parts = Regex.Split(key, "([:/|])");
            for (var i = 0; i < parts.Length; i += 2)
                if (parts[i].Any(char.IsDigit) || parts[i].StartsWith('{') || parts[i].Length > 24) parts[i] = "*";
            return string.Concat(parts);
        }
    }

    /// <summary>The product's Prometheus counters (GET /metrics), summed over labels.</summary>
    private static class Metrics
    {
        public static async Task<Dictionary<string, double>> ScrapeAsync(HttpClient http)
        {
            var text = await http.GetStringAsync("metrics");
            var values = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var line in text.Split('\n'))
            {
                if (line.Length == 0 || line[0] == '#') continue;
                // name{labels} value [timestamp]
                var close = line.LastIndexOf('}');
                var end = close >= 0 ? close + 1 : line.IndexOf(' ');
                if (end <= 0 || end >= line.Length) continue;
                var series = line[..end];
                var valueText = line[end..].Trim().Split(' ')[0];
                if (!double.TryParse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)) continue;
                var brace = series.IndexOf('{');
                var name = brace < 0 ? series : series[..brace];
                if (name.EndsWith("_bucket", StringComparison.Ordinal)) continue;
                values[name] = values.GetValueOrDefault(name) + value;
                values[series] = value;
            }
            return values;
        }

        public static void Print(Dictionary<string, double> before, Dictionary<string, double> after, int turns, int conversations)
        {
            var table = new Table("state: the product's Orleans and bridge metrics (GET /metrics delta over the driven turns; counters, histogram counts and gauges; label sets shown where a metric has several)",
                "metric", "delta", "per turn", "per conversation");
            var deltas = after.Where(p => p.Key.StartsWith("orleans", StringComparison.Ordinal) || p.Key.StartsWith("codexlb", StringComparison.Ordinal))
                .Select(p => (Series: p.Key, Name: p.Key.Split('{')[0], Delta: p.Value - before.GetValueOrDefault(p.Key)))
                .Where(d => d.Delta != 0 && !d.Name.EndsWith("_sum", StringComparison.Ordinal) && !d.Name.Contains("memory", StringComparison.Ordinal))
                .ToList();
            foreach (var group in deltas.GroupBy(d => d.Name).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                var labelled = group.Where(d => d.Series.Contains('{')).ToList();
                var rows = labelled.Count > 1 ? labelled : group.Where(d => !d.Series.Contains('{')).ToList();
                foreach (var (series, _, delta) in rows)
                    table.Add(Regex.Replace(series, "otel_scope_name=\"[^\"]*\",?", "").Replace("{}", ""), delta, delta / turns, delta / conversations);
            }
            table.Print();
            var requests = after.GetValueOrDefault("orleans_app_requests_latency_milliseconds_count") - before.GetValueOrDefault("orleans_app_requests_latency_milliseconds_count");
            var activations = after.GetValueOrDefault("orleans_catalog_activation_created_total") - before.GetValueOrDefault("orleans_catalog_activation_created_total");
            Log.Note("");
            Log.Note($"Grain calls per turn (orleans_app_requests_latency count: application requests the grains served, the turn call and the calls that stream its events): {requests / turns:N2}; " +
                     $"activations created per turn: {activations / turns:N3} ({activations / conversations:N2} per conversation).");
            var warmRebinds = before.GetValueOrDefault("codexlb_gateway_rebinds_total");
            if (warmRebinds > 0)
                Log.Note($"During the warm-up (cold silo, excluded above) the gateway re-dispatched {warmRebinds:N0} turns whose owner was silent past " +
                         "CodexLb:Gateway:OwnerTimeout (codexlb_gateway_rebinds_total); such a turn may have run twice upstream.");
        }
    }
}
