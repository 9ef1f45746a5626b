using System.Diagnostics.Metrics;
using CodexLb.Gateway.Telemetry;
using CodexLb.Protocol.Telemetry;

namespace CodexLb.Gateway.Keys;

/// <summary>
/// Usage per client key on the gateway's meter (exported with it at <c>/metrics</c>): labelled by the key's name and a
/// bounded model label, never by anything a client can make up.
/// </summary>
public static class KeyMetrics
{
    private static readonly Meter Meter = new(GatewayMetrics.Name);

    public static readonly TaggedCounter Requests = new(Meter, "codexlb.key.requests", null, "Turns admitted, by client key and model", "key", "model");
    public static readonly TaggedCounter Tokens = new(Meter, "codexlb.key.tokens", "{token}",
        "Tokens of completed turns (response usage), by client key, model and type (input or output)", "key", "model", "type");
    public static readonly Counter<long> Refusals = Meter.CreateCounter<long>("codexlb.key.refusals",
        description: "Turns refused by a key's limits, by client key and reason (requests_per_minute, tokens_per_minute, tokens_per_day, model)");

    public static void Refused(ClientKey key, string reason) =>
        Refusals.Add(1, new KeyValuePair<string, object?>("key", key.Name), new KeyValuePair<string, object?>("reason", reason));
}
