using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime.GrainDirectory;

namespace CodexLb.Silo.Hosting;

/// <summary>
/// Orleans' own LRU grain-directory cache, registered so that no metric walks it. Orleans hooks its cache to the
/// <c>orleans-directory-cache-size</c> gauge, whose value is counted by enumerating the cache's dictionary, presized to
/// <see cref="GrainDirectoryOptions.CacheSize"/> (1,000,000) buckets: 10–20 ms of CPU on every Prometheus scrape and every
/// dashboard sample, a quarter of an idle silo's CPU (perf, embedded default). The same cache, made by Orleans' own factory
/// without the instruments, serves both Orleans directory paths (<see cref="GrainDirectoryOptions.CachingStrategyType.Custom"/>);
/// the gauge then reads 0.
/// </summary>
public static class DirectoryCacheTuning
{
    public static void Apply(ISiloBuilder silo)
    {
        silo.Configure<GrainDirectoryOptions>(o => o.CachingStrategy = GrainDirectoryOptions.CachingStrategyType.Custom);
        silo.Services.AddSingleton<IGrainDirectoryCache>(services =>
        {
            var configured = services.GetRequiredService<IOptions<GrainDirectoryOptions>>().Value;
            var lru = new GrainDirectoryOptions
            {
                CachingStrategy = GrainDirectoryOptions.CachingStrategyType.LRU,
                CacheSize = configured.CacheSize,
                MaximumCacheTTL = configured.MaximumCacheTTL,
            };
            // The factory takes the instruments (and a test clock) from the provider it is given: give it one without them.
            var withoutInstruments = new ServiceCollection();
            if (services.GetKeyedService<TimeProvider>("Orleans.GrainDirectory") is { } clock)
                withoutInstruments.AddKeyedSingleton("Orleans.GrainDirectory", clock);
            using var provider = withoutInstruments.BuildServiceProvider();
            return GrainDirectoryCacheFactory.CreateGrainDirectoryCache(provider, lru);
        });
    }
}
