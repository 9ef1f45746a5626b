using System.Diagnostics;

namespace CodexLb.Benchmarks.Infrastructure;

/// <summary>
/// A CPU profile of one process with Linux perf (software clock, so it works in a VM without hardware counters): the
/// process runs with the runtime's perf map on and W^X off (JIT'd code then lives in plain anonymous memory, where perf
/// finds the map's names; with W^X on it sits in a memfd double mapping perf cannot name), and <c>perf record -g</c>
/// samples it while a load runs. Hot framework code is re-JIT'd at tier 1 and so named too; cold ReadyToRun frames show
/// as their .dll, and the runtime's own frames as libcoreclr.so (stripped).
/// </summary>
public static class PerfProfile
{
    /// <summary>The environment the profiled process starts with.</summary>
    public static readonly Dictionary<string, string> Environment = new()
    {
        ["DOTNET_PerfMapEnabled"] = "1",
        ["DOTNET_EnableWriteXorExecute"] = "0",
    };

    public static bool Available()
    {
        try
        {
            using var perf = Start(["--version"]);
            perf.WaitForExit();
            return perf.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    /// <summary>Samples <paramref name="pid"/> (499 Hz, call graphs) into <paramref name="output"/> while <paramref name="load"/> runs.</summary>
    public static Task RecordAsync(int pid, string output, TimeSpan duration, Func<Task> load) =>
        AttachAsync([["record", "-e", "cpu-clock", "-F", "499", "-g", "-p", pid.ToString(), "-o", output]], duration, load);

    /// <summary>
    /// Counts <paramref name="events"/> (software events and tracepoints, e.g. <c>context-switches</c>,
    /// <c>syscalls:sys_enter_sendmsg</c>) in each of <paramref name="pids"/> (one <c>perf stat</c> each, side by side)
    /// while <paramref name="load"/> runs; the counts in the order of the pids.
    /// </summary>
    public static async Task<Dictionary<string, double>[]> CountAsync(IReadOnlyList<int> pids, IEnumerable<string> events, TimeSpan duration, Func<Task> load)
    {
        var list = string.Join(',', events);
        var outputs = await AttachAsync([.. pids.Select(pid => new[] { "stat", "-x", ",", "-e", list, "-p", pid.ToString() })], duration, load);
        return [.. outputs.Select(Counts)];
    }

    /// <summary>Parses <c>perf stat -x ,</c> lines (value,unit,event,…) into counts by event.</summary>
    private static Dictionary<string, double> Counts(string stderr)
    {
        var counts = new Dictionary<string, double>();
        foreach (var line in stderr.Split('\n'))
        {
            var fields = line.Split(',');
            if (fields.Length >= 3 && double.TryParse(fields[0], System.Globalization.CultureInfo.InvariantCulture, out var value)) counts[fields[2]] = value;
        }
        return counts;
    }

    /// <summary>
    /// Runs each <c>perf ARGS -- sleep DURATION</c> (one per process watched) while <paramref name="load"/> runs; returns
    /// each perf's stderr.
    /// </summary>
    private static async Task<string[]> AttachAsync(IReadOnlyList<string[]> runs, TimeSpan duration, Func<Task> load)
    {
        var perfs = runs.Select(args => Start(args.Concat(["--", "sleep", ((int)duration.TotalSeconds).ToString()]))).ToArray();
        try
        {
            var stderrs = perfs.Select(perf => perf.StandardError.ReadToEndAsync()).ToArray();
            await Task.Delay(300); // perf attaches
            await load();
            for (var i = 0; i < perfs.Length; i++)
            {
                await perfs[i].WaitForExitAsync();
                if (perfs[i].ExitCode != 0) throw new InvalidOperationException($"perf {runs[i][0]} failed: " + await stderrs[i]);
            }
            return await Task.WhenAll(stderrs);
        }
        finally
        {
            foreach (var perf in perfs) perf.Dispose();
        }
    }

    /// <summary>The top lines of <c>perf report</c> (<paramref name="sort"/>: sym, dso or comm; children = inclusive time).</summary>
    public static IReadOnlyList<string> Top(string file, string sort, bool children, int lines)
    {
        using var perf = Start(["report", "-i", file, "--stdio", children ? "--children" : "--no-children", "--sort", sort, "-g", "none", "--percent-limit", "0.3"]);
        var text = perf.StandardOutput.ReadToEnd();
        perf.WaitForExit();
        return text.Split('\n')
            .Where(l => l.Length > 0 && l[0] != '#' && l.Contains('%'))
            .Select(l => l.Length > 200 ? l[..200] + "…" : l)
            .Take(lines)
            .ToList();
    }

    /// <summary>
    /// Who a process's CPU went to: each sample of <c>perf script</c> is charged to the first frame from its leaf up that
    /// belongs to an owner in <paramref name="owners"/> (a namespace prefix and its name, first match wins), so the
    /// library, runtime and kernel work a caller asked for lands on that caller; samples with no owner on their stack are
    /// charged to their leaf's module. Percent of all samples, largest first.
    /// </summary>
    public static IReadOnlyList<(string Owner, double Percent)> ByOwner(string file, IReadOnlyList<(string Prefix, string Name)> owners)
    {
        using var perf = Start(["script", "-i", file, "-F", "ip,sym,dso"]);
        _ = perf.StandardError.ReadToEndAsync();
        var counts = new Dictionary<string, int>();
        var samples = 0;
        string? owner = null, leaf = null;
        void Charge()
        {
            if (leaf is null) return;
            samples++;
            var name = owner ?? "no owner: " + leaf;
            counts[name] = counts.GetValueOrDefault(name) + 1;
            (owner, leaf) = (null, null);
        }
        while (perf.StandardOutput.ReadLine() is { } line)
        {
            if (line.Length == 0 || !char.IsWhiteSpace(line[0])) { Charge(); continue; }
            // A frame: "  ip symbol (module)"; the module of the leaf names an unowned sample.
            leaf ??= line.LastIndexOf('(') is var open and >= 0 ? Path.GetFileName(line[(open + 1)..].TrimEnd(')', ' ')) : "?";
            if (owner is not null) continue;
            foreach (var (prefix, name) in owners)
                if (line.Contains(prefix, StringComparison.Ordinal)) { owner = name; break; }
        }
        Charge();
        perf.WaitForExit();
        return [.. counts.OrderByDescending(c => c.Value).Select(c => (c.Key, 100.0 * c.Value / Math.Max(1, samples)))];
    }

    /// <summary>Starts <c>perf ARGS</c> with its output and error read by the caller.</summary>
    private static Process Start(IEnumerable<string> args)
    {
        var info = new ProcessStartInfo("perf") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        return Process.Start(info)!;
    }
}
