using System.Threading.RateLimiting;
using CodexLb.Gateway.Endpoints;
using CodexLb.Gateway.Security;
using CodexLb.Protocol.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Limits;

/// <summary>
/// Per-tenant limits with ASP.NET Core's rate limiting middleware: concurrent HTTP turns and open websockets (a
/// websocket holds its permit while it is open), and the rate of new conversations (taken by the router, which alone
/// knows a turn starts one). Rejections are OpenAI-shaped 429s with Retry-After (503 when the gateway as a whole is full).
/// </summary>
public static class ClientLimits
{
    public const string TurnsPolicy = "codexlb-turns";
    public const string WebSocketsPolicy = "codexlb-websockets";

    public static IServiceCollection AddClientLimits(this IServiceCollection services, Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        services.AddOptions<LimitOptions>().Bind(configuration.GetSection(LimitOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<LimitOptions>, LimitOptionsValidator>();
        services.AddSingleton<NewConversationLimiter>();
        services.AddRateLimiter(limiter =>
        {
            limiter.OnRejected = async (context, token) =>
            {
                var overall = context.Lease.TryGetMetadata(MetadataName.ReasonPhrase, out var reason) && reason == GatewayFull;
                await ErrorResults.WriteAsync(context.HttpContext.Response, overall
                    ? new OpenAIError(503, "bridge_capacity", "This gateway holds as many websockets as it may; retry, or use another.", ErrorTypes.Server) { RetryAfterSeconds = 1 }
                    : new OpenAIError(429, ErrorCodes.RateLimitExceeded, "Too many concurrent requests for this API key; retry shortly.", ErrorTypes.RateLimit) { RetryAfterSeconds = 1 });
            };
            limiter.AddPolicy<string, TurnPolicy>(TurnsPolicy);
            limiter.AddPolicy<string, WebSocketPolicy>(WebSocketsPolicy);
        });
        return services;
    }

    private const string GatewayFull = "gateway-full";

    /// <summary>
    /// One tenant's permits: a concurrency limiter per tenant, or none when the limit is 0. Built once per policy, so a
    /// request costs the caller's identity and no service lookup or closure of its own.
    /// </summary>
    private sealed class TenantPartitions(ClientAuthenticator authenticator, int permits)
    {
        private readonly Func<string, ConcurrencyLimiterOptions> _options = _ => new ConcurrencyLimiterOptions { PermitLimit = permits, QueueLimit = 0 };

        public RateLimitPartition<string> Of(HttpContext context)
        {
            var tenant = authenticator.Authenticate(context) ?? "unauthenticated";
            return permits == 0 ? RateLimitPartition.GetNoLimiter(tenant) : RateLimitPartition.GetConcurrencyLimiter(tenant, _options);
        }
    }

    /// <summary>
    /// HTTP turns in flight, per tenant, and what holds a connection or the provider as long as one: forwards, and background
    /// responses streamed again. A plain retrieve on the same route takes no permit (a poll is short).
    /// </summary>
    private sealed class TurnPolicy(IOptions<LimitOptions> options, ClientAuthenticator authenticator) : IRateLimiterPolicy<string>
    {
        private static readonly RateLimitPartition<string> Unlimited = RateLimitPartition.GetNoLimiter("");
        private readonly TenantPartitions _tenants = new(authenticator, options.Value.ConcurrentTurnsPerTenant);

        public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected => null;

        public RateLimitPartition<string> GetPartition(HttpContext httpContext) =>
            HttpMethods.IsGet(httpContext.Request.Method) && !ResponseReplayEndpoint.IsAsked(httpContext.Request) ? Unlimited : _tenants.Of(httpContext);
    }

    /// <summary>Open websockets: per tenant, and all tenants together on this gateway.</summary>
    private sealed class WebSocketPolicy(IOptions<LimitOptions> options, ClientAuthenticator authenticator) : IRateLimiterPolicy<string>
    {
        private readonly TenantPartitions _tenants = new(authenticator, options.Value.WebSocketsPerTenant);
        private readonly ConcurrencyLimiter? _overall = options.Value.WebSockets == 0 ? null
            : new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = options.Value.WebSockets, QueueLimit = 0 });

        public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected => null;

        public RateLimitPartition<string> GetPartition(HttpContext httpContext)
        {
            var perTenant = _tenants.Of(httpContext);
            if (_overall is null) return perTenant;
            return RateLimitPartition.Get(perTenant.PartitionKey, key => new BothLimiters(_overall, perTenant.Factory(key)));
        }
    }

    /// <summary>A permit from the gateway-wide limiter and then from the tenant's.</summary>
    private sealed class BothLimiters(ConcurrencyLimiter overall, RateLimiter tenant) : RateLimiter
    {
        public override TimeSpan? IdleDuration => tenant.IdleDuration;
        public override RateLimiterStatistics? GetStatistics() => tenant.GetStatistics();

        protected override RateLimitLease AttemptAcquireCore(int permitCount)
        {
            var first = overall.AttemptAcquire(permitCount);
            if (!first.IsAcquired) return Rejected(first);
            var second = tenant.AttemptAcquire(permitCount);
            if (second.IsAcquired) return new Combined(first, second);
            first.Dispose();
            return second;
        }

        protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken) =>
            ValueTask.FromResult(AttemptAcquireCore(permitCount));

        private static RateLimitLease Rejected(RateLimitLease lease)
        {
            lease.Dispose();
            return new GatewayFullLease();
        }

        private sealed class GatewayFullLease : RateLimitLease
        {
            public override bool IsAcquired => false;
            public override IEnumerable<string> MetadataNames => [MetadataName.ReasonPhrase.Name];
            public override bool TryGetMetadata(string metadataName, out object? metadata)
            {
                metadata = metadataName == MetadataName.ReasonPhrase.Name ? GatewayFull : null;
                return metadata is not null;
            }
        }

        private sealed class Combined(RateLimitLease a, RateLimitLease b) : RateLimitLease
        {
            public override bool IsAcquired => true;
            public override IEnumerable<string> MetadataNames => [];
            public override bool TryGetMetadata(string metadataName, out object? metadata) { metadata = null; return false; }
            protected override void Dispose(bool disposing)
            {
                a.Dispose();
                b.Dispose();
            }
        }
    }
}

/// <summary>How many conversations each tenant may start per minute (a sliding window).</summary>
public sealed class NewConversationLimiter(IOptions<LimitOptions> options)
{
    private readonly PartitionedRateLimiter<string> _limiter = PartitionedRateLimiter.Create<string, string>(tenant =>
        options.Value.NewConversationsPerMinute == 0
            ? RateLimitPartition.GetNoLimiter(tenant)
            : RateLimitPartition.GetSlidingWindowLimiter(tenant, _ => new SlidingWindowRateLimiterOptions
            {
                PermitLimit = options.Value.NewConversationsPerMinute, Window = TimeSpan.FromMinutes(1), SegmentsPerWindow = 6, QueueLimit = 0,
            }));

    /// <summary>False when the rate is unlimited (0): nothing needs to know whether a turn starts a conversation.</summary>
    public bool Enabled => options.Value.NewConversationsPerMinute > 0;

    /// <summary>True when the tenant may start one more conversation now.</summary>
    public bool TryStart(string tenant)
    {
        using var lease = _limiter.AttemptAcquire(tenant);
        return lease.IsAcquired;
    }
}
