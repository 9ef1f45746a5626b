namespace CodexLb.Grains.Abstractions;

/// <summary>Whether the cluster holds a response it issued: found (and in which conversation), expired, or never issued.</summary>
public enum ResponseStatus
{
    Unknown = 0,
    Found = 1,
    Expired = 2,

    /// <summary>
    /// Started (its <c>response.created</c> was sent) but never completed: still running, failed, or its owner died
    /// mid-turn. It routes, but it has no context to continue from (yet); a client chaining on it gets a retryable error.
    /// </summary>
    Pending = 3,
}

/// <summary>Where a response id lives: its conversation, when the tree still holds it.</summary>
[GenerateSerializer, Immutable]
public sealed record ResponseLocation([property: Id(0)] ResponseStatus Status, [property: Id(1)] string? ConversationKey)
{
    public static readonly ResponseLocation Unknown = new(ResponseStatus.Unknown, null);
    public static readonly ResponseLocation Expired = new(ResponseStatus.Expired, null);
}

/// <summary>
/// The longest response of a tenant whose context a request's input starts with: the response, its conversation, and
/// how many of the request's input items that context covers.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ContentMatch(
    [property: Id(0)] string ResponseId,
    [property: Id(1)] string ConversationKey,
    [property: Id(2)] int PrefixLength);

/// <summary>
/// The last <c>item_reference</c> of a request's input: its index and the output item id it names. A client that echoes
/// its history as references is found by that item when no chain can match (a chain hashes what an item says, and a
/// reference says only which item it is).
/// </summary>
[GenerateSerializer, Immutable]
public readonly record struct LastReference([property: Id(0)] int Index, [property: Id(1)] string ItemId);
