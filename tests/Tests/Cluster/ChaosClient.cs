using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using CodexLb.Tests.Infrastructure;
using CodexLb.Tests.Recovery;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.Cluster;

/// <summary>One attempt-level record: what a chaos client saw, for the assertions and the printed timeline.</summary>
public sealed record TurnLog(int Conversation, int Turn, double StartedAt, double EndedAt, int Attempts, string? ResponseId, int TrueTokens, List<string> Errors)
{
    /// <summary>The provider got this turn's true context, within 1% of its tokens: nothing lost, nothing sent twice.</summary>
    public void AssertTrueContext(RequestRecord upstream) =>
        Assert.True(Math.Abs(upstream.ContextTokens - TrueTokens) <= TrueTokens / 100.0,
            $"conv {Conversation} turn {Turn}: upstream context {upstream.ContextTokens} vs true {TrueTokens} tokens");

    /// <summary>An anchored client's later turn went to the provider whole: its history was resent, not only what is new.</summary>
    public bool ResentHistory(RequestRecord upstream) =>
        Turn > 1 && ChaosClient.StyleOf(Conversation) == ClientStyle.PreviousResponseId && !upstream.IsDelta;

    /// <summary><see cref="AssertTrueContext"/>, and no history resent (<see cref="ResentHistory"/>).</summary>
    public void AssertContinued(RequestRecord upstream)
    {
        AssertTrueContext(upstream);
        Assert.False(ResentHistory(upstream), $"conv {Conversation} turn {Turn} resent its history: {LedgerText.Line(upstream)}");
    }
}

/// <summary>
/// A conversation driven the way the Codex CLI drives one: each request goes to a different front door than the last
/// (gateways and silos' co-hosted endpoints, like an ingress), 4 transport retries with backoff 0.2·2^n s or
/// Retry-After on 5xx / 429 / refused connections, and 5 turn retries of the same body on a retryable
/// response.failed or a stream cut before response.completed.
/// </summary>
/// <param name="doors">The processes it sends to; null = every gateway and silo of the cluster, as they are at each request.</param>
public sealed class ChaosClient(int id, ClientStyle style, ClusterHarness cluster, Stopwatch clock, IReadOnlyList<ManagedProcess>? doors = null)
{
    /// <summary>Client <paramref name="id"/>'s style: every other one resends its whole history, the rest chain by id.</summary>
    public static ClientStyle StyleOf(int id) => id % 2 == 0 ? ClientStyle.FullHistory : ClientStyle.PreviousResponseId;

    /// <summary>Clients 0..<paramref name="count"/>-1, their styles alternating (<see cref="StyleOf"/>).</summary>
    public static List<ChaosClient> Alternating(int count, ClusterHarness cluster, Stopwatch clock, IReadOnlyList<ManagedProcess>? doors = null) =>
        Enumerable.Range(0, count).Select(i => new ChaosClient(i, StyleOf(i), cluster, clock, doors)).ToList();

    private readonly List<JsonNode> _history = [];
    private readonly Dictionary<string, string>? _headers = style == ClientStyle.FullHistory ? Items.Session(Guid.NewGuid().ToString()) : null;
    private readonly Random _random = new(id);
    private ManagedProcess? _last;

    public string? LastResponseId { get; private set; }
    public List<TurnLog> Turns { get; } = [];

    /// <summary>A turn of this client is between its start and its completion (the chaos waits for one to kill a silo under it).</summary>
    public bool InFlight => Volatile.Read(ref _inFlight) == 1;

    private int _inFlight;

    public async Task RunTurnAsync(int turn, JsonNode[] newItems)
    {
        var body = style == ClientStyle.FullHistory
            ? Items.Body([.. _history, .. newItems])
            : Items.Body(newItems, previousResponseId: LastResponseId);
        body["metadata"] = new JsonObject { ["sim_tag"] = TagOf(id, turn) }; // the ledger names each upstream request's client turn
        var trueTokens = _history.Concat(newItems).Sum(i => TokenCounter.Count(i.ToJsonString()));
        var started = clock.Elapsed.TotalSeconds;
        Volatile.Write(ref _inFlight, 1);
        try
        {
            await RunAttemptsAsync(turn, newItems, body, trueTokens, started);
        }
        finally
        {
            Volatile.Write(ref _inFlight, 0);
        }
    }

    private async Task RunAttemptsAsync(int turn, JsonNode[] newItems, JsonObject body, int trueTokens, double started)
    {
        var errors = new List<string>();
        var attempts = 0;
        for (var turnTry = 0; turnTry <= 5; turnTry++)
        {
            var result = await SendWithTransportRetriesAsync(body, errors, () => attempts++);
            if (result is not null && Rx.IsCompleted(result))
            {
                LastResponseId = Rx.ResponseIdOf(result);
                _history.AddRange(newItems.Select(i => i.DeepClone()));
                _history.AddRange(Rx.OutputsOf(result).Select(o => o.ToNode()));
                Turns.Add(new TurnLog(id, turn, started, clock.Elapsed.TotalSeconds, attempts, LastResponseId, trueTokens, errors));
                return;
            }
            if (result is not null && !Rx.IsRetryable(result))
                throw new InvalidOperationException($"conversation {id} turn {turn}: fatal answer {Rx.Describe(result)}; errors so far: {string.Join("; ", errors)}");
        }
        throw new InvalidOperationException($"conversation {id} turn {turn} did not complete: {string.Join("; ", errors)}");
    }

    /// <summary>
    /// Plain user turns one after another while <paramref name="more"/> says so for the next turn's number: the first after
    /// up to <paramref name="startSpreadMs"/>, then a pause of <paramref name="pauseMs"/> plus up to <paramref name="pauseSpreadMs"/>.
    /// </summary>
    public async Task TalkAsync(Func<int, bool> more, int startSpreadMs, int pauseMs, int pauseSpreadMs)
    {
        var random = new Random(id);
        await Task.Delay(random.Next(0, startSpreadMs));
        for (var turn = 1; more(turn); turn++)
        {
            await RunTurnAsync(turn, [Items.Message("user", $"conversation {id} turn {turn}: " + new string('u', 200))]);
            await Task.Delay(pauseMs + random.Next(0, pauseSpreadMs));
        }
    }

    /// <summary>The simulator ledger's tag of every upstream request of one client turn (<c>metadata.sim_tag</c>).</summary>
    public static string TagOf(int conversation, int turn) => $"chaos-{conversation}-{turn}";

    /// <summary>The last output asked for a tool: the next turn must answer it.</summary>
    public string? PendingCallId => _history.LastOrDefault() is JsonObject last && (string?)last["type"] == "function_call" ? (string?)last["call_id"] : null;

    private async Task<TurnResult?> SendWithTransportRetriesAsync(JsonObject body, List<string> errors, Action counted)
    {
        for (var transportTry = 0; transportTry <= 4; transportTry++)
        {
            var door = PickDoor();
            counted();
            TimeSpan? retryAfter = null;
            try
            {
                var result = await SseClient.PostAsync(cluster.CreateClient(door, TimeSpan.FromSeconds(90)), "/v1/responses", body.ToJsonString(), _headers);
                if (Rx.IsCompleted(result)) return result;
                errors.Add($"{clock.Elapsed.TotalSeconds:F1}s {door.Name}: {Rx.Describe(result)}");
                var transient = (int)result.Status >= 500 || (result.Status == HttpStatusCode.TooManyRequests && result.Headers.RetryAfter is not null);
                if (!transient) return result; // 200 with response.failed, or a client error: the turn level decides
                retryAfter = result.Headers.RetryAfter?.Delta;
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException)
            {
                // Refused or cut: the same as a stream closed before response.completed when it happens mid-stream.
                errors.Add($"{clock.Elapsed.TotalSeconds:F1}s {door.Name}: {ex.GetType().Name} {ex.Message}");
            }
            await Task.Delay(retryAfter ?? TimeSpan.FromSeconds(0.2 * Math.Pow(2, transportTry)));
        }
        return null;
    }

    private ManagedProcess PickDoor()
    {
        var all = doors ?? [.. cluster.Gateways, .. cluster.Silos];
        var open = all.Where(p => p.IsRunning && p != _last).ToList();
        if (open.Count == 0) open = [.. all];
        return _last = open[_random.Next(open.Count)];
    }
}
