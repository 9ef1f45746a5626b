using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace CodexLb.UpstreamSimulator.Wire;

internal static class WireJson
{
    // Relaxed escaping keeps '<', '>', '"' and non-ASCII close to what Rust/serde clients write, and it is the
    // single canonical form used both for emitted items and for re-serialising input items when counting tokens.
    public static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    /// <summary>One JSON value written into a fresh array.</summary>
    public static byte[] Serialize(Action<Utf8JsonWriter> write, int initialCapacity = 256)
    {
        var buffer = new ArrayBufferWriter<byte>(initialCapacity);
        using (var w = new Utf8JsonWriter(buffer, WriterOptions))
        {
            write(w);
        }

        return buffer.WrittenSpan.ToArray();
    }
}
