using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using CodexLb.Gateway.Endpoints;
using CodexLb.Gateway.Hosting;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Routing;

/// <summary>
/// Starts a turn on its conversation grain and waits for the first real event. When the owner fails before that (silo
/// gone, message rejected, owner watchdog), the stream re-dispatches the same turn: a slow owner re-attaches it, and once a
/// dead owner leaves the directory Orleans places a fresh activation on a live silo, which restores the conversation from
/// the response tree. Nothing reached the client yet, so this is safe, and its previous_response_id stays valid.
/// </summary>
public sealed partial class TurnDispatcher(IGrainFactory grains, IOptions<GatewayOptions> options, ILogger<TurnDispatcher> logger)
{
    public const string IdempotencyHeader = "Idempotency-Key";

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] // awaited once: a pooled state machine when one is free
    public async ValueTask<TurnStream> StartAsync(string conversationKey, TurnRequest turn, CancellationToken cancellationToken)
    {
        var stream = new TurnStream(grains.ByKey<IConversationGrain>(conversationKey), turn, options.Value.OwnerTimeout, cancellationToken);
        try
        {
            if (await stream.MoveNextAsync()) return stream;
            await stream.DisposeAsync();
            return TurnStream.Rejected(ProxyErrors.UpstreamUnavailable("the turn ended without an event").ToRejection());
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && OwnerFailures.IsTransient(ex))
        {
            await stream.DisposeAsync();
            LogOwnerUnreachable(logger, ex, turn.RequestId);
            return TurnStream.Rejected(ProxyErrors.OwnerUnreachable().ToRejection());
        }
    }

    /// <summary>
    /// A turn's identity: the client's idempotency key when it sends one, so its own retry of the turn attaches instead of
    /// generating again; otherwise a new one (the owner then matches a retry by its content). Never the Codex CLI's
    /// <c>x-client-request-id</c>: it is the thread's id, the same on every turn of the thread, so it would make a new
    /// prompt attach to the previous turn and an interrupted turn's cancel stop the prompt that followed it.
    /// </summary>
    public static string TurnIdOf(IHeaderDictionary? headers)
    {
        if (headers?[IdempotencyHeader].ToString() is { Length: > 0 and <= 256 } key) return "client:" + key;
        // Unique per gateway process (a random prefix) and per turn (a counter): no random read (a syscall) per turn.
        return string.Create(CultureInfo.InvariantCulture, stackalloc char[64], $"{ProcessPrefix}{Interlocked.Increment(ref _turns):x}");
    }

    private static readonly string ProcessPrefix = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)) + "-";
    private static long _turns;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Turn {RequestId}: conversation owner unreachable after retries")]
    private static partial void LogOwnerUnreachable(ILogger logger, Exception ex, string requestId);
}
