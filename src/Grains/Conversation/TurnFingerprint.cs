using System.IO.Hashing;
using System.Runtime.InteropServices;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Requests;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// What makes two requests the same turn: the context they ask the provider to continue (the anchor's context and the
/// input, by chain) and the settings (<see cref="RequestSettings.PairFingerprint"/>). Not the request's shape: a client
/// that retries a turn whose answer it never got (its gateway died) may send it differently — the Codex CLI sends an
/// anchored turn again on a new websocket as its full history without an anchor, and writes <c>client_metadata</c> in
/// another order on every attempt.
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
        // Read by the gateway's parser as it went; read back only from a caller that did not send it (an older gateway).
        var settings = request.SettingsFingerprint != 0 || request.Settings.Length == 0
            ? request.SettingsFingerprint : RequestSettings.Fingerprint(request.Settings);
        hash.Append(MemoryMarshal.AsBytes(new ReadOnlySpan<ulong>(in settings)));
        return hash.GetCurrentHashAsUInt64();
    }

    [ThreadStatic] private static XxHash3? t_hash;
}
