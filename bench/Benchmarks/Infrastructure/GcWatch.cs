namespace CodexLb.Benchmarks.Infrastructure;

/// <summary>
/// This process's collections over a phase: counts by generation, the total pause, and the longest single pause seen
/// (the last collection of each kind is polled every 50 ms, so two of one kind inside 50 ms show as one).
/// </summary>
public sealed class GcWatch : IAsyncDisposable
{
    private readonly int[] _counts = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
    private readonly TimeSpan _paused = GC.GetTotalPauseDuration();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _poll;
    private TimeSpan _longest;
    private string _longestKind = "-";

    public GcWatch() => _poll = PollAsync();

    public string Summary()
    {
        var paused = GC.GetTotalPauseDuration() - _paused;
        return $"gen0/gen1/gen2 collections {GC.CollectionCount(0) - _counts[0]}/{GC.CollectionCount(1) - _counts[1]}/{GC.CollectionCount(2) - _counts[2]}, " +
               $"{paused.TotalSeconds:N1} s paused in all, longest pause seen {_longest.TotalMilliseconds:N0} ms ({_longestKind})";
    }

    private async Task PollAsync()
    {
        var seen = new long[3];
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                foreach (var (kind, slot) in new[] { (GCKind.Ephemeral, 0), (GCKind.FullBlocking, 1), (GCKind.Background, 2) })
                {
                    var info = GC.GetGCMemoryInfo(kind);
                    if (info.Index == seen[slot]) continue;
                    seen[slot] = info.Index;
                    var pause = info.PauseDurations[0] + info.PauseDurations[1];
                    if (pause <= _longest) continue;
                    _longest = pause;
                    _longestKind = $"{kind} gen{info.Generation}{(info.Compacted ? ", compacting" : "")}";
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _poll;
        _stop.Dispose();
    }
}
