using CodexLb.Grains.Conversation;
using CodexLb.Grains.Upstream;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace CodexLb.Grains.Hosting;

public static class GrainServiceCollectionExtensions
{
    /// <summary>Services the conversation grains need; the context store defaults to memory (the embedded default).</summary>
    public static IServiceCollection AddConversationGrainServices(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<UpstreamOptions>().Bind(configuration.GetSection(UpstreamOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<UpstreamOptions>, UpstreamOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IConversationContextStore, MemoryContextStore>();
        services.TryAddSingleton<ActiveTurns>();
        return services;
    }

    /// <summary>Production: conversation items in Redis, next to the grain state.</summary>
    public static IServiceCollection AddRedisContextStore(this IServiceCollection services, string connectionString, string serviceId)
    {
        services.AddSingleton<StackExchange.Redis.IConnectionMultiplexer>(_ =>
        {
            var options = StackExchange.Redis.ConfigurationOptions.Parse(connectionString);
            options.AbortOnConnectFail = false; // start even while Redis is briefly away; calls fail retryably until it is back
            return StackExchange.Redis.ConnectionMultiplexer.Connect(options);
        });
        services.AddSingleton<IConversationContextStore>(sp =>
            new RedisContextStore(sp.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>(), $"codexlb:{serviceId}:context:"));
        return services;
    }
}
