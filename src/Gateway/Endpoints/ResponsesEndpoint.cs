using CodexLb.Gateway.Health;
using CodexLb.Gateway.Hosting;
using CodexLb.Gateway.Keys;
using CodexLb.Gateway.Routing;
using CodexLb.Gateway.Security;
using CodexLb.Gateway.Streaming;
using CodexLb.Gateway.Telemetry;
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
public sealed class ResponsesEndpoint(
    ClientAuthenticator authenticator, KeyAdmissions admissions, TurnRouter router, TurnDispatcher dispatcher, DrainState drain,
    ResponseReplayEndpoint replay, ConversationResponses conversations, IOptions<GatewayOptions> options)
{
    private readonly GatewayOptions _options = options.Value;

    /// <summary>How long an SSE stream may stay quiet before a keepalive comment (shared by the chat relay).</summary>
    internal TimeSpan KeepAliveInterval => _options.KeepAliveInterval;

    public Task HandleAsync(HttpContext context) => RunAsync(context, "http", Parse, static parsed => parsed, _relay ??= Relay);

    private Func<ResponseCreateRequest, HttpTurn, Task>? _relay; // made once: a lambda here was a new delegate per request

    private Task Relay(ResponseCreateRequest parsed, HttpTurn turn) =>
        parsed.Stream ? RelaySseAsync(turn)
        : parsed.Background ? RespondStartedAsync(turn.Context, turn.Stream)
        : RespondJsonAsync(turn);

    private static (ResponseCreateRequest?, OpenAIError?) Parse(ReadOnlyMemory<byte> body) =>
        ResponseCreateParser.TryParse(body.Span, out var parsed, out var error) ? (parsed, null) : (null, error);

    /// <summary>
    /// An HTTP turn up to its first event, the part every API shape served over HTTP shares: drain, authentication, the
    /// body, the caller's <paramref name="parse"/> into the Responses request it runs, routing, dispatch, and the answer
    /// to anything refused before the first byte; then <paramref name="relay"/> answers the client from the turn's events.
    /// </summary>
    public async Task RunAsync<TRequest>(HttpContext context, string transport, Func<ReadOnlyMemory<byte>, (TRequest? Request, OpenAIError? Error)> parse,
        Func<TRequest, ResponseCreateRequest> responses, Func<TRequest, HttpTurn, Task> relay) where TRequest : class
    {
        var aborted = context.RequestAborted;
        if (drain.IsDraining) { await ErrorResults.WriteAsync(context.Response, ProxyErrors.DrainActive()); return; }
        using var inFlight = drain.Track();
        using var telemetry = new TurnTelemetry(transport);
        var client = authenticator.Identify(context);
        if (client is null) { await ErrorResults.WriteAsync(context.Response, ProxyErrors.InvalidApiKey()); return; }
        var tenant = client.Tenant;

        var (body, error) = await RequestBody.ReadAsync(context.Request, _options.MaxRequestBodyBytes, aborted);
        TRequest? request = null;
        using (body) if (error is null) (request, error) = parse(body!.Written); // the parsed request holds copies
        if (error is not null)
        {
            await ErrorResults.WriteAsync(context.Response, error);
            return;
        }

        var parsed = responses(request!);
        // The key's rules (model allow-list, cluster-wide limits) before anything is looked up for the turn.
        var admission = await admissions.AdmitAsync(client, parsed.Model, aborted);
        if (admission.Error is not null) { await ErrorResults.WriteAsync(context.Response, admission.Error); return; }
        ulong[] fingerprints;
        TurnRoute route;
        ConversationTurn? conversation = null;
        if (parsed.ConversationId is null)
        {
            fingerprints = ItemFingerprint.ComputeAll(parsed.InputItems);
            route = await router.RouteAsync(tenant, parsed.PreviousResponseId, parsed.PromptCacheKey, context.Request.Headers, parsed.InputItems, fingerprints);
        }
        else
        {
            (parsed, conversation, fingerprints, route) = await RouteInConversationAsync(tenant, parsed, context.Request.Headers, aborted);
        }
        if (route.Error is not null) { await ErrorResults.WriteAsync(context.Response, route.Error); return; }
        var key = route.Key;
        context.Response.Headers[TurnRouter.TurnStateHeader] = key;

        var turn = ToTurn(parsed, context.TraceIdentifier, fingerprints, route.Resume, TurnDispatcher.TurnIdOf(context.Request.Headers));
        context.Response.Headers[GatewayMetrics.OverheadHeader] = telemetry.Dispatching(key!, parsed.Model, parsed.PreviousResponseId is not null).ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var stream = await dispatcher.StartAsync(key!, turn, aborted);
        if (stream.Current.Rejection is { } rejection)
        {
            telemetry.Rejected(rejection.Status, rejection.Code);
            await ErrorResults.WriteAsync(context.Response, rejection.ToError());
            return;
        }
        telemetry.FirstByte();
        router.Started(key!, stream);
        await relay(request!, new HttpTurn(context, stream, key!, telemetry) { Usage = admission.Turn, Tenant = tenant, Conversation = conversation });
    }

    // Apart from RunAsync: the route lambda's captures would make a closure on every turn, in a conversation or not.
    private Task<RoutedConversationTurn> RouteInConversationAsync(string tenant, ResponseCreateRequest parsed, IHeaderDictionary headers,
        CancellationToken aborted) =>
        conversations.RouteAsync(tenant, parsed, (r, f) => router.RouteAsync(tenant, r.PreviousResponseId, r.PromptCacheKey, headers, r.InputItems, f), aborted);

    public static TurnRequest ToTurn(ResponseCreateRequest parsed, string requestId) =>
        ToTurn(parsed, requestId, ItemFingerprint.ComputeAll(parsed.InputItems), null, TurnDispatcher.TurnIdOf(null));

    public static TurnRequest ToTurn(ResponseCreateRequest parsed, string requestId, ulong[] fingerprints, ContentMatch? resume, string turnId) => new()
    {
        TurnId = turnId,
        PreviousResponseId = parsed.PreviousResponseId,
        Settings = parsed.Settings,
        SettingsFingerprint = parsed.SettingsFingerprint,
        InputItems = parsed.InputItems,
        InputFingerprints = fingerprints,
        Generate = parsed.Generate,
        RequestId = requestId,
        ResumeFromResponseId = resume?.ResponseId,
        ResumePrefixLength = resume?.PrefixLength ?? 0,
        Store = parsed.Store,
        Background = parsed.Background,
        ConversationId = parsed.ConversationId,
    };

    private async Task RelaySseAsync(HttpTurn turn)
    {
        var (context, stream) = (turn.Context, turn.Stream);
        var writer = await SseWriter.StartAsync(context);

        var current = stream.Current;
        var written = current; // the last event the client got: where a background response goes on from
        var relayed = 0;
        var keepAlive = new SseKeepAlive(writer, _options.KeepAliveInterval);
        // A background response may go on by id in a new run: what the client got so far, for that run to continue it.
        var outputs = stream.Background ? new StreamedOutputs() : null;
        while (true)
        {
            if (current.IsHeartbeat) await keepAlive.HeartbeatAsync(context.RequestAborted);
            else
            {
                var terminal = EventTypes.IsTerminal(current.Type);
                if (terminal && GoesOnById(stream, current))
                {
                    await GoOnByIdAsync(turn, writer, written, outputs, after: "failure");
                    return;
                }
                if (turn.Conversation is { } conversation)
                {
                    conversation.Observe(current);
                    if (terminal && await conversation.EndAsync(current) is { } unrecorded)
                    {
                        SseWriter.WriteEvent(writer, ResponseEvents.Failed, ResponseEvents.BuildFailed(unrecorded, stream.ResponseId, relayed));
                        turn.Telemetry.Ended(ResponseEvents.Failed, null);
                        break;
                    }
                }
                SseWriter.WriteEvent(writer, current.Type, current.Data);
                outputs?.Observe(current.Type, current.Data);
                written = current;
                relayed++;
                keepAlive.Wrote();
                if (terminal)
                {
                    // The turn is over for the client; nothing after a terminal event may reach it.
                    Ended(router, turn, current);
                    break;
                }
            }

            // Events the owner already sent (one pulled batch) are written back to back and flushed once.
            var next = stream.MoveNextAsync(heartbeats: true);
            if (!next.IsCompleted) await writer.FlushAsync(context.RequestAborted);
            bool more;
            try
            {
                more = await next;
            }
            catch (Exception ex) when (!context.RequestAborted.IsCancellationRequested && OwnerFailures.IsTransient(ex))
            {
                if (stream.Background && stream.ResponseId is not null)
                {
                    await GoOnByIdAsync(turn, writer, written, outputs, after: "unreachable");
                    return;
                }
                // Bytes already reached the client: end retryably; the conversation's last completed id stays valid.
                var failed = ResponseEvents.BuildFailed(ProxyErrors.OwnerUnreachable(), stream.ResponseId, relayed);
                SseWriter.WriteEvent(writer, ResponseEvents.Failed, failed);
                turn.Telemetry.Ended(ResponseEvents.Failed, null);
                break;
            }
            if (!more) break;
            current = stream.Current;
        }
        await SseWriter.EndAsync(context, writer);
    }

    /// <summary>
    /// Whether a background response's stream goes on by its id instead of ending with <paramref name="terminal"/>: a
    /// failure that may pass (its owner lost, the provider's socket cut) leaves a background response pending, and the
    /// look-up by id runs it again, as a poll would. A client told <c>response.failed</c> would take it as over.
    /// </summary>
    private static bool GoesOnById(TurnStream stream, TurnEvent terminal) =>
        stream.Background && stream.ResponseId is not null && terminal.Type == EventTypes.Failed
        && ErrorCodes.IsRetryable(EventReader.Summarize(terminal.Data).ErrorCode);

    /// <summary>
    /// Streams the rest of a background response by its id, as <c>GET /responses/{id}?stream=true</c> after the last event
    /// the client got: the same run if its owner is only out of this gateway's reach, or its new run (a new
    /// <c>response.created</c> under the same id, then the whole answer), or how it ended.
    /// </summary>
    private async Task GoOnByIdAsync(HttpTurn turn, PipeBlockWriter writer, TurnEvent written, StreamedOutputs? outputs, string after)
    {
        var stream = turn.Stream;
        GatewayMetrics.BackgroundFollows.Add(1, new KeyValuePair<string, object?>("after", after));
        var last = EventReader.ReadSequenceNumber(written.Data) ?? stream.Delivered - 1;
        var relay = new ReplayRelay(turn.Context, stream.ResponseId!, _options.KeepAliveInterval, last, writer, outputs);
        await replay.RelayAsync(relay, turn.Tenant, stream.ResponseId!);
        if (relay.Terminal is { } terminal) Ended(router, turn, terminal);
        else turn.Telemetry.Ended(ResponseEvents.Failed, null);
    }

    private async Task RespondJsonAsync(HttpTurn turn)
    {
        var (context, stream) = (turn.Context, turn.Stream);
        var terminal = stream.Current;
        turn.Conversation?.Observe(terminal);
        while (!EventTypes.IsTerminal(terminal.Type) && await stream.MoveNextAsync())
        {
            terminal = stream.Current;
            turn.Conversation?.Observe(terminal);
        }
        if (!EventTypes.IsTerminal(terminal.Type))
        {
            await ErrorResults.WriteAsync(context.Response, ProxyErrors.StreamIncomplete());
            return;
        }
        if (turn.Conversation is { } conversation && await conversation.EndAsync(terminal) is { } unrecorded)
        {
            turn.Telemetry.Ended(ResponseEvents.Failed, null);
            await ErrorResults.WriteAsync(context.Response, unrecorded);
            return;
        }
        var summary = Ended(router, turn, terminal);
        if (terminal.Type == EventTypes.Failed)
        {
            await ErrorResults.WriteAsync(context.Response, FailedError(summary));
            return;
        }
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        var response = EventReader.TryFindRawProperty(terminal.Data, "response"u8, out var found) ? terminal.Data.AsMemory(found) : terminal.Data;
        await context.Response.Body.WriteAsync(response, context.RequestAborted);
    }

    /// <summary>
    /// <c>background:true</c> without streaming: the response object as soon as the provider started it (status
    /// in_progress); the turn runs on in its conversation whether or not anyone follows, and is polled with retrieve.
    /// </summary>
    private static async Task RespondStartedAsync(HttpContext context, TurnStream stream)
    {
        var data = stream.Current.Data;
        ReadOnlySpan<byte> started = EventReader.TryFindRawProperty(data, "response"u8, out var found) ? data.AsSpan(found) : data;
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(Protocol.Responses.ResponseObjects.ToEnvelope(started, -1, background: true, out _), context.RequestAborted);
    }

    /// <summary>A failed response answered as one HTTP error: 502 (retry) for a transient code, 400 otherwise.</summary>
    public static OpenAIError FailedError(EventSummary summary)
    {
        var code = summary.ErrorCode ?? ErrorCodes.ServerError;
        var retryable = ErrorCodes.IsRetryable(code);
        return new OpenAIError(retryable ? 502 : 400, code, summary.ErrorMessage ?? "The response failed.", retryable ? ErrorTypes.Server : ErrorTypes.InvalidRequest)
            { RetryAfterSeconds = retryable ? 1 : null };
    }

    /// <summary>The terminal event's summary: its id becomes a cached alias, its usage goes on the span and to the client's key.</summary>
    internal static EventSummary Ended(TurnRouter router, HttpTurn turn, TurnEvent terminal) =>
        Ended(router, turn.Key, terminal, turn.Telemetry, turn.Usage);

    internal static EventSummary Ended(TurnRouter router, string key, TurnEvent terminal, TurnTelemetry telemetry, KeyTurn? usage)
    {
        // A completed event carries what its owner read from it; anything else (or an older owner's) is read here.
        var summary = terminal.Completion is { } done
            ? new EventSummary { ResponseId = done.ResponseId, InputTokens = done.InputTokens, CachedTokens = done.CachedTokens, OutputTokens = done.OutputTokens }
            : EventReader.Summarize(terminal.Data);
        if (terminal.Type == EventTypes.Completed && summary.ResponseId is { } id) router.Remember(key, id);
        telemetry.Ended(terminal.Type, summary);
        usage?.Ended(summary);
        return summary;
    }
}
