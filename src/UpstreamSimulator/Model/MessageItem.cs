using System.Text.Json;
using CodexLb.UpstreamSimulator.Wire;

namespace CodexLb.UpstreamSimulator.Model;

/// <summary>An assistant message, streamed as content_part.added, output_text.delta×N, output_text.done, content_part.done.</summary>
/// <param name="chunks">The deltas, when not an even split of the text into the requested number.</param>
internal sealed class MessageItem(string id, string text, IReadOnlyList<string>? chunks = null) : OutputItem(id)
{
    public override bool IsAssistantMessage => true;

    protected override void WriteAdded(Utf8JsonWriter w) => WriteItem(w, "in_progress", null);

    protected override void WriteDone(Utf8JsonWriter w) => WriteItem(w, "completed", text);

    protected override void WriteBody(EventBatch batch, int outputIndex, int deltas)
    {
        var w = BeginPartEvent(batch, "response.content_part.added", outputIndex);
        WritePart(w, "");
        batch.End("response.content_part.added");

        foreach (var chunk in chunks ?? Split(text, deltas))
        {
            w = BeginPartEvent(batch, "response.output_text.delta", outputIndex);
            w.WriteString("delta"u8, chunk);
            WriteNoLogprobs(w);
            batch.End("response.output_text.delta");
        }

        w = BeginPartEvent(batch, "response.output_text.done", outputIndex);
        w.WriteString("text"u8, text);
        WriteNoLogprobs(w);
        batch.End("response.output_text.done");

        w = BeginPartEvent(batch, "response.content_part.done", outputIndex);
        WritePart(w, text);
        batch.End("response.content_part.done");
    }

    private Utf8JsonWriter BeginPartEvent(EventBatch batch, string type, int outputIndex)
    {
        var w = BeginItemEvent(batch, type, Id, outputIndex);
        w.WriteNumber("content_index"u8, 0);
        return w;
    }

    private static void WritePart(Utf8JsonWriter w, string text)
    {
        w.WritePropertyName("part"u8);
        WriteTextPart(w, text);
    }

    private static void WriteTextPart(Utf8JsonWriter w, string text)
    {
        w.WriteStartObject();
        w.WriteString("type"u8, "output_text"u8);
        w.WriteString("text"u8, text);
        w.WriteStartArray("annotations"u8);
        w.WriteEndArray();
        WriteNoLogprobs(w);
        w.WriteEndObject();
    }

    /// <summary>The provider always sends <c>logprobs</c> (empty unless requested); SDK types expect the field.</summary>
    private static void WriteNoLogprobs(Utf8JsonWriter w)
    {
        w.WriteStartArray("logprobs"u8);
        w.WriteEndArray();
    }

    private void WriteItem(Utf8JsonWriter w, string status, string? completedText)
    {
        w.WriteStartObject();
        w.WriteString("id"u8, Id);
        w.WriteString("type"u8, "message"u8);
        w.WriteString("status"u8, status);
        w.WriteString("role"u8, "assistant"u8);
        w.WriteStartArray("content"u8);
        if (completedText is not null)
        {
            WriteTextPart(w, completedText);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }
}
