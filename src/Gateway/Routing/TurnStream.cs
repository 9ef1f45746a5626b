using CodexLb.Grains.Abstractions;

namespace CodexLb.Gateway.Routing;

/// <summary>A started turn: its first event (possibly a rejection) and the rest of its events.</summary>
public sealed class TurnStream(IAsyncEnumerator<TurnEvent>? rest, TurnEvent first) : IAsyncDisposable
{
    public TurnEvent First { get; } = first;

    public TurnEvent Current => rest!.Current;

    public ValueTask<bool> MoveNextAsync() => rest is null ? ValueTask.FromResult(false) : rest.MoveNextAsync();

    public static TurnStream Rejected(TurnRejection rejection) => new(null, TurnEvent.Rejected(rejection));

    public async ValueTask DisposeAsync()
    {
        if (rest is null) return;
        try
        {
            await rest.DisposeAsync();
        }
        catch (Exception)
        {
            // The grain side may be gone; its turn finishes (or failed) on its own.
        }
    }
}
