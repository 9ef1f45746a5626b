namespace CodexLb.Grains.Abstractions;

/// <summary>One client turn, already parsed and validated by a gateway. Item bytes are forwarded as the client sent them.</summary>
[GenerateSerializer, Immutable]
public sealed record TurnRequest
{
    /// <summary>The client's anchor, when it sends only new items (SDK-style or websocket clients).</summary>
    [Id(0)] public string? PreviousResponseId { get; init; }

    /// <summary>The other create-body properties as raw <c>"name":value</c> pairs (no braces).</summary>
    [Id(1)] public required byte[] Settings { get; init; }

    [Id(2)] public required byte[][] InputItems { get; init; }

    /// <summary>Semantic fingerprints of <see cref="InputItems"/>, computed once at the gateway.</summary>
    [Id(3)] public required ulong[] InputFingerprints { get; init; }

    /// <summary>False for a <c>generate:false</c> warm-up.</summary>
    [Id(4)] public bool Generate { get; init; } = true;

    /// <summary>Correlates logs and traces; never conversation text.</summary>
    [Id(5)] public string RequestId { get; init; } = "";

    /// <summary>
    /// A response the gateway found by content (a keyless full-history client): its context covers the first
    /// <see cref="ResumePrefixLength"/> input items. The grain checks the hint against the response's chain.
    /// </summary>
    [Id(6)] public string? ResumeFromResponseId { get; init; }

    [Id(7)] public int ResumePrefixLength { get; init; }

    /// <summary>
    /// The turn's identity: the client's idempotency key when it sends one, otherwise one the gateway assigns. A call with
    /// the id of a turn the owner is running (or finished without delivering) attaches to it instead of running it again.
    /// </summary>
    [Id(8)] public string TurnId { get; init; } = "";

    /// <summary>When attaching: how many events the caller already relayed (they are not sent again).</summary>
    [Id(9)] public int ReplayFrom { get; init; }

    /// <summary>Attach only: bytes already reached the client, so a turn the owner does not know must not start again.</summary>
    [Id(10)] public bool AttachOnly { get; init; }

    /// <summary>The client's <c>store</c> (null: not sent). Forwarded as sent unless the upstream requires <c>store:false</c>.</summary>
    [Id(11)] public bool? Store { get; init; }

    /// <summary><c>background:true</c>: the turn runs to completion whether or not a client follows it.</summary>
    [Id(12)] public bool Background { get; init; }

    /// <summary>The settings by meaning, as the gateway's parser read them (0: not sent; the owner reads them back).</summary>
    [Id(13)] public ulong SettingsFingerprint { get; init; }

    /// <summary>
    /// A gateway re-dispatched this turn after losing an owner that may have run it (it answered, or failed in a way that
    /// does not prove the call never arrived). An owner that then runs the turn afresh counts its generation as a repeat.
    /// </summary>
    [Id(14)] public bool Redispatched { get; init; }

    /// <summary>
    /// The conversation the client named (<c>conversation</c>): the response objects say so, without the
    /// <c>previous_response_id</c> the gateway continued the conversation's last response with (the client sent none).
    /// </summary>
    [Id(15)] public string? ConversationId { get; init; }
}
