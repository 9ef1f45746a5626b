namespace CodexLb.Benchmarks.Infrastructure;

/// <summary>The floor: bench/YarpFloor (YARP's direct forwarder to the simulator, nothing else) in its own process.</summary>
public sealed class YarpProcess : IAsyncDisposable
{
    private readonly ChildProcess _child;

    private YarpProcess(ChildProcess child) => _child = child;

    public Uri Responses => new($"http://127.0.0.1:{_child.Port}/v1/responses");

    public ChildProcess Process => _child;

    public static async Task<YarpProcess> StartAsync(Uri simulatorBaseUrl, IReadOnlyDictionary<string, string>? environment = null) =>
        new(await ChildProcess.StartAsync(Path.Combine(AppContext.BaseDirectory, "CodexLb.YarpFloor.dll"), [new Uri(simulatorBaseUrl, "/").ToString()],
            ImageEnvironment.With(environment))); // the product's runtime environment: the floor runs on the same runtime

    public ValueTask DisposeAsync() => _child.DisposeAsync();
}
