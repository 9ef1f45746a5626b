using System.Text.Json.Serialization;

namespace CodexLb.UpstreamSimulator.Http;

/// <summary>
/// Body of <c>POST /_sim/faults</c>. A mutable mirror of <see cref="Fault"/>: source-generated deserialisation
/// of init-only properties would reset omitted ones to default (Count = 0), settable ones keep their defaults.
/// </summary>
internal sealed class FaultWire
{
    public FaultKind Kind { get; set; }
    public int Count { get; set; } = 1;
    public long? ConnectionId { get; set; }
    public int? RequestIndex { get; set; }
    public string? TextContains { get; set; }
    public SimTransport? Transport { get; set; }
    public int EventIndex { get; set; }
    public int? Status { get; set; }
    public string? Code { get; set; }
    public string? Message { get; set; }
    public string? ErrorType { get; set; }

    [JsonConverter(typeof(MillisecondsConverter))]
    public TimeSpan? RetryAfter { get; set; }

    [JsonConverter(typeof(MillisecondsConverter))]
    public TimeSpan? FirstEventDelay { get; set; }

    [JsonConverter(typeof(MillisecondsConverter))]
    public TimeSpan? EventDelay { get; set; }

    public int? TextDeltas { get; set; }
    public bool Graceful { get; set; }

    public Fault ToFault() => new(Kind)
    {
        Count = Count, ConnectionId = ConnectionId, RequestIndex = RequestIndex, TextContains = TextContains,
        Transport = Transport, EventIndex = EventIndex, Status = Status, Code = Code, Message = Message,
        ErrorType = ErrorType, RetryAfter = RetryAfter, FirstEventDelay = FirstEventDelay, EventDelay = EventDelay,
        TextDeltas = TextDeltas, Graceful = Graceful,
    };
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(FaultWire))]
internal sealed partial class FaultWireJsonContext : JsonSerializerContext;
