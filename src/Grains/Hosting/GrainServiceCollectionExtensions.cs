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
        return services;
    }
}
