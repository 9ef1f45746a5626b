using CodexLb.Silo.Hosting;
using CodexLb.UpstreamSimulator;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace CodexLb.Tests.Infrastructure;

/// <summary>
/// The embedded default, exactly as <c>dotnet run --project src/Silo</c> builds it, on real Kestrel on loopback, in
/// front of an upstream simulator. Gateway API keys are on, so every test authenticates like a real client.
/// </summary>
public class ProductFixture : IAsyncLifetime
{
    public const string ApiKey = "sk-gateway-test-key";
    public const string SecondApiKey = "sk-gateway-second-tenant";
    public const string UpstreamKey = "sk-upstream-test-key";
    public const long BodyLimit = 2 * 1024 * 1024;

    public UpstreamSimulatorHost Simulator { get; private set; } = null!;
    public WebApplication App { get; private set; } = null!;
    public Uri BaseUrl { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;

    /// <summary>Configuration a derived fixture adds (command-line style).</summary>
    protected virtual IEnumerable<string> ExtraArgs => [];

    public IGrainFactory Grains => App.Services.GetRequiredService<IGrainFactory>();

    public async Task InitializeAsync()
    {
        Simulator = await UpstreamSimulatorHost.StartAsync(new SimulatorOptions());
        App = await SiloApp.BuildAsync(
        [
            "--urls", "http://127.0.0.1:0",
            "--CodexLb:Upstream:BaseUrl", Simulator.BaseUrl.ToString(),
            "--CodexLb:Upstream:ApiKey", UpstreamKey,
            "--CodexLb:Upstream:FirstEventTimeout", "00:00:10",
            "--CodexLb:Gateway:ApiKeys:0", ApiKey,
            "--CodexLb:Gateway:ApiKeys:1", SecondApiKey,
            "--CodexLb:Gateway:MaxRequestBodyBytes", BodyLimit.ToString(),
            "--CodexLb:Gateway:KeepAliveInterval", "00:00:00.200",
            "--CodexLb:Upstream:HeartbeatInterval", "00:00:00.100", // keepalives ride on heartbeats
            "--CodexLb:Cluster:SiloPort", FreePort.Next().ToString(),
            "--CodexLb:Cluster:GatewayPort", FreePort.Next().ToString(),
            "--CodexLb:Cluster:ClusterId", "e2e-" + Guid.NewGuid().ToString("N")[..8],
            "--Logging:LogLevel:Default", "Warning",
            .. ExtraArgs,
        ]);
        await App.StartAsync();
        var address = App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseUrl = new Uri(address);
        Http = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(60) };
        Http.DefaultRequestHeaders.Authorization = new("Bearer", ApiKey);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        await Simulator.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class ProductCollection : ICollectionFixture<ProductFixture>
{
    public const string Name = "product";
}
