using System.Text.Json;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using StackExchange.Redis;

namespace CodexLb.Silo.Hosting;

/// <summary>
/// Removes the Redis grain directory's entries of silos declared dead. Orleans asks each directory to forget a dead silo's
/// entries, but its Redis directory does nothing then: an entry is dropped only when a look-up meets it. A conversation
/// whose silo crashed and whose client never came back kept its entry for good (a key without expiry per activation of
/// every silo ever killed). One silo of the cluster (the first active one by address, so not every silo scans) sweeps
/// when a silo is declared dead, and once at start-up for those that died while no silo watched. An entry is deleted only
/// if it still holds what was read, so an activation registered meanwhile is never touched. Entries of a silo that shuts
/// down gracefully are not touched: its activations remove their own while it drains.
/// </summary>
public sealed partial class DeadSiloDirectorySweeper(
    IClusterMembershipService membership, ILocalSiloDetails self, IConnectionMultiplexer redis, IOptions<ClusterOptions> cluster,
    ILogger<DeadSiloDirectorySweeper> logger) : BackgroundService
{
    private const int ScanPage = 1000;

    // KEYS: the entry. ARGV: the value read. Deletes it only if unchanged.
    private static readonly LuaScript DeleteIfUnchanged = LuaScript.Prepare("""
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var swept = new HashSet<SiloAddress>();
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(stoppingToken))
            {
                var dead = snapshot.Members.Values.Where(m => m.Status == SiloStatus.Dead && !swept.Contains(m.SiloAddress)).Select(m => m.SiloAddress).ToHashSet();
                if (dead.Count == 0 || !IsSweeper(snapshot)) continue;
                try
                {
                    var removed = await SweepAsync(dead, stoppingToken);
                    swept.UnionWith(dead);
                    CodexLb.Grains.Telemetry.BridgeMetrics.DirectorySwept.Add(removed);
                    if (removed > 0) LogSwept(logger, removed, dead.Count);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    LogSweepFailed(logger, ex.GetType().Name); // the next membership change tries again; look-ups still drop them
                }
            }
        }
        catch (Exception) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: a sweep cut short leaves entries that look-ups (or the next sweeper) still drop.
        }
        catch (Exception ex)
        {
            // Never the silo's end (a faulted hosted service stops the host): look-ups still drop dead silos' entries.
            LogWatchEnded(logger, ex.GetType().Name);
        }
    }

    /// <summary>This silo sweeps when it is the first active silo by address: one scan per death, not one per silo.</summary>
    private bool IsSweeper(ClusterMembershipSnapshot snapshot) =>
        snapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).Order().FirstOrDefault() is { } first
        && first.Equals(self.SiloAddress);

    /// <summary>Deletes every entry naming one of <paramref name="dead"/>; answers how many.</summary>
    private async Task<int> SweepAsync(HashSet<SiloAddress> dead, CancellationToken cancellationToken)
    {
        var names = dead.Select(s => s.ToParsableString()).ToHashSet(StringComparer.Ordinal);
        var db = redis.GetDatabase();
        var removed = 0;
        foreach (var server in redis.GetServers().Where(s => s.IsConnected && !s.IsReplica))
        {
            var page = new List<RedisKey>(ScanPage);
            await foreach (var key in server.KeysAsync(db.Database, EscapedPrefix() + "*", ScanPage).WithCancellation(cancellationToken))
            {
                page.Add(key);
                if (page.Count == ScanPage) removed += await DeletePageAsync(db, page, names);
            }
            removed += await DeletePageAsync(db, page, names);
        }
        return removed;
    }

    private static async Task<int> DeletePageAsync(IDatabase db, List<RedisKey> keys, HashSet<string> deadSilos)
    {
        if (keys.Count == 0) return 0;
        var values = await db.StringGetAsync([.. keys]);
        var deletes = new List<Task<RedisResult>>();
        for (var i = 0; i < keys.Count; i++)
            if (!values[i].IsNull && SiloOf(values[i]!) is { } silo && deadSilos.Contains(silo))
                deletes.Add(db.ScriptEvaluateAsync(DeleteIfUnchanged.ExecutableScript, [keys[i]], [values[i]]));
        keys.Clear();
        var results = await Task.WhenAll(deletes);
        return results.Count(r => (long)r == 1);
    }

    /// <summary>The silo an entry names (Orleans writes a <c>GrainAddress</c> as JSON, its silo in parsable form).</summary>
    private static string? SiloOf(string entry)
    {
        try
        {
            using var json = JsonDocument.Parse(entry);
            return json.RootElement.TryGetProperty("SiloAddress", out var silo) && silo.ValueKind == JsonValueKind.String ? silo.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Orleans' key prefix for the directory, with the glob characters of the cluster id escaped.</summary>
    private string EscapedPrefix()
    {
        var prefix = $"{cluster.Value.ClusterId}/directory/";
        var escaped = new System.Text.StringBuilder(prefix.Length);
        foreach (var c in prefix)
        {
            if (c is '*' or '?' or '[' or ']' or '\\') escaped.Append('\\');
            escaped.Append(c);
        }
        return escaped.ToString();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Grain directory: removed {Entries} entries of {Silos} dead silo(s)")]
    private static partial void LogSwept(ILogger logger, int entries, int silos);

    [LoggerMessage(Level = LogLevel.Error, Message = "Grain directory: membership updates ended ({ExceptionType}); dead silos' entries are dropped only by look-ups until this silo restarts")]
    private static partial void LogWatchEnded(ILogger logger, string exceptionType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grain directory: the sweep of dead silos' entries failed ({ExceptionType}); it runs again at the next membership change")]
    private static partial void LogSweepFailed(ILogger logger, string exceptionType);
}
