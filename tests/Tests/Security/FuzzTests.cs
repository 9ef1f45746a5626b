using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;
using CodexLb.Protocol.Errors;
using CodexLb.Tests.Infrastructure;
using Xunit.Abstractions;

namespace CodexLb.Tests.Security;

/// <summary>
/// A bounded fuzz run against the embedded product (issue 10, "what must be true" 6): mutations of the Codex CLI's real
/// requests over HTTP and websockets, and random websocket frames, from a fixed seed. No case may get a 5xx (or a
/// retryable failure: no fault is injected, so nothing proxy-side is transient), hang past its bound, or get a non-2xx
/// that is not an OpenAI error; afterwards the product still serves and an unrelated conversation continues as a delta.
/// </summary>
[Collection(ProductCollection.Name)]
public sealed class FuzzTests(ProductFixture product, ITestOutputHelper output)
{
    public const int Seed = 20261201;
    public const int HttpCases = 6000;
    public const int FrameCases = 3000;
    private const int HttpWorkers = 4, FrameWorkers = 2;
    private static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(10);

    private readonly ConcurrentQueue<string> _failures = new();
    private readonly ConcurrentDictionary<string, int> _outcomes = new();

    [Fact]
    public async Task Mutated_codex_requests_and_random_frames_get_no_5xx_no_hang_and_leave_the_product_serving()
    {
        // A bystander conversation of another tenant: one turn before the run, one after.
        var bystander = Items.Session("fuzz-bystander-" + Guid.NewGuid());
        List<JsonNode> history = [Items.Message("developer", "You are Codex. " + new string('b', 2000)), Items.Message("user", "before the fuzz")];
        var before = await SseClient.PostAsync(product.Http, "/v1/responses", Items.Body(history), bystander);
        Assert.Equal("response.completed", before.Terminal!.Type);
        history.AddRange(before.OutputItems.Select(i => i.ToNode()));

        var random = new Random(Seed);
        var http = new WireMutator(WireMutator.Load("http_"));
        var ws = new WireMutator(WireMutator.Load("ws_"));
        var httpCases = Enumerable.Range(0, HttpCases).Select(i => http.Next(random, i, frame: false)).ToArray();
        var frameCases = Enumerable.Range(0, FrameCases).Select(i => ws.Next(random, HttpCases + i, frame: true)).ToArray();

        using var client = new HttpClient { BaseAddress = product.BaseUrl, Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.Authorization = new("Bearer", ProductFixture.SecondApiKey);
        var run = Guid.NewGuid().ToString("N")[..8];
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(
        [
            .. Enumerable.Range(0, HttpWorkers).Select(w => RunHttpAsync(client, httpCases.Where(c => c.Index % HttpWorkers == w), Items.Session($"fuzz-http-{run}-{w}"))),
            .. Enumerable.Range(0, FrameWorkers).Select(w => RunFramesAsync(frameCases.Where(c => c.Index % FrameWorkers == w), Items.Session($"fuzz-ws-{run}-{w}"))),
        ]);
        clock.Stop();

        output.WriteLine($"seed {Seed}: {HttpCases} HTTP cases and {FrameCases} websocket cases in {clock.Elapsed.TotalSeconds:F1} s");
        AssertNoFailures(HttpCases + FrameCases, Seed);

        // No crash: the product still answers, and the bystander continues as a delta on its socket.
        Assert.Equal(HttpStatusCode.OK, (await product.Http.GetAsync("/healthz")).StatusCode);
        history.Add(Items.Message("user", "after the fuzz"));
        var after = await SseClient.PostAsync(product.Http, "/v1/responses", Items.Body(history), bystander);
        Assert.Equal("response.completed", after.Terminal!.Type);
        var upstream = product.Simulator.Ledger.Requests.Single(r => r.ResponseId == after.ResponseId);
        Assert.True(upstream.IsDelta, "the bystander's next turn went upstream in full");
        Assert.Equal(before.ResponseId, upstream.PreviousResponseId);
    }

    public const int ChatCases = 3000;

    private static readonly string[] ChatFields =
        ["model", "messages", "stream", "stream_options", "tools", "tool_choice", "response_format", "n", "max_completion_tokens", "max_tokens",
         "temperature", "user", "store", "parallel_tool_calls", "reasoning_effort"];

    [Fact]
    public async Task Mutated_chat_completions_requests_get_no_5xx_no_hang_and_only_openai_errors()
    {
        var random = new Random(Seed + 1);
        var chat = new WireMutator(WireMutator.Load("chat_"), listField: "messages", fields: ChatFields);
        var cases = Enumerable.Range(0, ChatCases).Select(i => chat.Next(random, i, frame: false)).ToArray();
        using var client = new HttpClient { BaseAddress = product.BaseUrl, Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.Authorization = new("Bearer", ProductFixture.SecondApiKey);
        var run = Guid.NewGuid().ToString("N")[..8];
        await Task.WhenAll(Enumerable.Range(0, HttpWorkers).Select(w =>
            RunHttpAsync(client, cases.Where(c => c.Index % HttpWorkers == w), Items.Session($"fuzz-chat-{run}-{w}"), "/v1/chat/completions")));

        output.WriteLine($"seed {Seed + 1}: {ChatCases} chat completions cases");
        AssertNoFailures(ChatCases, Seed + 1);
        Assert.True(_outcomes.Keys.Any(o => o.StartsWith("http 200", StringComparison.Ordinal)), "no case was answered: the samples do not reach the model");
        Assert.Equal(HttpStatusCode.OK, (await product.Http.GetAsync("/healthz")).StatusCode);
    }

    public const int ForwardCases = 2000;

    /// <summary>
    /// The forwarded calls (input token counting, compaction) with the same mutations: what the bridge lets through goes
    /// to the provider as written, so a body it should have refused comes back as the provider's failure (a 502).
    /// </summary>
    [Fact]
    public async Task Mutated_codex_requests_to_input_tokens_and_compact_get_no_5xx_no_hang_and_only_openai_errors()
    {
        var random = new Random(Seed + 2);
        var http = new WireMutator(WireMutator.Load("http_"));
        var cases = Enumerable.Range(0, ForwardCases).Select(i => http.Next(random, i, frame: false)).ToArray();
        using var client = new HttpClient { BaseAddress = product.BaseUrl, Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.Authorization = new("Bearer", ProductFixture.SecondApiKey);
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, HttpWorkers).Select(w => RunHttpAsync(client, cases.Where(c => c.Index % HttpWorkers == w),
            [], w % 2 == 0 ? "/v1/responses/input_tokens" : "/backend-api/codex/responses/compact")));

        output.WriteLine($"seed {Seed + 2}: {ForwardCases} input_tokens and compact cases in {clock.Elapsed.TotalSeconds:F1} s");
        AssertNoFailures(ForwardCases, Seed + 2);
        Assert.True(_outcomes.Keys.Any(o => o.StartsWith("http 200", StringComparison.Ordinal)), "no case was forwarded: the samples do not reach the provider");
        Assert.Equal(HttpStatusCode.OK, (await product.Http.GetAsync("/healthz")).StatusCode);
    }

    /// <summary>Prints how the cases were answered, then fails with the first failures when any case failed.</summary>
    private void AssertNoFailures(int cases, int seed)
    {
        foreach (var (outcome, count) in _outcomes.OrderBy(o => o.Key)) output.WriteLine($"  {count,5}  {outcome}");
        Assert.True(_failures.IsEmpty, $"{_failures.Count} of {cases} cases failed (seed {seed}):\n" + string.Join("\n", _failures.Take(25)));
    }

    private async Task RunHttpAsync(HttpClient client, IEnumerable<FuzzCase> cases, Dictionary<string, string> session, string path = "/v1/responses")
    {
        foreach (var c in cases)
        {
            using var timeout = new CancellationTokenSource(CaseTimeout);
            RawAnswer answer;
            try
            {
                answer = await HostileClient.SendAsync(client, HttpMethod.Post, path, c.Body, session, timeout.Token);
            }
            catch (OperationCanceledException)
            {
                Fail(c, $"no answer within {CaseTimeout.TotalSeconds} s");
                continue;
            }
            catch (HttpRequestException ex)
            {
                Fail(c, "transport failure: " + ex.Message);
                continue;
            }
            Count($"http {answer.Code}" + (answer.Code >= 400 ? " " + Code(answer.Body) : ""));
            if (answer.Code >= 500) Fail(c, $"{answer.Code} {HostileClient.Shorten(answer.Body)}");
            else if (answer.Code >= 300) CheckShape(c, answer.Body);
            else if (answer.ContentType == "text/event-stream") CheckSse(c, answer.Body);
        }
    }

    private async Task RunFramesAsync(IEnumerable<FuzzCase> cases, Dictionary<string, string> session)
    {
        RawWebSocket? ws = null;
        try
        {
            foreach (var c in cases)
            {
                ws ??= await RawWebSocket.ConnectAsync(product.BaseUrl, ProductFixture.SecondApiKey, session);
                List<JsonElement>? answer;
                try
                {
                    answer = await ws.TurnAsync(c.Body, c.FrameType, CaseTimeout);
                }
                catch (OperationCanceledException)
                {
                    Fail(c, $"no answer within {CaseTimeout.TotalSeconds} s");
                    answer = null;
                }
                catch (WebSocketException)
                {
                    answer = null;
                }
                catch (JsonException)
                {
                    Fail(c, "a frame that is not JSON");
                    answer = null;
                }
                if (answer is null)
                {
                    // RFC 6455: a text frame that is not UTF-8 fails the connection (1007); anything else must be answered.
                    if (c.FrameType == WebSocketMessageType.Text && !Utf8.IsValid(c.Body)) Count("ws closed: text frame not UTF-8 (1007)");
                    else Fail(c, "the socket closed instead of answering");
                    await ws.DisposeAsync();
                    ws = null;
                    continue;
                }
                var last = answer[^1];
                var type = last.TryGetProperty("type", out var t) ? t.GetString() : null;
                if (type == "error")
                {
                    var status = last.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetInt32() : 0;
                    Count($"ws error {status} {Code(last.GetRawText())}");
                    if (status is < 400 or >= 500) Fail(c, $"error frame with status {status}: {HostileClient.Shorten(last.GetRawText())}");
                    CheckShape(c, last.GetRawText());
                }
                else
                {
                    Count($"ws {type}");
                    if (type == "response.failed") CheckFailed(c, last);
                }
            }
        }
        finally
        {
            if (ws is not null) await ws.DisposeAsync();
        }
    }

    private void CheckShape(FuzzCase c, string body)
    {
        try
        {
            HostileClient.AssertOpenAIError(body);
        }
        catch (Exception ex) when (ex is Xunit.Sdk.XunitException)
        {
            Fail(c, ex.Message);
        }
    }

    private void CheckSse(FuzzCase c, string body)
    {
        foreach (var block in body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var lines = block.Split('\n');
            if (lines.FirstOrDefault(l => l.StartsWith("event: ")) is not "event: response.failed" and not "event: error") continue;
            var data = lines.FirstOrDefault(l => l.StartsWith("data: "))?[6..] ?? "{}";
            CheckFailed(c, JsonDocument.Parse(data).RootElement);
        }
    }

    /// <summary>A response.failed is fine when the request was wrong; a retryable one means something broke proxy-side.</summary>
    private void CheckFailed(FuzzCase c, JsonElement failed)
    {
        var code = failed.TryGetProperty("response", out var r) && r.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object
            && e.TryGetProperty("code", out var k) ? k.GetString() : null;
        Count($"failed {code}");
        if (ErrorCodes.IsRetryable(code)) Fail(c, $"response.failed with retryable code {code}: {HostileClient.Shorten(failed.GetRawText())}");
    }

    private static string Code(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.GetProperty("error").GetProperty("code").GetString() ?? "?";
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return "?";
        }
    }

    private void Count(string outcome) => _outcomes.AddOrUpdate(outcome, 1, (_, n) => n + 1);

    private void Fail(FuzzCase c, string what) => _failures.Enqueue($"{c}\n    -> {what}");
}
