using CodexLb.UpstreamSimulator.Wire;

namespace CodexLb.UpstreamSimulator.Model;

/// <summary>Turns a request (plus the connection's anchor and a fault) into a fully encoded <see cref="Turn"/>.</summary>
internal sealed class TurnPlanner(SimulatorOptions options, IdGenerator ids)
{
    public static Turn PlanError(SimError error)
    {
        var batch = new EventBatch();
        ResponseEvents.WriteErrorFrame(batch, error);
        return new Turn { Kind = TurnKind.Error, Frames = batch, Error = error };
    }

    /// <param name="anchor">The validated anchor, or null for a full (unanchored) request.</param>
    public Turn Plan(CreateRequest request, Anchor? anchor, Fault? fault)
    {
        if (fault?.Kind == FaultKind.ErrorFrame)
        {
            return PlanError(SimErrors.FromFault(fault));
        }

        var batch = new EventBatch();
        var responseId = ids.Next("resp");
        var createdAt = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (fault?.Kind == FaultKind.ResponseFailed)
        {
            var code = fault.Code ?? "server_error";
            var failed = new Turn
            {
                Kind = TurnKind.Failed, Frames = batch, ResponseId = responseId, Model = request.Model, CreatedAt = createdAt,
                Echo = request.Echo,
                Error = new SimError(fault.Status ?? 500, "server_error", code, fault.Message ?? $"Simulated failure ({code})."),
            };
            ResponseEvents.WriteLifecycleStart(batch, failed);
            ResponseEvents.WriteResponseEvent(batch, "response.failed", failed, "failed");
            return failed;
        }

        var assistantBefore = (anchor?.AssistantMessages ?? 0) + request.AssistantMessages;
        var deltas = Math.Max(1, fault?.TextDeltas ?? request.Settings.TextDeltas ?? options.TextDeltas);
        var items = ScriptedModel.Respond(request, assistantBefore, deltas, ids);
        var cached = anchor?.ContextTokens ?? 0;
        var turn = new Turn
        {
            Kind = TurnKind.Completed, Frames = batch, ResponseId = responseId, Model = request.Model, CreatedAt = createdAt,
            Echo = request.Echo, Items = items,
            InputTokens = cached + request.InputTokens,
            CachedTokens = cached,
            OutputTokens = items.Sum(i => i.Tokens),
            ReasoningTokens = items.Where(i => i.IsReasoning).Sum(i => i.Tokens),
            AssistantMessagesAfter = assistantBefore + items.Count(i => i.IsAssistantMessage),
        };

        if (!request.Generate)
        {
            // A warm-up: created + completed, empty output, but a chainable id.
            turn.CompletedAt = createdAt;
            ResponseEvents.WriteResponseEvent(batch, "response.created", turn, "in_progress");
            ResponseEvents.WriteResponseEvent(batch, "response.completed", turn, "completed");
            return turn;
        }

        ResponseEvents.WriteLifecycleStart(batch, turn);
        for (var i = 0; i < items.Count; i++)
        {
            items[i].WriteEvents(batch, i, deltas);
        }

        // completed_at: when the last event leaves, given the latency this request will be served with.
        var effects = Effects(fault);
        var schedule = effects.FirstEventDelay + (effects.EventDelay * batch.Count);
        turn.CompletedAt = (DateTimeOffset.UtcNow + schedule).ToUnixTimeSeconds();
        ResponseEvents.WriteResponseEvent(batch, "response.completed", turn, "completed");
        return turn;
    }

    public TurnEffects Effects(Fault? fault) => new()
    {
        FirstEventDelay = fault?.FirstEventDelay ?? options.FirstEventDelay,
        EventDelay = fault?.EventDelay ?? options.EventDelay,
        PreciseDelays = options.PreciseDelays,
        StopBefore = fault?.Kind switch
        {
            FaultKind.CloseBeforeEvent => fault.EventIndex,
            FaultKind.CloseAfterEvent => fault.EventIndex + 1,
            _ => null,
        },
        CloseAtEnd = fault?.Kind == FaultKind.CloseBetweenTurns,
        Hang = fault?.Kind == FaultKind.Hang,
        Graceful = fault?.Graceful ?? false,
        RetryAfter = fault?.RetryAfter,
        MidStreamError = fault?.Kind == FaultKind.ErrorMidStream ? SimErrors.FromFault(fault) : null,
        ErrorAt = fault?.Kind == FaultKind.ErrorMidStream ? fault.EventIndex : 0,
        StrayFrame = fault?.Kind == FaultKind.StrayFrame,
    };

    /// <summary>A <c>response.completed</c> frame of a response nobody asked for (another id, empty output).</summary>
    public ReadOnlyMemory<byte> StrayFrame(string model)
    {
        var batch = new EventBatch();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var stray = new Turn { Kind = TurnKind.Completed, Frames = batch, ResponseId = ids.Next("resp"), Model = model, CreatedAt = now, CompletedAt = now };
        ResponseEvents.WriteResponseEvent(batch, "response.completed", stray, "completed");
        return batch[0];
    }
}
