using System.Collections.Concurrent;
using CodexLb.Gateway.Routing;
using CodexLb.Grains.Abstractions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CodexLb.Gateway.Keys;

/// <summary>
/// Collects what this gateway's turns used, per key and model, and reports it to the keys' grains once a second: one
/// call per active key per second, whatever the rate, and none on a turn's path. A report that fails is kept and sent
/// with the next one.
/// </summary>
public sealed partial class UsageRecorder(IGrainFactory grains, ILogger<UsageRecorder> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<string, Pending> _pending = new(StringComparer.Ordinal);

    /// <summary>One key's counts since its last report.</summary>
    private sealed class Pending
    {
        public readonly Lock Gate = new();
        public Dictionary<string, (long Requests, long Input, long Output)> Models = new(StringComparer.Ordinal);
    }

    public void Add(string tenant, string model, long requests, long inputTokens, long outputTokens)
    {
        var pending = _pending.GetOrAdd(tenant, static _ => new Pending());
        lock (pending.Gate)
        {
            pending.Models.TryGetValue(model, out var counts);
            pending.Models[model] = (counts.Requests + requests, counts.Input + inputTokens, counts.Output + outputTokens);
        }
    }

    /// <summary>Reports the key's counts now (before reading its usage, so it includes this gateway's latest turns).</summary>
    public Task FlushAsync(string tenant) => _pending.TryGetValue(tenant, out var pending) ? SendAsync(tenant, pending) : Task.CompletedTask;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken)) await FlushAllAsync();
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
        await FlushAllAsync(); // what the last second counted, before the process goes
    }

    private Task FlushAllAsync() => Task.WhenAll(_pending.Select(p => SendAsync(p.Key, p.Value)));

    private async Task SendAsync(string tenant, Pending pending)
    {
        Dictionary<string, (long Requests, long Input, long Output)> taken;
        lock (pending.Gate)
        {
            if (pending.Models.Count == 0) return;
            (taken, pending.Models) = (pending.Models, new(StringComparer.Ordinal));
        }
        var usage = taken.Select(m => new ModelUsage(m.Key, m.Value.Requests, m.Value.Input, m.Value.Output)).ToArray();
        try
        {
            await grains.GetGrain<IClientKeyGrain>(tenant).Record(usage).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception ex) when (OwnerFailures.IsTransient(ex))
        {
            // Not counted there: count it with the next report (a report that timed out yet arrived is counted twice; rare, and on the safe side).
            foreach (var u in usage) Add(tenant, u.Model, u.Requests, u.InputTokens, u.OutputTokens);
            ReportDeferred(logger, ex.GetType().Name);
        }
        catch (Exception ex)
        {
            ReportLost(logger, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "A usage report could not be sent ({Error}); it goes with the next one")]
    private static partial void ReportDeferred(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A usage report failed and is dropped")]
    private static partial void ReportLost(ILogger logger, Exception exception);
}
