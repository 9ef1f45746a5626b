using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace CodexLb.Protocol.Streaming;

/// <summary>
/// Websockets whose upgraded connection is a <see cref="BatchingStream"/>, so a websocket relay can send a batch of events
/// in one write; the handshake itself stays the framework's.
/// </summary>
public static class BatchingUpgrade
{
    /// <summary>
    /// The framework's websocket middleware, behind the batching upgrade, for the requests that ask for a websocket only.
    /// Run for every request, it added a handshake feature to each plain POST of a turn as well.
    /// </summary>
    public static IApplicationBuilder UseBatchingWebSockets(this IApplicationBuilder app, WebSocketOptions options) =>
        app.UseWhen(AsksForWebSocket, branch => branch
            .Use((context, next) =>
            {
                // Before the websocket middleware, which takes the upgrade feature as it starts.
                if (context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } upgrade)
                    context.Features.Set<IHttpUpgradeFeature>(new Feature(upgrade));
                return next(context);
            })
            .UseWebSockets(options));

    /// <summary>An HTTP/1.1 upgrade or an HTTP/2 extended CONNECT: the two ways a websocket is asked for.</summary>
    private static bool AsksForWebSocket(HttpContext context) =>
        context.Features.Get<IHttpUpgradeFeature>()?.IsUpgradableRequest == true
        || context.Features.Get<IHttpExtendedConnectFeature>()?.IsExtendedConnect == true;

    /// <summary>The upgraded connection of this request, once the websocket was accepted; null otherwise.</summary>
    public static BatchingStream? StreamOf(HttpContext context) => (context.Features.Get<IHttpUpgradeFeature>() as Feature)?.Stream;

    private sealed class Feature(IHttpUpgradeFeature inner) : IHttpUpgradeFeature
    {
        public BatchingStream? Stream { get; private set; }

        public bool IsUpgradableRequest => inner.IsUpgradableRequest;

        public async Task<Stream> UpgradeAsync() => Stream = new BatchingStream(await inner.UpgradeAsync());
    }
}
