using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CodexLb.UpstreamSimulator;

/// <summary>An in-process simulator on 127.0.0.1, for tests and benchmarks.</summary>
public sealed class UpstreamSimulatorHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private UpstreamSimulatorHost(WebApplication app, int port)
    {
        _app = app;
        Port = port;
        Root = new Uri($"http://127.0.0.1:{port}/");
        BaseUrl = new Uri($"http://127.0.0.1:{port}/v1");
        WebSocketUrl = new Uri($"ws://127.0.0.1:{port}/v1/responses");
        Ledger = app.Services.GetRequiredService<SimulatorLedger>();
        Faults = app.Services.GetRequiredService<FaultPlan>();
        Options = app.Services.GetRequiredService<SimulatorOptions>();
    }

    public int Port { get; }

    /// <summary>http://127.0.0.1:PORT/ (the control endpoints live under <c>/_sim/</c>).</summary>
    public Uri Root { get; }

    /// <summary>http://127.0.0.1:PORT/v1, the provider base URL a client appends <c>/responses</c> to.</summary>
    public Uri BaseUrl { get; }

    /// <summary>ws://127.0.0.1:PORT/v1/responses.</summary>
    public Uri WebSocketUrl { get; }

    public SimulatorLedger Ledger { get; }

    public FaultPlan Faults { get; }

    /// <summary>The live options; latency fields may be changed between requests.</summary>
    public SimulatorOptions Options { get; }

    /// <summary>Starts a simulator on 127.0.0.1:<paramref name="port"/> (0 = a free port).</summary>
    /// <param name="logger">Gets one Information line with the base URL and the ledger URL (the host itself logs nothing).</param>
    public static async Task<UpstreamSimulatorHost> StartAsync(SimulatorOptions? options = null, int port = 0, CancellationToken ct = default,
        ILogger? logger = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.Services.AddUpstreamSimulator(options?.Clone() ?? new SimulatorOptions());

        var app = builder.Build();
        app.MapUpstreamSimulator();
        await app.StartAsync(ct);

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        var host = new UpstreamSimulatorHost(app, new Uri(address).Port);
        if (logger is not null)
        {
            SimulatorEndpointExtensions.LogStartup(logger, host.Root);
        }

        return host;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
