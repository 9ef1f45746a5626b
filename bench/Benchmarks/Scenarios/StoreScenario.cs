using System.Diagnostics;
using System.Text;
using CodexLb.Benchmarks.Infrastructure;
using CodexLb.Grains.Tree;
using Microsoft.Extensions.Options;

namespace CodexLb.Benchmarks.Scenarios;

/// <summary>
/// What the embedded default's response tree costs the process as it grows: N turns appended to one
/// <see cref="MemoryResponseTreeStore"/> in this process (1,000 conversations, each node a ~300-byte user message and a
/// ~250-byte answer with its output id), then five blocking full collections. Prints the append's time, the page faults
/// and resident memory per node, and how long a full collection takes with the tree in the process. The store is what
/// the floor's bridge writes once per turn; the cluster's store is Redis.
/// </summary>
public static class StoreScenario
{
    private const int Conversations = 1000;

    public static async Task RunAsync(BenchOptions options)
    {
        var n = options.Quick ? 100_000 : 1_000_000;
        Log.Progress($"store: {n:N0} appends to the embedded response tree");
        var before = Sample();
        using var store = new MemoryResponseTreeStore(Options.Create(new StateOptions()), TimeProvider.System);
        var epochs = new long[Conversations];
        var heads = new string?[Conversations];
        for (var c = 0; c < Conversations; c++) epochs[c] = (await store.ClaimAsync(Key(c), default)).Epoch;
        var user = Encoding.UTF8.GetBytes($$"""{"type":"message","role":"user","content":[{"type":"input_text","text":"{{new string('x', 250)}}"}]}""");
        var answer = Encoding.UTF8.GetBytes($$"""{"type":"message","role":"assistant","content":[{"type":"output_text","text":"{{new string('y', 200)}}"}]}""");

        var cpu = CpuTime.Now();
        var watch = Stopwatch.StartNew();
        // The three longest appends and how many took over 1 ms (a table's growth is one append holding the store's lock);
        // kept in scalars, not a list of a million times: the figures below include the GC heap.
        var longest = new double[3];
        var overOneMs = 0;
        var last = watch.Elapsed;
        for (var i = 0; i < n; i++)
        {
            var c = i % Conversations;
            var id = $"resp_{i:x12}";
            var node = new ResponseNode(id, heads[c], Key(c), 2 * (i / Conversations + 1), (ulong)Random.Shared.NextInt64(), [user, answer],
                OutputCount: 1, OutputIds: [$"msg_{i:x12}"]);
            if (!await store.AppendAsync(epochs[c], node, default)) throw new InvalidOperationException("an append was fenced");
            heads[c] = id;
            var now = watch.Elapsed;
            var took = (now - last).TotalMilliseconds;
            last = now;
            if (took > 1) overOneMs++;
            for (var k = 0; k < longest.Length; k++) // longest first: a longer one takes the place, the one it displaced moves down
                if (took > longest[k]) (longest[k], took) = (took, longest[k]);
        }
        var wall = watch.Elapsed;
        var cpuSeconds = CpuTime.Now() - cpu;
        var filled = Sample();

        var pauses = new List<double>();
        for (var k = 0; k < 5; k++)
        {
            watch.Restart();
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false);
            pauses.Add(watch.Elapsed.TotalMilliseconds);
        }
        pauses.Sort();

        Console.WriteLine();
        Console.WriteLine($"### store: the embedded response tree after {n:N0} appends ({Conversations:N0} conversations, {store.EntryCount:N0} entries)");
        Console.WriteLine();
        Console.WriteLine("| figure | value |");
        Console.WriteLine("|---|---:|");
        Console.WriteLine($"| append, wall µs (one thread) | {wall.TotalMicroseconds / n:N2} |");
        Console.WriteLine($"| process CPU µs per append (collector threads included) | {cpuSeconds * 1e6 / n:N2} |");
        Console.WriteLine($"| longest appends, ms (the store's lock held; the three longest) | {longest[0]:N1}, {longest[1]:N1}, {longest[2]:N1} |");
        Console.WriteLine($"| appends over 1 ms | {overOneMs:N0} |");
        Console.WriteLine($"| page faults per append | {(filled.Faults - before.Faults) / (double)n:N2} |");
        Console.WriteLine($"| resident memory per node, bytes | {(filled.Rss - before.Rss) / (double)n:N0} |");
        Console.WriteLine($"| GC heap after the appends, MB | {GC.GetTotalMemory(false) / 1048576.0:N0} |");
        Console.WriteLine($"| full collections during the appends | {filled.FullCollections - before.FullCollections} |");
        Console.WriteLine($"| blocking full collection afterwards, ms (median of 5, min–max) | {pauses[2]:N1} ({pauses[0]:N1}–{pauses[^1]:N1}) |");
    }

    private static string Key(int conversation) => $"tenant/thread/c{conversation}";

    private readonly record struct Snapshot(long Rss, long Faults, int FullCollections);

    private static Snapshot Sample()
    {
        using var self = Process.GetCurrentProcess();
        return new Snapshot(self.WorkingSet64, ProcessCpu.PageFaults(self.Id), GC.CollectionCount(2));
    }
}
