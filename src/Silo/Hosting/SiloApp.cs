using System.Net;
using CodexLb.Gateway.Endpoints;
using CodexLb.Gateway.Hosting;
using CodexLb.Gateway.Telemetry;
using CodexLb.Grains.Hosting;
using CodexLb.Protocol.Errors;
using CodexLb.Silo.Dashboard;
using Microsoft.Extensions.Options;
#if INCLUDE_SIMULATOR
using CodexLb.UpstreamSimulator;
#endif

namespace CodexLb.Silo.Hosting;

/// <summary>
/// Builds a silo process. With no Redis configured it is the embedded default: localhost clustering (every socket on
/// 127.0.0.1), memory storage and the gateway's endpoints co-hosted, the whole product in one process. With Redis it is a
/// production silo: its Orleans ports listen on <see cref="ClusterSettings.ListenAddress"/> and it serves the client API
/// only when <see cref="ServeClientsKey"/> says so.
/// </summary>
public static class SiloApp
{
    /// <summary>Runs the bundled upstream simulator in-process and points the grains at it (no credentials needed).</summary>
    public const string UseSimulatorKey = "CodexLb:Upstream:UseSimulator";

    /// <summary>Map the client API (<c>/v1/responses</c>, <c>/v1/models</c>…) on this silo: default true in the embedded default, false in production mode.</summary>
    public const string ServeClientsKey = "CodexLb:Silo:ServeClients";

    /// <param name="args">Command-line configuration.</param>
    /// <param name="configure">Runs on the builder before the app is built (tests add a logger provider here).</param>
    public static async Task<WebApplication> BuildAsync(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddCodexLogDefaults();
        Uri? simulatorLedger = null;
        if (builder.Configuration.GetValue<bool>(UseSimulatorKey))
        {
#if INCLUDE_SIMULATOR
            var simulator = await UpstreamSimulatorHost.StartAsync();
            builder.Configuration["CodexLb:Upstream:BaseUrl"] = simulator.BaseUrl.ToString();
            simulatorLedger = new Uri(simulator.Root, "_sim/ledger");
            builder.Services.AddSingleton(simulator); // disposed with the host
#else
            throw new OptionsValidationException(UseSimulatorKey, typeof(SiloApp),
            [
                $"{UseSimulatorKey}=true, but this build carries no upstream simulator (it was built with -p:IncludeSimulator=false, " +
                "as the production images are). Remove the setting and configure CodexLb:Upstream:BaseUrl and CodexLb:Upstream:ApiKey, " +
                "or run a build that includes it: dotnet run --project src/Silo -- --CodexLb:Upstream:UseSimulator=true",
            ]);
#endif
        }

        var cluster = ClusterSettings.From(builder.Configuration);
        if (!cluster.UsesRedis)
        {
            // The embedded default takes free Orleans ports unless told otherwise, so a second instance or a busy port is
            // no failure; a separate gateway process on localhost clustering needs them fixed (CodexLb:Cluster:GatewayPort).
            if (builder.Configuration["CodexLb:Cluster:SiloPort"] is null) cluster = cluster with { SiloPort = FreeTcpPort() };
            if (builder.Configuration["CodexLb:Cluster:GatewayPort"] is null) cluster = cluster with { GatewayPort = FreeTcpPort() };
        }
        var serveClients = builder.Configuration.GetValue<bool?>(ServeClientsKey) ?? !cluster.UsesRedis;
        var dashboard = DashboardHosting.Read(builder.Configuration, production: cluster.UsesRedis);
        builder.UseOrleans(silo =>
        {
            DashboardHosting.AddTo(silo, dashboard);
            DirectoryCacheTuning.Apply(silo);
            if (cluster.UsesRedis)
            {
                silo.UseRedisClustering(cluster.RedisConnectionString);
                RedisGrainDirectory.Apply(silo, cluster.RedisConnectionString);
                silo.ConfigureEndpoints(cluster.AdvertisedAddress, cluster.SiloPort, cluster.GatewayPort);
                silo.Configure<Orleans.Configuration.EndpointOptions>(o =>
                {
                    o.SiloListeningEndpoint = new IPEndPoint(cluster.ListenAddress, cluster.SiloPort);
                    o.GatewayListeningEndpoint = new IPEndPoint(cluster.ListenAddress, cluster.GatewayPort);
                });
                MembershipTuning.Apply(silo);
            }
            else
            {
                silo.UseLocalhostClustering(cluster.SiloPort, cluster.GatewayPort); // advertises and listens on 127.0.0.1 only
            }
            if (TelemetryHosting.TracingEnabled(builder.Configuration)) silo.AddActivityPropagation(); // only with a trace reader
            silo.Configure<Orleans.Configuration.ClusterOptions>(o => { o.ClusterId = cluster.ClusterId; o.ServiceId = cluster.ServiceId; });
        });
        builder.AddCodexTelemetry("codexlb-silo");
        if (cluster.UsesRedis) await builder.Services.AddRedisResponseTreeAsync(cluster.RedisConnectionString, cluster.ServiceId);
        builder.Services.AddConversationGrainServices(builder.Configuration);
        // Always: the drain (readiness 503 on SIGTERM, waiting for this silo's turns) and the health checks live here.
        builder.Services.AddCodexGateway(builder.Configuration);
        builder.Services.AddSingleton<CodexLb.Gateway.Health.IInFlightWork, SiloTurns>();
        configure?.Invoke(builder);

        var app = builder.Build();
        DashboardHosting.Map(app, dashboard);
        if (serveClients) app.MapCodexGateway();
        else MapHealthOnly(app);
        app.MapCodexTelemetry();
        StartupBanner.LogWhenStarted(app, cluster, serveClients, dashboard.Enabled, simulatorLedger);
        return app;
    }

    private static int FreeTcpPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A silo that does not serve clients: /healthz, /readyz (and /metrics, /dashboard); anything else is an OpenAI-shaped 404.</summary>
    private static void MapHealthOnly(WebApplication app)
    {
        app.UseExceptionHandler(error => error.Run(context =>
            context.Response.HasStarted ? Task.CompletedTask : ErrorResults.WriteAsync(context.Response, ProxyErrors.Internal())));
        app.MapCodexHealth();
        app.MapFallback(context => ErrorResults.WriteAsync(context.Response, new OpenAIError(StatusCodes.Status404NotFound, "not_found",
            $"No such endpoint on this silo: it serves health, /metrics and /dashboard, not the client API ({ServeClientsKey} is false); send clients to a gateway.")));
    }
}
