using CodexLb.Benchmarks;
using CodexLb.Benchmarks.Infrastructure;
using CodexLb.Benchmarks.Scenarios;

// dotnet run -c Release --project bench/Benchmarks -- [SCENARIO|all] [--quick] (the scenarios: the table below)
//   [--no-wait] [--throughput-seconds N] [--conversations K] [--context-kb N] [--state-conversations K] [--state-turns T]
//   [--bridge-env NAME=VALUE]... (floor, floor-profile: an environment variable for the bridge process only, e.g. a GC setting)
//   [--no-image-env] (start the bridge and YARP without the runtime environment of the product's images: src/Silo/Dockerfile)
//   [--only PREFIX] (floor: only the settings whose name starts with PREFIX, e.g. "c=64"; an experiment's quick A/B, no goals judged)
//   [--bridge-b PATH] (ab: B is the bridge of another build, PATH its CodexLb.Benchmarks.dll; without it B is this build's with --bridge-env)
//   CODEXLB_BENCH_GC_DETAIL=1 (floor): every process also logs its GC events, kept as $TMPDIR/gc-detail-*.log (bench/scripts/gc_phases.py)
// --no-wait: do not wait for other processes to leave the CPUs alone before each scenario.

using var pauseLog = RuntimePauseLog.FromEnvironment(); // a child of the floor: its runtime pauses, for the stall table
if (args.Contains(SimulatorProcess.ChildFlag)) return await SimulatorProcess.RunChildAsync(args);
if (args.Contains(BridgeProcess.ChildFlag)) return await BridgeProcess.RunChildAsync(args);

var scenarios = new Scenario[]
{
    // Memory first: its working-set figures are only meaningful in a process that has not yet grown its heap.
    new("memory", MemoryScenario.RunAsync),
    new("latency", LatencyScenario.RunAsync),
    new("throughput", ThroughputScenario.RunAsync),
    new("relay", RelayScenario.RunAsync),
    new("context", ContextScenario.RunAsync),
    new("chat", ChatScenario.RunAsync),
    new("profile", ProfileScenario.RunAsync),
    new("state", StateScenario.RunAsync, InAll: false), // production mode (redis-server on PATH)
    new("store", StoreScenario.RunAsync, InAll: false), // the embedded tree grown to 1M nodes in this process
    new("floor", FloorScenario.RunAsync, InAll: false), // the bridge vs YARP, each in its own process
    new("floor-profile", FloorScenario.ProfileAsync, InAll: false), // perf record of the bridge and YARP at c=64
    new("ab", AbScenario.RunAsync, InAll: false), // two bridges (two builds, or one with --bridge-env) interleaved at c=64
    new("failover", _ => { Console.WriteLine(); Console.WriteLine("### failover"); Console.WriteLine(); Console.WriteLine("run: see tests/Tests/Cluster"); return Task.CompletedTask; }),
};

var options = BenchOptions.Parse(args, [.. scenarios.Select(s => s.Name), "all"]);
if (options is null)
{
    Console.Error.WriteLine($"usage: Benchmarks [{string.Join('|', scenarios.Select(s => s.Name))}|all] [--quick] [--no-wait] [--throughput-seconds N] [--conversations K] [--context-kb N] [--state-conversations K] [--state-turns T] [--bridge-env NAME=VALUE] [--bridge-b PATH] [--no-image-env] [--only PREFIX]");
    return 2;
}

ImageEnvironment.Applied = options.ImageEnvironment;
MachineInfo.Print();
Console.WriteLine();
if (ImageEnvironment.Applied && ImageEnvironment.Variables.Count > 0)
    Console.WriteLine($"image environment (given to the bridge and YARP processes): {string.Join(' ', ImageEnvironment.Variables.Select(kv => $"{kv.Key}={kv.Value}"))}");
Console.WriteLine($"command: dotnet run -c Release --project bench/Benchmarks -- {string.Join(' ', args)}");

var failed = 0;
var started = DateTime.UtcNow;
foreach (var (name, run, _) in scenarios.Where(s => options.Scenario == "all" ? s.InAll : s.Name == options.Scenario))
{
    if (options.WaitQuiet && name != "failover")
    {
        var others = await MachineLoad.WaitQuietAsync(0.15, TimeSpan.FromMinutes(3));
        if (others >= 0.15) Log.Progress($"{name}: the machine did not get quiet (other processes use {others:N2} cores); running anyway");
    }
    var speedBefore = name == "failover" ? 0 : MachineLoad.SpeedProbe();
    var watch = System.Diagnostics.Stopwatch.StartNew();
    var load = new MachineLoad();
    try
    {
        await run(options);
        if (name != "failover")
        {
            Console.WriteLine();
            var others = load.OtherCores();
            Console.WriteLine($"_{name}: {watch.Elapsed.TotalSeconds:N0} s; other processes on this machine used {others:N2} of {Environment.ProcessorCount} cores meanwhile; " +
                              $"CPU speed probe (SHA-256, one thread) {speedBefore:N0} MB/s before, {MachineLoad.SpeedProbe():N0} MB/s after._");
        }
    }
    catch (Exception ex)
    {
        failed++;
        Console.WriteLine();
        Console.WriteLine($"### {name}: FAILED");
        Console.WriteLine();
        Console.WriteLine("```");
        Console.WriteLine(ex.ToString());
        Console.WriteLine("```");
    }
    Log.Progress($"{name}: {watch.Elapsed.TotalSeconds:N0} s");
}
Console.WriteLine();
Console.WriteLine($"total {(DateTime.UtcNow - started).TotalSeconds:N0} s");
return failed == 0 ? 0 : 1;

namespace CodexLb.Benchmarks
{
    /// <summary>One scenario the benchmark can run by name; <paramref name="InAll"/>: also run by <c>all</c>.</summary>
    public sealed record Scenario(string Name, Func<BenchOptions, Task> Run, bool InAll = true);

    public sealed record BenchOptions(string Scenario, bool Quick, int ThroughputSeconds, int Conversations, bool WaitQuiet, int StateConversations = 10_000, int StateTurns = 20,
        int ContextKb = 200, IReadOnlyDictionary<string, string>? BridgeEnvironment = null, string? Only = null, bool ImageEnvironment = true,
        string? OtherBridge = null)
    {
        /// <param name="known">The names a scenario argument may take.</param>
        public static BenchOptions? Parse(string[] args, IReadOnlyCollection<string> known)
        {
            var scenario = "all";
            var quick = false;
            var seconds = 20;
            var conversations = 2000;
            var waitQuiet = true;
            var (stateConversations, stateTurns) = (10_000, 20);
            var contextKb = 200;
            var bridgeEnvironment = new Dictionary<string, string>();
            string? only = null;
            var imageEnvironment = true;
            string? otherBridge = null;
            for (var i = 0; i < args.Length; i++)
            {
                switch (args[i])
                {
                    case "--quick": quick = true; break;
                    case "--no-wait": waitQuiet = false; break;
                    case "--throughput-seconds" when i + 1 < args.Length && int.TryParse(args[i + 1], out var s): seconds = s; i++; break;
                    case "--conversations" when i + 1 < args.Length && int.TryParse(args[i + 1], out var k): conversations = k; i++; break;
                    case "--state-conversations" when i + 1 < args.Length && int.TryParse(args[i + 1], out var sk) && sk > 0: stateConversations = sk; i++; break;
                    case "--state-turns" when i + 1 < args.Length && int.TryParse(args[i + 1], out var st) && st > 0: stateTurns = st; i++; break;
                    case "--context-kb" when i + 1 < args.Length && int.TryParse(args[i + 1], out var kb) && kb > 0: contextKb = kb; i++; break;
                    case "--bridge-env" when i + 1 < args.Length && args[i + 1].IndexOf('=') > 0:
                        var pair = args[++i];
                        bridgeEnvironment[pair[..pair.IndexOf('=')]] = pair[(pair.IndexOf('=') + 1)..];
                        break;
                    case "--only" when i + 1 < args.Length: only = args[++i]; break;
                    case "--no-image-env": imageEnvironment = false; break;
                    case "--bridge-b" when i + 1 < args.Length && File.Exists(args[i + 1]): otherBridge = Path.GetFullPath(args[++i]); break;
                    case var name when known.Contains(name): scenario = name; break;
                    default: return null;
                }
            }
            return new BenchOptions(scenario, quick, seconds, conversations, waitQuiet, stateConversations, stateTurns, contextKb, bridgeEnvironment, only, imageEnvironment, otherBridge);
        }
    }
}
