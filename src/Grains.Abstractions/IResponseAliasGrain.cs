using Orleans.Concurrency;

namespace CodexLb.Grains.Abstractions;

/// <summary>
/// Maps one response id the cluster issued to the conversation that produced it, so any gateway can route a
/// <c>previous_response_id</c>. Keyed by <see cref="ConversationKey.AliasKey"/>.
/// </summary>
public interface IResponseAliasGrain : IGrainWithStringKey
{
    /// <summary>The owning conversation key, or null when this cluster never issued the id.</summary>
    [ReadOnly]
    Task<string?> GetConversation();

    Task Bind(string conversationKey);
}
