using System.Globalization;

namespace CodexLb.Tests.Cluster;

/// <summary>What a cluster's processes report at <c>/metrics</c> (Prometheus text), for tests that need to know where things live.</summary>
public static class ClusterMetrics
{
    /// <summary>The sum of a metric's samples (all label sets) on one process; 0 when it reports none.</summary>
    public static async Task<double> MetricAsync(this ClusterHarness cluster, ManagedProcess process, string name)
    {
        var metrics = await cluster.CreateClient(process).GetStringAsync("/metrics");
        return metrics.Split('\n')
            .Where(l => l.StartsWith(name, StringComparison.Ordinal) && (l.Length == name.Length || l[name.Length] is ' ' or '{'))
            .Sum(l => double.Parse(l.Split(' ')[^1], CultureInfo.InvariantCulture));
    }

    /// <summary>The silo holding the cluster's only open upstream socket (tests that run one conversation).</summary>
    public static async Task<ManagedProcess> OwnerOfOnlyConversationAsync(this ClusterHarness cluster)
    {
        foreach (var silo in cluster.Silos)
            if (await cluster.MetricAsync(silo, "codexlb_upstream_open_sockets") >= 1) return silo;
        throw new InvalidOperationException("no silo holds an upstream socket");
    }
}
