using System.Buffers;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text.Json;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol;
using CodexLb.Protocol.Items;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// What makes two requests the same turn: the context they ask the provider to continue (the anchor's context and the
/// input, by chain) and the settings (by meaning). Not the request's shape: a client that retries a turn whose answer it
/// never got (its gateway died) may send it differently — the Codex CLI sends an anchored turn again on a new websocket
/// as its full history without an anchor, and writes <c>client_metadata</c> in another order on every attempt.
/// </summary>
public static class TurnFingerprint
{
    /// <param name="context">
    /// The chain of the request's whole context (<see cref="ConversationTree.ContextOfAsync"/>); null when its anchor is
    /// not known (the turn is then rejected): the anchor's id and the input stand for it.
    /// </param>
    public static ulong Of(TurnRequest request, ulong? context)
    {
        var hash = t_hash ??= new XxHash3(); // a hasher's state is ~0.5 KB: one per thread, reset per turn
        hash.Reset();
        if (context is { } chain) hash.Append(MemoryMarshal.AsBytes(new ReadOnlySpan<ulong>(in chain)));
        else
        {
            if (request.PreviousResponseId is { } previous) hash.Append(MemoryMarshal.AsBytes(previous.AsSpan()));
            hash.Append(MemoryMarshal.AsBytes(request.InputFingerprints.AsSpan()));
        }
        hash.Append([request.Generate ? (byte)1 : (byte)0]);
        var settings = SettingsOf(request.Settings);
        hash.Append(MemoryMarshal.AsBytes(new ReadOnlySpan<ulong>(in settings)));
        return hash.GetCurrentHashAsUInt64();
    }

    /// <summary>
    /// The settings' meaning: properties in any order, each value by <see cref="ItemFingerprint.ComputeValue"/> (order-independent
    /// too), in one pass. <c>client_metadata</c> is left out: it is the client's bookkeeping (the Codex CLI's thread, window and turn
    /// ids), nothing the provider generates from.
    /// </summary>
    private static ulong SettingsOf(byte[] settings)
    {
        var length = settings.Length + 2;
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var json = rented.AsSpan(0, length);
            json[0] = (byte)'{';
            settings.CopyTo(json[1..]);
            json[^1] = (byte)'}';
            var reader = new Utf8JsonReader(json, JsonLimits.Reader);
            reader.Read();
            ulong sum = 0;
            Span<ulong> pair = stackalloc ulong[2];
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var metadata = reader.ValueTextEquals("client_metadata"u8);
                pair[0] = XxHash3.HashToUInt64(reader.ValueSpan);
                reader.Read();
                if (metadata) { reader.Skip(); continue; }
                pair[1] = ItemFingerprint.ComputeValue(ref reader);
                sum += XxHash3.HashToUInt64(MemoryMarshal.AsBytes(pair));
            }
            return sum;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    [ThreadStatic] private static XxHash3? t_hash;
}
