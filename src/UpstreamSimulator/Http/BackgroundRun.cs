using CodexLb.UpstreamSimulator.Model;
using CodexLb.UpstreamSimulator.Store;

namespace CodexLb.UpstreamSimulator.Http;

/// <summary>
/// A <c>background:true</c> request answered at once with status "queued": it moves to "in_progress" after the
/// first-event delay and completes (or fails) after the rest of its schedule, unless it is cancelled first.
/// A Hang fault keeps it in progress until cancelled; close faults do not apply (nothing is streamed).
/// </summary>
internal static class BackgroundRun
{
    public static void Start(SimulatorCore core, StoredResponse stored, TurnEffects effects, int frames) =>
        _ = RunAsync(core, stored, effects, frames);

    private static async Task RunAsync(SimulatorCore core, StoredResponse stored, TurnEffects effects, int frames)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(stored.Cancellation.Token, core.Stopping);
        try
        {
            await Task.Delay(effects.FirstEventDelay, cts.Token);
            stored.TryMove("in_progress");
            await Task.Delay(effects.Hang ? Timeout.InfiniteTimeSpan : effects.EventDelay * Math.Max(0, frames - 1), cts.Token);

            // The ledger first, so a client that sees "completed" finds the request completed too.
            core.Finish(stored.Entry, stored.Turn);
            stored.TryMove(stored.Turn.Kind == TurnKind.Failed ? "failed" : "completed");
        }
        catch (OperationCanceledException)
        {
            // Cancelled (the cancel call moved the status first), deleted, or the host is stopping.
            stored.TryMove("cancelled");
            core.Finish(stored.Entry, RequestOutcome.Cancelled);
        }
    }
}
