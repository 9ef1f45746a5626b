using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Keys;

/// <summary>Client keys, their admissions and usage, and the usage endpoints.</summary>
public static class KeysHosting
{
    public static IServiceCollection AddClientKeys(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<KeysOptions>().Bind(configuration.GetSection(KeysOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<KeysOptions>, KeysOptionsValidator>();
        services.AddOptions<AdminOptions>().Bind(configuration.GetSection(AdminOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<AdminOptions>, AdminOptionsValidator>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ClientKeyStore>();
        services.AddSingleton<UsageRecorder>();
        services.AddHostedService(sp => sp.GetRequiredService<UsageRecorder>());
        services.AddSingleton<KeyAdmissions>();
        services.AddSingleton<UsageEndpoints>();
        services.AddSingleton<IOperatorUsageSection, AccountsUsageSection>();
        return services;
    }

    public static IEndpointRouteBuilder MapClientKeys(this IEndpointRouteBuilder endpoints)
    {
        UsageEndpoints.Map(endpoints);
        return endpoints;
    }
}
