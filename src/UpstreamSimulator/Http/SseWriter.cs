using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Text;

namespace CodexLb.UpstreamSimulator.Http;

/// <summary>Writes pre-encoded event payloads as SSE frames: <c>event: TYPE\ndata: JSON\n\n</c>.</summary>
internal static class SseWriter
{
    // The set of event types is small and fixed, so each "event: TYPE\ndata: " prefix is encoded once.
    private static readonly ConcurrentDictionary<string, byte[]> Prefixes = new(StringComparer.Ordinal);

    public static void Write(PipeWriter writer, string type, ReadOnlySpan<byte> payload)
    {
        var prefix = Prefixes.GetOrAdd(type, static t => Encoding.UTF8.GetBytes($"event: {t}\ndata: "));
        var span = writer.GetSpan(prefix.Length + payload.Length + 2);
        prefix.CopyTo(span);
        payload.CopyTo(span[prefix.Length..]);
        span[prefix.Length + payload.Length] = (byte)'\n';
        span[prefix.Length + payload.Length + 1] = (byte)'\n';
        writer.Advance(prefix.Length + payload.Length + 2);
    }
}
