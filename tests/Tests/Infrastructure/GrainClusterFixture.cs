using CodexLb.Grains.Hosting;
using CodexLb.Grains.Tree;
using CodexLb.UpstreamSimulator;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.TestingHost;

namespace CodexLb.Tests.Infrastructure;

/// <summary>One in-process Orleans cluster (2 silos, memory storage) pointed at one upstream simulator.</summary>
public sealed class GrainClusterFixture : IAsyncLifetime
{
    public const long ContextBound = 64 * 1024;

    public UpstreamSimulatorHost Simulator { get; private set; } = null!;
    public InProcessTestCluster Cluster { get; private set; } = null!;
    public IGrainFactory Grains => Cluster.Client;

    /// <summary>The response tree both silos share (a test may act as another activation through it).</summary>
    public IResponseTreeStore Tree { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Simulator = await UpstreamSimulatorHost.StartAsync(new SimulatorOptions());
        var builder = new InProcessTestClusterBuilder(2);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CodexLb:Upstream:BaseUrl"] = Simulator.BaseUrl.ToString(),
            ["CodexLb:Upstream:ApiKey"] = "sk-upstream-grain-tests",
            ["CodexLb:Upstream:TurnQueueLimit"] = "2",
            ["CodexLb:Upstream:FirstEventTimeout"] = "00:00:05",
            ["CodexLb:Upstream:IdleTimeout"] = "00:00:02",
            ["CodexLb:Upstream:MaxContextBytes"] = ContextBound.ToString(),
            ["CodexLb:Upstream:MaxSocketAge"] = "00:00:04",
        }).Build();
        // One tree (and one key usage store) for both silos, as Redis would be: a grain reactivated on the other silo finds its state.
        var tree = Tree = new MemoryResponseTreeStore(Options.Create(new StateOptions()), TimeProvider.System);
        var keyUsage = new CodexLb.Grains.ClientKeys.MemoryKeyUsageStore();
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddSingleton<IResponseTreeStore>(tree);
            silo.Services.AddSingleton<CodexLb.Grains.ClientKeys.IKeyUsageStore>(keyUsage);
            silo.Services.AddConversationGrainServices(configuration);
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        await Simulator.DisposeAsync();
        ((MemoryResponseTreeStore)Tree).Dispose(); // native memory: freed here, not by either silo
    }
}

[CollectionDefinition(Name)]
public sealed class GrainClusterCollection : ICollectionFixture<GrainClusterFixture>
{
    public const string Name = "grain-cluster";
}
