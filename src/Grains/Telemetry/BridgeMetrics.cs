using System.Diagnostics.Metrics;
using CodexLb.Protocol.Telemetry;

namespace CodexLb.Grains.Telemetry;

/// <summary>The conversation grains' meter: what operators alert on (replays, full sends, context size).</summary>
public static class BridgeMetrics
{
    public const string MeterName = "CodexLb.Grains";
    private static readonly Meter Meter = new(MeterName);

    /// <summary>Spans for the grain's side of a turn (the upstream exchange), children of the gateway's turn span.</summary>
    public static readonly System.Diagnostics.ActivitySource Source = new(MeterName);

    public static readonly TaggedCounter Turns = new(Meter, "codexlb.turns", null, "Turns by outcome", "outcome");
    public static readonly TaggedCounter UpstreamSends = new(Meter, "codexlb.upstream.sends", null, "response.create frames by kind (delta or full)", "kind");
    public static readonly Counter<long> UpstreamConnects = Meter.CreateCounter<long>("codexlb.upstream.connects", description: "Upstream websocket connects");
    public static readonly TaggedCounter TurnBases = new(Meter, "codexlb.turn.bases", null,
        "Turns by what they continued: anchor (the client's previous_response_id), content (a longer response found by content), warmup (answered locally), none (a new context)", "base");
    public static readonly Histogram<long> Generations = Meter.CreateHistogram<long>("codexlb.turn.generations", unit: "{generation}",
        description: "Generating response.create frames the provider accepted per client turn (1 is the goal; 0 = answered without one); a re-run counts its earlier run's");
    public static readonly Counter<long> Regenerations = Meter.CreateCounter<long>("codexlb.turn.regenerations", unit: "{generation}",
        description: "Generations beyond a client turn's first: duplicated work (reason: replay = resent after the socket was lost before response.created, " +
                     "redispatch = re-run after its owner was lost, retry = the client asked again for an answer already delivered)");
    public static readonly Counter<long> Reattachments = Meter.CreateCounter<long>("codexlb.turn.reattachments",
        description: "Calls that attached to a running turn instead of running it again (redispatch: a gateway after a stall; retry: a client's retry)");
    public static readonly Counter<long> Cancellations = Meter.CreateCounter<long>("codexlb.turn.cancellations",
        description: "Turns stopped because their client went away (phase: queued, or upstream = the provider was told to stop)");
    public static readonly Counter<long> Replays = Meter.CreateCounter<long>("codexlb.upstream.replays", description: "Requests resent after a loss");
    public static readonly Counter<long> FencedWrites = Meter.CreateCounter<long>("codexlb.state.fenced_writes",
        description: "Turn writes refused because a newer activation owns the conversation (a stale owner: partition, stall past its death)");
    public static readonly TaggedCounter BytesSent = new(Meter, "codexlb.upstream.bytes_sent", "By", null);
    public static readonly Histogram<long> ContextTokens = Meter.CreateHistogram<long>("codexlb.context.tokens", unit: "{token}", description: "Upstream input tokens per completed turn");
    public static readonly TaggedCounter Deactivations = new(Meter, "codexlb.conversations.deactivations", null,
        "Conversation activations ended, by Orleans' reason code (DuplicateActivation: the grain directory found a second activation; never expected)", "reason");
    public static readonly UpDownCounter<long> ActiveConversations = Meter.CreateUpDownCounter<long>("codexlb.conversations.active", description: "Conversation grain activations");
    public static readonly UpDownCounter<long> OpenSockets = Meter.CreateUpDownCounter<long>("codexlb.upstream.open_sockets",
        description: "Upstream sockets holding a slot of their silo's budget (moved by UpstreamSocketBudget only)");
    public static readonly Counter<long> DirectorySwept = Meter.CreateCounter<long>("codexlb.directory.swept", unit: "{entry}",
        description: "Grain directory entries of dead silos removed by this silo's sweep");
}
