using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.Cluster;

/// <summary>
/// The out-of-process simulator's <c>/_sim/*</c> control endpoints, deserialized into the simulator's own records
/// (<see cref="LedgerSnapshot"/>, <see cref="RequestRecord"/>, <see cref="FaultPlanSnapshot"/>, <see cref="Fault"/>).
/// </summary>
public sealed class SimulatorControlClient : IDisposable
{
    private readonly HttpClient _http;

    public SimulatorControlClient(Uri root)
    {
        Root = root;
        _http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = root, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary><c>http://127.0.0.1:PORT/</c> (the provider base URL is <c>Root/v1</c>).</summary>
    public Uri Root { get; }

    /// <summary>GET /_sim/ledger: every connection and request the simulator saw (since the last clear).</summary>
    public async Task<LedgerSnapshot> GetLedgerAsync(CancellationToken cancellationToken = default) =>
        await _http.GetFromJsonAsync("_sim/ledger", SimulatorJsonContext.Default.LedgerSnapshot, cancellationToken)
        ?? throw new InvalidOperationException("GET /_sim/ledger returned null.");

    public async Task<IReadOnlyList<RequestRecord>> GetRequestsAsync(CancellationToken cancellationToken = default) =>
        (await GetLedgerAsync(cancellationToken)).Requests;

    /// <summary>The upstream request that produced <paramref name="responseId"/> (exactly one must exist).</summary>
    public async Task<RequestRecord> GetRequestForResponseAsync(string responseId, CancellationToken cancellationToken = default)
    {
        var ledger = await GetLedgerAsync(cancellationToken);
        var matches = ledger.Requests.Where(r => r.ResponseId == responseId).ToList();
        return matches.Count == 1
            ? matches[0]
            : throw new InvalidOperationException(
                $"Expected one upstream request for {responseId}, found {matches.Count}. Ledger: {LedgerText.Lines(ledger.Requests, "; ")}");
    }

    /// <summary>DELETE /_sim/ledger (ids keep increasing).</summary>
    public Task ClearLedgerAsync(CancellationToken cancellationToken = default) => DeleteAsync("_sim/ledger", cancellationToken);

    /// <summary>GET /_sim/faults: pending faults (Count = remaining shots) and fired in-band directives.</summary>
    public async Task<FaultPlanSnapshot> GetFaultsAsync(CancellationToken cancellationToken = default) =>
        await _http.GetFromJsonAsync("_sim/faults", SimulatorJsonContext.Default.FaultPlanSnapshot, cancellationToken)
        ?? throw new InvalidOperationException("GET /_sim/faults returned null.");

    /// <summary>POST /_sim/faults: adds one fault; returns it as the simulator registered it.</summary>
    public async Task<Fault> AddFaultAsync(Fault fault, CancellationToken cancellationToken = default)
    {
        using var content = new StringContent(JsonSerializer.Serialize(fault, SimulatorJsonContext.Default.Fault), Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync("_sim/faults", content, cancellationToken);
        await ExpectAsync(response, HttpStatusCode.Created);
        return await response.Content.ReadFromJsonAsync(SimulatorJsonContext.Default.Fault, cancellationToken)
               ?? throw new InvalidOperationException("POST /_sim/faults returned null.");
    }

    /// <summary>DELETE /_sim/faults: drops every pending fault.</summary>
    public Task ClearFaultsAsync(CancellationToken cancellationToken = default) => DeleteAsync("_sim/faults", cancellationToken);

    /// <summary>DELETE /_sim/directives: in-band directives may fire again.</summary>
    public Task ForgetDirectivesAsync(CancellationToken cancellationToken = default) => DeleteAsync("_sim/directives", cancellationToken);

    /// <summary>Polls the ledger until <paramref name="predicate"/> holds; throws <see cref="TimeoutException"/> with the ledger otherwise.</summary>
    public async Task<LedgerSnapshot> WaitUntilAsync(Func<LedgerSnapshot, bool> predicate, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var ledger = await GetLedgerAsync(cancellationToken);
            if (predicate(ledger)) return ledger;
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException(
                    $"Simulator ledger condition not met within {timeout.TotalSeconds:0.#} s. Requests: {LedgerText.Lines(ledger.Requests, "; ")}");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    public void Dispose() => _http.Dispose();

    private async Task DeleteAsync(string path, CancellationToken cancellationToken)
    {
        using var response = await _http.DeleteAsync(path, cancellationToken);
        await ExpectAsync(response, HttpStatusCode.NoContent);
    }

    private static async Task ExpectAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        if (response.StatusCode != expected)
        {
            var body = await response.Content.ReadAsStringAsync();
            throw new HttpRequestException($"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} answered {(int)response.StatusCode}: {body}");
        }
    }
}
