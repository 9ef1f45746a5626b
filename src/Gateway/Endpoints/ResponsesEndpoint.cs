using CodexLb.Gateway.Health;
using CodexLb.Gateway.Hosting;
using CodexLb.Gateway.Routing;
using CodexLb.Gateway.Security;
using CodexLb.Gateway.Streaming;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Events;
using CodexLb.Protocol.Items;
using CodexLb.Protocol.Requests;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Endpoints;

/// <summary><c>POST /v1/responses</c>: one turn over HTTP, answered as SSE or, with <c>stream:false</c>, as one JSON object.</summary>
public sealed class ResponsesEndpoint(ClientAuthenticator authenticator, TurnRouter router, TurnDispatcher dispatcher, DrainState drain, IOptions<GatewayOptions> options)
{
    private readonly GatewayOptions _options = options.Value;

    public async Task HandleAsync(HttpContext context)
    {
        var aborted = context.RequestAborted;
        if (drain.IsDraining) { await ErrorResults.WriteAsync(context.Response, ProxyErrors.DrainActive()); return; }
        using var inFlight = drain.Track();
        var tenant = authenticator.Authenticate(context.Request.Headers.Authorization);
        if (tenant is null) { await ErrorResults.WriteAsync(context.Response, ProxyErrors.InvalidApiKey()); return; }

        var (body, error) = await RequestBody.ReadAsync(context.Request, _options.MaxRequestBodyBytes, aborted);
        if (error is not null || !ResponseCreateParser.TryParse(body, out var parsed, out error))
        {
            await ErrorResults.WriteAsync(context.Response, error!);
            return;
        }

        var (key, routeError) = await router.ResolveAsync(tenant, parsed!.PreviousResponseId, parsed.PromptCacheKey, context.Request.Headers);
        if (routeError is not null) { await ErrorResults.WriteAsync(context.Response, routeError); return; }
        context.Response.Headers[TurnRouter.TurnStateHeader] = key;

        var turn = ToTurn(parsed, context.TraceIdentifier);
        await using var stream = await dispatcher.StartAsync(key!, turn, aborted);
        if (stream.Current.Rejection is { } rejection)
        {
            await ErrorResults.WriteAsync(context.Response, rejection.ToError());
            return;
        }
        if (parsed.Stream) await RelaySseAsync(context, stream, key!);
        else await RespondJsonAsync(context, stream, key!);
    }

    public static TurnRequest ToTurn(ResponseCreateRequest parsed, string requestId) => new()
    {
        PreviousResponseId = parsed.PreviousResponseId,
        Settings = parsed.Settings,
        InputItems = parsed.InputItems,
        InputFingerprints = ItemFingerprint.ComputeAll(parsed.InputItems),
        Generate = parsed.Generate,
        RequestId = requestId,
    };

    private async Task RelaySseAsync(HttpContext context, TurnStream stream, string key)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        var writer = response.BodyWriter;

        var current = stream.Current;
        var relayed = 0;
        while (true)
        {
            SseWriter.WriteEvent(writer, current.Type, current.Data);
            relayed++;
            if (current.Type == EventTypes.Completed) RememberAlias(key, current);

            var next = stream.MoveNextAsync();
            if (!next.IsCompleted)
            {
                await writer.FlushAsync(context.RequestAborted);
                next = await KeepAliveUntilAsync(next, writer, context.RequestAborted);
            }
            bool more;
            try
            {
                more = await next;
            }
            catch (Exception ex) when (!context.RequestAborted.IsCancellationRequested && TurnDispatcher.IsTransient(ex))
            {
                // Bytes already reached the client: end retryably; the conversation's last completed id stays valid.
                var failed = ResponseEvents.BuildFailed(ProxyErrors.OwnerUnreachable(), null, relayed);
                SseWriter.WriteEvent(writer, ResponseEvents.Failed, failed);
                break;
            }
            if (!more) break;
            current = stream.Current;
        }
        await writer.FlushAsync(context.RequestAborted);
    }

    private async ValueTask<ValueTask<bool>> KeepAliveUntilAsync(ValueTask<bool> next, System.IO.Pipelines.PipeWriter writer, CancellationToken aborted)
    {
        var pending = next.AsTask();
        while (await Task.WhenAny(pending, Task.Delay(_options.KeepAliveInterval, aborted)) != pending)
        {
            aborted.ThrowIfCancellationRequested();
            SseWriter.WriteComment(writer, "keepalive"u8);
            await writer.FlushAsync(aborted);
        }
        return new ValueTask<bool>(pending);
    }

    private async Task RespondJsonAsync(HttpContext context, TurnStream stream, string key)
    {
        var terminal = stream.Current;
        while (!EventTypes.IsTerminal(terminal.Type) && await stream.MoveNextAsync()) terminal = stream.Current;
        if (!EventTypes.IsTerminal(terminal.Type))
        {
            await ErrorResults.WriteAsync(context.Response, ProxyErrors.StreamIncomplete());
            return;
        }
        if (terminal.Type == EventTypes.Failed)
        {
            var summary = EventReader.Summarize(terminal.Data);
            var code = summary.ErrorCode ?? ErrorCodes.ServerError;
            var retryable = ErrorCodes.IsRetryable(code);
            await ErrorResults.WriteAsync(context.Response, new OpenAIError(retryable ? 502 : 400, code,
                summary.ErrorMessage ?? "The response failed.", retryable ? ErrorTypes.Server : ErrorTypes.InvalidRequest)
                { RetryAfterSeconds = retryable ? 1 : null });
            return;
        }
        if (terminal.Type == EventTypes.Completed) RememberAlias(key, terminal);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(EventReader.ReadRawProperty(terminal.Data, "response"u8) ?? terminal.Data, context.RequestAborted);
    }

    private void RememberAlias(string key, TurnEvent completed)
    {
        if (EventReader.Summarize(completed.Data).ResponseId is { } id) router.Remember(key, id);
    }
}
