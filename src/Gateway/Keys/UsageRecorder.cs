using System.Collections.Concurrent;
using CodexLb.Gateway.Routing;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Timing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CodexLb.Gateway.Keys;

/// <summary>
/// Collects what this gateway's turns used, per key and model, and reports it to the keys' grains a second after the
/// first count since the last report: one call per active key per second at most, whatever the rate, none on a turn's
/// path, and no wake-up at all while no turn ends. A report that fails is kept and sent with the next one; what is
/// pending when the gateway stops is sent before it goes.
/// </summary>
public sealed partial class UsageRecorder : IHostedService, IDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly IGrainFactory _grains;
    private readonly ILogger<UsageRecorder> _logger;
    private readonly ConcurrentDictionary<string, Pending> _pending = new(StringComparer.Ordinal);
    private readonly PendingFlush _flush;

    public UsageRecorder(IGrainFactory grains, ILogger<UsageRecorder> logger, TimeProvider time)
    {
        (_grains, _logger) = (grains, logger);
        _flush = new PendingFlush(() => _ = FlushAllAsync(), Interval, time);
    }

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
        _flush.Arm();
    }

    /// <summary>Reports the key's counts now (before reading its usage, so it includes this gateway's latest turns).</summary>
    public Task FlushAsync(string tenant) => _pending.TryGetValue(tenant, out var pending) ? SendAsync(tenant, pending) : Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>What the last second counted, before the process goes.</summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        _flush.Dispose();
        return FlushAllAsync();
    }

    public void Dispose() => _flush.Dispose();

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
            await _grains.GetGrain<IClientKeyGrain>(tenant).Record(usage).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception ex) when (OwnerFailures.IsTransient(ex))
        {
            // Not counted there: count it with the next report (a report that timed out yet arrived is counted twice; rare, and on the safe side).
            foreach (var u in usage) Add(tenant, u.Model, u.Requests, u.InputTokens, u.OutputTokens);
            ReportDeferred(_logger, ex.GetType().Name);
        }
        catch (Exception ex)
        {
            ReportLost(_logger, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "A usage report could not be sent ({Error}); it goes with the next one")]
    private static partial void ReportDeferred(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A usage report failed and is dropped")]
    private static partial void ReportLost(ILogger logger, Exception exception);
}
