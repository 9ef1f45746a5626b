namespace CodexLb.Protocol.Events;

/// <summary>Responses event types the bridge acts on; known names are interned so relaying allocates no strings.</summary>
public static class EventTypes
{
    public const string Created = "response.created";
    public const string InProgress = "response.in_progress";
    public const string Completed = "response.completed";
    public const string Failed = "response.failed";
    public const string Incomplete = "response.incomplete";
    public const string OutputItemAdded = "response.output_item.added";
    public const string OutputItemDone = "response.output_item.done";
    public const string Error = "error";

    // The deltas first: a long answer is thousands of them, and the lookup below tries the names in this order.
    private static readonly string[] Known =
    [
        "response.output_text.delta", "response.function_call_arguments.delta", "response.reasoning_summary_text.delta",
        Created, InProgress, Completed, Failed, Incomplete, OutputItemDone, Error,
        OutputItemAdded, "response.content_part.added", "response.content_part.done",
        "response.output_text.done", "response.function_call_arguments.done",
        "response.reasoning_summary_text.done", "response.reasoning_summary_part.added",
        "response.reasoning_summary_part.done", "response.queued",
    ];

    private static readonly byte[][] KnownUtf8 = [.. Known.Select(System.Text.Encoding.UTF8.GetBytes)];

    /// <summary>
    /// The known name with these UTF-8 bytes (no string made), or a new string. Compared byte-wise in order: most names
    /// differ in length, so a miss costs a length check, where a dictionary needed the name decoded and hashed first.
    /// </summary>
    public static string Intern(ReadOnlySpan<byte> utf8)
    {
        for (var i = 0; i < KnownUtf8.Length; i++)
            if (utf8.SequenceEqual(KnownUtf8[i])) return Known[i];
        return System.Text.Encoding.UTF8.GetString(utf8);
    }

    public static bool IsTerminal(string type) => type is Completed or Failed or Incomplete;

    /// <summary>Whether an event of this type carries the whole response object (its <c>response</c> property).</summary>
    public static bool CarriesResponse(string type) => type is Created or InProgress or Completed or Failed or Incomplete or "response.queued";

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
