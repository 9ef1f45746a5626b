namespace CodexLb.Benchmarks.Infrastructure;

/// <summary>
/// A warm conversation the way the Codex CLI drives one: each turn sends only the new user message and the
/// <c>previous_response_id</c> of the last answer (over HTTP/SSE or over the Responses websocket). A failed turn leaves
/// the anchor where it was, so the next turn continues from the last answer that arrived.
/// </summary>
public sealed class ChainSession(string id)
{
    private readonly MemoryStream _capture = new();
    private string? _previous;
    private int _turn;

    public string Id => id;

    /// <summary>Ask the simulator for answers of exactly this many text deltas (0: its default).</summary>
    public int TextDeltas { get; set; }

    public byte[] NextBody() =>
        Bodies.Create([Bodies.Message("user", $"prompt {++_turn} of session {id}: look at the repository and answer briefly")], previousResponseId: _previous,
            textDeltas: TextDeltas);

    /// <summary>The start of the body of this session's first failed HTTP turn: what a failure table cannot say.</summary>
    public string? FirstError { get; private set; }

    public async Task<TurnTiming> TurnAsync(TurnClient client, Uri url)
    {
        _capture.SetLength(0);
        var timing = await client.PostAsync(url, NextBody(), id, _capture);
        var body = _capture.GetBuffer().AsSpan(0, (int)_capture.Length);
        if (timing.Completed) _previous = Bodies.CompletedResponseId(body) ?? _previous;
        else FirstError ??= $"{timing.Status}: {System.Text.Encoding.UTF8.GetString(body[..Math.Min(body.Length, 300)])}";
        return timing;
    }

    /// <param name="socket">this session's websocket (connected with its session id).</param>
    public async Task<TurnTiming> TurnAsync(DirectWebSocket socket)
    {
        var timing = await socket.TurnAsync(NextBody());
        if (timing.Completed) _previous = socket.LastResponseId ?? _previous;
        return timing;
    }
}
