using System.Diagnostics;
using System.Runtime.InteropServices;

namespace CodexLb.Benchmarks.Infrastructure;

/// <summary>
/// This process's CPU time (user + system, all threads), nanosecond clock where available; and the child processes' side
/// of the question (<c>ChildProcess.CpuSecondsAsync</c>). Linked into bench/YarpFloor too, which answers it.
/// </summary>
internal static partial class CpuTime
{
    /// <summary>The stdin line that asks a child for its CPU time; it answers <see cref="Answer"/> and the seconds (invariant culture).</summary>
    public const string Command = "cpu";
    public const string Answer = "CPU ";

    /// <summary>
    /// Answers <see cref="Command"/> on stdout (<see cref="Answer"/>, the CPU seconds, <see cref="TierUp"/>'s, the bytes this
    /// process allocated so far, then the thread-pool work items it ran: each hop of a request between threads is one);
    /// false for any other line.
    /// </summary>
    public static bool TryAnswer(string line)
    {
        if (line != Command) return false;
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        Console.WriteLine(Answer + Now().ToString("R", invariant) + " " + TierUp().ToString("R", invariant) + " " +
                          GC.GetTotalAllocatedBytes(false).ToString(invariant) + " " + ThreadPool.CompletedWorkItemCount.ToString(invariant));
        Console.Out.Flush();
        return true;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out Timespec time);

    private const int ClockProcessCpuTimeId = 2;

    [StructLayout(LayoutKind.Sequential)]
    private struct Rusage
    {
        public long UserSeconds, UserMicros, SystemSeconds, SystemMicros;
        public long Maxrss, Ixrss, Idrss, Isrss, Minflt, Majflt, Nswap, Inblock, Oublock, Msgsnd, Msgrcv, Nsignals, Nvcsw, Nivcsw;
    }

    [LibraryImport("libc", EntryPoint = "getrusage")]
    private static partial int GetRusage(int who, out Rusage usage);

    private const int RusageChildren = -1;

    /// <summary>CPU seconds of this process's children that ended and were reaped (with theirs), 0 where unknown.</summary>
    public static double ReapedChildren()
    {
        if (!OperatingSystem.IsLinux()) return 0;
        try
        {
            return GetRusage(RusageChildren, out var u) == 0 ? u.UserSeconds + u.SystemSeconds + (u.UserMicros + u.SystemMicros) / 1e6 : 0;
        }
        catch (DllNotFoundException)
        {
            return 0;
        }
    }

    // The runtime's tier-up compiler is one background thread (".NET Tiered Compilation Worker", "comm" cut to 15 bytes),
    // which exits when idle and is started again: each one's last reading is kept, so the sum never goes back.
    private const string TierUpThread = ".NET Tiered Com";
    private static readonly Dictionary<int, double> TierUpThreads = [];

    /// <summary>
    /// CPU seconds this process's tier-up compiler has used (re-jitting methods that became hot at a higher tier: a start-up
    /// cost that trickles on for minutes as rarely run code reaches its call counts), from the threads' own nanosecond
    /// clocks; what a thread used after its last reading and before it exited is not counted. 0 where unknown.
    /// </summary>
    public static double TierUp()
    {
        if (!OperatingSystem.IsLinux()) return 0;
        lock (TierUpThreads)
        {
            try
            {
                foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
                {
                    if (!int.TryParse(Path.GetFileName(task), out var tid)) continue;
                    string name;
                    try { name = File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n'); }
                    catch (IOException) { continue; } // the thread exited meanwhile
                    // A thread's CPU clock (Linux's MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)).
                    if (name == TierUpThread && ClockGetTime(~tid << 3 | 6, out var ts) == 0) TierUpThreads[tid] = ts.Seconds + ts.Nanoseconds / 1e9;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or DllNotFoundException)
            {
                return 0;
            }
            return TierUpThreads.Values.Sum();
        }
    }

    public static double Now()
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                if (ClockGetTime(ClockProcessCpuTimeId, out var ts) == 0) return ts.Seconds + ts.Nanoseconds / 1e9;
            }
            catch (DllNotFoundException)
            {
            }
        }
        return Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
    }
}
