namespace CodexLb.Grains.Abstractions;

/// <summary>
/// What the store keeps of a started background response until it completes: enough for the conversation's next owner to
/// run it again, under the id its client has, when the owner that ran it was lost mid-generation. Stored (not sent between
/// grains), so every silo of a rolling deploy must read it: fields are only ever added.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ResumableResponse
{
    /// <summary>The client's turn as its gateway sent it.</summary>
    [Id(0)] public required TurnRequest Request { get; init; }

    /// <summary>The response object its client was first told of (status in progress): the answer until the new run has its own.</summary>
    [Id(1)] public required byte[] Created { get; init; }

    /// <summary>How many times it was run again so far (a run refused before the provider was asked does not count).</summary>
    [Id(2)] public int Resumes { get; init; }

    /// <summary>
    /// When a new run was first refused before the provider was asked (no upstream capacity, no usable account, a full
    /// conversation), since its last run that was asked; null while none was.
    /// </summary>
    [Id(3)] public DateTimeOffset? RefusedSince { get; init; }
}
