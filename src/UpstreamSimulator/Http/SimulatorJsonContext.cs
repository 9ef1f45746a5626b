using System.Text.Json.Serialization;

namespace CodexLb.UpstreamSimulator;

/// <summary>
/// Source-generated JSON for the control endpoints (camelCase, enums as names, durations in milliseconds).
/// Public so out-of-process tests can deserialize <c>GET /_sim/ledger</c> into the same records.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(LedgerSnapshot))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(KeyPolicy))]
[JsonSerializable(typeof(IReadOnlyList<KeyState>))]
[JsonSerializable(typeof(Fault))]
[JsonSerializable(typeof(IReadOnlyList<Fault>))]
[JsonSerializable(typeof(FaultPlanSnapshot))]
public sealed partial class SimulatorJsonContext : JsonSerializerContext;

/// <summary>Body of <c>GET /_sim/faults</c>.</summary>
public sealed record FaultPlanSnapshot(IReadOnlyList<Fault> Pending, IReadOnlyList<string> FiredDirectives);
