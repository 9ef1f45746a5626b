using System.Diagnostics.CodeAnalysis;
using Orleans.Metadata;

namespace CodexLb.Grains.Hosting;

/// <summary>
/// Every activation yields once before any grain code runs. Orleans 10.4 starts a new activation's message loop while
/// holding that activation's lock, so the first synchronous stretch of <c>OnActivateAsync</c> (and of the first request,
/// when activation completes at once) runs under it, and a message to a local activation takes the target's lock. Two new
/// activations that message each other from there deadlock their threads for good; so did the account pool (asking every
/// account for its health as it activates) and a new account (pushing its health to the pool on its first report) when a
/// silo stop moved both to the same silo: every conversation needing an account hung while the silo lived. The yield
/// lets the start return (and release the lock) first; it costs one scheduling hop per activation, never per call.
/// </summary>
internal sealed class ActivationStartsOutsideLock : IConfigureGrainContextProvider, IConfigureGrainContext
{
    public bool TryGetConfigurator(GrainType grainType, GrainProperties properties, [NotNullWhen(true)] out IConfigureGrainContext? configurator)
    {
        // A stateless worker's context has no lifecycle to join (Orleans configures only the pool, not its workers); none
        // of ours sends to a grain that calls it back.
        var statelessWorker = properties.Properties.TryGetValue(WellKnownGrainTypeProperties.PlacementStrategy, out var placement)
            && placement == "StatelessWorkerPlacement";
        configurator = statelessWorker ? null : this;
        return !statelessWorker;
    }

    public void Configure(IGrainContext context) =>
        context.ObservableLifecycle.Subscribe(nameof(ActivationStartsOutsideLock), GrainLifecycleStage.First, YieldAsync);

    private static async Task YieldAsync(CancellationToken cancellationToken) => await Task.Yield();
}
