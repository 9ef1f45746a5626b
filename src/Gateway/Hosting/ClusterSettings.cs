using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Hosting;

/// <summary>
/// Where the cluster is (<c>CodexLb:Redis</c>, <c>CodexLb:Cluster</c>, <c>ORLEANS_*</c>, <c>POD_IP</c>): shared by silos and
/// gateways so both read the same keys. An empty Redis connection string means the embedded default (localhost clustering,
/// memory storage).
/// </summary>
public sealed record ClusterSettings(string RedisConnectionString, string ClusterId, string ServiceId, int SiloPort, int GatewayPort, IPAddress AdvertisedAddress)
{
    public const string ListenAddressKey = "CodexLb:Cluster:ListenAddress";

    public bool UsesRedis => RedisConnectionString.Length > 0;

    /// <summary>
    /// The address a production silo's Orleans sockets (silo and gateway ports) listen on: <c>CodexLb:Cluster:ListenAddress</c>,
    /// by default the advertised address (<c>POD_IP</c>) alone; <c>any</c> (or <c>0.0.0.0</c>, <c>::</c>) listens on every
    /// address. The embedded default always listens on 127.0.0.1.
    /// </summary>
    public IPAddress ListenAddress { get; init; } = IPAddress.Loopback;

    public static ClusterSettings From(IConfiguration configuration)
    {
        // The pod's own address (downward API); never a Service VIP.
        var advertised = IPAddress.TryParse(configuration["POD_IP"], out var ip) ? ip : IPAddress.Loopback;
        return new ClusterSettings(
            configuration["CodexLb:Redis:ConnectionString"] ?? "",
            configuration["ORLEANS_CLUSTER_ID"] ?? configuration["CodexLb:Cluster:ClusterId"] ?? "codexlb",
            configuration["ORLEANS_SERVICE_ID"] ?? configuration["CodexLb:Cluster:ServiceId"] ?? "codexlb",
            int.TryParse(configuration["CodexLb:Cluster:SiloPort"], out var silo) ? silo : 11111,
            int.TryParse(configuration["CodexLb:Cluster:GatewayPort"], out var gateway) ? gateway : 30000,
            advertised)
        {
            ListenAddress = ParseListenAddress(configuration[ListenAddressKey], advertised),
        };
    }

    private static IPAddress ParseListenAddress(string? value, IPAddress advertised)
    {
        value = value?.Trim();
        if (string.IsNullOrEmpty(value)) return advertised;
        if (value.Equals("any", StringComparison.OrdinalIgnoreCase) || value == "*") return IPAddress.Any;
        if (IPAddress.TryParse(value, out var address)) return address;
        throw new OptionsValidationException(ListenAddressKey, typeof(ClusterSettings),
            [$"{ListenAddressKey} must be an IP address of this host or 'any' (is '{value}')."]);
    }
}
