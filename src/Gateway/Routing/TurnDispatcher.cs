using CodexLb.Gateway.Endpoints;
using CodexLb.Gateway.Hosting;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Errors;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Routing;

/// <summary>
/// Starts a turn on its conversation grain and waits for the first real event. When the owner fails before that
/// (silo gone, message rejected, owner watchdog), the dispatcher abandons the call and rebinds: it calls the
/// conversation again, and Orleans places a fresh activation on a live silo once the dead owner leaves the directory;
/// the new activation restores the conversation from storage. Nothing reached the client yet, so this is safe, and the
/// client's previous_response_id stays valid.
/// </summary>
public sealed partial class TurnDispatcher(IGrainFactory grains, IOptions<GatewayOptions> options, ILogger<TurnDispatcher> logger)
{
    private static readonly TimeSpan[] Backoff =
        [TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)];

    public async Task<TurnStream> StartAsync(string conversationKey, TurnRequest turn, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var events = grains.GetGrain<IConversationGrain>(conversationKey).RunTurn(turn, cancellationToken).GetAsyncEnumerator(cancellationToken);
            var stream = new TurnStream(events, options.Value.OwnerTimeout);
            try
            {
                if (await stream.MoveNextAsync()) return stream;
                await stream.DisposeAsync();
                return TurnStream.Rejected(ProxyErrors.UpstreamUnavailable("the turn ended without an event").ToRejection());
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && IsTransient(ex))
            {
                await stream.DisposeAsync();
                if (attempt >= Backoff.Length)
                {
                    LogOwnerUnreachable(logger, ex, turn.RequestId);
                    return TurnStream.Rejected(ProxyErrors.OwnerUnreachable().ToRejection());
                }
                LogRebinding(logger, turn.RequestId, attempt + 1, ex.GetType().Name);
                Telemetry.GatewayMetrics.Rebinds.Add(1);
                await Task.Delay(Backoff[attempt], cancellationToken);
            }
        }
    }

    public static bool IsTransient(Exception ex) => ex is OrleansException or TimeoutException or OperationCanceledException
        or System.Net.Sockets.SocketException or ObjectDisposedException;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Turn {RequestId}: conversation owner unreachable after retries")]
    private static partial void LogOwnerUnreachable(ILogger logger, Exception ex, string requestId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Turn {RequestId}: owner failed before the first event ({Error}); rebinding, attempt {Attempt}")]
    private static partial void LogRebinding(ILogger logger, string requestId, int attempt, string error);
}
