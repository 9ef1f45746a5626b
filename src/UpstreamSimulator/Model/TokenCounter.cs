using System.Buffers;
using System.Text.Json;
using CodexLb.UpstreamSimulator.Wire;

namespace CodexLb.UpstreamSimulator;

/// <summary>
/// The simulator's deterministic tokenizer: tokens(item) = ceil(UTF-8 length of the item re-serialised compactly
/// / 4). Re-serialisation normalises whitespace and escaping, so the count depends only on the JSON value and its
/// property order. Public so tests can compute expected usage.
/// </summary>
public static class TokenCounter
{
    public static int FromByteLength(int utf8Bytes) => (utf8Bytes + 3) / 4;

    public static int Count(JsonElement item) => new Meter().Measure(item);

    public static int Count(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return Count(doc.RootElement);
    }

    /// <summary>Reusable scratch writer for counting many items of one request.</summary>
    internal sealed class Meter
    {
        private readonly ArrayBufferWriter<byte> _buffer = new(1024);
        private readonly Utf8JsonWriter _writer;

        public Meter() => _writer = new Utf8JsonWriter(_buffer, WireJson.WriterOptions);

        public int Measure(JsonElement item)
        {
            _buffer.ResetWrittenCount();
            _writer.Reset(_buffer);
            item.WriteTo(_writer);
            _writer.Flush();
            return FromByteLength(_buffer.WrittenCount);
        }
    }
}
