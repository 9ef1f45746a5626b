using System.Diagnostics;

namespace CodexLb.Benchmarks.Infrastructure;

/// <summary>
/// A helper process of a scenario (the simulator, the bridge, the YARP floor), so each one's CPU can be read on its own
/// (<see cref="CpuSecondsAsync"/>). The protocol: the child prints <c>PORT n</c> once listening, then answers each command
/// line read from stdin with one <c>OK</c> line (<c>cpu</c> with its CPU time), and exits when its stdin closes.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;

    private ChildProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public int Id => _process.Id;

    /// <summary>This program again, in the child mode <paramref name="flag"/> selects (see Program.cs).</summary>
    public static Task<ChildProcess> StartSelfAsync(string flag, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null) =>
        StartAsync(typeof(ChildProcess).Assembly.Location, [flag, .. args], environment);

    /// <summary>A .NET program (<paramref name="assembly"/>, a .dll of the output directory) run by the same dotnet host.</summary>
    /// <param name="environment">variables added to the child's environment (a profiler's switches).</param>
    public static async Task<ChildProcess> StartAsync(string assembly, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        var host = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            info.FileName = host;
            info.ArgumentList.Add(assembly);
        }
        else
        {
            // Started through the apphost: run the other program's apphost, next to its .dll.
            info.FileName = Path.ChangeExtension(assembly, OperatingSystem.IsWindows() ? ".exe" : null);
        }
        foreach (var arg in args) info.ArgumentList.Add(arg);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) info.Environment[name] = value;
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {assembly}");
        var line = await ReadLineAsync(process, l => l.StartsWith("PORT ", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        return new ChildProcess(process, int.Parse(line[5..]));
    }

    /// <summary>Sends one command line and waits for the child's <c>OK</c>.</summary>
    public Task CommandAsync(string command) => AskAsync(command, l => l == "OK");

    /// <summary>
    /// User + system CPU seconds of the whole process so far (all threads, ended ones too), as the child reads its own
    /// nanosecond clock (<see cref="CpuTime"/>). /proc/PID/stat counts 10 ms ticks: ±10 ms on each reading was ±20% of a
    /// long-stream batch's bridge CPU.
    /// </summary>
    public async Task<double> CpuSecondsAsync()
    {
        var line = await AskAsync(CpuTime.Command, l => l.StartsWith(CpuTime.Answer, StringComparison.Ordinal));
        var fields = line[CpuTime.Answer.Length..].Split(' ');
        if (fields.Length > 1) TierUpSeconds = double.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture);
        if (fields.Length > 2) AllocatedBytes = long.Parse(fields[2], System.Globalization.CultureInfo.InvariantCulture);
        if (fields.Length > 3) WorkItems = long.Parse(fields[3], System.Globalization.CultureInfo.InvariantCulture);
        return double.Parse(fields[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The child's tier-up compiler CPU seconds (<see cref="CpuTime.TierUp"/>) as of the last <see cref="CpuSecondsAsync"/>.</summary>
    public double TierUpSeconds { get; private set; }

    /// <summary>The bytes the child allocated (<see cref="GC.GetTotalAllocatedBytes"/>) as of the last <see cref="CpuSecondsAsync"/>.</summary>
    public long AllocatedBytes { get; private set; }

    /// <summary>The thread-pool work items the child ran (<see cref="ThreadPool.CompletedWorkItemCount"/>) as of the last <see cref="CpuSecondsAsync"/>.</summary>
    public long WorkItems { get; private set; }

    /// <summary>
    /// The child's minor page faults so far (Linux <c>/proc/PID/stat</c>, field 10; 0 elsewhere): on this kind of VM each
    /// costs ~10 µs, and a heap that keeps handing out fresh pages pays one per 4 KB allocated.
    /// </summary>
    public long PageFaults() => ProcessCpu.PageFaults(Id);

    /// <summary>Sends one line to the child and returns its first answer line that is <paramref name="answer"/>.</summary>
    private async Task<string> AskAsync(string line, Func<string, bool> answer)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
        return await ReadLineAsync(_process, answer, TimeSpan.FromSeconds(30));
    }

    private static async Task<string> ReadLineAsync(Process process, Func<string, bool> wanted, TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        while (true)
        {
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException("the child process exited");
            if (wanted(line)) return line;
        }
    }

    /// <summary>The child's side: announces the port, applies each command line (<paramref name="command"/>), returns when stdin closes.</summary>
    public static async Task ServeAsync(int port, Action<string>? command = null)
    {
        Console.WriteLine($"PORT {port}");
        Console.Out.Flush();
        while (await Console.In.ReadLineAsync() is { } line)
        {
            if (CpuTime.TryAnswer(line)) continue;
            command?.Invoke(line);
            Console.WriteLine("OK");
            Console.Out.Flush();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill();
        }
        _process.Dispose();
    }
}

/// <summary>CPU time of a process by id, from /proc (Linux only: NaN elsewhere).</summary>
public static class ProcessCpu
{
    private const double ClockTicksPerSecond = 100; // USER_HZ

    /// <summary>
    /// CPU seconds of every live descendant of <paramref name="pid"/> (the simulator, bridge and YARP children of this
    /// program): what "other processes" must not count.
    /// </summary>
    public static double DescendantSeconds(int pid)
    {
        var stats = new List<(int Pid, int Parent, double Seconds)>();
        try
        {
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
                if (int.TryParse(Path.GetFileName(dir), out var id) && Read(id) is { } stat) stats.Add((id, stat.Parent, stat.Seconds));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
        var family = new HashSet<int> { pid };
        var total = 0.0;
        for (var grew = true; grew;)
        {
            grew = false;
            foreach (var (id, parent, seconds) in stats)
                if (family.Contains(parent) && family.Add(id)) { total += seconds; grew = true; }
        }
        return total;
    }

    private static (int Parent, double Seconds)? Read(int pid)
    {
        try
        {
            return StatFields(pid) is { } fields
                ? (int.Parse(fields[1]), (long.Parse(fields[11]) + long.Parse(fields[12])) / ClockTicksPerSecond) // ppid (4), utime (14) + stime (15)
                : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>A process's minor page faults so far (Linux <c>/proc/PID/stat</c>, field 10; 0 elsewhere).</summary>
    public static long PageFaults(int pid) =>
        StatFields(pid) is { } fields && long.TryParse(fields[7], out var faults) ? faults : 0; // minflt (10)

    /// <summary>
    /// The fields of <c>/proc/PID/stat</c> after the command name, from field 3 (state) on: index i is field i + 3. Null
    /// where the process is gone or the file cannot be read (not Linux).
    /// </summary>
    public static string[]? StatFields(int pid)
    {
        try
        {
            // The command name in parentheses may hold spaces and parentheses: the fields start after the last ')'.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
