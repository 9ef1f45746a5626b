using CodexLb.UpstreamSimulator.Ledger;
using CodexLb.UpstreamSimulator.Model;
using Microsoft.AspNetCore.Http;

namespace CodexLb.UpstreamSimulator.Http;

/// <summary>An API error raised inside a non-streaming call; <see cref="SimpleCall"/> answers it.</summary>
internal sealed class SimErrorException(SimError error) : Exception(error.Message)
{
    public SimError Error { get; } = error;
}

/// <summary>Ledger bookkeeping for the one-shot HTTP calls (retrieve, delete, cancel, input_items, input_tokens, compact).</summary>
internal static class SimpleCall
{
    public static RequestEntry Start(HttpContext http, SimulatorCore core, RequestKind kind)
    {
        var headers = http.Request.Headers;
        return core.Ledger.StartRequest(null, 1, SimTransport.Http, headers.Authorization.Count > 0 ? headers.Authorization.ToString() : null, kind);
    }

    /// <summary>
    /// Runs the call and writes the JSON it returns (the outcome is recorded first, as for responses); an error it
    /// throws is answered with its status and body.
    /// </summary>
    public static async Task RunAsync(HttpContext http, SimulatorCore core, RequestEntry entry, Func<Task<byte[]>> call)
    {
        try
        {
            var body = await call();
            core.Finish(entry, RequestOutcome.Completed);
            await HttpJson.WriteAsync(http, body);
        }
        catch (SimErrorException ex)
        {
            core.Finish(entry, RequestOutcome.Error, ex.Error);
            await HttpErrors.WriteAsync(http, ex.Error);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or Microsoft.AspNetCore.Connections.ConnectionAbortedException)
        {
            core.AbortIfInFlight(entry);
            http.Abort();
        }
    }
}
