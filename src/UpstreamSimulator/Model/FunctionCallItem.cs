using System.Text.Json;
using CodexLb.UpstreamSimulator.Wire;

namespace CodexLb.UpstreamSimulator.Model;

/// <summary>A function_call item, streamed as function_call_arguments.delta×N and function_call_arguments.done.</summary>
internal sealed class FunctionCallItem(string id, string callId, string name, string arguments) : OutputItem(id)
{
    protected override void WriteAdded(Utf8JsonWriter w) => WriteItem(w, "in_progress", "");

    protected override void WriteDone(Utf8JsonWriter w) => WriteItem(w, "completed", arguments);

    protected override void WriteBody(EventBatch batch, int outputIndex, int deltas)
    {
        foreach (var chunk in Split(arguments, Math.Min(deltas, 2)))
        {
            var w = BeginItemEvent(batch, "response.function_call_arguments.delta", Id, outputIndex);
            w.WriteString("delta"u8, chunk);
            batch.End("response.function_call_arguments.delta");
        }

        var done = BeginItemEvent(batch, "response.function_call_arguments.done", Id, outputIndex);
        done.WriteString("arguments"u8, arguments);
        batch.End("response.function_call_arguments.done");
    }

    private void WriteItem(Utf8JsonWriter w, string status, string args)
    {
        w.WriteStartObject();
        w.WriteString("id"u8, Id);
        w.WriteString("type"u8, "function_call"u8);
        w.WriteString("status"u8, status);
        w.WriteString("arguments"u8, args);
        w.WriteString("call_id"u8, callId);
        w.WriteString("name"u8, name);
        w.WriteEndObject();
    }
}
