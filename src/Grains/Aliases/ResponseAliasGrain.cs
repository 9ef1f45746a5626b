using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Hosting;

namespace CodexLb.Grains.Aliases;

/// <summary>A persisted pointer from one issued response id to its conversation.</summary>
public sealed class ResponseAliasGrain(
    [PersistentState("alias", StorageNames.Aliases)] IPersistentState<AliasState> alias) : Grain, IResponseAliasGrain
{
    public Task<string?> GetConversation() => Task.FromResult(alias.State.ConversationKey);

    public async Task Bind(string conversationKey)
    {
        if (alias.State.ConversationKey == conversationKey) return;
        alias.State.ConversationKey = conversationKey;
        await alias.WriteStateAsync();
    }
}

[GenerateSerializer]
public sealed class AliasState
{
    [Id(0)] public string? ConversationKey { get; set; }
}
