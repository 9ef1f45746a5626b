using CodexLb.Benchmarks.Infrastructure;

namespace CodexLb.Benchmarks.Scenarios;

/// <summary>
/// What a path's slowest turns were waiting for. At c=64 a closed loop keeps 64 turns in flight, so whatever stops a
/// process on the path (a garbage collection, any stop of the world) makes all of them slow at once: the turns at or above
/// the path's p99 come in episodes, not one by one (at c=1 an episode is one turn). Each episode is charged to the process
/// whose runtime pauses overlap it most (the simulator, the bridge or this client; YARP logs none), or to none when no
/// process paused for at least <see cref="MinOverlapMs"/> ms inside it (the cores were busy with other work, or a process
/// was scheduled out).
/// </summary>
internal static class FloorStalls
{
    /// <summary>Slow turns that end less than this apart belong to one episode.</summary>
    private static readonly long EpisodeGap = TimeSpan.FromMilliseconds(20).Ticks;

    private const double MinOverlapMs = 2;

    public sealed record PathTurns(string Path, List<double> TtlbMicros, List<long> Ends);

    public static void Report(string setting, IReadOnlyList<PathTurns> paths, IReadOnlyDictionary<string, List<RuntimePause>> pauses)
    {
        var first = paths.SelectMany(p => p.Ends).DefaultIfEmpty().Min();
        var last = paths.SelectMany(p => p.Ends).DefaultIfEmpty().Max();
        var processes = pauses.Keys.ToArray();
        var table = new Table($"floor, {setting}: the turns at or above each path's p99 (last event), by what stopped in their episode " +
                              $"(runtime pauses of >= {MinOverlapMs:N0} ms inside it; the process with the most pause time is charged)",
            ["path", "p99 µs", "slow turns", "episodes", .. processes.Select(p => $"in a {p} pause"), "in none"]);
        foreach (var path in paths)
        {
            if (path.TtlbMicros.Count == 0) continue;
            var p99 = new Distribution(path.TtlbMicros).P99;
            var slow = Enumerable.Range(0, path.TtlbMicros.Count).Where(i => path.TtlbMicros[i] >= p99)
                .Select(i => (Start: path.Ends[i] - (long)(path.TtlbMicros[i] * 10), End: path.Ends[i])).OrderBy(t => t.End).ToList();
            var charged = processes.ToDictionary(p => p, _ => 0);
            var none = 0;
            var episodes = Episodes(slow);
            foreach (var episode in episodes)
            {
                var (start, end) = (episode.Min(t => t.Start), episode.Max(t => t.End));
                var (culprit, most) = processes.Select(p => (p, Overlap(pauses[p], start, end))).MaxBy(x => x.Item2);
                if (most >= MinOverlapMs) charged[culprit] += episode.Count;
                else none += episode.Count;
            }
            table.Add([path.Path, p99, slow.Count, episodes.Count, .. processes.Select(p => (object)charged[p]), none]);
        }
        table.Print();

        var during = new Table($"floor, {setting}: runtime pauses of each process from the setting's first measured turn to its last",
            "process", "pauses", "gen0/1/2/other", "paused ms", "per second ms", "p50 ms", "max ms", ">= 5 ms");
        var seconds = Math.Max(1e-9, (last - first) / (double)TimeSpan.TicksPerSecond);
        foreach (var process in processes)
        {
            var inside = pauses[process].Where(p => p.End >= first && p.Start <= last).ToList();
            var lengths = new Distribution(inside.Select(p => p.Milliseconds));
            var generations = string.Join("/", new[] { 0, 1, 2, -1 }.Select(g => inside.Count(p => p.Generation == g)));
            var total = inside.Sum(p => p.Milliseconds);
            during.Add(process, inside.Count, generations, total, total / seconds, lengths.P50, lengths.Max, inside.Count(p => p.Milliseconds >= 5));
        }
        during.Print();
    }

    private static List<List<(long Start, long End)>> Episodes(List<(long Start, long End)> slow)
    {
        var episodes = new List<List<(long Start, long End)>>();
        foreach (var turn in slow)
        {
            if (episodes.Count > 0 && turn.End - episodes[^1][^1].End <= EpisodeGap) episodes[^1].Add(turn);
            else episodes.Add([turn]);
        }
        return episodes;
    }

    /// <summary>Milliseconds of <paramref name="pauses"/> inside [start, end].</summary>
    private static double Overlap(List<RuntimePause> pauses, long start, long end) =>
        pauses.Where(p => p.End > start && p.Start < end).Sum(p => (Math.Min(p.End, end) - Math.Max(p.Start, start)) / (double)TimeSpan.TicksPerMillisecond);
}
