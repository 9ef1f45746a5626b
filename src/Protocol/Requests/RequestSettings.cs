using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace CodexLb.Protocol.Requests;

/// <summary>Reads a request's raw settings (<c>"name":value</c> pairs without braces).</summary>
public static class RequestSettings
{
    /// <summary>
    /// One setting's share of <see cref="ResponseCreateRequest.SettingsFingerprint"/>: its name and its value as sent, summed
    /// over the settings so their order does not count. <c>client_metadata</c> counts nothing: it is the client's own
    /// bookkeeping (the Codex CLI's thread, window and turn ids, a map it writes in another order on every attempt), nothing
    /// the provider generates from.
    /// </summary>
    public static ulong PairFingerprint(ReadOnlySpan<char> name, ReadOnlySpan<byte> rawValue)
    {
        if (name is "client_metadata") return 0;
        Span<ulong> pair = [XxHash3.HashToUInt64(MemoryMarshal.AsBytes(name)), XxHash3.HashToUInt64(rawValue)];
        return XxHash3.HashToUInt64(MemoryMarshal.AsBytes(pair));
    }

    /// <summary>The fingerprint of raw settings read back (a parser that wrote them sums <see cref="PairFingerprint"/> as it goes).</summary>
    public static ulong Fingerprint(ReadOnlySpan<byte> settings)
    {
        var wrapped = AsObject(settings);
        var reader = new Utf8JsonReader(wrapped, JsonLimits.Reader);
        reader.Read();
        ulong sum = 0;
        Span<char> scratch = stackalloc char[64];
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = TryCopyName(ref reader, scratch, out var length) ? scratch[..length] : reader.GetString().AsSpan();
            reader.Read();
            var start = (int)reader.TokenStartIndex;
            reader.Skip();
            sum += PairFingerprint(name, wrapped.AsSpan(start..(int)reader.BytesConsumed));
        }
        return sum;
    }

    /// <summary>
    /// Copies the property name the reader is on, unescaped, into <paramref name="scratch"/> when it surely fits (an unescaped
    /// name is never longer in characters than in bytes): a name read without making a string. False: read it as a string.
    /// </summary>
    public static bool TryCopyName(ref Utf8JsonReader reader, scoped Span<char> scratch, out int length)
    {
        length = !reader.HasValueSequence && reader.ValueSpan.Length <= scratch.Length ? reader.CopyString(scratch) : -1;
        return length >= 0;
    }

    public static string? ReadString(ReadOnlySpan<byte> settings, string name) => Events.EventReader.ReadString(AsObject(settings), name);

    /// <summary>The settings as the JSON object they came from (braces around the pairs).</summary>
    private static byte[] AsObject(ReadOnlySpan<byte> settings)
    {
        var wrapped = new byte[settings.Length + 2];
        wrapped[0] = (byte)'{';
        settings.CopyTo(wrapped.AsSpan(1));
        wrapped[^1] = (byte)'}';
        return wrapped;
    }
}
