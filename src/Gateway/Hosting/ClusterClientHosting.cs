using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;

namespace CodexLb.Gateway.Hosting;

public static class ClusterClientHosting
{
    /// <summary>
    /// Development: the silo on localhost. Production (a Redis connection string is set): the silos registered in
    /// Redis membership.
    /// </summary>
    public static WebApplicationBuilder AddGatewayClusterClient(this WebApplicationBuilder builder)
    {
        var cluster = ClusterSettings.From(builder.Configuration);
        builder.UseOrleansClient(client =>
        {
            if (cluster.UsesRedis)
            {
                client.UseRedisClustering(cluster.RedisConnectionString);
                client.Configure<Orleans.Configuration.GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(2));
            }
            else client.UseLocalhostClustering(cluster.GatewayPort);
            client.AddActivityPropagation();
            client.Configure<Orleans.Configuration.ClusterOptions>(o => { o.ClusterId = cluster.ClusterId; o.ServiceId = cluster.ServiceId; });
        });
        return builder;
    }
}
