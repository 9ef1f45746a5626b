namespace CodexLb.Protocol.Events;

/// <summary>Responses event types the bridge acts on; known names are interned so relaying allocates no strings.</summary>
public static class EventTypes
{
    public const string Created = "response.created";
    public const string InProgress = "response.in_progress";
    public const string Completed = "response.completed";
    public const string Failed = "response.failed";
    public const string Incomplete = "response.incomplete";
    public const string OutputItemDone = "response.output_item.done";
    public const string Error = "error";

    private static readonly string[] Known =
    [
        Created, InProgress, Completed, Failed, Incomplete, OutputItemDone, Error,
        "response.output_item.added", "response.content_part.added", "response.content_part.done",
        "response.output_text.delta", "response.output_text.done", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done", "response.reasoning_summary_part.added",
        "response.reasoning_summary_part.done", "response.queued",
    ];

    private static readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> Lookup =
        Known.ToDictionary(k => k, k => k).GetAlternateLookup<ReadOnlySpan<char>>();

    public static string Intern(ReadOnlySpan<byte> utf8)
    {
        Span<char> chars = stackalloc char[Math.Min(utf8.Length, 128)];
        if (utf8.Length <= 128)
        {
            var count = System.Text.Encoding.UTF8.GetChars(utf8, chars);
            if (Lookup.TryGetValue(chars[..count], out var known)) return known;
            return new string(chars[..count]);
        }
        return System.Text.Encoding.UTF8.GetString(utf8);
    }

    public static bool IsTerminal(string type) => type is Completed or Failed or Incomplete;

    /// <summary>
    /// How a turn that ended with <paramref name="type"/> is named in records and metrics: the type without its
    /// <c>response.</c> prefix; a literal for the terminal types, which end nearly every turn (no string per turn).
    /// </summary>
    public static string OutcomeOf(string type) => type switch
    {
        Completed => "completed",
        Failed => "failed",
        Incomplete => "incomplete",
        _ => type.StartsWith("response.", StringComparison.Ordinal) ? type["response.".Length..] : type,
    };
}
