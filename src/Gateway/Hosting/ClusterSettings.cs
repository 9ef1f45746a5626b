using Microsoft.Extensions.Configuration;

namespace CodexLb.Gateway.Hosting;

/// <summary>
/// Where the cluster is (<c>CodexLb:Redis</c>, <c>ORLEANS_*</c>): shared by silos and gateways so both read the same keys.
/// An empty Redis connection string means the embedded default (localhost clustering, memory storage).
/// </summary>
public sealed record ClusterSettings(string RedisConnectionString, string ClusterId, string ServiceId, int SiloPort, int GatewayPort, System.Net.IPAddress AdvertisedAddress)
{
    public bool UsesRedis => RedisConnectionString.Length > 0;

    public static ClusterSettings From(IConfiguration configuration) => new(
        configuration["CodexLb:Redis:ConnectionString"] ?? "",
        configuration["ORLEANS_CLUSTER_ID"] ?? configuration["CodexLb:Cluster:ClusterId"] ?? "codexlb",
        configuration["ORLEANS_SERVICE_ID"] ?? configuration["CodexLb:Cluster:ServiceId"] ?? "codexlb",
        int.TryParse(configuration["CodexLb:Cluster:SiloPort"], out var silo) ? silo : 11111,
        int.TryParse(configuration["CodexLb:Cluster:GatewayPort"], out var gateway) ? gateway : 30000,
        // The pod's own address (downward API); never a Service VIP.
        System.Net.IPAddress.TryParse(configuration["POD_IP"], out var ip) ? ip : System.Net.IPAddress.Loopback);
}
