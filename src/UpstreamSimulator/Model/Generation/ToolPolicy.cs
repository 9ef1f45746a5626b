using System.Collections.Frozen;
using System.Text.RegularExpressions;
using CodexLb.UpstreamSimulator.Model.Settings;

namespace CodexLb.UpstreamSimulator.Model.Generation;

/// <summary>
/// Whether the scripted model answers a user message with a function call, and to which function. Only a user
/// message can start a call (after a tool output the model answers in text, so loops end). <c>tool_choice</c>
/// "none" never calls, a named function or "required" always does; "auto" calls a tool whose name or the first
/// sentence of whose description shares a distinctive word with the user's text ("weather" for get_weather).
/// </summary>
internal static partial class ToolPolicy
{
    /// <summary>
    /// Function tools the Codex CLI offers on every request. They are never picked by keyword: every Codex prompt
    /// would otherwise risk a call ("write", "image", "plan", "question"…). RUN_TOOL or tool_choice still call them.
    /// </summary>
    private static readonly FrozenSet<string> CodexBuiltIns = FrozenSet.ToFrozenSet(
    [
        "exec_command", "write_stdin", "shell", "local_shell", "container.exec", "apply_patch", "update_plan", "view_image",
        "request_user_input", "get_goal", "create_goal", "update_goal", "list_mcp_resources", "list_mcp_resource_templates",
        "read_mcp_resource", "spawn_agent", "send_input", "wait", "close_agent", "resume_agent",
    ], StringComparer.Ordinal);

    /// <summary>Words too generic to single out a tool (verbs every API has, function words, API vocabulary).</summary>
    private static readonly FrozenSet<string> GenericWords = FrozenSet.ToFrozenSet(
    [
        "fetch", "list", "create", "update", "call", "make", "find", "read", "write", "send", "show", "give", "take",
        "check", "retrieve", "return", "returns", "delete", "remove", "lookup", "look", "gets", "sets", "runs", "uses",
        "this", "that", "these", "those", "with", "from", "into", "onto", "when", "what", "which", "where", "whose",
        "your", "have", "will", "only", "also", "about", "given", "current", "specified", "provided", "based", "using",
        "used", "tool", "tools", "function", "functions", "value", "values", "data", "information", "info", "result",
        "results", "some", "more", "most", "other", "each", "they", "them", "there", "their", "then", "than",
        "should", "would", "could", "must", "does", "done", "like", "such", "user", "input", "output", "text",
        "string", "name", "type", "please", "help", "want", "need", "just", "very", "many", "much", "over", "under",
        "after", "before", "here", "been", "being", "were", "first", "next", "last", "time", "true", "false", "none",
    ], StringComparer.Ordinal);

    public static ToolSpec? Choose(CreateRequest request)
    {
        var settings = request.Settings;
        if (request.NewestKind != NewestItemKind.UserMessage || settings.Tools.Count == 0 || settings.ToolChoice.Mode == ToolChoiceMode.None)
        {
            return null;
        }

        var choice = settings.ToolChoice;
        if (choice.ForcedName is { } forced)
        {
            return settings.Tools.FirstOrDefault(t => t.Name == forced);
        }

        var candidates = choice.Allowed is { Count: > 0 } allowed
            ? settings.Tools.Where(t => allowed.Contains(t.Name)).ToList()
            : settings.Tools;
        var mentioned = Mentioned(candidates, request.NewestUserText);
        return choice.Mode == ToolChoiceMode.Required ? mentioned ?? candidates.FirstOrDefault() : mentioned;
    }

    /// <summary>The first tool (in the request's order) that the text mentions by one of its distinctive words.</summary>
    private static ToolSpec? Mentioned(IReadOnlyList<ToolSpec> tools, string? text)
    {
        // The Codex CLI offers only built-ins on most turns: then no word of the text can pick one, so it is not read.
        if (string.IsNullOrWhiteSpace(text) || tools.All(t => CodexBuiltIns.Contains(t.Name)))
        {
            return null;
        }

        var said = Words(text).ToHashSet(StringComparer.Ordinal);
        foreach (var tool in tools)
        {
            if (CodexBuiltIns.Contains(tool.Name))
            {
                continue;
            }

            foreach (var word in DistinctiveWords(tool))
            {
                if (said.Contains(word) || said.Contains(word + "s") || said.Contains(word + "es")
                    || (word.EndsWith('s') && said.Contains(word[..^1])))
                {
                    return tool;
                }
            }
        }

        return null;
    }

    /// <summary>Words of the name (split on separators and camelCase) and of the description's first sentence.</summary>
    internal static IEnumerable<string> DistinctiveWords(ToolSpec tool)
    {
        var description = tool.Description ?? "";
        var end = description.IndexOfAny(['.', '\n']);
        var sentence = end < 0 ? description : description[..end];
        return Words(CamelBoundary().Replace(tool.Name, " ")).Concat(Words(sentence))
            .Where(w => w.Length >= 4 && !GenericWords.Contains(w))
            .Distinct(StringComparer.Ordinal);
    }

    private static IEnumerable<string> Words(string text) =>
        WordPattern().Matches(text).Select(m => m.Value.ToLowerInvariant());

    [GeneratedRegex(@"\p{L}+", RegexOptions.CultureInvariant)]
    private static partial Regex WordPattern();

    [GeneratedRegex(@"(?<=\p{Ll})(?=\p{Lu})", RegexOptions.CultureInvariant)]
    private static partial Regex CamelBoundary();
}
