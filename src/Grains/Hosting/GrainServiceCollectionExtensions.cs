using CodexLb.Grains.Accounts;
using CodexLb.Grains.Conversation;
using CodexLb.Grains.Tree;
using CodexLb.Grains.Upstream;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace CodexLb.Grains.Hosting;

public static class GrainServiceCollectionExtensions
{
    /// <summary>Services the conversation grains need; the response tree defaults to memory (the embedded default).</summary>
    public static IServiceCollection AddConversationGrainServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<UpstreamOptions>().Bind(configuration.GetSection(UpstreamOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<UpstreamOptions>, UpstreamOptionsValidator>();
        services.AddOptions<StateOptions>().Bind(configuration.GetSection(StateOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<StateOptions>, StateOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Orleans.Runtime.IConfigureGrainContextProvider, ActivationStartsOutsideLock>());
        // Our stateless workers are one reentrant worker each: Orleans' idle-worker removal (every 500 ms) would deactivate
        // even the last one between lookups and the next lookup would activate it again. Collection age still applies.
        services.Configure<Orleans.Configuration.StatelessWorkerOptions>(o => o.RemoveIdleWorkers = false);
        services.TryAddSingleton<IResponseTreeStore, MemoryResponseTreeStore>();
        services.TryAddSingleton<ClientKeys.IKeyUsageStore, ClientKeys.MemoryKeyUsageStore>();
        services.TryAddSingleton<ConversationsApi.IConversationObjectStore, ConversationsApi.MemoryConversationObjectStore>();
        services.TryAddSingleton<ActiveTurns>();
        services.TryAddSingleton<UpstreamSocketBudget>();
        services.AddHostedService<UpstreamKeepAlive>();
        // The account pool: CodexLb:Accounts (or the single CodexLb:Upstream credential as a pool of one), CodexLb:Pool knobs.
        services.TryAddSingleton<AccountCatalog>();
        services.TryAddSingleton<AccountTurnReports>();
        services.AddOptions<PoolOptions>().Bind(configuration.GetSection(PoolOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<PoolOptions>, PoolOptionsValidator>();
        services.AddHttpClient(AccountGrain.HttpClientName, http => http.Timeout = TimeSpan.FromSeconds(15));
        services.AddHttpClient<UpstreamHttp>((sp, http) => http.Timeout = sp.GetRequiredService<IOptions<UpstreamOptions>>().Value.FirstEventTimeout);
        return services;
    }

    /// <summary>
    /// Production: the response tree in Redis (call before <see cref="AddConversationGrainServices"/>). The connection is
    /// made here, asynchronously, before the host starts: made lazily it would block the first activations' threads.
    /// </summary>
    public static async Task<IServiceCollection> AddRedisResponseTreeAsync(this IServiceCollection services, string connectionString, string serviceId)
    {
        var options = StackExchange.Redis.ConfigurationOptions.Parse(connectionString);
        options.AbortOnConnectFail = false; // start even while Redis is briefly away; calls fail retryably until it is back
        var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(options);
        services.AddSingleton<StackExchange.Redis.IConnectionMultiplexer>(redis);
        services.AddSingleton<IResponseTreeStore>(sp => new RedisResponseTreeStore(redis, $"codexlb:{serviceId}:", sp.GetRequiredService<IOptions<StateOptions>>()));
        services.AddSingleton<ClientKeys.IKeyUsageStore>(new ClientKeys.RedisKeyUsageStore(redis, $"codexlb:{serviceId}:"));
        services.AddSingleton<ConversationsApi.IConversationObjectStore>(sp =>
            new ConversationsApi.RedisConversationObjectStore(redis, $"codexlb:{serviceId}:", sp.GetRequiredService<IOptions<StateOptions>>()));
        return services;
    }
}
