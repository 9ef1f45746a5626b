using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.Recovery;

/// <summary>The two kinds of client the bridge must keep whole after a fault.</summary>
public enum ClientStyle
{
    /// <summary>The Codex CLI over HTTP: session headers, the FULL history in every request, never previous_response_id.</summary>
    FullHistory,

    /// <summary>An SDK client: previous_response_id of the last completed response plus only the new items.</summary>
    PreviousResponseId,
}

/// <summary>
/// One client-side conversation through the real gateway. It keeps what a real client keeps (the history for a
/// full-history client, the last completed id for an SDK client) and builds the next request from it.
/// </summary>
public sealed class ClientConversation(HttpClient http, ClientStyle style)
{
    public const string Path = "/v1/responses";

    public ClientStyle Style { get; } = style;

    /// <summary>Full-history client: everything it would send next (system prompt, messages, outputs, tool results).</summary>
    public List<JsonNode> History { get; } = [];

    public Dictionary<string, string>? Headers { get; } = style == ClientStyle.FullHistory ? Items.Session(Guid.NewGuid().ToString()) : null;

    /// <summary>The id of the last completed response (both styles track it; only the SDK client sends it).</summary>
    public string? LastResponseId { get; private set; }

    /// <summary>Output items of the last completed response.</summary>
    public IReadOnlyList<JsonElement> LastOutputs { get; private set; } = [];

    /// <summary>Every answer the gateway gave this conversation, in order (attempts and retries included).</summary>
    public List<TurnResult> Answers { get; } = [];

    /// <summary>The body of the next turn: the full history plus the new items, or the anchor plus the new items.</summary>
    public JsonObject Next(params JsonNode[] newItems) => Next(true, newItems);

    public JsonObject Next(bool stream, params JsonNode[] newItems) => Style == ClientStyle.FullHistory
        ? Items.Body([.. History, .. newItems], stream)
        : Items.Body(newItems, stream, previousResponseId: LastResponseId);

    /// <summary>Sends a body as is (a retry sends the very same body again).</summary>
    public async Task<TurnResult> SendAsync(JsonObject body)
    {
        var result = await SseClient.PostAsync(http, Path, body.ToJsonString(), Headers);
        Answers.Add(result);
        if (Rx.IsCompleted(result)) Accept(body, result);
        return result;
    }

    /// <summary>One turn that must complete as a normal response (200, completed).</summary>
    public async Task<TurnResult> TurnAsync(params JsonNode[] newItems)
    {
        var result = await SendAsync(Next(newItems));
        Rx.AssertNormalCompleted(result);
        return result;
    }

    /// <summary>
    /// Sends a body and, like the Codex CLI, retries the very same body after a retryable answer (5xx, 429 with
    /// Retry-After, response.failed with a retryable code), up to <paramref name="maxAttempts"/> attempts in all.
    /// </summary>
    public async Task<List<TurnResult>> SendWithRetriesAsync(JsonObject body, int maxAttempts = 4)
    {
        var attempts = new List<TurnResult>();
        for (var i = 0; i < maxAttempts; i++)
        {
            var result = await SendAsync(body);
            attempts.Add(result);
            if (Rx.IsCompleted(result) || !Rx.IsRetryable(result)) break;
        }
        return attempts;
    }

    private void Accept(JsonObject body, TurnResult result)
    {
        LastResponseId = Rx.ResponseIdOf(result);
        LastOutputs = Rx.OutputsOf(result);
        if (Style != ClientStyle.FullHistory) return;
        History.Clear();
        History.AddRange(body["input"]!.AsArray().Select(i => i!.DeepClone()));
        History.AddRange(LastOutputs.Select(o => o.ToNode()));
    }

    /// <summary>The call_id of the function_call the last completed response asked for.</summary>
    public string LastCallId => LastOutputs.Single(o => o.GetProperty("type").GetString() == "function_call").GetProperty("call_id").GetString()!;
}

/// <summary>Assertions and readers shared by the recovery tests.</summary>
public static class Rx
{
    public const string PreviousResponseNotFound = "previous_response_not_found";

    public static bool IsCompleted(TurnResult r) => r.Status == HttpStatusCode.OK && (r.ContentType == "application/json"
        ? r.Json.TryGetProperty("status", out var s) && s.GetString() == "completed"
        : r.Terminal?.Type == "response.completed");

    public static string? ResponseIdOf(TurnResult r) => r.ContentType == "application/json" ? r.Json.GetProperty("id").GetString() : r.ResponseId;

    public static IReadOnlyList<JsonElement> OutputsOf(TurnResult r) => r.ContentType == "application/json"
        ? r.Json.GetProperty("output").EnumerateArray().Select(e => e.Clone()).ToList()
        : r.OutputItems;

    /// <summary>The error code the client sees: a JSON error body's, a response.failed's, or a top-level error event's.</summary>
    public static string? ErrorCodeOf(TurnResult r)
    {
        if (r.ContentType == "application/json")
            return r.Json.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object && e.TryGetProperty("code", out var c) ? c.GetString() : null;
        foreach (var evt in r.Events)
        {
            if (evt.Type == "response.failed" && evt.Data.TryGetProperty("response", out var resp) && resp.TryGetProperty("error", out var err)
                && err.ValueKind == JsonValueKind.Object && err.TryGetProperty("code", out var code))
                return code.GetString();
            if (evt.Type == "error" && evt.Data.TryGetProperty("error", out var top) && top.ValueKind == JsonValueKind.Object && top.TryGetProperty("code", out var topCode))
                return topCode.GetString();
            if (evt.Type == "error" && evt.Data.TryGetProperty("code", out var flat)) return flat.GetString();
        }
        return null;
    }

    /// <summary>Codes a client retries (see ErrorCodes.IsRetryable and the measured Codex CLI behaviour).</summary>
    public static bool IsRetryableCode(string? code) => code is not (null or "context_length_exceeded" or "insufficient_quota" or "invalid_prompt"
        or PreviousResponseNotFound or "invalid_request" or "invalid_json" or "invalid_api_key" or "request_too_large");

    /// <summary>What the Codex CLI would retry: 5xx, 429 with Retry-After, response.failed with a retryable code.</summary>
    public static bool IsRetryable(TurnResult r)
    {
        var status = (int)r.Status;
        if (status >= 500) return true;
        if (status == 429) return r.Headers.RetryAfter is not null;
        if (status == 200 && r.Terminal?.Type == "response.failed") return IsRetryableCode(ErrorCodeOf(r));
        if (status == 200 && r.Terminal is null && r.ContentType == "text/event-stream") return true; // stream closed early
        return false;
    }

    public static string Describe(TurnResult r) =>
        $"{(int)r.Status} {r.ContentType} code={ErrorCodeOf(r) ?? "-"} terminal={r.Terminal?.Type ?? "-"} retry-after={r.Headers.RetryAfter?.ToString() ?? "-"} events=[{string.Join(",", r.Events.Select(e => e.Type))}] body={(r.ContentType == "application/json" && r.RawBody.Length < 600 ? r.RawBody : "…")}";

    /// <summary>"Client sees nothing unusual": 200, SSE, created first, completed last, contiguous sequence numbers.</summary>
    public static void AssertNormalCompleted(TurnResult r)
    {
        Assert.True(r.Status == HttpStatusCode.OK, Describe(r));
        if (r.ContentType == "application/json")
        {
            Assert.True(IsCompleted(r), Describe(r));
            return;
        }
        Assert.True(r.ContentType == "text/event-stream", Describe(r));
        Assert.True(r.Events.Count >= 2, Describe(r));
        Assert.True(r.Events[0].Type == "response.created", Describe(r));
        Assert.True(r.Events[^1].Type == "response.completed", Describe(r));
        Assert.DoesNotContain(r.Events, e => e.Type is "response.failed" or "error");
        var sequence = r.Events.Select(e => e.Data.TryGetProperty("sequence_number", out var n) ? n.GetInt32() : -1).ToList();
        Assert.True(sequence.SequenceEqual(Enumerable.Range(sequence[0], sequence.Count)), "sequence numbers not contiguous: " + string.Join(",", sequence));
    }

    /// <summary>The seed regression: the client never hears previous_response_not_found for an id the cluster issued.</summary>
    public static void AssertNotPreviousResponseNotFound(TurnResult r) =>
        Assert.False(ErrorCodeOf(r) == PreviousResponseNotFound || r.RawBody.Contains(PreviousResponseNotFound, StringComparison.Ordinal),
            "the client got previous_response_not_found for an id this cluster issued: " + Describe(r));

    /// <summary>A proxy-side transient problem is never a 4xx other than a 429 with Retry-After.</summary>
    public static void AssertNever400(TurnResult r) =>
        Assert.False(r.Status == HttpStatusCode.BadRequest, "a transient, proxy-side failure was answered 400: " + Describe(r));

    public static string Marker(string name) => $"{name}-{Guid.NewGuid():N}";

    public static JsonNode User(string text) => Items.Message("user", text);
}

/// <summary>The simulator's ledger, read relative to a mark taken before a step (tests of one collection run one at a time).</summary>
public sealed class UpstreamLedger(UpstreamSimulatorHost simulator)
{
    public long Mark() => simulator.Ledger.Requests.LastOrDefault()?.Id ?? 0;

    public long ConnectionMark() => simulator.Ledger.Connections.LastOrDefault()?.Id ?? 0;

    public IReadOnlyList<RequestRecord> Since(long mark) => simulator.Ledger.Requests.Where(r => r.Id > mark).ToList();

    public IReadOnlyList<ConnectionRecord> ConnectionsSince(long mark) => simulator.Ledger.Connections.Where(c => c.Id > mark).ToList();

    public RequestRecord Of(string responseId) => simulator.Ledger.Requests.Single(r => r.ResponseId == responseId && r.Outcome == RequestOutcome.Completed);

    /// <summary>Waits until the simulator has ended the connection, then a moment for the drop to reach the bridge.</summary>
    public async Task WaitClosedAsync(long connectionId)
    {
        await simulator.Ledger.WaitUntilAsync(s => s.Connections.Any(c => c.Id == connectionId && c.EndedBy != ConnectionEnd.Open), TimeSpan.FromSeconds(30));
        await Task.Delay(TimeSpan.FromMilliseconds(400)); // the simulator aborts 100 ms after recording the close
    }
}
