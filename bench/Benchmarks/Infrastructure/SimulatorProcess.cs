using System.Diagnostics;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Benchmarks.Infrastructure;

/// <summary>
/// The upstream simulator in a child process (this same program with <see cref="ChildFlag"/>), so that a memory
/// measurement of this process counts only the product's side of each upstream websocket. The child prints
/// <c>PORT n</c> once listening and exits when its stdin closes.
/// </summary>
public sealed class SimulatorProcess : IAsyncDisposable
{
    public const string ChildFlag = "--simulator-child";

    private readonly Process _process;

    private SimulatorProcess(Process process, int port)
    {
        _process = process;
        BaseUrl = new Uri($"http://127.0.0.1:{port}/v1");
    }

    public Uri BaseUrl { get; }

    public int ProcessId => _process.Id;

    public static async Task<SimulatorProcess> StartAsync()
    {
        var info = new ProcessStartInfo
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            info.FileName = self;
            info.ArgumentList.Add(typeof(SimulatorProcess).Assembly.Location);
        }
        else
        {
            info.FileName = self;
        }
        info.ArgumentList.Add(ChildFlag);
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the simulator process");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var line = await process.StandardOutput.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException("the simulator process exited");
            if (line.StartsWith("PORT ", StringComparison.Ordinal)) return new SimulatorProcess(process, int.Parse(line[5..]));
        }
    }

    /// <summary>The child's main: run a default simulator until stdin closes.</summary>
    public static async Task<int> RunChildAsync()
    {
        await using var simulator = await UpstreamSimulatorHost.StartAsync(new SimulatorOptions());
        Console.WriteLine($"PORT {simulator.Port}");
        Console.Out.Flush();
        await Console.In.ReadToEndAsync();
        return 0;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill();
        }
        _process.Dispose();
    }
}
