using CodexLb.Gateway.Hosting;
using CodexLb.Gateway.Telemetry;
using CodexLb.Grains.Hosting;
using CodexLb.Silo.Dashboard;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Silo.Hosting;

/// <summary>
/// Builds a silo process. With no Redis configured it is the embedded default: localhost clustering, memory
/// storage and the gateway's endpoints co-hosted, the whole product in one process.
/// </summary>
public static class SiloApp
{
    /// <summary>Runs the bundled upstream simulator in-process and points the grains at it (no credentials needed).</summary>
    public const string UseSimulatorKey = "CodexLb:Upstream:UseSimulator";

    public static async Task<WebApplication> BuildAsync(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (builder.Configuration.GetValue<bool>(UseSimulatorKey))
        {
            var simulator = await UpstreamSimulatorHost.StartAsync();
            builder.Configuration["CodexLb:Upstream:BaseUrl"] = simulator.BaseUrl.ToString();
            builder.Services.AddSingleton(simulator); // disposed with the host
        }

        var cluster = ClusterSettings.From(builder.Configuration);
        var dashboard = DashboardHosting.Read(builder.Configuration, production: cluster.UsesRedis);
        builder.UseOrleans(silo =>
        {
            DashboardHosting.AddTo(silo, dashboard);
            if (cluster.UsesRedis)
            {
                silo.UseRedisClustering(cluster.RedisConnectionString);
                silo.ConfigureEndpoints(cluster.AdvertisedAddress, cluster.SiloPort, cluster.GatewayPort, listenOnAnyHostAddress: true);
                MembershipTuning.Apply(silo);
            }
            else
            {
                silo.UseLocalhostClustering(cluster.SiloPort, cluster.GatewayPort);
            }
            silo.AddActivityPropagation();
            silo.Configure<Orleans.Configuration.ClusterOptions>(o => { o.ClusterId = cluster.ClusterId; o.ServiceId = cluster.ServiceId; });
        });
        builder.AddCodexTelemetry("codexlb-silo");
        if (cluster.UsesRedis) await builder.Services.AddRedisResponseTreeAsync(cluster.RedisConnectionString, cluster.ServiceId);
        builder.Services.AddConversationGrainServices(builder.Configuration);
        builder.Services.AddCodexGateway(builder.Configuration);
        builder.Services.AddSingleton<CodexLb.Gateway.Health.IInFlightWork, SiloTurns>();

        var app = builder.Build();
        DashboardHosting.Map(app, dashboard);
        app.MapCodexGateway();
        app.MapCodexTelemetry();
        return app;
    }
}
