using System.Diagnostics;

namespace CodexLb.Benchmarks.Infrastructure;

/// <summary>
/// How busy the rest of the machine is: all CPUs' busy time (/proc/stat) minus the CPU time of this process and of its
/// children (the simulator, bridge and YARP processes a scenario starts), in cores.
/// The benchmark shares its cores with whatever else runs; a scenario waits for a quiet machine and reports the
/// other processes' load during it, so a contaminated number is visible as such.
/// </summary>
public sealed class MachineLoad
{
    private readonly long _start = Stopwatch.GetTimestamp();
    private readonly double _busy = BusySeconds();
    private readonly double _own = OwnSeconds();

    /// <summary>Cores used by other processes since this instance was created (NaN where /proc/stat is missing).</summary>
    public double OtherCores()
    {
        var wall = (Stopwatch.GetTimestamp() - _start) / (double)Stopwatch.Frequency;
        return wall <= 0 ? double.NaN : Math.Max(0, (BusySeconds() - _busy - (OwnSeconds() - _own)) / wall);
    }

    /// <summary>Waits (up to <paramref name="limit"/>) for a 2-second window in which other processes use less than <paramref name="cores"/> cores.</summary>
    public static async Task<double> WaitQuietAsync(double cores, TimeSpan limit)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            var load = new MachineLoad();
            await Task.Delay(TimeSpan.FromSeconds(2));
            var others = load.OtherCores();
            if (double.IsNaN(others) || others < cores || Stopwatch.GetTimestamp() > deadline) return others;
            Log.Progress($"waiting for a quiet machine: other processes use {others:N2} cores");
        }
    }

    /// <summary>
    /// A single-threaded CPU speed probe (SHA-256 over 1 MB, ~100 ms), in MB/s: a slow host (a noisy neighbour, CPU
    /// steal the guest does not see) shows up here even when /proc/stat looks idle.
    /// </summary>
    public static double SpeedProbe()
    {
        var data = new byte[1 << 20];
        new Random(1).NextBytes(data);
        System.Security.Cryptography.SHA256.HashData(data);
        var start = Stopwatch.GetTimestamp();
        var rounds = 0;
        while (Stopwatch.GetTimestamp() - start < Stopwatch.Frequency / 10)
        {
            System.Security.Cryptography.SHA256.HashData(data);
            rounds++;
        }
        return rounds / ((Stopwatch.GetTimestamp() - start) / (double)Stopwatch.Frequency);
    }

    /// <summary>This process, its live descendants (/proc) and the children that already ended (reaped: getrusage).</summary>
    private static double OwnSeconds() => CpuTime.Now() + ProcessCpu.DescendantSeconds(Environment.ProcessId) + CpuTime.ReapedChildren();

    private static double BusySeconds()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
            var total = fields.Take(8).Sum();
            var idle = fields[3] + (fields.Length > 4 ? fields[4] : 0);
            return (total - idle) / 100.0; // USER_HZ
        }
        catch (Exception ex) when (ex is IOException or FormatException or UnauthorizedAccessException)
        {
            return double.NaN;
        }
    }
}
