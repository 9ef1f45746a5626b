using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CodexLb.Gateway.Hosting;

public static class ClusterClientHosting
{
    /// <summary>
    /// Log levels every host (gateway and silo) starts from, below every other configuration source, so appsettings, the
    /// environment and the command line still override them. ASP.NET Core's own per-request lines (hosting, routing,
    /// results, Kestrel) are Warning: at Information they write a line per request (the URL without its query string,
    /// which never reaches a log line). Polly's per-call lines (every Orleans placement
    /// decision) are Warning too. Hosting's request lines are off altogether: while that category logs at any level,
    /// ASP.NET Core starts an <see cref="System.Diagnostics.Activity"/> (ids, W3C header parsing) for every request, read by
    /// nothing unless traces are on, which start it anyway. Orleans' dump of every options class at start (~170 lines
    /// a silo, a screenful a gateway) is Warning too: the start-up banner says what a reader needs, and the dump comes
    /// back with <c>--Logging:LogLevel:Orleans.Runtime.SiloOptionsLogger Information</c> (<c>Orleans.ClientOptionsLogger</c>
    /// on a gateway). The product's own lines carry no key, no URL and no conversation text at any level.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string?> LogDefaults = new Dictionary<string, string?>
    {
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        ["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = "None",
        ["Logging:LogLevel:Polly"] = "Warning",
        ["Logging:LogLevel:System.Net.Http.HttpClient"] = "Warning",
        ["Logging:LogLevel:Orleans.Runtime.SiloOptionsLogger"] = "Warning",
        ["Logging:LogLevel:Orleans.ClientOptionsLogger"] = "Warning",
    };

    /// <summary>
    /// Adds <see cref="LogDefaults"/> as the lowest-priority configuration source, and cuts query strings from every log
    /// line whatever the levels (<see cref="Telemetry.QueryRedactingLoggerFactory"/>).
    /// </summary>
    public static WebApplicationBuilder AddCodexLogDefaults(this WebApplicationBuilder builder)
    {
        ((IConfigurationBuilder)builder.Configuration).Sources.Insert(0, new MemoryConfigurationSource { InitialData = LogDefaults });
        Telemetry.QueryRedactingLoggerFactory.AddTo(builder.Services);
        return builder;
    }

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
            if (Telemetry.TelemetryHosting.TracingEnabled(builder.Configuration)) client.AddActivityPropagation(); // only with a trace reader
            client.Configure<Orleans.Configuration.ClusterOptions>(o => { o.ClusterId = cluster.ClusterId; o.ServiceId = cluster.ServiceId; });
            client.Services.AddSingleton<IClientConnectionRetryFilter, ClusterConnectRetry>();
        });
        return builder;
    }
}
