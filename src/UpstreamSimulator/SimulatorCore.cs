using System.Collections.Concurrent;
using CodexLb.UpstreamSimulator.Faults;
using CodexLb.UpstreamSimulator.Ledger;
using CodexLb.UpstreamSimulator.Model;
using CodexLb.UpstreamSimulator.Store;

namespace CodexLb.UpstreamSimulator;

/// <summary>
/// The transport-independent part of the simulator: anchor validation, fault selection, turn planning and ledger
/// bookkeeping. The websocket and HTTP endpoints only deliver the planned frames.
/// </summary>
internal sealed class SimulatorCore
{
    private readonly ConcurrentDictionary<long, Action> _liveConnections = new();

    public SimulatorCore(SimulatorOptions options, SimulatorLedger ledger, FaultPlan faults, KeyPolicies keys)
    {
        Options = options;
        Keys = keys;
        Ledger = ledger;
        Faults = faults;
        Planner = new TurnPlanner(options, Ids);
        Store = new ResponseStore(options.StoredResponses);
    }

    public SimulatorOptions Options { get; }
    public SimulatorLedger Ledger { get; }
    public FaultPlan Faults { get; }
    public KeyPolicies Keys { get; }
    public IdGenerator Ids { get; } = new();
    public TurnPlanner Planner { get; }
    public ResponseStore Store { get; }

    /// <summary>Signalled when the host stops, so hung HTTP requests do not hold up shutdown.</summary>
    public CancellationToken Stopping { get; set; }

    /// <summary>Records what was parsed from a request before anything is decided.</summary>
    public void Describe(RequestEntry entry, CreateRequest request) => Ledger.Update(entry, e =>
    {
        e.Model = request.Model;
        e.PreviousResponseId = request.PreviousResponseId;
        e.Generate = request.Generate;
        e.InputItemCount = request.InputItemCount;
        e.NewInputTokens = request.InputTokens;
        e.RequestBytes = request.RequestBytes;
        e.Tag = request.Settings.Tag;
    });

    /// <summary>Validates the anchor, picks a fault and plans the turn.</summary>
    /// <param name="current">The connection's latest completed response; null for HTTP (stateless).</param>
    public (Turn Turn, TurnEffects Effects) Prepare(CreateRequest request, RequestEntry entry, Anchor? current, FaultContext context)
    {
        bool? anchorValid = request.PreviousResponseId is null ? null : current?.ResponseId == request.PreviousResponseId;
        var applied = Faults.TakeForRequest(context);
        var fault = applied?.Fault;
        var turn = anchorValid == false && fault?.Kind != FaultKind.ErrorFrame
            ? TurnPlanner.PlanError(SimErrors.PreviousResponseNotFound(request.PreviousResponseId!))
            : Planner.Plan(request, anchorValid == true ? current : null, fault);

        Ledger.Update(entry, e =>
        {
            e.AnchorValid = anchorValid;
            e.IsDelta = anchorValid == true;
            e.ResponseId = turn.ResponseId;
            e.ContextTokens = turn.InputTokens;
            e.CachedTokens = turn.CachedTokens;
            e.OutputTokens = turn.OutputTokens;
            e.Fault = applied?.Label;
        });
        return (turn, Planner.Effects(fault));
    }

    /// <summary>What an HTTP request's previous_response_id continues from: a stored, completed response.</summary>
    public Anchor? StoredAnchor(string? previousResponseId) =>
        previousResponseId is not null && Store.Get(previousResponseId) is { Status: "completed" } stored ? stored.Turn.NextAnchor : null;

    /// <summary>Stores a response of an HTTP request (store:true or background) for retrieve, cancel and input_items.</summary>
    public StoredResponse Keep(CreateRequest request, Turn turn, RequestEntry entry, string status)
    {
        var stored = new StoredResponse(turn.WithoutFrames(), request.InputJson, Ids, request.Echo.Background, status, entry);
        Store.Add(stored);
        return stored;
    }

    /// <summary>The outcome once the turn's terminal frame is (about to be) delivered.</summary>
    public void Finish(RequestEntry entry, Turn turn) => Finish(entry, turn.Kind switch
    {
        TurnKind.Completed => RequestOutcome.Completed,
        TurnKind.Failed => RequestOutcome.Failed,
        _ => RequestOutcome.Error,
    }, turn.Error);

    public void Finish(RequestEntry entry, RequestOutcome outcome, SimError? error = null) => Ledger.Update(entry, e =>
    {
        e.Outcome = outcome;
        e.EndedAt = DateTimeOffset.UtcNow;
        e.ErrorCode = error?.Code;
        e.ErrorStatus = error?.Status;
    });

    /// <summary>Marks a request that never reached its end (client left, connection died) as aborted.</summary>
    public void AbortIfInFlight(RequestEntry entry) => Ledger.Update(entry, e =>
    {
        if (e.Outcome == RequestOutcome.InFlight)
        {
            e.Outcome = RequestOutcome.Aborted;
            e.EndedAt = DateTimeOffset.UtcNow;
        }
    });

    /// <summary>Records the end of a connection; the first reason wins.</summary>
    public void EndConnection(ConnectionEntry entry, ConnectionEnd reason, string? fault = null) => Ledger.Update(entry, e =>
    {
        if (e.EndedBy != ConnectionEnd.Open)
        {
            return;
        }

        e.EndedBy = reason;
        e.ClosedAt = DateTimeOffset.UtcNow;
        e.Fault ??= fault;
    });

    public void Register(long connectionId, Action shutdown) => _liveConnections[connectionId] = shutdown;

    public void Unregister(long connectionId) => _liveConnections.TryRemove(connectionId, out _);

    /// <summary>Host shutdown: end every live websocket so Kestrel does not wait for them.</summary>
    public void ShutdownConnections()
    {
        foreach (var shutdown in _liveConnections.Values)
        {
            shutdown();
        }
    }
}
