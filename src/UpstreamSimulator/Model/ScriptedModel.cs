namespace CodexLb.UpstreamSimulator.Model;

/// <summary>
/// The deterministic "model": decides the output items from the newest input item only, so the same
/// conversation always yields the same kinds of items whether it arrives anchored or as a full resend.
/// </summary>
internal static class ScriptedModel
{
    public const string ToolMarker = "RUN_TOOL";
    public const string CompactionMarker = "compaction_trigger";
    public const string ToolName = "exec_command";
    public const string ToolArguments = """{"cmd":"echo sim-tool-ran"}""";

    /// <param name="assistantMessagesBefore">Assistant messages already in the context (anchor + input), so the
    /// k-th answer of a conversation reads "Simulated answer #k." however the context was delivered.</param>
    public static List<OutputItem> Respond(CreateRequest request, int assistantMessagesBefore, IdGenerator ids)
    {
        if (!request.Generate)
        {
            return [];
        }

        var text = request.NewestKind == NewestItemKind.UserMessage ? request.NewestUserText ?? "" : null;
        if (text is not null && text.Contains(ToolMarker, StringComparison.Ordinal))
        {
            var reasoningId = ids.Next("rs");
            return
            [
                new ReasoningItem(reasoningId, "**Simulating** a tool call", $"gAAAAA-sim-encrypted-{reasoningId}"),
                new FunctionCallItem(ids.Next("fc"), ids.Next("call"), ToolName, ToolArguments),
            ];
        }

        if (text is not null && text.TrimEnd().EndsWith(CompactionMarker, StringComparison.Ordinal))
        {
            var compactionId = ids.Next("cmp");
            return [new CompactionItem(compactionId, $"gAAAAA-sim-compaction-{compactionId}")];
        }

        return [new MessageItem(ids.Next("msg"), $"Simulated answer #{assistantMessagesBefore + 1}.")];
    }
}
