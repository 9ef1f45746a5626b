using System.Buffers;
using System.Text.Json;
using CodexLb.UpstreamSimulator.Faults;
using CodexLb.UpstreamSimulator.Ledger;
using CodexLb.UpstreamSimulator.Model;
using CodexLb.UpstreamSimulator.Store;
using CodexLb.UpstreamSimulator.Wire;
using Microsoft.AspNetCore.Http;

namespace CodexLb.UpstreamSimulator.Http;

/// <summary>
/// Plain HTTP <c>POST …/responses</c>: SSE when <c>stream:true</c>, otherwise the final response object as JSON.
/// store:true responses (the API's default) are kept for retrieval, and a previous_response_id continues from a
/// stored, completed one (anything else is previous_response_not_found). background:true without streaming answers
/// "queued" at once and runs on (<see cref="BackgroundRun"/>).
/// </summary>
internal static class HttpResponsesEndpoint
{
    private static readonly TimeSpan AbortGrace = TimeSpan.FromMilliseconds(100);

    public static async Task HandleAsync(HttpContext http, SimulatorCore core)
    {
        var headers = http.Request.Headers;
        var authorization = headers.Authorization.Count > 0 ? headers.Authorization.ToString() : null;
        var entry = core.Ledger.StartRequest(null, 1, SimTransport.Http, authorization);
        var handedOver = false;
        try
        {
            handedOver = await HandleAsync(http, core, entry);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException
                                       or Microsoft.AspNetCore.Connections.ConnectionAbortedException)
        {
            // The client went away, or the host is stopping: never let a cut-short response end as a clean 200.
            http.Abort();
        }
        finally
        {
            if (!handedOver)
            {
                core.AbortIfInFlight(entry);
            }
        }
    }

    /// <returns>True when a background run owns the ledger entry from now on.</returns>
    private static async Task<bool> HandleAsync(HttpContext http, SimulatorCore core, RequestEntry entry)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, core.Stopping);
        var ct = linked.Token;
        var body = await HttpJson.ReadBodyAsync(http.Request.BodyReader, ct);
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
            return false;
        }

        core.Describe(entry, request);
        var context = new FaultContext(null, 1, SimTransport.Http, request.LatestUserText);
        var (turn, effects) = core.Prepare(request, entry, core.StoredAnchor(request.PreviousResponseId), context);
        using var frames = turn.Frames; // rented: given back once the frames are written (SseWriter copies them into the pipe)
        var echo = request.Echo;
        var keep = turn.Kind != TurnKind.Error && (echo.Store || echo.Background);
        if (keep && echo.Background && !request.Stream)
        {
            // The answer is the queued snapshot, taken before the run can move on (without latency it finishes at once).
            var queued = core.Keep(request, turn, entry, "queued");
            var snapshot = queued.Snapshot();
            BackgroundRun.Start(core, queued, effects, turn.Frames.Count);
            await HttpJson.WriteAsync(http, snapshot);
            return true;
        }

        var stored = keep && echo.Background ? core.Keep(request, turn, entry, "in_progress") : null;
        var final = turn.Kind == TurnKind.Failed ? "failed" : "completed";

        // Just before the terminal frame: the ledger outcome and the stored copy (a client may GET it at once).
        void Complete()
        {
            core.Finish(entry, turn);
            if (stored is not null)
            {
                stored.TryMove(final);
            }
            else if (keep)
            {
                core.Keep(request, turn, entry, final);
            }
        }

        try
        {
            await DeliverAsync(http, core, entry, turn, effects, request.Stream, stored, Complete, ct);
        }
        finally
        {
            // A background stream whose client left still finishes at the provider.
            stored?.TryMove(final);
        }

        return false;
    }

    private static async Task DeliverAsync(HttpContext http, SimulatorCore core, RequestEntry entry, Turn turn, TurnEffects effects,
        bool stream, StoredResponse? stored, Action complete, CancellationToken ct)
    {
        using var run = stored is null ? null : CancellationTokenSource.CreateLinkedTokenSource(ct, stored.Cancellation.Token);
        try
        {
            await DeliverAsync(http, core, entry, turn, effects, stream, complete, run?.Token ?? ct);
        }
        catch (OperationCanceledException) when (stored?.Cancellation.IsCancellationRequested == true && !ct.IsCancellationRequested)
        {
            // Cancelled through POST …/cancel: the stream just ends.
            stored.TryMove("cancelled");
            core.Finish(entry, RequestOutcome.Cancelled);
            await http.Response.BodyWriter.FlushAsync(ct);
        }
    }

    private static async Task DeliverAsync(HttpContext http, SimulatorCore core, RequestEntry entry, Turn turn, TurnEffects effects,
        bool stream, Action complete, CancellationToken ct)
    {
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

        if (turn.Kind == TurnKind.Error || !stream)
        {
            // Nothing is streamed: the whole schedule elapses before the status line.
            var total = effects.FirstEventDelay + (effects.EventDelay * Math.Max(0, limit - 1));
            await SimulatedDelay.WaitAsync(total, effects.PreciseDelays, ct);
            if (limit < count)
            {
                await AbortForFaultAsync(http, core, entry);
                return;
            }

            complete();
            await WriteWholeAsync(http, turn, effects.RetryAfter);
            return;
        }

        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        for (var i = 0; i < limit; i++)
        {
            await SimulatedDelay.WaitAsync(i == 0 ? effects.FirstEventDelay : effects.EventDelay, effects.PreciseDelays, ct);
            if (i == count - 1)
            {
                complete();
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
            // Errors and failures alike: a non-streamed answer has only its status line to tell.
            await HttpErrors.WriteAsync(http, error, retryAfter);
            return;
        }

        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var w = new Utf8JsonWriter(buffer, WireJson.WriterOptions))
        {
            ResponseEvents.WriteResponseObject(w, turn, "completed");
        }

        await HttpJson.WriteAsync(http, buffer.WrittenMemory);
    }
}
