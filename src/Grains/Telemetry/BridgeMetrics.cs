using System.Diagnostics.Metrics;

namespace CodexLb.Grains.Telemetry;

/// <summary>The conversation grains' meter: what operators alert on (replays, full sends, context size).</summary>
public static class BridgeMetrics
{
    public const string MeterName = "CodexLb.Grains";
    private static readonly Meter Meter = new(MeterName);

    /// <summary>Spans for the grain's side of a turn (the upstream exchange), children of the gateway's turn span.</summary>
    public static readonly System.Diagnostics.ActivitySource Source = new(MeterName);

    public static readonly Counter<long> Turns = Meter.CreateCounter<long>("codexlb.turns", description: "Turns by outcome");
    public static readonly Counter<long> UpstreamSends = Meter.CreateCounter<long>("codexlb.upstream.sends", description: "response.create frames by kind (delta or full)");
    public static readonly Counter<long> UpstreamConnects = Meter.CreateCounter<long>("codexlb.upstream.connects", description: "Upstream websocket connects");
    public static readonly Counter<long> TurnBases = Meter.CreateCounter<long>("codexlb.turn.bases",
        description: "Turns by what they continued: anchor (the client's previous_response_id), content (a longer response found by content), warmup (answered locally), none (a new context)");
    public static readonly Counter<long> Replays = Meter.CreateCounter<long>("codexlb.upstream.replays", description: "Requests resent after a loss");
    public static readonly Counter<long> BytesSent = Meter.CreateCounter<long>("codexlb.upstream.bytes_sent", unit: "By");
    public static readonly Histogram<long> ContextTokens = Meter.CreateHistogram<long>("codexlb.context.tokens", unit: "{token}", description: "Upstream input tokens per completed turn");
    public static readonly UpDownCounter<long> ActiveConversations = Meter.CreateUpDownCounter<long>("codexlb.conversations.active", description: "Conversation grain activations");
    public static readonly UpDownCounter<long> OpenSockets = Meter.CreateUpDownCounter<long>("codexlb.upstream.open_sockets");
}
