using System.Diagnostics;
using System.Diagnostics.Metrics;
using CodexLb.Protocol.Telemetry;

namespace CodexLb.Gateway.Telemetry;

/// <summary>The gateway's meter and activity source: what a turn cost at the edge.</summary>
public static class GatewayMetrics
{
    public const string Name = "CodexLb.Gateway";
    public static readonly ActivitySource Source = new(Name);
    private static readonly Meter Meter = new(Name);

    public static readonly TaggedCounter Turns = new(Meter, "codexlb.gateway.turns", null, "Turns by transport and outcome", "transport", "outcome");
    public static readonly Histogram<double> TimeToFirstByte = Meter.CreateHistogram<double>("codexlb.gateway.ttfb", unit: "ms", description: "Request start to the first byte sent to the client");
    public static readonly Histogram<double> Overhead = Meter.CreateHistogram<double>("codexlb.gateway.overhead", unit: "ms", description: "Gateway work before the grain call: read, authenticate, parse, route");
    public static readonly Counter<long> Rebinds = Meter.CreateCounter<long>("codexlb.gateway.rebinds", description: "Re-dispatches of a turn whose owner failed or stayed silent past the owner timeout (never a retried lookup)");
    public static readonly Counter<long> BackgroundFollows = Meter.CreateCounter<long>("codexlb.gateway.background_follows",
        description: "Background creates whose stream went on by the response's id after the response was lost under it (after: a failure that may pass, or an unreachable owner)");
    public static readonly Counter<long> IndexLookups = Meter.CreateCounter<long>("codexlb.gateway.index_lookups",
        description: "Turns routed through the response index (a store read): an id the alias cache did not hold, or a keyless client's history matched by content");

    /// <summary>Turns in flight on this gateway: a field each turn moves, read when metrics are collected (not a measurement per turn).</summary>
    private static long _activeStreams;

    public static void StreamStarted() => Interlocked.Increment(ref _activeStreams);

    public static void StreamEnded() => Interlocked.Decrement(ref _activeStreams);

    private static readonly ObservableUpDownCounter<long> ActiveStreams =
        Meter.CreateObservableUpDownCounter("codexlb.gateway.active_streams", static () => Volatile.Read(ref _activeStreams), description: "Turns in flight on this gateway");

    /// <summary>Response header carrying <see cref="Overhead"/> in microseconds, so a client can see what the bridge added.</summary>
    public const string OverheadHeader = "x-codexlb-gateway-us";
}
