using System.Text;
using System.Text.Json;
using CodexLb.Benchmarks.Infrastructure;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Benchmarks.Scenarios;

/// <summary>
/// Upstream context tokens per turn, with and without faults: a Codex-style session (session headers, the full history
/// every request) of 17 turns: a ~50K-token developer prompt, 4 user prompts, tool calls (the simulator's RUN_TOOL
/// marker) whose outputs add ~2.3K tokens per turn. Run once clean and once with in-band simulator directives in the
/// user text ([sim:close-between-turns#…] on turn 3, [sim:close-after=3#…] on turn 10), the client retrying a turn
/// with the same input on a retryable answer (response.failed, 5xx). Per turn: the provider's context (ledger
/// ContextTokens of the completed response) vs the true conversation size (tokens of the client's input).
/// </summary>
/// <remarks>
/// The scripted model calls a tool only when the newest input item is a user message containing RUN_TOOL, so the tool
/// turns inside a prompt carry the tool output plus a short "RUN_TOOL continue" user item (standing in for the model
/// chaining tool calls); the last turn of each prompt carries the tool output alone and gets the assistant's answer.
/// Same shape as tests/Tests/Recovery/ContextGrowthTests.cs.
/// </remarks>
public static class ContextScenario
{
    private const int SystemPromptTokens = 50_000;
    private const int ToolOutputTokens = 2_300;
    private const int Turns = 17;
    private static readonly int[] UserPromptTurns = [1, 5, 9, 13];
    private static readonly int[] FinalTurns = [4, 8, 12, 17];

    private sealed record Row(int ClientTokens, int UpstreamContext, int NewSent, string Sends, int Attempts, string Label);

    private sealed record Run(List<Row> Rows, long ClientTokensSent, long UpstreamTokensSent, int FullSends, int DeltaSends);

    public static async Task RunAsync(BenchOptions options)
    {
        Log.Progress("context: starting simulator + product");
        await using var product = await Product.StartAsync(new SimulatorOptions());
        using var client = new TurnClient(4);

        var systemPrompt = Bodies.Message("developer", TextOfTokens(SystemPromptTokens));
        Log.Progress("context: clean run");
        var clean = await RunSessionAsync(client, product, systemPrompt, faults: false);
        Log.Progress("context: run with faults");
        var faulty = await RunSessionAsync(client, product, systemPrompt, faults: true);

        var table = new Table("context: upstream context tokens per turn (ledger ContextTokens) vs the true conversation size (tokens of the client's input)",
            "turn", "conv (clean)", "upstream ctx", "sent", "sends", "conv (faults)", "upstream ctx", "sent", "sends", "client attempts", "fault");
        for (var i = 0; i < Turns; i++)
        {
            var (c, f) = (clean.Rows[i], faulty.Rows[i]);
            table.Add(i + 1, c.ClientTokens, c.UpstreamContext, c.NewSent, c.Sends, f.ClientTokens, f.UpstreamContext, f.NewSent, f.Sends, f.Attempts, f.Label);
        }
        table.Print();

        var totals = new Table("context: totals", "run", "client tokens sent (all attempts)", "bridge tokens sent upstream", "full sends", "delta sends",
            "% of a stateless proxy", "max abs(upstream ctx - conv)");
        foreach (var (name, run) in new[] { ("clean", clean), ("faults", faulty) })
            totals.Add(name, run.ClientTokensSent, run.UpstreamTokensSent, run.FullSends, run.DeltaSends,
                $"{100.0 * run.UpstreamTokensSent / run.ClientTokensSent:N1}%", run.Rows.Max(r => Math.Abs(r.UpstreamContext - r.ClientTokens)));
        totals.Print();
        Log.Note("");
        Log.Note("sends: how the bridge forwarded the turn upstream (✗ = that upstream request did not complete); sent = new input tokens the bridge sent.");
        Log.Note($"context growth (clean): {(clean.Rows[^1].UpstreamContext - clean.Rows[0].UpstreamContext) / (double)(Turns - 1):N0} tokens/turn.");
    }

    private static async Task<Run> RunSessionAsync(TurnClient client, Product product, byte[] systemPrompt, bool faults)
    {
        var simulator = product.Simulator!;
        var runTag = Guid.NewGuid().ToString("N")[..8];
        var session = "ctx-" + runTag;
        var history = new List<byte[]>();
        var lastOutputs = new List<byte[]>();
        var rows = new List<Row>();
        var (clientSent, upstreamSent, fullSends, deltaSends) = (0L, 0L, 0, 0);
        var prompt = 0;
        var closedAfterPrevious = false;
        using var capture = new MemoryStream();

        for (var turn = 1; turn <= Turns; turn++)
        {
            var directive = !faults ? "" : turn switch
            {
                3 => $" [sim:close-between-turns#cbt-{runTag}]",
                10 => $" [sim:close-after=3#ca3-{runTag}]",
                _ => "",
            };
            var label = closedAfterPrevious ? "socket closed after turn " + (turn - 1) : "";
            if (directive.Length > 0) label = turn == 3 ? "[sim:close-between-turns]: socket drops after this turn" : "[sim:close-after=3]: drop mid-stream, client retries";
            closedAfterPrevious = faults && turn == 3;

            var newItems = new List<byte[]>();
            if (turn > 1 && !UserPromptTurns.Contains(turn)) newItems.Add(Bodies.FunctionOutput(LastCallId(lastOutputs), ToolOutput(turn)));
            if (UserPromptTurns.Contains(turn))
                newItems.Add(Bodies.Message("user", $"User prompt #{++prompt}: look at the repository and RUN_TOOL to inspect it (turn {turn}){directive}"));
            else if (!FinalTurns.Contains(turn))
                newItems.Add(Bodies.Message("user", $"RUN_TOOL continue with the next command (turn {turn}){directive}"));
            if (turn == 1) newItems.Insert(0, systemPrompt);

            var input = history.Concat(newItems).ToList();
            var body = Bodies.Create(input);
            var clientTokens = input.Sum(Tokens);
            var mark = LatencyScenario.LastRequestId(simulator);

            var attempts = 0;
            TurnTiming timing;
            while (true)
            {
                attempts++;
                capture.SetLength(0);
                timing = await client.PostAsync(product.GatewayResponses, body, session, capture);
                clientSent += clientTokens;
                if (timing.Completed || attempts >= 4 || !Retryable(timing, capture)) break;
            }
            if (!timing.Completed)
                throw new InvalidOperationException($"context: turn {turn} did not complete after {attempts} attempts (status {timing.Status}): " +
                                                    Encoding.UTF8.GetString(capture.ToArray()[..Math.Min(600, (int)capture.Length)]));

            var sse = capture.GetBuffer().AsSpan(0, (int)capture.Length);
            lastOutputs = Bodies.OutputItems(sse);
            var responseId = CompletedResponseId(sse);
            history = [.. input, .. lastOutputs];

            await simulator.Ledger.WaitUntilAsync(s => s.Requests.Any(r => r.ResponseId == responseId && r.Outcome == RequestOutcome.Completed), TimeSpan.FromSeconds(10));
            var sent = simulator.Ledger.Requests.Where(r => r.Id > mark).ToList();
            var completed = sent.Single(r => r.ResponseId == responseId && r.Outcome == RequestOutcome.Completed);
            var newSent = sent.Sum(r => r.NewInputTokens);
            upstreamSent += newSent;
            fullSends += sent.Count(r => !r.IsDelta);
            deltaSends += sent.Count(r => r.IsDelta);
            var sends = string.Join(" ", sent.Select(r => (r.IsDelta ? "delta" : "full") + (r.Outcome == RequestOutcome.Completed ? "" : "✗")));
            rows.Add(new Row(clientTokens, completed.ContextTokens, newSent, sends, attempts, label));
        }
        return new Run(rows, clientSent, upstreamSent, fullSends, deltaSends);
    }

    private static bool Retryable(TurnTiming timing, MemoryStream capture)
    {
        if (timing.Status >= 500 || timing.Status == 429) return true;
        if (timing.Status != 200) return false;
        var code = Bodies.ErrorCode(capture.GetBuffer().AsSpan(0, (int)capture.Length));
        return code is not ("context_length_exceeded" or "insufficient_quota" or "invalid_prompt" or "previous_response_not_found"
            or "invalid_request" or "invalid_json" or "invalid_api_key" or "request_too_large");
    }

    private static string CompletedResponseId(ReadOnlySpan<byte> sse)
    {
        var marker = "event: response.completed\ndata: "u8;
        var data = sse[(sse.LastIndexOf(marker) + marker.Length)..];
        var end = data.IndexOf((byte)'\n');
        using var document = JsonDocument.Parse(data[..(end < 0 ? data.Length : end)].ToArray());
        return document.RootElement.GetProperty("response").GetProperty("id").GetString()!;
    }

    private static string LastCallId(List<byte[]> outputs)
    {
        foreach (var output in outputs)
        {
            using var item = JsonDocument.Parse(output);
            if (item.RootElement.GetProperty("type").GetString() == "function_call") return item.RootElement.GetProperty("call_id").GetString()!;
        }
        throw new InvalidOperationException("the last response asked for no tool");
    }

    private static int Tokens(byte[] item) => TokenCounter.Count(Encoding.UTF8.GetString(item));

    /// <summary>Deterministic prose whose developer message is exactly <paramref name="tokens"/> tokens.</summary>
    private static string TextOfTokens(int tokens)
    {
        var overhead = Bodies.Message("developer", "").Length;
        var length = tokens * 4 - overhead;
        var words = new[] { "the", "agent", "must", "read", "files", "before", "editing", "them", "and", "run", "tests", "after", "each", "change", "sandbox", "policy", "tool", "output", "repository", "commit" };
        var random = new Random(50_000);
        var text = new StringBuilder(length + 16);
        while (text.Length < length) text.Append(words[random.Next(words.Length)]).Append(random.Next(12) == 0 ? ". " : " ");
        text.Length = length;
        return text.ToString();
    }

    /// <summary>A shell-like tool output of about <see cref="ToolOutputTokens"/> tokens, different every turn.</summary>
    private static string ToolOutput(int turn)
    {
        var text = new StringBuilder();
        var line = 0;
        while (Tokens(Bodies.FunctionOutput("call_0000000000000000", text.ToString())) < ToolOutputTokens)
            text.Append($"src/Module{turn:00}/Component{line:000}.cs:{line * 7 + turn}: public sealed class Component{line++} {{ /* turn {turn} */ }}\n");
        return text.ToString();
    }
}
