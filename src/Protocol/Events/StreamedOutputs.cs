using System.Runtime.InteropServices;
using System.Text.Json;
using CodexLb.Protocol.Responses;

namespace CodexLb.Protocol.Events;

/// <summary>
/// The output items one stream carried to its client, by <c>output_index</c>, so that a new run of the same response
/// (its first run was lost mid-answer and the bridge runs it again under the same id) continues that stream as one
/// response. The client's stream helpers keep an item per index for the whole stream: the openai SDK 6 replaces its
/// snapshot at each lifecycle event and then addresses items by position, the Python SDK keeps its first snapshot, appends
/// each added item and addresses items by position, and the openai SDK 7 refuses an index added twice and a completion
/// that leaves an item unfinished. So at a new run the items the client has are closed
/// (<c>response.output_item.done</c>, status <c>incomplete</c> unless they were done), the new run's lifecycle events list
/// them ahead of its own output, and its items are numbered after them. Its terminal event passes as the provider sent
/// it: the final response is the new run's alone.
/// </summary>
public sealed class StreamedOutputs
{
    private readonly List<byte[]> _items = []; // by wire index: the item as the client last got it
    private readonly List<bool> _done = [];
    private int _shift; // how many indexes earlier runs used: added to a new run's output_index

    /// <summary>Whether a new run has begun on this stream (its events are being renumbered).</summary>
    public bool Continued => _shift > 0;

    /// <summary>Notes an event the client got (as written, after <see cref="Renumber"/>).</summary>
    public void Observe(string type, ReadOnlySpan<byte> data)
    {
        var added = type == EventTypes.OutputItemAdded;
        if (!added && type != EventTypes.OutputItemDone) return;
        if (ReadIndex(data) is not { } index || EventReader.ReadRawProperty(data, "item"u8) is not { } item) return;
        while (_items.Count <= index)
        {
            _items.Add([]);
            _done.Add(false);
        }
        _items[index] = item;
        _done[index] = !added;
    }

    /// <summary>
    /// A new run of the response begins on this stream: the events that close what the client has (numbered from
    /// <paramref name="nextSequence"/>), to be written before the new run's first event. Its events then go through
    /// <see cref="Renumber"/>.
    /// </summary>
    public List<byte[]> BeginNewRun(long nextSequence)
    {
        var closing = new List<byte[]>();
        for (var index = 0; index < _items.Count; index++)
        {
            if (_done[index] || _items[index].Length == 0) continue;
            _items[index] = ResponseObjects.WithStatus(_items[index], "incomplete");
            _done[index] = true;
            closing.Add(ResponseObjects.Write(writer =>
            {
                writer.WriteString("type", EventTypes.OutputItemDone);
                writer.WriteNumber("output_index", index);
                writer.WritePropertyName("item");
                writer.WriteRawValue(_items[index], skipInputValidation: true);
                writer.WriteNumber("sequence_number", nextSequence++);
            }));
        }
        _shift = _items.Count;
        return closing;
    }

    /// <summary>
    /// A new run's event as this stream carries it: its <c>output_index</c> past the earlier runs' items, and a lifecycle
    /// event's response listing those items ahead of its own output (a terminal one passes unchanged).
    /// </summary>
    public byte[] Renumber(string type, byte[] data)
    {
        if (_shift == 0 || EventTypes.IsTerminal(type)) return data;
        if (EventTypes.CarriesResponse(type))
            return ResponseObjects.Rewrite(data, (name, value, writer) =>
            {
                if (name != "response" || value.ValueKind != JsonValueKind.Object) return false;
                writer.WritePropertyName(name);
                writer.WriteRawValue(WithEarlierItems(JsonMarshal.GetRawUtf8Value(value)), skipInputValidation: true);
                return true;
            });
        if (ReadIndex(data) is not { } index) return data;
        return ResponseObjects.Rewrite(data, (name, _, writer) =>
        {
            if (name != "output_index") return false;
            writer.WriteNumber(name, index + _shift);
            return true;
        });
    }

    private byte[] WithEarlierItems(ReadOnlySpan<byte> response) =>
        ResponseObjects.Rewrite(response, (name, value, writer) =>
        {
            if (name != "output" || value.ValueKind != JsonValueKind.Array) return false;
            writer.WriteStartArray(name);
            for (var index = 0; index < _shift; index++)
                if (_items[index].Length > 0) writer.WriteRawValue(_items[index], skipInputValidation: true);
            foreach (var item in value.EnumerateArray()) item.WriteTo(writer);
            writer.WriteEndArray();
            return true;
        });

    private static int? ReadIndex(ReadOnlySpan<byte> data) =>
        EventReader.ReadInteger(data, "output_index"u8) is { } index and >= 0 and < 4096 ? (int)index : null;
}
