using System.Net;
using System.Net.Sockets;
using CodexLb.Silo.Hosting;
using CodexLb.UpstreamSimulator;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace CodexLb.Benchmarks.Infrastructure;

/// <summary>
/// The embedded product (SiloApp.BuildAsync, real Kestrel on loopback, gateway API keys on) in front of an upstream
/// simulator, built exactly like tests/Tests/Infrastructure/ProductFixture.cs. The simulator runs in this process
/// (<see cref="StartAsync"/>) or in a child process (<see cref="StartWithExternalSimulatorAsync"/>, used by the memory
/// scenario so that the simulator's half of every websocket is not counted against the product).
/// </summary>
public sealed class Product : IAsyncDisposable
{
    public const string ApiKey = "sk-gateway-bench-key";
    public const string UpstreamKey = "sk-upstream-bench-key";
    public const long BodyLimit = 2 * 1024 * 1024;

    private SimulatorProcess? _childSimulator;

    private Product(WebApplication app, Uri gateway, Uri simulatorBase, UpstreamSimulatorHost? simulator)
    {
        App = app;
        GatewayUrl = gateway;
        SimulatorBaseUrl = simulatorBase;
        Simulator = simulator;
    }

    /// <summary>The in-process simulator (null when it runs in a child process).</summary>
    public UpstreamSimulatorHost? Simulator { get; }

    public WebApplication App { get; }

    /// <summary>http://127.0.0.1:PORT/</summary>
    public Uri GatewayUrl { get; }

    /// <summary>http://127.0.0.1:PORT/v1 of the simulator.</summary>
    public Uri SimulatorBaseUrl { get; }

    public Uri GatewayResponses => new(GatewayUrl, "v1/responses");

    public Uri DirectResponses => new(SimulatorBaseUrl + "/responses");

    public Uri DirectWebSocket => new(SimulatorBaseUrl.ToString().Replace("http://", "ws://", StringComparison.Ordinal) + "/responses");

    /// <param name="extraArgs">configuration added after the defaults (command-line style), e.g. the Redis connection string.</param>
    public static async Task<Product> StartAsync(SimulatorOptions options, IEnumerable<string>? extraArgs = null)
    {
        var simulator = await UpstreamSimulatorHost.StartAsync(options);
        var (app, gateway) = await StartProductAsync(simulator.BaseUrl, extraArgs ?? []);
        return new Product(app, gateway, simulator.BaseUrl, simulator);
    }

    /// <param name="extraArgs">configuration added after the defaults (command-line style), e.g. the Redis connection string.</param>
    public static async Task<Product> StartWithExternalSimulatorAsync(IEnumerable<string>? extraArgs = null)
    {
        var child = await SimulatorProcess.StartAsync();
        var (app, gateway) = await StartProductAsync(child.BaseUrl, extraArgs ?? []);
        return new Product(app, gateway, child.BaseUrl, null) { _childSimulator = child };
    }

    private static async Task<(WebApplication, Uri)> StartProductAsync(Uri simulatorBaseUrl, IEnumerable<string> extraArgs)
    {
        var app = await SiloApp.BuildAsync([.. Arguments(simulatorBaseUrl), .. extraArgs]);
        await app.StartAsync();
        return (app, Address(app));
    }

    /// <summary>The product's configuration for a benchmark (command-line style): loopback, gateway API key, fresh ports and cluster id.</summary>
    public static string[] Arguments(Uri simulatorBaseUrl) =>
    [
        "--urls", "http://127.0.0.1:0",
        "--CodexLb:Upstream:BaseUrl", simulatorBaseUrl.ToString(),
        "--CodexLb:Upstream:ApiKey", UpstreamKey,
        "--CodexLb:Upstream:FirstEventTimeout", "00:00:10",
        "--CodexLb:Gateway:ApiKeys:0", ApiKey,
        // One key stands for every client of a benchmark, which starts thousands of sessions a minute: the per-key rate
        // of new conversations is off, and with it the lookup that tells a session's first turn from an existing one's.
        "--CodexLb:Limits:NewConversationsPerMinute", "0",
        "--CodexLb:Gateway:MaxRequestBodyBytes", BodyLimit.ToString(),
        "--CodexLb:Gateway:KeepAliveInterval", "00:00:00.200",
        "--CodexLb:Cluster:SiloPort", FreePort().ToString(),
        "--CodexLb:Cluster:GatewayPort", FreePort().ToString(),
        "--CodexLb:Cluster:ClusterId", "bench-" + Guid.NewGuid().ToString("N")[..8],
        "--Logging:LogLevel:Default", "Warning",
        "--Logging:Console:LogToStandardErrorThreshold", "Trace", // the product's log lines to stderr: stdout holds the tables
    ];

    /// <summary>http://127.0.0.1:PORT/ of a started app.</summary>
    public static Uri Address(WebApplication app)
    {
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(address.EndsWith('/') ? address : address + "/");
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        if (Simulator is not null) await Simulator.DisposeAsync();
        if (_childSimulator is not null) await _childSimulator.DisposeAsync();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
