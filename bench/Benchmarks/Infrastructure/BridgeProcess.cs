using CodexLb.Silo.Hosting;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;

namespace CodexLb.Benchmarks.Infrastructure;

/// <summary>
/// The product (SiloApp, the embedded default: gateway + silo in one process, exactly what src/Silo runs) in its own
/// process, so its CPU is read apart from the client's and the simulator's. Two additions to its /metrics, both
/// read-only: the runtime's own meter (<c>System.Runtime</c>: allocated bytes, GC counts) and no scrape cache, so two
/// scrapes around a batch see exactly that batch.
/// </summary>
public sealed class BridgeProcess : IAsyncDisposable
{
    public const string ChildFlag = "--bridge-child";

    private readonly ChildProcess _child;

    private BridgeProcess(ChildProcess child)
    {
        _child = child;
        Url = new Uri($"http://127.0.0.1:{child.Port}/");
    }

    /// <summary>http://127.0.0.1:PORT/</summary>
    public Uri Url { get; }

    public Uri Responses => new(Url, "v1/responses");

    public Uri WebSocket => new($"ws://127.0.0.1:{_child.Port}/v1/responses");

    public Uri Metrics => new(Url, "metrics");

    public ChildProcess Process => _child;

    /// <param name="extraArgs">configuration added after the defaults (command-line style).</param>
    /// <param name="environment">variables added to the process's environment (<see cref="PerfProfile.Environment"/>), over the image's (<see cref="ImageEnvironment"/>).</param>
    /// <param name="benchmarks">another build's CodexLb.Benchmarks.dll to run the bridge of (default: this one's).</param>
    public static async Task<BridgeProcess> StartAsync(Uri simulatorBaseUrl, IEnumerable<string>? extraArgs = null, IReadOnlyDictionary<string, string>? environment = null,
        string? benchmarks = null) =>
        new(await ChildProcess.StartAsync(benchmarks ?? typeof(BridgeProcess).Assembly.Location,
            [ChildFlag, .. Product.Arguments(simulatorBaseUrl), .. extraArgs ?? []], ImageEnvironment.With(environment)));

    /// <summary>The child's main: the product with the given configuration, until stdin closes.</summary>
    public static async Task<int> RunChildAsync(string[] args)
    {
        var app = await SiloApp.BuildAsync(args.Where(a => a != ChildFlag).ToArray(), builder =>
        {
            builder.Services.ConfigureOpenTelemetryMeterProvider(metrics => metrics.AddMeter("System.Runtime"));
            builder.Services.Configure<PrometheusAspNetCoreOptions>(o => o.ScrapeResponseCacheDurationMilliseconds = 0);
        });
        await app.StartAsync();
        await ChildProcess.ServeAsync(Product.Address(app).Port);
        await app.StopAsync();
        await app.DisposeAsync();
        return 0;
    }

    public ValueTask DisposeAsync() => _child.DisposeAsync();
}
