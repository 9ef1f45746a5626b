using System.Globalization;

namespace CodexLb.Tests.Cluster;

/// <summary>What a cluster's processes report at <c>/metrics</c> (Prometheus text), for tests that need to know where things live.</summary>
public static class ClusterMetrics
{
    /// <summary>The sum of a metric's samples on one process (all label sets, or those with <paramref name="label"/>, e.g.
    /// <c>reason="DuplicateActivation"</c>); 0 when it reports none.</summary>
    public static async Task<double> MetricAsync(this ClusterHarness cluster, ManagedProcess process, string name, string? label = null)
    {
        var metrics = await cluster.CreateClient(process).GetStringAsync("/metrics");
        return metrics.Split('\n')
            .Where(l => l.StartsWith(name, StringComparison.Ordinal) && (l.Length == name.Length || l[name.Length] is ' ' or '{'))
            .Where(l => label is null || l.Split(' ')[0].Contains(label, StringComparison.Ordinal))
            .Sum(l => double.Parse(l.Split(' ')[^1], CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Polls a metric until <paramref name="wanted"/> holds (the exporter caches a scrape for 300 ms, so a read right after
    /// a change can still show the value before it); returns the last value read either way.
    /// </summary>
    public static async Task<double> WaitForMetricAsync(this ClusterHarness cluster, ManagedProcess process, string name, Func<double, bool> wanted,
        TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var value = await cluster.MetricAsync(process, name);
            if (wanted(value) || DateTime.UtcNow > deadline) return value;
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// Each silo with the conversations it owns (its open upstream sockets): placement is not uniform, so a test that
    /// needs a silo that owns some picks it from here rather than by its index.
    /// </summary>
    public static async Task<List<(ManagedProcess Silo, double Conversations)>> ConversationsPerSiloAsync(this ClusterHarness cluster)
    {
        var owned = new List<(ManagedProcess Silo, double Conversations)>();
        foreach (var silo in cluster.Silos) owned.Add((silo, await cluster.MetricAsync(silo, "codexlb_upstream_open_sockets")));
        return owned;
    }

    /// <summary>The silo holding the cluster's only open upstream socket (tests that run one conversation).</summary>
    public static async Task<ManagedProcess> OwnerOfOnlyConversationAsync(this ClusterHarness cluster)
    {
        foreach (var silo in cluster.Silos)
            if (await cluster.MetricAsync(silo, "codexlb_upstream_open_sockets") >= 1) return silo;
        throw new InvalidOperationException("no silo holds an upstream socket");
    }
}
