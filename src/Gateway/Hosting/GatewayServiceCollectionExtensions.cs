using CodexLb.Gateway.Endpoints;
using CodexLb.Gateway.Health;
using CodexLb.Gateway.Keys;
using CodexLb.Gateway.Limits;
using CodexLb.Gateway.Routing;
using CodexLb.Gateway.Security;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Streaming;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Hosting;

/// <summary>The gateway's services and endpoints: used by the standalone gateway and co-hosted by the embedded silo.</summary>
public static class GatewayServiceCollectionExtensions
{
    public const string ReadyTag = "ready";

    public static IServiceCollection AddCodexGateway(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<GatewayOptions>().Bind(configuration.GetSection(GatewayOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        RequestHeadLimits.AddTo(services); // a request line or headers past the limits: a shaped 414/431, on every path
        services.AddSingleton<ClientAuthenticator>();
        services.AddClientKeys(configuration);
        services.AddSingleton(sp =>
        {
            var gateway = sp.GetRequiredService<IOptions<GatewayOptions>>().Value;
            return new TurnRouter(sp.GetRequiredService<IGrainFactory>(),
                new AliasCache(gateway.AliasCacheEntries), new KnownConversations(gateway.AliasCacheEntries), gateway.OwnerTimeout,
                sp.GetRequiredService<Limits.NewConversationLimiter>());
        });
        services.AddClientLimits(configuration);
        services.AddSingleton<TurnDispatcher>();
        services.AddSingleton<ResponsesEndpoint>();
        services.AddSingleton<ChatCompletionsEndpoint>();
        services.AddSingleton<ResponsesWebSocketEndpoint>();
        services.AddSingleton<GrainApiCalls>();
        services.AddSingleton<ResponsesApiEndpoints>();
        services.AddSingleton<ConversationsApiEndpoints>();
        services.AddSingleton<ConversationResponses>();
        services.AddSingleton<ResponseReplayEndpoint>();
        services.AddSingleton<DrainState>();
        services.AddSingleton<IInFlightWork>(sp => sp.GetRequiredService<DrainState>());
        services.AddHostedService<DrainService>();
        // The host must outlive the drain: delay + timeout + a margin for the silo's own shutdown.
        services.AddOptions<Microsoft.Extensions.Hosting.HostOptions>().Configure<IOptions<GatewayOptions>>((host, gateway) =>
            host.ShutdownTimeout = gateway.Value.DrainDelay + gateway.Value.DrainTimeout + TimeSpan.FromSeconds(15));
        services.AddHealthChecks().AddCheck<DrainState>("drain", tags: [ReadyTag]);
        return services;
    }

    public static WebApplication MapCodexGateway(this WebApplication endpoints)
    {
        endpoints.UseOpenAIErrors(); // every non-2xx answer is an OpenAI-shaped error (GatewayErrors)
        endpoints.UseBatchingWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(20) }); // a pulled batch of events in one write
        endpoints.UseClientLimits();
        // The turn endpoints are singletons bound once, as plain request delegates: resolving a handler per request made
        // each turn open (and, after the response, dispose) a request service scope for a lookup that never changes.
        RequestDelegate responses = endpoints.Services.GetRequiredService<ResponsesEndpoint>().HandleAsync;
        RequestDelegate webSockets = endpoints.Services.GetRequiredService<ResponsesWebSocketEndpoint>().HandleAsync;
        RequestDelegate chat = endpoints.Services.GetRequiredService<ChatCompletionsEndpoint>().HandleAsync;
        foreach (var path in new[] { "/v1/responses", "/backend-api/codex/responses", "/responses" })
        {
            endpoints.MapPost(path, responses).RequireClientLimit(ClientLimit.Turns);
            endpoints.MapGet(path, webSockets).RequireClientLimit(ClientLimit.WebSockets);
            ResponsesApiEndpoints.Map(endpoints, path);
        }
        foreach (var path in new[] { "/v1/conversations", "/conversations" })
            ConversationsApiEndpoints.Map(endpoints, path);
        foreach (var path in new[] { "/v1/chat/completions", "/chat/completions" })
            endpoints.MapPost(path, chat).RequireClientLimit(ClientLimit.Turns);
        endpoints.MapClientKeys();
        foreach (var path in new[] { "/v1/models", "/backend-api/codex/models", "/models" })
            endpoints.MapGet(path, ModelsEndpoint.HandleAsync);
        return endpoints.MapCodexHealth();
    }

    /// <summary>Liveness (<c>/healthz</c>, the process is up) and readiness (<c>/readyz</c>, 503 while draining).</summary>
    public static WebApplication MapCodexHealth(this WebApplication endpoints)
    {
        endpoints.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false });
        endpoints.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag) });
        return endpoints;
    }
}
