namespace CodexLb.Benchmarks.Infrastructure;

/// <summary>
/// A warm conversation the way the Codex CLI drives one: each turn sends only the new user message and the
/// <c>previous_response_id</c> of the last answer (over HTTP/SSE or over the Responses websocket). A failed turn leaves
/// the anchor where it was, so the next turn continues from the last answer that arrived.
/// </summary>
/// <param name="anchored">false: every turn is a new one-message conversation (no <c>previous_response_id</c>), for a
/// stateless path; the client still builds, captures and reads each turn alike, so its own CPU per turn is the same on
/// every path and only the proxy differs.</param>
public sealed class ChainSession(string id, bool anchored = true)
{
    private readonly MemoryStream _capture = new();
    private string? _previous;
    private int _turn;

    public string Id => id;

    /// <summary>Ask the simulator for answers of exactly this many text deltas (0: its default).</summary>
    public int TextDeltas { get; set; }

    public byte[] NextBody() =>
        Bodies.Create([Bodies.Message("user", $"prompt {++_turn} of session {id}: look at the repository and answer briefly")],
            previousResponseId: anchored ? _previous : null,
            textDeltas: TextDeltas);

    /// <summary>
    /// This session's first failed turn: the start of what the bridge answered, the anchor the turn sent and the session's
    /// last few turns (number, anchor sent, answer's id): what a failure table cannot say.
    /// </summary>
    public string? FirstError { get; private set; }

    private readonly Queue<string> _recent = new();

    public async Task<TurnTiming> TurnAsync(TurnClient client, Uri url)
    {
        _capture.SetLength(0);
        var sent = _previous;
        var timing = await client.PostAsync(url, NextBody(), id, _capture);
        var body = _capture.GetBuffer().AsSpan(0, (int)_capture.Length);
        return Ended(timing, sent, timing.Completed ? Bodies.CompletedResponseId(body) : null,
            $"{timing.Status}: {System.Text.Encoding.UTF8.GetString(body[..Math.Min(body.Length, 300)])}");
    }

    /// <param name="socket">this session's websocket (connected with its session id).</param>
    public async Task<TurnTiming> TurnAsync(DirectWebSocket socket)
    {
        var sent = _previous;
        var timing = await socket.TurnAsync(NextBody());
        return Ended(timing, sent, timing.Completed ? socket.LastResponseId : null, $"websocket: {socket.LastFailure}");
    }

    private TurnTiming Ended(TurnTiming timing, string? sent, string? answered, string failure)
    {
        if (timing.Completed) _previous = answered ?? _previous;
        else FirstError ??= $"turn {_turn} sent previous_response_id {sent ?? "(none)"}; got {failure}; the session's turns before it: {string.Join(", ", _recent)}";
        _recent.Enqueue($"#{_turn} {sent ?? "-"} -> {(timing.Completed ? answered : "failed")}");
        if (_recent.Count > 4) _recent.Dequeue();
        return timing;
    }
}
