using System.Diagnostics.Tracing;
using System.Globalization;

namespace CodexLb.Benchmarks.Infrastructure;

/// <summary>One stop of every managed thread of a process, from the runtime's suspension to its restart, in UTC ticks.</summary>
/// <param name="Generation">The collection's generation; -1 when the runtime stopped the threads for something else (tiering, a debugger).</param>
public readonly record struct RuntimePause(long Start, long End, int Generation)
{
    public double Milliseconds => (End - Start) / (double)TimeSpan.TicksPerMillisecond;
}

/// <summary>
/// Writes each of this process's runtime pauses (the runtime's own suspend and restart events, garbage collections and
/// any other stop of the world) to a file as it ends, so the floor can line its slowest turns up with the pauses of every
/// process on the 2 cores. The file is named by <see cref="Variable"/>; a process without it logs nothing. Listens to the
/// runtime's GC keyword at informational level: a handful of events per collection.
/// </summary>
public sealed class RuntimePauseLog : EventListener
{
    public const string Variable = "CODEXLB_BENCH_PAUSE_LOG";
    private const string RuntimeSource = "Microsoft-Windows-DotNETRuntime";
    private const EventKeywords GcKeyword = (EventKeywords)0x1;

    private readonly StreamWriter _file;
    private long _suspended; // ticks of the pending suspension's start (0: none)
    private int _generation = -1;
    /// <summary>
    /// Set to 1 (for the whole floor run): every GC event is also written, as <c>E ticks thread name payload</c> lines, and
    /// the floor keeps the logs as <c>gc-detail-PROCESS.log</c> in the temp folder. <c>GCMarkWithType</c> lines say what
    /// each root kind (stacks, handles, older generations) promoted and when its marking ended, so a pause can be split
    /// into marking and the rest.
    /// </summary>
    public const string DetailVariable = "CODEXLB_BENCH_GC_DETAIL";
    public static readonly bool Detail = Environment.GetEnvironmentVariable(DetailVariable) == "1";

    // The base constructor offers the existing sources (the runtime's among them) before this one runs: events that come
    // before the file is open are not written.
    private RuntimePauseLog(string path) => _file = new StreamWriter(path, append: false) { AutoFlush = true };

    /// <summary>A child's log, when its parent named a file.</summary>
    public static RuntimePauseLog? FromEnvironment() =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } path ? new RuntimePauseLog(path) : null;

    public static RuntimePauseLog Start(string path) => new(path);

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == RuntimeSource) EnableEvents(source, EventLevel.Informational, GcKeyword);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (_file is null) return;
        if (Detail && e.EventName is { } name && name.StartsWith("GC", StringComparison.Ordinal) && !name.StartsWith("GCAllocationTick", StringComparison.Ordinal))
        {
            var payload = e.PayloadNames is null ? "" : string.Join(",", e.PayloadNames.Select((n, i) => n + "=" + e.Payload![i]));
            lock (_file) _file.WriteLine(string.Create(CultureInfo.InvariantCulture, $"E {e.TimeStamp.Ticks} {e.OSThreadId} {name} {payload}"));
        }
        switch (e.EventName)
        {
            case "GCSuspendEEBegin_V1":
                Volatile.Write(ref _suspended, e.TimeStamp.Ticks);
                _generation = -1;
                break;
            case "GCStart_V2" when e.Payload is [_, var depth, ..]:
                _generation = Convert.ToInt32(depth, CultureInfo.InvariantCulture);
                break;
            case "GCRestartEEEnd_V1" when Interlocked.Exchange(ref _suspended, 0) is var start and > 0:
                lock (_file) _file.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{start} {e.TimeStamp.Ticks} {_generation}"));
                break;
        }
    }

    public override void Dispose()
    {
        base.Dispose();
        lock (_file) _file.Dispose();
    }

    /// <summary>The pauses a log holds so far (a line being written is skipped).</summary>
    public static List<RuntimePause> Read(string path)
    {
        var pauses = new List<RuntimePause>();
        if (!File.Exists(path)) return pauses;
        using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
        while (reader.ReadLine() is { } line)
        {
            var parts = line.Split(' ');
            if (parts.Length == 3 && long.TryParse(parts[0], out var start) && long.TryParse(parts[1], out var end) && int.TryParse(parts[2], out var generation))
                pauses.Add(new RuntimePause(start, end, generation));
        }
        return pauses;
    }
}
