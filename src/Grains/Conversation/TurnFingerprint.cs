using System.IO.Hashing;
using System.Runtime.InteropServices;
using CodexLb.Grains.Abstractions;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// What makes two requests the same turn: the anchor, the input (by semantic fingerprint) and the settings. A client
/// that retries a turn whose answer it never got (its gateway died) sends exactly this again.
/// </summary>
public static class TurnFingerprint
{
    public static ulong Of(TurnRequest request)
    {
        var hash = t_hash ??= new XxHash3(); // a hasher's state is ~0.5 KB: one per thread, reset per turn
        hash.Reset();
        if (request.PreviousResponseId is { } previous) hash.Append(MemoryMarshal.AsBytes(previous.AsSpan()));
        hash.Append([request.Generate ? (byte)1 : (byte)0]);
        hash.Append(MemoryMarshal.AsBytes(request.InputFingerprints.AsSpan()));
        hash.Append(request.Settings);
        return hash.GetCurrentHashAsUInt64();
    }

    [ThreadStatic] private static XxHash3? t_hash;
}
