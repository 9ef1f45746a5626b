namespace CodexLb.UpstreamSimulator;

/// <summary>Knobs of the simulated provider. Bound from the configuration section <c>Simulator</c> when run standalone.</summary>
public sealed class SimulatorOptions
{
    /// <summary>Delay before the first event of a response (time to first byte).</summary>
    public TimeSpan FirstEventDelay { get; set; }

    /// <summary>Delay between two consecutive events of a response.</summary>
    public TimeSpan EventDelay { get; set; }

    /// <summary>
    /// The delays above end on time instead of up to a few ms late (<see cref="Model.SimulatedDelay"/>): the last 6 ms of
    /// each is spun, so keep it for one request at a time (a benchmark's c=1 latency floor).
    /// </summary>
    public bool PreciseDelays { get; set; }

    /// <summary>
    /// Number of <c>response.output_text.delta</c> events a plain-text answer is streamed in (at least 1). Up to the
    /// answer's length the answer is split evenly; beyond it, numbered filler words are appended so the count is
    /// exact (thousands of deltas for benchmarks). A request may set its own with the metadata key
    /// <c>sim_text_deltas</c>; a fault's <see cref="Fault.TextDeltas"/> wins over both.
    /// </summary>
    public int TextDeltas { get; set; } = 3;

    /// <summary>Model echoed in responses when the request names none.</summary>
    public string DefaultModel { get; set; } = "gpt-5.5";

    /// <summary>Models listed by <c>GET /v1/models</c>.</summary>
    public string[] Models { get; set; } = ["gpt-5.5"];

    /// <summary>Like the real service: a websocket lives at most this long; the next request after it gets
    /// <c>websocket_connection_limit_reached</c> and the socket is closed. Lower it to test rotation.</summary>
    public TimeSpan MaxConnectionLifetime { get; set; } = TimeSpan.FromMinutes(60);

    /// <summary>Accept permessage-deflate when the client offers it (the real Codex CLI does).</summary>
    public bool EnableCompression { get; set; }

    /// <summary>Responses kept for retrieve/cancel/input_items (HTTP store:true or background); the oldest go beyond it.</summary>
    public int StoredResponses { get; set; } = 1_000;

    /// <summary>Ledger records kept per list (connections, requests); the oldest tenth is dropped beyond it.</summary>
    public int LedgerCapacity { get; set; } = 100_000;

    /// <summary>Per-key behaviour at start (quotas, revoked keys, organisations); see <see cref="KeyPolicy"/>. Changed at run time
    /// through <see cref="KeyPolicies"/> (<c>PUT /_sim/keys/{key}</c>).</summary>
    public Dictionary<string, KeyPolicy> Keys { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Lifetime of the access tokens <c>POST /oauth/token</c> issues.</summary>
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromHours(1);

    internal SimulatorOptions Clone() => (SimulatorOptions)MemberwiseClone();
}
