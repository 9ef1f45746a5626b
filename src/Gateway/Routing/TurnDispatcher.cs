using CodexLb.Gateway.Endpoints;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Errors;
using Microsoft.Extensions.Logging;

namespace CodexLb.Gateway.Routing;

/// <summary>
/// Starts a turn on its conversation grain and waits for the first event. A grain call that fails before any event
/// (owner silo gone, message rejected, timeout) is retried: nothing reached the client yet, and the turn is
/// idempotent up to its first event.
/// </summary>
public sealed partial class TurnDispatcher(IGrainFactory grains, ILogger<TurnDispatcher> logger)
{
    private static readonly TimeSpan[] Backoff = [TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1)];

    public async Task<TurnStream> StartAsync(string conversationKey, TurnRequest turn, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var enumerator = grains.GetGrain<IConversationGrain>(conversationKey).RunTurn(turn, cancellationToken).GetAsyncEnumerator(cancellationToken);
            try
            {
                if (await enumerator.MoveNextAsync()) return new TurnStream(enumerator, enumerator.Current);
                await enumerator.DisposeAsync();
                return TurnStream.Rejected(ProxyErrors.UpstreamUnavailable("the turn ended without an event").ToRejection());
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && IsTransient(ex))
            {
                await new TurnStream(enumerator, TurnEvent.Rejected(ProxyErrors.OwnerUnreachable().ToRejection())).DisposeAsync();
                if (attempt >= Backoff.Length)
                {
                    LogOwnerUnreachable(logger, ex, turn.RequestId);
                    return TurnStream.Rejected(ProxyErrors.OwnerUnreachable().ToRejection());
                }
                await Task.Delay(Backoff[attempt], cancellationToken);
            }
        }
    }

    public static bool IsTransient(Exception ex) => ex is OrleansException or TimeoutException or OperationCanceledException
        or System.Net.Sockets.SocketException or ObjectDisposedException;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Turn {RequestId}: conversation owner unreachable after retries")]
    private static partial void LogOwnerUnreachable(ILogger logger, Exception ex, string requestId);
}
