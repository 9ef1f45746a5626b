using System.Buffers;
using System.Text.Json;
using CodexLb.UpstreamSimulator.Faults;
using CodexLb.UpstreamSimulator.Ledger;
using CodexLb.UpstreamSimulator.Model;
using CodexLb.UpstreamSimulator.Wire;
using Microsoft.AspNetCore.Http;

namespace CodexLb.UpstreamSimulator.Http;

/// <summary>
/// Plain HTTP <c>POST …/responses</c>: stateless (full input every time, so previous_response_id is always
/// unknown), SSE when <c>stream:true</c>, otherwise the final response object as JSON.
/// </summary>
internal static class HttpResponsesEndpoint
{
    private static readonly TimeSpan AbortGrace = TimeSpan.FromMilliseconds(100);

    public static async Task HandleAsync(HttpContext http, SimulatorCore core)
    {
        var headers = http.Request.Headers;
        var authorization = headers.Authorization.Count > 0 ? headers.Authorization.ToString() : null;
        var entry = core.Ledger.StartRequest(null, 1, SimTransport.Http, authorization);
        try
        {
            await HandleAsync(http, core, entry);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException
                                       or Microsoft.AspNetCore.Connections.ConnectionAbortedException)
        {
            // The client went away, or the host is stopping: never let a cut-short response end as a clean 200.
            http.Abort();
        }
        finally
        {
            core.AbortIfInFlight(entry);
        }
    }

    private static async Task HandleAsync(HttpContext http, SimulatorCore core, RequestEntry entry)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, core.Stopping);
        var ct = linked.Token;
        var body = await ReadBodyAsync(http.Request.BodyReader, ct);
        CreateRequest request;
        try
        {
            request = CreateRequest.Parse(body, core.Options.DefaultModel);
        }
        catch (JsonException ex)
        {
            var error = SimErrors.InvalidJson(ex.Message);
            core.Finish(entry, RequestOutcome.Error, error);
            await HttpErrors.WriteAsync(http, error);
            return;
        }

        core.Describe(entry, request);
        var context = new FaultContext(null, 1, SimTransport.Http, request.LatestUserText);
        var (turn, effects) = core.Prepare(request, entry, current: null, context);
        if (effects.Hang)
        {
            await Task.Delay(Timeout.Infinite, ct);
        }

        var count = turn.Frames.Count;
        var limit = Math.Min(effects.StopBefore ?? count, count);
        if (effects.CloseAtEnd)
        {
            // "Close between turns" over HTTP: finish this response, then drop the keep-alive connection.
            http.Response.Headers.Connection = "close";
        }

        if (turn.Kind == TurnKind.Error || !request.Stream)
        {
            // Nothing is streamed: the whole schedule elapses before the status line.
            var total = effects.FirstEventDelay + (effects.EventDelay * Math.Max(0, limit - 1));
            await DelayAsync(total, ct);
            if (limit < count)
            {
                await AbortForFaultAsync(http, core, entry);
                return;
            }

            core.Finish(entry, turn);
            await WriteWholeAsync(http, turn, effects.RetryAfter);
            return;
        }

        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        for (var i = 0; i < limit; i++)
        {
            await DelayAsync(i == 0 ? effects.FirstEventDelay : effects.EventDelay, ct);
            if (i == count - 1)
            {
                core.Finish(entry, turn);
            }

            SseWriter.Write(http.Response.BodyWriter, turn.Frames.TypeAt(i), turn.Frames[i].Span);

            // Flush when the client would otherwise wait (a delay follows, or the end); without latency the
            // events leave in one write, which keeps the direct-call baseline of the benchmarks cheap.
            if (i == limit - 1 || effects.EventDelay > TimeSpan.Zero)
            {
                await http.Response.BodyWriter.FlushAsync(ct);
            }
        }

        if (limit < count)
        {
            await AbortForFaultAsync(http, core, entry);
        }
    }

    private static async Task AbortForFaultAsync(HttpContext http, SimulatorCore core, RequestEntry entry)
    {
        core.Finish(entry, RequestOutcome.ClosedByFault);

        // Kestrel's abort drops output still queued in its pipe; give the flushed frames a moment to reach the
        // socket so the client sees a truncated stream rather than nothing.
        await Task.Delay(AbortGrace, CancellationToken.None);
        http.Abort();
    }

    private static async Task WriteWholeAsync(HttpContext http, Turn turn, TimeSpan? retryAfter)
    {
        if (turn.Error is { } error)
        {
            await HttpErrors.WriteAsync(http, error, retryAfter);
            return;
        }

        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer, WireJson.WriterOptions))
        {
            ResponseEvents.WriteResponseObject(w, turn, "completed");
        }

        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "application/json";
        await http.Response.Body.WriteAsync(buffer.WrittenMemory, http.RequestAborted);
    }

    private static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(System.IO.Pipelines.PipeReader reader, CancellationToken ct)
    {
        while (true)
        {
            var result = await reader.ReadAsync(ct);
            if (result.IsCompleted)
            {
                var bytes = result.Buffer.ToArray();
                reader.AdvanceTo(result.Buffer.End);
                return bytes;
            }

            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private static Task DelayAsync(TimeSpan delay, CancellationToken ct) =>
        delay > TimeSpan.Zero ? Task.Delay(delay, ct) : Task.CompletedTask;
}
