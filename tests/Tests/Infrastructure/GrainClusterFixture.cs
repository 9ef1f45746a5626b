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

    /// <summary>Where both silos save the client keys' daily counts.</summary>
    public CodexLb.Grains.ClientKeys.IKeyUsageStore KeyUsage { get; private set; } = null!;

    private SettlingTree _silosTree = null!;

    /// <summary>
    /// The silos' next read of <paramref name="responseId"/> says it is still running on <paramref name="conversationKey"/>;
    /// the reads after it see the tree: a response that completes between two reads of the same caller.
    /// </summary>
    public void ReportPendingOnce(string responseId, string conversationKey) => _silosTree.PendingOnce[responseId] = conversationKey;

    /// <summary>The silos' next write of what it takes to run <paramref name="responseId"/> again fails, as a store that went away.</summary>
    public void FailResumableWriteOnce(string responseId) => _silosTree.FailResumableWriteOnce[responseId] = 0;

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
        var silosTree = _silosTree = SettlingTree.Over(tree);
        var keyUsage = KeyUsage = new CodexLb.Grains.ClientKeys.MemoryKeyUsageStore();
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddSingleton(silosTree.Store);
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

/// <summary>The shared tree as the silos see it: each call goes to it, except a read of a response armed to be reported pending once.</summary>
public class SettlingTree : System.Reflection.DispatchProxy
{
    private IResponseTreeStore _inner = null!;

    public System.Collections.Concurrent.ConcurrentDictionary<string, string> PendingOnce { get; } = new();

    public System.Collections.Concurrent.ConcurrentDictionary<string, byte> FailResumableWriteOnce { get; } = new();

    /// <summary>This proxy as the store it stands for.</summary>
    public IResponseTreeStore Store => (IResponseTreeStore)(object)this;

    public static SettlingTree Over(IResponseTreeStore inner)
    {
        var proxy = (SettlingTree)(object)Create<IResponseTreeStore, SettlingTree>();
        proxy._inner = inner;
        return proxy;
    }

    protected override object? Invoke(System.Reflection.MethodInfo? method, object?[]? args)
    {
        if (method!.Name == nameof(IResponseTreeStore.LoadResponseAsync) && args![1] is string id && PendingOnce.TryRemove(id, out var key))
            return Task.FromResult(new StoredResponse(CodexLb.Grains.Abstractions.ResponseStatus.Found, key, null, [], Pending: true));
        if (method.Name == nameof(IResponseTreeStore.MarkResumableAsync) && args![1] is string failing && FailResumableWriteOnce.TryRemove(failing, out _))
            return Task.FromException(new InvalidOperationException("the store is unavailable (a test's fault)"));
        try
        {
            return method.Invoke(_inner, args);
        }
        catch (System.Reflection.TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
    }
}
