using CodexLb.UpstreamSimulator.Model.Generation;

namespace CodexLb.UpstreamSimulator.Model;

/// <summary>
/// The deterministic "model": decides the output items from the newest input item (and the request's tools and
/// text.format), so the same conversation always yields the same items whether it arrives anchored or as a full
/// resend.
/// </summary>
internal static class ScriptedModel
{
    public const string ToolMarker = "RUN_TOOL";
    public const string ReasoningMarker = "THINK_FIRST";
    public const string CompactionMarker = "compaction_trigger";
    public const string ToolName = "exec_command";
    public const string ToolArguments = """{"cmd":"echo sim-tool-ran"}""";

    /// <param name="assistantMessagesBefore">Assistant messages already in the context (anchor + input), so the
    /// k-th answer of a conversation reads "Simulated answer #k." however the context was delivered.</param>
    /// <param name="deltas">Text deltas the answer is streamed in (a plain answer is stretched to reach it).</param>
    public static List<OutputItem> Respond(CreateRequest request, int assistantMessagesBefore, int deltas, IdGenerator ids)
    {
        if (!request.Generate)
        {
            return [];
        }

        var text = request.NewestKind == NewestItemKind.UserMessage ? request.NewestUserText ?? "" : null;
        if (text is not null && text.Contains(ToolMarker, StringComparison.Ordinal))
        {
            return
            [
                Reasoning(ids, "**Simulating** a tool call"),
                new FunctionCallItem(ids.Next("fc"), ids.Next("call"), ToolName, ToolArguments),
            ];
        }

        if (request.NewestKind == NewestItemKind.CompactionTrigger
            || (text is not null && text.TrimEnd().EndsWith(CompactionMarker, StringComparison.Ordinal)))
        {
            var compactionId = ids.Next("cmp");
            return [new CompactionItem(compactionId, $"gAAAAA-sim-compaction-{compactionId}")];
        }

        if (ToolPolicy.Choose(request) is { } tool)
        {
            return [new FunctionCallItem(ids.Next("fc"), ids.Next("call"), tool.Name, AnswerText.Arguments(tool, request))];
        }

        // A reasoning model thinks before it answers: SDKs then echo the answer differently (the Vercel AI SDK as an
        // item_reference when it stores its responses).
        List<OutputItem> output = text is not null && text.Contains(ReasoningMarker, StringComparison.Ordinal) ? [Reasoning(ids, "**Thinking** about the answer")] : [];
        var k = assistantMessagesBefore + 1;
        if (request.Settings.Format.Kind != Settings.OutputFormatKind.Text)
        {
            output.Add(new MessageItem(ids.Next("msg"), AnswerText.Formatted(request, k))); // JSON is never stretched
            return output;
        }

        var (answer, chunks) = AnswerText.Stretch(AnswerText.Plain(request, k), deltas);
        output.Add(new MessageItem(ids.Next("msg"), answer, chunks));
        return output;
    }

    private static ReasoningItem Reasoning(IdGenerator ids, string summary)
    {
        var id = ids.Next("rs");
        return new ReasoningItem(id, summary, $"gAAAAA-sim-encrypted-{id}");
    }
}
