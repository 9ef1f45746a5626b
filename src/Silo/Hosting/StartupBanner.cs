using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace CodexLb.Silo.Hosting;

/// <summary>
/// One Information line once the host listens: where clients, the dashboard and metrics are, which Orleans ports it took,
/// and which provider it talks to. A new user (and an operator reading a pod's log) should not have to guess.
/// </summary>
public static partial class StartupBanner
{
    public static void LogWhenStarted(WebApplication app, Gateway.Hosting.ClusterSettings cluster, bool serveClients, bool dashboard, Uri? simulatorLedger)
    {
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? "(no HTTP address)";
            var upstream = app.Services.GetRequiredService<IOptions<Grains.Upstream.UpstreamOptions>>().Value.BaseUrl;
            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("CodexLb.Silo");
            LogStarted(logger, serveClients ? $"{address}/v1 (responses, chat/completions, models)" : "not served here (a production silo)",
                dashboard ? address + Dashboard.DashboardHosting.Path : "off", address + "/metrics", cluster.SiloPort, cluster.GatewayPort,
                cluster.UsesRedis ? "Redis" : "localhost, in-memory state", upstream,
                simulatorLedger is null ? "" : $" (the bundled simulator; its ledger of what was sent upstream: {simulatorLedger})");
        });
    }

    [LoggerMessage(Level = LogLevel.Information, Message =
        "CodexLb started. Client API: {ClientApi}; dashboard: {Dashboard}; metrics: {Metrics}; Orleans silo port {SiloPort}, gateway port {GatewayPort} ({Clustering}); upstream: {Upstream}{Simulator}")]
    private static partial void LogStarted(ILogger logger, string clientApi, string dashboard, string metrics, int siloPort, int gatewayPort, string clustering, Uri upstream,
        string simulator);
}
