using System.Net.Http.Json;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Benchmarks.Infrastructure;

/// <summary>
/// The upstream simulator in a child process (this same program with <see cref="ChildFlag"/>), so that a measurement of
/// this process (memory) or of the product's process (CPU) counts only the product's side of each upstream websocket.
/// </summary>
public sealed class SimulatorProcess : IAsyncDisposable
{
    public const string ChildFlag = "--simulator-child";
    private const string FirstEventDelayCommand = "first-event-delay-ms ";

    private readonly ChildProcess _child;

    private SimulatorProcess(ChildProcess child)
    {
        _child = child;
        BaseUrl = new Uri($"http://127.0.0.1:{child.Port}/v1");
    }

    /// <summary>http://127.0.0.1:PORT/v1</summary>
    public Uri BaseUrl { get; }

    public Uri Responses => new(BaseUrl + "/responses");

    public int ProcessId => _child.Id;

    public ChildProcess Process => _child;

    private const string LedgerCapacityArgument = "--ledger-capacity";

    /// <param name="ledgerCapacity">
    /// the requests (and connections) its ledger keeps (SimulatorOptions.LedgerCapacity); a run that reads no ledger keeps
    /// few, so the records of the last 100,000 requests do not outlive a collection each and make the simulator's pauses
    /// long (it shares the cores with what it measures).
    /// </param>
    public static async Task<SimulatorProcess> StartAsync(IReadOnlyDictionary<string, string>? environment = null, int? ledgerCapacity = null) =>
        new(await ChildProcess.StartSelfAsync(ChildFlag, ledgerCapacity is { } capacity ? [LedgerCapacityArgument, capacity.ToString(System.Globalization.CultureInfo.InvariantCulture)] : [],
            environment));

    /// <summary>
    /// The simulated upstream work per turn (SimulatorOptions.FirstEventDelay), from the next request on; <paramref name="precise"/>:
    /// it ends on time (SimulatorOptions.PreciseDelays, spun: for one turn at a time).
    /// </summary>
    public Task SetFirstEventDelayAsync(TimeSpan delay, bool precise = false) =>
        _child.CommandAsync(FirstEventDelayCommand + (int)delay.TotalMilliseconds + (precise ? " precise" : ""));

    /// <summary>The ledger of the simulator at <paramref name="baseUrl"/> as it stands: its last requests and connections.</summary>
    public static async Task<LedgerSnapshot> ReadLedgerAsync(HttpClient http, Uri baseUrl) =>
        await http.GetFromJsonAsync(new Uri(baseUrl, "/_sim/ledger"), SimulatorJsonContext.Default.LedgerSnapshot)
        ?? throw new InvalidOperationException("the simulator answered no ledger");

    /// <summary>The child's main: run a default simulator until stdin closes.</summary>
    public static async Task<int> RunChildAsync(string[] args)
    {
        var options = new SimulatorOptions();
        if (Array.IndexOf(args, LedgerCapacityArgument) is var at and >= 0) options.LedgerCapacity = int.Parse(args[at + 1], System.Globalization.CultureInfo.InvariantCulture);
        await using var simulator = await UpstreamSimulatorHost.StartAsync(options);
        await ChildProcess.ServeAsync(simulator.Port, line =>
        {
            if (line.StartsWith(FirstEventDelayCommand, StringComparison.Ordinal))
            {
                var words = line[FirstEventDelayCommand.Length..].Split(' ');
                simulator.Options.FirstEventDelay = TimeSpan.FromMilliseconds(int.Parse(words[0]));
                simulator.Options.PreciseDelays = words is [_, "precise"];
            }
        });
        return 0;
    }

    public ValueTask DisposeAsync() => _child.DisposeAsync();
}
