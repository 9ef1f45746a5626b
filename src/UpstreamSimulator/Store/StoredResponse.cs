using CodexLb.UpstreamSimulator.Ledger;
using CodexLb.UpstreamSimulator.Model;
using CodexLb.UpstreamSimulator.Wire;

namespace CodexLb.UpstreamSimulator.Store;

/// <summary>
/// A response kept for <c>GET/DELETE /responses/{id}</c>, <c>…/cancel</c> and <c>…/input_items</c>: its planned
/// turn, its input and a status that moves queued → in_progress → completed/failed, or to cancelled. The status
/// lock is the only mutable state; the input is normalised (ids assigned) on first listing, so storing stays a copy.
/// </summary>
internal sealed class StoredResponse(Turn turn, byte[]? inputJson, IdGenerator ids, bool background, string status, RequestEntry entry)
{
    private readonly Lock _gate = new();
    private readonly Lazy<IReadOnlyList<byte[]>> _inputItems = new(() => Store.InputItems.Normalize(inputJson, ids));
    private string _status = status;

    public string Id => turn.ResponseId!;
    public Turn Turn => turn;
    public IReadOnlyList<byte[]> InputItems => _inputItems.Value;
    public bool Background => background;

    /// <summary>The ledger entry of the create request (a background run finishes it).</summary>
    public RequestEntry Entry => entry;

    /// <summary>Cancelled by <c>…/cancel</c> or a delete: ends a background run.</summary>
    public CancellationTokenSource Cancellation { get; } = new();

    public string Status
    {
        get
        {
            lock (_gate)
            {
                return _status;
            }
        }
    }

    public bool IsTerminal => Status is "completed" or "failed" or "cancelled" or "incomplete";

    /// <summary>Moves to <paramref name="next"/> unless already terminal; true if it moved.</summary>
    public bool TryMove(string next)
    {
        lock (_gate)
        {
            if (_status is "completed" or "failed" or "cancelled" or "incomplete")
            {
                return false;
            }

            _status = next;
            return true;
        }
    }

    /// <summary>The response object as it stands now.</summary>
    public byte[] Snapshot()
    {
        var current = Status;
        return WireJson.Serialize(w => ResponseEvents.WriteResponseObject(w, turn, current), 1024);
    }
}
