using System.Text.Json;
using CodexLb.UpstreamSimulator.Wire;

namespace CodexLb.UpstreamSimulator.Model;

/// <summary>
/// One output item of a scripted response. The completed item is serialised once (<see cref="Done"/>); the same
/// bytes go into <c>response.output_item.done</c>, <c>response.completed</c> and the token count.
/// </summary>
internal abstract class OutputItem
{
    private byte[]? _done;

    protected OutputItem(string id) => Id = id;

    public string Id { get; }

    public ReadOnlySpan<byte> Done => _done ??= WireJson.Serialize(WriteDone);

    public int Tokens => TokenCounter.FromByteLength(Done.Length);

    public virtual bool IsReasoning => false;

    public virtual bool IsAssistantMessage => false;

    /// <summary>Writes the completed item object.</summary>
    protected abstract void WriteDone(Utf8JsonWriter w);

    /// <summary>Writes the item as announced by <c>response.output_item.added</c>.</summary>
    protected abstract void WriteAdded(Utf8JsonWriter w);

    /// <summary>Events between <c>output_item.added</c> and <c>output_item.done</c> (text or argument deltas).</summary>
    protected virtual void WriteBody(EventBatch batch, int outputIndex, int deltas)
    {
    }

    public void WriteEvents(EventBatch batch, int outputIndex, int deltas)
    {
        const string added = "response.output_item.added";
        var w = batch.Begin(added);
        w.WriteNumber("output_index"u8, outputIndex);
        w.WritePropertyName("item"u8);
        WriteAdded(w);
        batch.End(added);

        WriteBody(batch, outputIndex, deltas);

        const string done = "response.output_item.done";
        w = batch.Begin(done);
        w.WriteNumber("output_index"u8, outputIndex);
        w.WritePropertyName("item"u8);
        w.WriteRawValue(Done, skipInputValidation: true);
        batch.End(done);
    }

    protected static Utf8JsonWriter BeginItemEvent(EventBatch batch, string type, string itemId, int outputIndex)
    {
        var w = batch.Begin(type);
        w.WriteString("item_id"u8, itemId);
        w.WriteNumber("output_index"u8, outputIndex);
        return w;
    }

    /// <summary>Splits text into at most <paramref name="parts"/> non-empty chunks (fewer when the text is short).</summary>
    protected static IEnumerable<string> Split(string text, int parts)
    {
        parts = Math.Clamp(parts, 1, Math.Max(1, text.Length));
        var size = (text.Length + parts - 1) / parts;
        for (var i = 0; i < text.Length; i += size)
        {
            yield return text.Substring(i, Math.Min(size, text.Length - i));
        }
    }
}
