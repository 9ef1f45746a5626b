using System.Text.Json;
using CodexLb.UpstreamSimulator.Wire;

namespace CodexLb.UpstreamSimulator.Model;

/// <summary>A reasoning item with one summary part and opaque <c>encrypted_content</c> (what Codex keeps in history).</summary>
internal sealed class ReasoningItem(string id, string summary, string encryptedContent) : OutputItem(id)
{
    public override bool IsReasoning => true;

    protected override void WriteAdded(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("id"u8, Id);
        w.WriteString("type"u8, "reasoning"u8);
        w.WriteStartArray("summary"u8);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    protected override void WriteDone(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("id"u8, Id);
        w.WriteString("type"u8, "reasoning"u8);
        w.WriteStartArray("summary"u8);
        WriteSummaryPart(w, summary);
        w.WriteEndArray();
        w.WriteString("encrypted_content"u8, encryptedContent);
        w.WriteEndObject();
    }

    protected override void WriteBody(EventBatch batch, int outputIndex, int deltas)
    {
        var w = BeginSummaryEvent(batch, "response.reasoning_summary_part.added", outputIndex);
        w.WritePropertyName("part"u8);
        WriteSummaryPart(w, "");
        batch.End("response.reasoning_summary_part.added");

        w = BeginSummaryEvent(batch, "response.reasoning_summary_text.delta", outputIndex);
        w.WriteString("delta"u8, summary);
        batch.End("response.reasoning_summary_text.delta");

        w = BeginSummaryEvent(batch, "response.reasoning_summary_text.done", outputIndex);
        w.WriteString("text"u8, summary);
        batch.End("response.reasoning_summary_text.done");

        w = BeginSummaryEvent(batch, "response.reasoning_summary_part.done", outputIndex);
        w.WritePropertyName("part"u8);
        WriteSummaryPart(w, summary);
        batch.End("response.reasoning_summary_part.done");
    }

    private Utf8JsonWriter BeginSummaryEvent(EventBatch batch, string type, int outputIndex)
    {
        var w = BeginItemEvent(batch, type, Id, outputIndex);
        w.WriteNumber("summary_index"u8, 0);
        return w;
    }

    private static void WriteSummaryPart(Utf8JsonWriter w, string text)
    {
        w.WriteStartObject();
        w.WriteString("type"u8, "summary_text"u8);
        w.WriteString("text"u8, text);
        w.WriteEndObject();
    }
}
