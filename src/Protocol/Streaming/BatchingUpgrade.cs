using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace CodexLb.Protocol.Streaming;

/// <summary>
/// Gives the websocket middleware a <see cref="BatchingStream"/> as the upgraded connection, so a websocket relay can
/// send a batch of events in one write. It must sit before <c>UseWebSockets</c> (which takes the upgrade feature then);
/// the handshake itself stays the framework's.
/// </summary>
public static class BatchingUpgrade
{
    public static IApplicationBuilder UseBatchingWebSocketUpgrade(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        if (context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } upgrade)
            context.Features.Set<IHttpUpgradeFeature>(new Feature(upgrade));
        return next(context);
    });

    /// <summary>The upgraded connection of this request, once the websocket was accepted; null otherwise.</summary>
    public static BatchingStream? StreamOf(HttpContext context) => (context.Features.Get<IHttpUpgradeFeature>() as Feature)?.Stream;

    private sealed class Feature(IHttpUpgradeFeature inner) : IHttpUpgradeFeature
    {
        public BatchingStream? Stream { get; private set; }

        public bool IsUpgradableRequest => inner.IsUpgradableRequest;

        public async Task<Stream> UpgradeAsync() => Stream = new BatchingStream(await inner.UpgradeAsync());
    }
}
