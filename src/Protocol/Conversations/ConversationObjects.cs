using System.Buffers;
using System.Text.Json;
using CodexLb.Protocol.Responses;

namespace CodexLb.Protocol.Conversations;

/// <summary>The Conversations API's objects as the API writes them.</summary>
public static class ConversationObjects
{
    /// <summary>A new conversation id: <c>conv_</c> and 48 random hex digits (unguessable: it is the only key to its items).</summary>
    public static string NewId() => "conv_" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));

    /// <summary>Whether <paramref name="id"/> can be a conversation id of ours (a cheap check before any store read).</summary>
    public static bool IsWellFormed(string id) =>
        id.Length is > 5 and <= 128 && id.StartsWith("conv_", StringComparison.Ordinal) && !id.AsSpan(5).ContainsAnyExcept(IdCharacters);

    private static readonly SearchValues<char> IdCharacters = SearchValues.Create("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-");

    /// <summary><c>{"id","object":"conversation","created_at","metadata"}</c>; <paramref name="metadataJson"/> null = <c>{}</c>.</summary>
    public static byte[] Conversation(string id, long createdAt, string? metadataJson) => ResponseObjects.Write(writer =>
    {
        writer.WriteString("id", id);
        writer.WriteString("object", "conversation");
        writer.WriteNumber("created_at", createdAt);
        writer.WritePropertyName("metadata");
        writer.WriteRawValue(metadataJson ?? "{}", skipInputValidation: true);
    });

    public static byte[] Deleted(string id) => ResponseObjects.Write(writer =>
    {
        writer.WriteString("id", id);
        writer.WriteString("object", "conversation.deleted");
        writer.WriteBoolean("deleted", true);
    });

    /// <summary>
    /// An item as the conversation keeps it: with an <c>id</c> (made from the conversation and the item's number when the
    /// client sent none, so it stays stable) and a message's <c>status</c> and content parts (<see cref="ResponseObjects.AsListed"/>).
    /// </summary>
    public static byte[] AsKept(byte[] item, string conversationId, long number) =>
        ResponseObjects.AsListed(item, IdStem(conversationId), checked((int)number));

    /// <summary>
    /// A kept item as input for the provider: without the id <see cref="AsKept"/> made up for it (the provider never saw
    /// that id and may refuse it); ids the client or the provider gave stay.
    /// </summary>
    public static byte[] AsInput(byte[] kept, string conversationId)
    {
        var stem = IdStem(conversationId);
        if (ResponseObjects.ItemId(kept) is not { } id || !(IsMadeUp(id, "msg_", stem) || IsMadeUp(id, "item_", stem))) return kept;
        return ResponseObjects.Write(writer =>
        {
            using var document = JsonDocument.Parse(kept);
            foreach (var property in document.RootElement.EnumerateObject())
                if (!property.NameEquals("id")) property.WriteTo(writer);
        });
    }

    private static bool IsMadeUp(string id, string prefix, string stem) =>
        id.StartsWith(prefix, StringComparison.Ordinal) && id.AsSpan(prefix.Length).StartsWith(stem + "_", StringComparison.Ordinal);

    private static string IdStem(string conversationId) => conversationId.Replace("conv_", "", StringComparison.Ordinal);
}
