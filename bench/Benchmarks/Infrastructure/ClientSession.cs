namespace CodexLb.Benchmarks.Infrastructure;

public enum BodyStyle
{
    /// <summary>The same one-message body every turn (upstream work identical on both paths).</summary>
    Single,

    /// <summary>Codex CLI style: the full history every turn (user messages + the answers), restarted every <see cref="ClientSession.CodexCycle"/> turns.</summary>
    Codex,
}

/// <summary>One client-side conversation: its session id (sent as thread-id/session-id) and what it sends next.</summary>
public sealed class ClientSession(string id, BodyStyle style)
{
    public const int CodexCycle = 8;

    private byte[] _single = Bodies.Create([Bodies.Message("user", $"benchmark turn of session {id}: answer briefly")]);
    private int _textDeltas;

    /// <summary>Single style: ask the simulator for answers of exactly this many text deltas (0: its default).</summary>
    public int TextDeltas
    {
        get => _textDeltas;
        set
        {
            _textDeltas = value;
            _single = Bodies.Create([Bodies.Message("user", $"benchmark turn of session {Id}: answer briefly")], textDeltas: value);
        }
    }
    private readonly List<byte[]> _history = [];
    private int _turn;

    public string Id { get; } = id;

    public BodyStyle Style { get; } = style;

    /// <summary>Where a Codex-style session captures the answer (its output items join the history).</summary>
    public MemoryStream? Capture { get; } = style == BodyStyle.Codex ? new MemoryStream() : null;

    public byte[] NextBody()
    {
        if (Style == BodyStyle.Single) return _single;
        if (_turn++ % CodexCycle == 0) _history.Clear();
        _history.Add(Bodies.Message("user", $"prompt {_turn} of session {Id}: look at the repository and answer briefly"));
        Capture!.SetLength(0);
        return Bodies.Create(_history);
    }

    /// <summary>After a turn: a Codex-style client appends the answer's output items to its history.</summary>
    public void Accept(TurnTiming timing)
    {
        if (Style == BodyStyle.Single) return;
        if (!timing.Completed)
        {
            _history.RemoveAt(_history.Count - 1);
            return;
        }
        _history.AddRange(Bodies.OutputItems(Capture!.GetBuffer().AsSpan(0, (int)Capture.Length)));
    }

    public async Task<TurnTiming> TurnAsync(TurnClient client, Uri url)
    {
        var timing = await client.PostAsync(url, NextBody(), Id, Capture);
        Accept(timing);
        return timing;
    }
}
