using CodexLb.Gateway.Routing;
using CodexLb.Gateway.Streaming;
using CodexLb.Protocol.Chat;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Events;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace CodexLb.Gateway.Endpoints;

/// <summary>
/// <c>POST /v1/chat/completions</c>: a Chat Completions request translated into a Responses turn on the same conversation
/// grains, answered as a <c>chat.completion</c> or as <c>chat.completion.chunk</c> events. A chat client resends its whole
/// history every time; the translated items carry the fingerprints of what the bridge stored, so it is found by content
/// and only its new messages go upstream, anchored on the previous response.
/// </summary>
public sealed class ChatCompletionsEndpoint(ResponsesEndpoint turns, TurnRouter router)
{
    public Task HandleAsync(HttpContext context) => turns.RunAsync(context, "chat", Parse, static chat => chat.Responses, _relay ??= Relay);

    private Func<ChatCompletionRequest, HttpTurn, Task>? _relay; // made once, not a delegate per request

    private Task Relay(ChatCompletionRequest chat, HttpTurn turn) => chat.Stream ? StreamAsync(chat, turn) : RespondAsync(turn);

    private static (ChatCompletionRequest?, OpenAIError?) Parse(ReadOnlyMemory<byte> body) =>
        ChatRequestTranslator.TryTranslate(body, out var chat, out var error) ? (chat, null) : (null, error);

    private async Task RespondAsync(HttpTurn turn)
    {
        var (context, stream) = (turn.Context, turn.Stream);
        var terminal = stream.Current;
        while (!EventTypes.IsTerminal(terminal.Type) && await stream.MoveNextAsync()) terminal = stream.Current;
        if (!EventTypes.IsTerminal(terminal.Type))
        {
            await ErrorResults.WriteAsync(context.Response, ProxyErrors.StreamIncomplete());
            return;
        }
        var summary = ResponsesEndpoint.Ended(router, turn, terminal);
        if (terminal.Type == EventTypes.Failed)
        {
            await ErrorResults.WriteAsync(context.Response, ResponsesEndpoint.FailedError(summary));
            return;
        }
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(ChatCompletion.Build(terminal.Data), context.RequestAborted);
    }

    private async Task StreamAsync(ChatCompletionRequest chat, HttpTurn turn)
    {
        var (context, stream) = (turn.Context, turn.Stream);
        var current = stream.Current;
        if (current.Type == EventTypes.Failed)
        {
            // Nothing reached the client yet: the failure is still an HTTP status with an OpenAI body.
            await ErrorResults.WriteAsync(context.Response, ResponsesEndpoint.FailedError(ResponsesEndpoint.Ended(router, turn, current)));
            return;
        }
        var writer = await SseWriter.StartAsync(context);
        var aborted = context.RequestAborted;

        using var chunks = new ChatChunkWriter(writer, chat.IncludeUsage);
        var keepAlive = new SseKeepAlive(writer, turns.KeepAliveInterval);
        while (true)
        {
            if (current.IsHeartbeat) await keepAlive.HeartbeatAsync(aborted);
            else if (current.Type == EventTypes.Failed)
            {
                // After the first byte a failure ends the stream the way OpenAI's does: an error chunk, no [DONE].
                chunks.WriteError(ResponsesEndpoint.FailedError(ResponsesEndpoint.Ended(router, turn, current)));
                break;
            }
            else
            {
                keepAlive.Wrote();
                if (chunks.Write(current.Type, current.Data))
                {
                    ResponsesEndpoint.Ended(router, turn, current);
                    break;
                }
            }

            var next = stream.MoveNextAsync(heartbeats: true);
            if (!next.IsCompleted) await writer.FlushAsync(aborted); // one block per pulled batch, as the Responses relay
            bool more;
            try
            {
                more = await next;
            }
            catch (Exception ex) when (!aborted.IsCancellationRequested && OwnerFailures.IsTransient(ex))
            {
                chunks.WriteError(ProxyErrors.OwnerUnreachable());
                turn.Telemetry.Ended(ResponseEvents.Failed, null);
                break;
            }
            if (!more)
            {
                chunks.WriteError(ProxyErrors.StreamIncomplete());
                break;
            }
            current = stream.Current;
        }
        await SseWriter.EndAsync(context, writer);
    }
}
