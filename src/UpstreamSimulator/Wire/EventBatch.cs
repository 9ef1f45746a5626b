using System.Text.Json;
using CommunityToolkit.HighPerformance.Buffers;

namespace CodexLb.UpstreamSimulator.Wire;

/// <summary>
/// All frames of one response, encoded once into a single buffer. The websocket sends each segment as one text
/// frame, SSE wraps the same bytes in <c>event:/data:</c>, so a response is serialised exactly once. The buffer is rented:
/// whoever delivers the frames disposes the batch once they are sent (both transports copy a frame on its way out); a
/// batch nobody disposes is only memory the pool does not get back.
/// </summary>
internal sealed class EventBatch : IDisposable
{
    private readonly ArrayPoolBufferWriter<byte> _buffer = new(4096);
    private readonly List<(string Type, int Start, int Length)> _frames = new(16);
    private readonly Utf8JsonWriter _writer;
    private int _frameStart;

    public EventBatch() => _writer = new Utf8JsonWriter(_buffer, WireJson.WriterOptions);

    /// <summary>No frames (never written to).</summary>
    public static EventBatch Empty { get; } = new();

    public int Count => _frames.Count;

    public string TypeAt(int index) => _frames[index].Type;

    public ReadOnlyMemory<byte> this[int index]
    {
        get
        {
            var (_, start, length) = _frames[index];
            return _buffer.WrittenMemory.Slice(start, length);
        }
    }

    /// <summary>Gives the buffer back; the frames are gone. <see cref="Empty"/>, shared, is never given back.</summary>
    public void Dispose()
    {
        if (ReferenceEquals(this, Empty)) return;
        _writer.Dispose();
        _buffer.Dispose();
    }

    /// <summary>Starts a frame object and writes its <c>type</c> property.</summary>
    public Utf8JsonWriter Begin(string type)
    {
        _writer.Flush();
        _frameStart = _buffer.WrittenCount;
        _writer.Reset(_buffer);
        _writer.WriteStartObject();
        _writer.WriteString("type"u8, type);
        return _writer;
    }

    /// <summary>Closes the frame object begun by <see cref="Begin"/>; sequence numbers are the frame indexes.</summary>
    public void End(string type, bool withSequenceNumber = true)
    {
        if (withSequenceNumber)
        {
            _writer.WriteNumber("sequence_number"u8, _frames.Count);
        }

        _writer.WriteEndObject();
        _writer.Flush();
        _frames.Add((type, _frameStart, _buffer.WrittenCount - _frameStart));
    }
}
