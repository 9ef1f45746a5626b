using System.Diagnostics;

namespace CodexLb.UpstreamSimulator.Model;

/// <summary>
/// A simulated wait of the provider (before the first event, between events). With <see cref="SimulatorOptions.PreciseDelays"/>
/// it ends on time rather than when the timer and the thread pool get to it (on a quiet 2-core VM 1–4 ms late at the 99th
/// percentile): its last part is spun, so a benchmark that compares a proxy's latency with a direct call's sees the proxy's
/// tail, not the timer's.
/// </summary>
internal static class SimulatedDelay
{
    /// <summary>How much of a precise wait is spun: more than a timer fires late here at the 99th percentile.</summary>
    private static readonly TimeSpan SpinWindow = TimeSpan.FromMilliseconds(6);

    public static Task WaitAsync(TimeSpan delay, bool precise, CancellationToken ct) =>
        delay <= TimeSpan.Zero ? Task.CompletedTask : precise ? PreciseAsync(delay, ct) : Task.Delay(delay, ct);

    private static async Task PreciseAsync(TimeSpan delay, CancellationToken ct)
    {
        var due = Stopwatch.GetTimestamp() + (long)(delay.TotalSeconds * Stopwatch.Frequency);
        if (delay > SpinWindow) await Task.Delay(delay - SpinWindow, ct);
        var spinner = new SpinWait();
        while (Stopwatch.GetTimestamp() < due)
        {
            ct.ThrowIfCancellationRequested();
            spinner.SpinOnce(sleep1Threshold: -1); // spins, then yields the core; never sleeps a whole millisecond
        }
    }
}
