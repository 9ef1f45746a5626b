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
        services.TryAddSingleton<IResponseTreeStore, MemoryResponseTreeStore>();
        services.TryAddSingleton<ActiveTurns>();
        return services;
    }

    /// <summary>Production: the response tree in Redis (call before <see cref="AddConversationGrainServices"/>).</summary>
    public static IServiceCollection AddRedisResponseTree(this IServiceCollection services, string connectionString, string serviceId)
    {
        services.AddSingleton<StackExchange.Redis.IConnectionMultiplexer>(_ =>
        {
            var options = StackExchange.Redis.ConfigurationOptions.Parse(connectionString);
            options.AbortOnConnectFail = false; // start even while Redis is briefly away; calls fail retryably until it is back
            return StackExchange.Redis.ConnectionMultiplexer.Connect(options);
        });
        services.AddSingleton<IResponseTreeStore>(sp => new RedisResponseTreeStore(
            sp.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>(), $"codexlb:{serviceId}:", sp.GetRequiredService<IOptions<StateOptions>>()));
        return services;
    }
}
