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
        ResponseObjects.AsListed(item, conversationId.Replace("conv_", "", StringComparison.Ordinal), checked((int)number));
}
