using System.Diagnostics.Metrics;
using CodexLb.Silo.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime.GrainDirectory;

namespace CodexLb.Tests.Cluster;

/// <summary>
/// A silo's grain-directory cache is Orleans' own LRU cache, shared by both Orleans directory paths, and no metric walks
/// it: Orleans' cache-size gauge counted it by enumerating its million presized buckets on every scrape and dashboard sample.
/// </summary>
public sealed class DirectoryCacheTests
{
    [Fact]
    public async Task The_silo_caches_grain_locations_in_a_cache_no_metric_enumerates()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(ClusterPorts.Next(), ClusterPorts.Next());
            DirectoryCacheTuning.Apply(silo);
        });
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            Assert.Equal(GrainDirectoryOptions.CachingStrategyType.Custom, host.Services.GetRequiredService<IOptions<GrainDirectoryOptions>>().Value.CachingStrategy);
            var cache = host.Services.GetRequiredService<IGrainDirectoryCache>();
            var address = new GrainAddress
            {
                GrainId = GrainId.Create("conversation", "directory-cache-test"), ActivationId = ActivationId.NewId(),
                SiloAddress = SiloAddress.FromParsableString("127.0.0.1:11111@1"),
            };
            cache.AddOrUpdate(address, 1);
            Assert.True(cache.LookUp(address.GrainId, out var found, out var version));
            Assert.Equal(address, found);
            Assert.Equal(1, version);

            int? observed = null;
            // This silo's gauge only: the listener sees every silo of the test process (a test cluster of another class,
            // with Orleans' default cache, counted its 16 entries here once), and each silo's meter comes from its own
            // host's meter factory.
            var meters = host.Services.GetRequiredService<IMeterFactory>();
            using var listener = new MeterListener
            {
                InstrumentPublished = (instrument, l) =>
                {
                    if (instrument.Meter.Name == "Microsoft.Orleans" && instrument.Name == "orleans-directory-cache-size" && ReferenceEquals(instrument.Meter.Scope, meters))
                        l.EnableMeasurementEvents(instrument);
                },
            };
            listener.SetMeasurementEventCallback<int>((_, value, _, _) => observed = (observed ?? 0) + value);
            listener.Start();
            listener.RecordObservableInstruments();
            Assert.Equal(0, observed); // the gauge exists and counts no cache: the one holding an entry is not hooked to it
        }
        finally
        {
            await host.StopAsync();
        }
    }
}
