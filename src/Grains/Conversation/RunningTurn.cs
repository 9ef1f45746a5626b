using System.Runtime.CompilerServices;
using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Upstream;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Events;
using CodexLb.Protocol.Responses;
using CodexLb.Protocol.Timing;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// One turn on its owner: the events it produced so far, in order, and the clients following them. Any number of callers
/// can follow it from any position (a gateway that re-dispatched after a stall resumes where it was; a client that retried
/// through another gateway replays from the start), so the provider generates the turn once. Before the first event the
/// turn can still reject with a status; after it, failures become a <c>response.failed</c> event. Followers send
/// heartbeats while the turn is quiet, so a gateway can tell a slow turn from a dead owner. Followers are woken once per
/// burst, not per event: a caller of <see cref="NextAsync"/> gets every event the provider sent together in one answer.
/// Lives on the grain's scheduler: no locks (but for its heartbeat deadline, in the silo's <see cref="Heartbeats"/>).
/// </summary>
public sealed class RunningTurn(string turnId, ulong fingerprint) : Deadline
{
    /// <summary>
    /// When each waiting turn owes its followers a heartbeat: one queue and one timer for the silo, where a timed wait per
    /// follower made a timer, a promise and two timer-queue changes each time, nearly always to be cancelled milliseconds later.
    /// </summary>
    internal static readonly DeadlineQueue Heartbeats = new();

    private readonly List<TurnEvent> _events = new(16); // a short answer's events (about a dozen) without growing the list twice
    private FewIds _clients = new(turnId);
    private TaskCompletionSource? _changed; // made when a follower waits, completed by the next change
    private long _lastSequence = -1;
    private FewIds _reading; // followers that have not read to the end
    private Dictionary<string, int>? _lostRunTaken; // of a resumed run: each follower of the lost run, and the events it took there
    private const int MaxBurst = 128;
    private int _held; // events relayed since the followers were last woken

    public string TurnId { get; } = turnId;

    /// <summary>The ids this turn is held under on its grain (its own, then retries that attached): all go when it expires.</summary>
    public string[] Keys { get; private set; } = [turnId];

    /// <summary>The request's context and settings (<see cref="TurnFingerprint"/>): a client's retry of this turn has the same.</summary>
    public ulong Fingerprint { get; } = fingerprint;

    /// <summary>Cancelled when every client went away (or the grain deactivates): the provider is told to stop.</summary>
    public CancellationTokenSource Cancellation { get; } = new();

    /// <summary>The turn's execution, awaited on deactivation.</summary>
    public Task Execution { get; set; } = Task.CompletedTask;

    public bool Started { get; private set; }
    public bool Finished { get; private set; }
    public DateTimeOffset FinishedAt { get; private set; }

    /// <summary>A follower read the terminal event: the client has its answer.</summary>
    public bool Delivered { get; private set; }

    /// <summary>A follower that asked for events has not read to the end yet (a slow client, or one whose gateway died).</summary>
    public bool StillRead => _reading.Count > 0;

    /// <summary>
    /// Where <paramref name="from"/> (the events <paramref name="follower"/> took so far) falls in this run. A follower of a
    /// run lost with the owner also counted that run's events: from its first call here on, its count is taken as this
    /// run's start. Its client's numbering, past every number of the lost run, shows it the new run's response.created.
    /// </summary>
    public int PositionOf(string follower, int from)
    {
        if (Resumed is null) return from;
        if (_lostRunTaken?.TryGetValue(follower, out var taken) == true) return from - taken;
        if (from <= 0 || _reading.Contains(follower)) return from; // a follower of this run from its start
        (_lostRunTaken ??= new(StringComparer.Ordinal))[follower] = from;
        return 0;
    }

    /// <summary>
    /// The request went upstream on the socket: cancelling it means closing that socket. A new run of a lost background
    /// response (<see cref="Resumed"/>) counts as a run from then on.
    /// </summary>
    public bool Sent { get; set; }

    /// <summary>The provider's id of the response, from <c>response.created</c> on.</summary>
    public string? ResponseId { get; set; }

    /// <summary>Created with <c>background: true</c>: the only kind the API may cancel, and what its response object says.</summary>
    public bool Background { get; init; }

    /// <summary>The conversation the client named: its response objects say so (<see cref="TurnRequest.ConversationId"/>).</summary>
    public string? ConversationId { get; init; }

    /// <summary>
    /// A background response run again under the id its client has (its owner was lost mid-generation): its events carry
    /// that id, numbered from <see cref="ResumedResponse.SequenceOffset"/>.
    /// </summary>
    public ResumedResponse? Resumed
    {
        get;
        init
        {
            field = value;
            if (value is not null) _lastSequence = value.SequenceOffset - 1;
        }
    }

    /// <summary>Cancelled through the API (<c>POST /responses/{id}/cancel</c>): followers are told so.</summary>
    public bool CancelRequested { get; set; }

    /// <summary>How the turn ended for the client: the terminal event type, or rejected:/failed: with the code.</summary>
    public string Outcome { get; private set; } = "none";

    public void Attach(string turnId) => _clients.Add(turnId);

    /// <summary>Holds the turn under one more id (a retry that attached under its own).</summary>
    public void AddKey(string turnId) => Keys = [.. Keys, turnId];

    /// <summary>Removes a client; true when none is left.</summary>
    public bool Detach(string turnId) => _clients.Remove(turnId) && _clients.Count == 0;

    /// <param name="more">
    /// The next event is already here: the followers are woken by the last event of the burst (or every
    /// <see cref="MaxBurst"/> events of a long one, so a client never waits for a whole answer the provider sent at once).
    /// </param>
    /// <param name="completion">On a completed event: its id and usage as the owner read them (<see cref="TurnEvent.Completion"/>).</param>
    public void Relay(UpstreamEvent upstreamEvent, bool more = false, TurnCompletion? completion = null)
    {
        Started = true;
        _lastSequence++;
        if (EventTypes.IsTerminal(upstreamEvent.Type)) Outcome = EventTypes.OutcomeOf(upstreamEvent.Type);
        var data = Resumed is null ? upstreamEvent.Data : ResponseObjects.EventAsResumed(upstreamEvent.Data, ResponseId!, Resumed.SequenceOffset);
        // The provider ran a background turn in the foreground: its response objects say so, the client's must not.
        if (Background && EventTypes.CarriesResponse(upstreamEvent.Type)) data = ResponseObjects.EventAsBackground(data);
        if (ConversationId is { } conversation && EventTypes.CarriesResponse(upstreamEvent.Type)) data = ResponseObjects.EventInConversation(data, conversation);
        _events.Add(new TurnEvent(upstreamEvent.Type, data)
        {
            Completion = completion,
            CreatedId = upstreamEvent.Type == EventTypes.Created ? ResponseId : null,
        });
        if (!more || ++_held >= MaxBurst) Pulse();
    }

    public void Reject(OpenAIError error)
    {
        if (Started) { Fail(error, null); return; }
        Outcome = "rejected:" + error.Code;
        _failure = error;
        Append(Rejection(error));
    }

    public static TurnEvent Rejection(OpenAIError error) =>
        TurnEvent.Rejected(new TurnRejection(error.Status, error.Code, error.Message, error.Type, error.Param, error.RetryAfterSeconds));

    /// <summary>Ends a started stream with <c>response.failed</c> carrying the error's code.</summary>
    public void Fail(OpenAIError error, string? responseId)
    {
        if (!Started) { Reject(error); return; }
        Outcome = "failed:" + error.Code;
        _failure = error;
        Append(_failedEvent = new TurnEvent(EventTypes.Failed, ResponseEvents.BuildFailed(error, responseId, ++_lastSequence)));
    }

    private OpenAIError? _failure; // how the bridge ended or refused the turn, when it did
    private TurnEvent? _failedEvent;

    /// <summary>How the bridge ended (<see cref="Fail"/>) or refused (<see cref="Reject"/>) the turn; null when it did not.</summary>
    public OpenAIError? Failure => _failure;

    /// <summary>
    /// How a response that is over without completing reads back: the provider's latest object for it, with the status its
    /// end gives it (cancelled, through the API or by its client's leaving; failed with the bridge's error), or as the
    /// provider ended it (failed, incomplete). Null when no response was created.
    /// </summary>
    public byte[]? EndedResponse() => (NewestResponse(skip: _failedEvent) ?? Resumed?.Created) switch
    {
        null => null,
        var latest when CancelRequested || Outcome == "cancelled" => ResponseObjects.WithStatus(latest, "cancelled"),
        var latest => _failure is { } error ? ResponseObjects.AsFailed(latest, error.Code, error.Message) : latest,
    };

    /// <summary>
    /// The response object of the newest event that carries one (created, in_progress, or the terminal event); a re-run's
    /// first object until its own arrives.
    /// </summary>
    public byte[]? LatestResponse() => NewestResponse(skip: null) ?? Resumed?.Created;

    /// <summary>
    /// The response object of the newest event of a type that carries one, but <paramref name="skip"/>; only those events
    /// are read (a running long answer is thousands of deltas after its created event).
    /// </summary>
    private byte[]? NewestResponse(TurnEvent? skip)
    {
        for (var i = _events.Count - 1; i >= 0; i--)
        {
            var turnEvent = _events[i];
            if (ReferenceEquals(turnEvent, skip) || turnEvent.Rejection is not null || !EventTypes.CarriesResponse(turnEvent.Type)) continue;
            if (EventReader.ReadRawProperty(turnEvent.Data, "response"u8) is { } response) return response;
        }
        return null;
    }

    /// <summary>Marks the turn cancelled when nothing else ended it (no client is left to tell).</summary>
    public void Cancelled()
    {
        if (!Finished && Outcome == "none") Outcome = "cancelled";
    }

    public void Complete(DateTimeOffset now)
    {
        if (Finished) return;
        Finished = true;
        FinishedAt = now;
        Pulse();
    }

    private void Append(TurnEvent turnEvent)
    {
        _events.Add(turnEvent);
        Pulse();
    }

    /// <summary>Wakes the waiting followers; an event nobody waits for costs no task (all of this runs on the grain's scheduler).</summary>
    private void Pulse()
    {
        _held = 0;
        var changed = _changed;
        _changed = null;
        Heartbeats.Remove(this);
        changed?.TrySetResult();
    }

    /// <summary>
    /// A waiting follower's heartbeat is due (on the queue's timer thread): its wait ends, and its continuation goes back to
    /// the grain's scheduler, where it finds nothing new and answers a heartbeat. A late deadline of an earlier wait (any
    /// tag) only wakes a newer waiter early, which costs it one more call: the followers share the signal, so the turn
    /// keeps no wait number.
    /// </summary>
    protected override void Expire(long tag) => Volatile.Read(ref _changed)?.TrySetResult();

    /// <summary>
    /// The turn's events from <paramref name="from"/> on as soon as there are any (all of them: one answer per burst), an
    /// empty ended answer once the turn finished, or a heartbeat when it stays quiet for <paramref name="heartbeat"/>.
    /// <paramref name="follower"/> (the caller's turn id) is remembered until it has read to the end.
    /// </summary>
    // Its state machine is reused from a pool when a finished one is free on the thread or core: with 64 turns in flight only ~1 in 8 is.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<TurnEvents> NextAsync(string follower, int from, TimeSpan heartbeat, CancellationToken cancellationToken)
    {
        from = Math.Max(0, from);
        if (from >= _events.Count && !Finished)
        {
            // Completed on the grain's scheduler at the end of a burst: the waiting call answers right there (Orleans runs a
            // continuation inline on its own activation), instead of a thread-pool hop and a second trip through the queue.
            // A signal its heartbeat deadline completed is spent: this wait needs a new one.
            if (_changed is { Task.IsCompleted: true }) _changed = null;
            var signal = _changed ??= new();
            Heartbeats.Schedule(this, heartbeat, keepSooner: true); // a follower already waiting keeps its sooner heartbeat
            // Only a gateway of the build before sends a token: its cancellation ends every follower's wait (the others
            // answer a heartbeat early).
            using (cancellationToken.CanBeCanceled ? cancellationToken.UnsafeRegister(static s => ((TaskCompletionSource)s!).TrySetResult(), signal) : default)
            {
                // Back on the grain's scheduler (the events list is only touched there); nothing new means "send a heartbeat".
                await signal.Task.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
            }
            cancellationToken.ThrowIfCancellationRequested();
            if (from >= _events.Count && !Finished) return TurnEvents.Quiet;
        }
        var events = new TurnEvent[Math.Max(0, _events.Count - from)];
        _events.CopyTo(from, events, 0, events.Length);
        var terminal = events.Length > 0 && (events[^1].Rejection is not null || EventTypes.IsTerminal(events[^1].Type));
        if (terminal) Delivered = true;
        if (terminal || Finished) _reading.Remove(follower);
        else _reading.Add(follower);
        return new TurnEvents(events, Finished);
    }

    /// <summary>
    /// A few ids, nearly always one (a second client is a retry through another gateway): no set is made until a second
    /// arrives, where two sets per turn were six objects for every collection to walk.
    /// </summary>
    private struct FewIds(string? first)
    {
        private string? _one = first;
        private HashSet<string>? _more;

        public readonly int Count => _more?.Count ?? (_one is null ? 0 : 1);

        public readonly bool Contains(string id) => _more?.Contains(id) ?? _one == id;

        public bool Add(string id)
        {
            if (_more is not null) return _more.Add(id);
            if (_one is null) { _one = id; return true; }
            if (_one == id) return false;
            _more = new HashSet<string>(StringComparer.Ordinal) { _one, id };
            _one = null;
            return true;
        }

        public bool Remove(string id)
        {
            if (_more is not null) return _more.Remove(id);
            if (_one != id) return false;
            _one = null;
            return true;
        }
    }
}

/// <summary>How a re-run background response appears to its client: the object it was first told of, and where its numbering starts.</summary>
public sealed record ResumedResponse(byte[] Created, long SequenceOffset)
{
    /// <summary>What the store held for the response before this run (which counts once it asks the provider).</summary>
    public ResumableResponse? Before { get; init; }

    /// <summary>
    /// The numbers of each run start this far apart, so a client that streams the response by id (<c>starting_after</c>)
    /// gets every event of the new run whichever run its cursor came from. No run comes near it: output is bounded by
    /// <c>max_output_tokens</c> (128K tokens at most), and each event of a run carries at least one of them or is one of a
    /// few per output item.
    /// </summary>
    public const long SequenceGap = 1_000_000;
}
