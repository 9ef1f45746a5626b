using System.Threading.RateLimiting;
using CodexLb.Gateway.Endpoints;
using CodexLb.Gateway.Security;
using CodexLb.Protocol.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Limits;

/// <summary>
/// Per-tenant limits: concurrent HTTP turns and open websockets (a websocket holds its permit while it is open), and the
/// rate of new conversations (taken by the router, which alone knows a turn starts one). Rejections are OpenAI-shaped
/// 429s with Retry-After (503 when the gateway as a whole is full). The permits are System.Threading.RateLimiting's
/// <see cref="ConcurrencyLimiter"/>s, one per tenant, held by this gateway's own middleware: ASP.NET Core's rate-limiting
/// middleware partitions them with a limiter that wakes a thread every 100 ms to look for idle partitions, busy or not:
/// with the new-conversation limiter's own, half the context switches of an idle product.
/// </summary>
public static class ClientLimits
{
    public static IServiceCollection AddClientLimits(this IServiceCollection services, Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        services.AddOptions<LimitOptions>().Bind(configuration.GetSection(LimitOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<LimitOptions>, LimitOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<NewConversationLimiter>();
        services.AddSingleton<ClientPermits>();
        return services;
    }

    /// <summary>The endpoint's requests hold a permit of <paramref name="limit"/> while they run.</summary>
    public static TBuilder RequireClientLimit<TBuilder>(this TBuilder builder, ClientLimit limit) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(limit);

    /// <summary>Takes the permit an endpoint asks for (<see cref="RequireClientLimit"/>) before it runs; after routing.</summary>
    public static IApplicationBuilder UseClientLimits(this IApplicationBuilder app)
    {
        var permits = app.ApplicationServices.GetRequiredService<ClientPermits>();
        return app.Use(next => context => context.GetEndpoint()?.Metadata.GetMetadata<ClientLimit>() is { } limit
            ? permits.RunAsync(context, limit, next)
            : next(context));
    }
}

/// <summary>What an endpoint's requests are counted against (endpoint metadata).</summary>
public sealed class ClientLimit
{
    private ClientLimit() { }

    /// <summary>
    /// HTTP turns in flight, and what holds a connection or the provider as long as one: forwards, and background responses
    /// streamed again. A plain retrieve on the same route takes no permit (a poll is short).
    /// </summary>
    public static readonly ClientLimit Turns = new();

    /// <summary>Open websockets: per tenant, and all tenants together on this gateway.</summary>
    public static readonly ClientLimit WebSockets = new();
}

/// <summary>The permits of every tenant on this gateway: taken as a request starts, given back as it ends.</summary>
public sealed class ClientPermits(IOptions<LimitOptions> options, ClientAuthenticator authenticator)
{
    private readonly TenantLimiters _turns = new(options.Value.ConcurrentTurnsPerTenant);
    private readonly TenantLimiters _webSockets = new(options.Value.WebSocketsPerTenant);
    private readonly ConcurrencyLimiter? _allWebSockets = options.Value.WebSockets == 0 ? null
        : new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = options.Value.WebSockets, QueueLimit = 0 });

    internal async Task RunAsync(HttpContext context, ClientLimit limit, RequestDelegate next)
    {
        if (limit == ClientLimit.Turns && HttpMethods.IsGet(context.Request.Method) && !ResponseReplayEndpoint.IsAsked(context.Request))
        {
            await next(context);
            return;
        }
        using var gateway = limit == ClientLimit.WebSockets ? _allWebSockets?.AttemptAcquire() : null;
        if (gateway is { IsAcquired: false })
        {
            await ErrorResults.WriteAsync(context.Response, ProxyErrors.GatewayWebSocketsFull());
            return;
        }
        var tenant = authenticator.Authenticate(context) ?? "unauthenticated";
        using var permit = (limit == ClientLimit.WebSockets ? _webSockets : _turns).For(tenant)?.AttemptAcquire();
        if (permit is { IsAcquired: false })
        {
            await ErrorResults.WriteAsync(context.Response, ProxyErrors.TooManyConcurrentRequests());
            return;
        }
        await next(context);
    }

    /// <summary>A limiter with no permit out (the framework's own idle test): dropping it forgets nothing.</summary>
    internal static bool IsIdle(ConcurrencyLimiter limiter) => limiter.IdleDuration is not null;

    /// <summary>One concurrency limiter per tenant (none when the limit is 0).</summary>
    private sealed class TenantLimiters(int permits)
    {
        private readonly TenantTable<ConcurrencyLimiter> _byTenant = new(
            () => new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = Math.Max(permits, 1), QueueLimit = 0 }),
            IsIdle);

        public ConcurrencyLimiter? For(string tenant) => permits == 0 ? null : _byTenant.For(tenant);
    }
}
