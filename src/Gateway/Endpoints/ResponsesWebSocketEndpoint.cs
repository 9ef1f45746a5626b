using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using CodexLb.Gateway.Health;
using CodexLb.Gateway.Hosting;
using CodexLb.Gateway.Keys;
using CodexLb.Gateway.Routing;
using CodexLb.Gateway.Security;
using CodexLb.Gateway.Telemetry;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Buffers;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Events;
using CodexLb.Protocol.Items;
using CodexLb.Protocol.Requests;
using CodexLb.Protocol.Streaming;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Endpoints;

/// <summary>
/// <c>GET /v1/responses</c> upgraded to a websocket (the Codex CLI's default transport): each <c>response.create</c>
/// frame is one turn, routed like an HTTP turn, its events sent back one per text frame. Failures before the first
/// event become error frames that always carry <c>status</c>.
/// </summary>
public sealed class ResponsesWebSocketEndpoint(
    ClientAuthenticator authenticator, KeyAdmissions admissions, TurnRouter router, TurnDispatcher dispatcher, DrainState drain,
    ConversationResponses conversations, IOptions<GatewayOptions> options)
{
    private readonly GatewayOptions _options = options.Value;

    public async Task HandleAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await ErrorResults.WriteAsync(context.Response, new OpenAIError(405, "method_not_allowed", "Use POST, or upgrade to a websocket.") );
            return;
        }
        if (!_options.WebSocketsEnabled)
        {
            // 426 makes the Codex CLI fall back to HTTP at once (any other refusal costs it several reconnects).
            await ErrorResults.WriteAsync(context.Response, new OpenAIError(426, ErrorCodes.UpgradeRequired, "The websocket transport is disabled; use HTTP."));
            return;
        }
        if (drain.IsDraining) { await ErrorResults.WriteAsync(context.Response, ProxyErrors.DrainActive()); return; }
        var client = authenticator.Identify(context);
        if (client is null) { await ErrorResults.WriteAsync(context.Response, ProxyErrors.InvalidApiKey()); return; }
        var tenant = client.Tenant;

        // Without session headers, the connection itself is the session.
        var sessionKey = TurnRouter.SessionKey(tenant, null, context.Request.Headers);
        context.Response.Headers[TurnRouter.TurnStateHeader] = sessionKey;
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        // The client is gone when the connection drops or it closes the socket, even in the middle of a turn: frames are
        // read concurrently with the turn, so a close mid-turn stops the turn instead of going unnoticed until it ends.
        using var clientGone = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        // One frame waits while a turn runs, and the next is read only once it has room: a socket holds at most two frames
        // (the turn's and the next, MaxRequestBodyBytes each), however many a client sends ahead. A frame's turn starts on
        // the thread that received it (synchronous continuations) instead of a thread woken for it.
        var frames = Channel.CreateBounded<ReceivedFrame>(
            new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true, AllowSynchronousContinuations = true });
        var pump = PumpAsync(socket, frames.Writer, clientGone);
        try
        {
            // A frame is a local of AnswerNextAsync only: as a local of this loop it lived in this method's state machine
            // across the wait for the next frame, so every idle socket held its last frame (WebSocketMemoryTests).
            while (await frames.Reader.WaitToReadAsync(CancellationToken.None)) // ends when the pump does
                if (!await AnswerNextAsync(socket, frames.Reader, client, sessionKey, context, clientGone.Token)) return;
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            // The client went away; a turn it left is stopped by its stream's disposal.
        }
        finally
        {
            await clientGone.CancelAsync();
            await pump.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>A whole text frame from the client; null data when it exceeded the size limit.</summary>
    private readonly record struct ReceivedFrame(byte[]? Data);

    /// <summary>Answers the next frame: its turn, or an error; false when the gateway drains and the socket was closed for it.</summary>
    // Its state machine is reused from a pool when a finished one is free on the thread or core: with 64 turns in flight only ~1 in 8 is.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> AnswerNextAsync(WebSocket socket, ChannelReader<ReceivedFrame> frames, ClientKey client, string sessionKey,
        HttpContext context, CancellationToken aborted)
    {
        if (!frames.TryRead(out var received)) return true;
        if (received.Data is null) { await SendErrorAsync(socket, ProxyErrors.RequestTooLarge(_options.MaxRequestBodyBytes), aborted); return true; }
        using (drain.Track()) await RunTurnAsync(socket, client, sessionKey, received.Data, context, aborted);
        if (!drain.IsDraining) return true;
        // Between turns: tell the client to reconnect (to another gateway) instead of holding this one open.
        await socket.CloseOutputAsync(WebSocketCloseStatus.EndpointUnavailable, "draining", CancellationToken.None);
        return false;
    }

    /// <summary>Reads frames until the client closes or goes away; then the connection counts as gone.</summary>
    private async Task PumpAsync(WebSocket socket, ChannelWriter<ReceivedFrame> frames, CancellationTokenSource clientGone)
    {
        try
        {
            // The frame is handed over inside ReceiveIntoAsync: no local of this loop holds one across the next read.
            while (await frames.WaitToWriteAsync(clientGone.Token))
                if (!await ReceiveIntoAsync(socket, frames, clientGone.Token)) break;
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            // Dropped: the same as a close.
        }
        finally
        {
            frames.TryComplete();
            await clientGone.CancelAsync();
        }
    }

    private async Task RunTurnAsync(WebSocket socket, ClientKey client, string sessionKey, byte[] frame, HttpContext context, CancellationToken aborted)
    {
        // One pass: UTF-8, surrogates, the frame type (named when it is not response.create), then the fields.
        if (!ResponseCreateParser.TryParseFrame(frame, out var parsed, out var error)) { await SendErrorAsync(socket, error!, aborted); return; }
        var admission = await admissions.AdmitAsync(client, parsed!.Model, aborted);
        if (admission.Error is not null) { await SendErrorAsync(socket, admission.Error, aborted); return; }
        ulong[] fingerprints;
        TurnRoute route;
        ConversationTurn? conversation = null;
        if (parsed.ConversationId is null)
        {
            fingerprints = ItemFingerprint.ComputeAll(parsed.InputItems);
            route = await router.RouteAsync(client.Tenant, parsed.PreviousResponseId, null, context.Request.Headers, parsed.InputItems, fingerprints, sessionKey);
        }
        else
        {
            (parsed, conversation, fingerprints, route) = await RouteInConversationAsync(client.Tenant, parsed, context.Request.Headers, sessionKey, aborted);
        }
        if (route.Error is not null) { await SendErrorAsync(socket, route.Error, aborted); return; }
        var key = route.Key;

        using var telemetry = new TurnTelemetry("websocket");
        telemetry.Dispatching(key!, parsed.Model, parsed.PreviousResponseId is not null);
        await using var stream = await dispatcher.StartAsync(key!, ResponsesEndpoint.ToTurn(parsed, context.TraceIdentifier, fingerprints, route.Resume, TurnDispatcher.TurnIdOf(null)), aborted);
        if (stream.Current.Rejection is { } rejection)
        {
            telemetry.Rejected(rejection.Status, rejection.Code);
            await SendErrorAsync(socket, rejection.ToError(), aborted);
            return;
        }
        telemetry.FirstByte();
        router.Started(key!, stream);
        var batch = BatchingUpgrade.StreamOf(context);
        try
        {
            await RelayAsync(socket, stream, batch, key!, telemetry, admission.Turn, conversation, aborted);
        }
        finally
        {
            // Whatever the relay held goes out (a failure frame included); a client that went away gets nothing.
            if (batch is not null && !aborted.IsCancellationRequested)
            {
                try
                {
                    await batch.ReleaseAsync(aborted);
                }
                catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
                {
                    // Gone while we wrote: the same as a client that went away mid-turn.
                }
            }
        }
    }

    /// <summary>The turn's events, one text frame each; the frames of one pulled batch go out in one write.</summary>
    private async Task RelayAsync(WebSocket socket, TurnStream stream, BatchingStream? batch, string key, TurnTelemetry telemetry, KeyTurn? usage,
        ConversationTurn? conversation, CancellationToken aborted)
    {
        var current = stream.Current;
        var relayed = 0;
        while (true)
        {
            if (conversation is not null)
            {
                conversation.Observe(current);
                if (EventTypes.IsTerminal(current.Type) && await conversation.EndAsync(current) is { } unrecorded)
                {
                    await socket.SendAsync(ResponseEvents.BuildFailed(unrecorded, stream.ResponseId, relayed), WebSocketMessageType.Text, true, aborted);
                    telemetry.Ended(ResponseEvents.Failed, null);
                    return;
                }
            }
            // Held, a frame only appends to memory: framed there directly (one copy, where the websocket's send path copies
            // twice and takes its lock), or sent without a token, which skips the websocket's cancellable path (a
            // registration and an awaited lock per frame); the release carries the token. A write in flight keeps it.
            var appendOnly = batch?.Hold() ?? false;
            if (appendOnly) aborted.ThrowIfCancellationRequested();
            if (!(appendOnly && socket.State == WebSocketState.Open && batch!.TryAppendTextFrame(current.Data)))
                await socket.SendAsync(current.Data.AsMemory(), WebSocketMessageType.Text, true, appendOnly ? CancellationToken.None : aborted);
            relayed++;
            if (EventTypes.IsTerminal(current.Type))
            {
                ResponsesEndpoint.Ended(router, key, current, telemetry, usage);
                return;
            }
            bool more;
            try
            {
                var next = stream.MoveNextAsync();
                if (!next.IsCompleted && batch is not null) await batch.ReleaseAsync(aborted);
                more = await next;
            }
            catch (Exception ex) when (!aborted.IsCancellationRequested && OwnerFailures.IsTransient(ex))
            {
                var failed = ResponseEvents.BuildFailed(ProxyErrors.OwnerUnreachable(), stream.ResponseId, relayed);
                await socket.SendAsync(failed, WebSocketMessageType.Text, true, aborted);
                telemetry.Ended(ResponseEvents.Failed, null);
                return;
            }
            if (!more) return;
            current = stream.Current;
        }
    }

    /// <summary>
    /// Waits for the client's next frame with a zero-byte receive, then reads it whole into pooled memory and hands a copy
    /// of exactly its bytes to <paramref name="frames"/> (which has room), so a connection holds no buffer between frames,
    /// however large its last one was, nor while it waits. A frame past the size limit is read and dropped and handed over
    /// with no data. False when the client closed.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ReceiveIntoAsync(WebSocket socket, ChannelWriter<ReceivedFrame> frames, CancellationToken aborted)
    {
        var next = await socket.ReceiveAsync(Memory<byte>.Empty, aborted);
        if (next.MessageType == WebSocketMessageType.Close) return false;
        if (next.EndOfMessage) return frames.TryWrite(new ReceivedFrame([])); // an empty message, whole already (answered as bad JSON)
        using var frame = new PooledBytes(16 * 1024);
        var tooLarge = false;
        while (true)
        {
            var result = await socket.ReceiveAsync(frame.FreeMemory(), aborted);
            if (result.MessageType == WebSocketMessageType.Close) return false;
            if (!tooLarge)
            {
                frame.Advance(result.Count);
                tooLarge = frame.Length > _options.MaxRequestBodyBytes;
            }
            if (tooLarge) frame.Clear(); // the rest of a frame past the limit is read and dropped
            if (result.EndOfMessage) return frames.TryWrite(new ReceivedFrame(tooLarge ? null : frame.ToArray()));
        }
    }

    // Apart from RunTurnAsync: the route lambda's captures would make a closure on every turn, in a conversation or not.
    private Task<RoutedConversationTurn> RouteInConversationAsync(string tenant, ResponseCreateRequest parsed, IHeaderDictionary headers,
        string sessionKey, CancellationToken aborted) =>
        conversations.RouteAsync(tenant, parsed, (r, f) => router.RouteAsync(tenant, r.PreviousResponseId, null, headers, r.InputItems, f, sessionKey), aborted);

    private static Task SendErrorAsync(WebSocket socket, OpenAIError error, CancellationToken aborted) =>
        socket.SendAsync(ErrorFrame.Build(error), WebSocketMessageType.Text, true, aborted);
}
