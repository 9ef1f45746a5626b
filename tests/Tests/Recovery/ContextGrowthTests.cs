using System.Text;
using System.Text.Json.Nodes;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;
using Xunit.Abstractions;

namespace CodexLb.Tests.Recovery;

/// <summary>
/// The seed's measured session, replayed through the gateway as the Codex CLI sends it (session headers, the full
/// history every request): a ~50K-token developer prompt, 4 user prompts, 17 API turns with tool calls whose outputs
/// are ~2.3K tokens, and upstream faults at several turns. Healthy, the provider's context grows by the new items only
/// (≈ 50K + 2.3K per tool turn); broken (the seed's regression), every fault would cost a full resend by the client
/// and the bridge would lose its anchor for good.
/// </summary>
/// <remarks>
/// The simulator's scripted model calls a tool only when the newest input item is a user message containing
/// RUN_TOOL, and answers a tool output with a message. So the tool turns inside a user prompt's segment carry the tool
/// output plus a short RUN_TOOL "continue" user item (a stand-in for the model chaining its own tool calls); the last
/// turn of each segment carries the tool output alone and gets the assistant's message.
/// </remarks>
[Collection(ProductCollection.Name)]
public sealed class ContextGrowthTests(ProductFixture product, ITestOutputHelper output) : IDisposable
{
    private const int SystemPromptTokens = 50_000;
    private const int ToolOutputTokens = 2_300;
    private const int Turns = 17;
    private static readonly int[] UserPromptTurns = [1, 5, 9, 13];
    private static readonly int[] FinalTurns = [4, 8, 12, 17];

    private enum Injected { None, CloseAfterThisTurn, CloseBeforeCreated, CloseMidStream, AnchorForgotten }

    /// <summary>Faults by turn (1-based). A close after turn N is paid for by turn N+1.</summary>
    private static readonly Dictionary<int, Injected> Plan = new()
    {
        [3] = Injected.CloseAfterThisTurn,
        [7] = Injected.CloseBeforeCreated,
        [10] = Injected.CloseMidStream,
        [15] = Injected.AnchorForgotten,
    };

    private readonly UpstreamLedger _upstream = new(product.Simulator);

    public void Dispose() => product.Simulator.Faults.Clear();

    private static int Tokens(JsonNode item) => TokenCounter.Count(item.ToJsonString());

    private static int Tokens(JsonObject body) => body["input"]!.AsArray().Sum(i => Tokens(i!));

    [Fact]
    public async Task Codex_session_context_grows_by_new_items_only_through_upstream_faults()
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var conversation = new ClientConversation(product.Http, ClientStyle.FullHistory);
        var systemPrompt = Items.Message("developer", TextOfTokens(SystemPromptTokens, Tokens, t => Items.Message("developer", t)));
        Assert.Equal(SystemPromptTokens, Tokens(systemPrompt));

        var rows = new List<string>();
        var (totalClient, totalUpstream, fullSends, deltaSends, faultCount) = (0L, 0L, 0, 0, 0);
        var firstContext = 0;
        var lastContext = 0;
        var prompt = 0;
        var closePending = false;
        rows.Add($"{"turn",4} | {"client input",12} | {"upstream ctx",12} | {"new sent",9} | {"sends",-20} | fault");

        for (var turn = 1; turn <= Turns; turn++)
        {
            // What the client adds this turn.
            var tag = $"turn-{turn}-{run}";
            var newItems = new List<JsonNode>();
            if (turn > 1 && !UserPromptTurns.Contains(turn)) // the previous turn asked for a tool
                newItems.Add(Items.FunctionOutput(conversation.LastCallId, ToolOutput(turn)));
            if (UserPromptTurns.Contains(turn))
                newItems.Add(Rx.User($"User prompt #{++prompt}: look at the repository and RUN_TOOL to inspect it ({tag})"));
            else if (!FinalTurns.Contains(turn))
                newItems.Add(Rx.User($"RUN_TOOL continue with the next command ({tag})"));
            if (turn == 1) newItems.Insert(0, systemPrompt);

            // The fault of this turn.
            var injected = Plan.GetValueOrDefault(turn);
            var label = closePending ? $"socket closed after turn {turn - 1}" : "";
            var faultsThisTurn = closePending ? 1 : 0;
            closePending = false;
            var fault = injected switch
            {
                Injected.CloseAfterThisTurn => Fault.CloseBetweenTurns(),
                Injected.CloseBeforeCreated => Fault.CloseBefore(0),
                Injected.CloseMidStream => Fault.CloseAfter(2),
                Injected.AnchorForgotten => Fault.Error(400, "previous_response_not_found"),
                _ => null,
            };
            if (fault is not null)
            {
                product.Simulator.Faults.Add(fault.WhenTextContains(tag));
                faultCount++;
                label = injected switch
                {
                    Injected.CloseAfterThisTurn => "socket closes after this turn",
                    Injected.CloseBeforeCreated => "lost before response.created",
                    Injected.CloseMidStream => "lost mid-stream, client retries",
                    _ => "upstream previous_response_not_found",
                };
                if (injected != Injected.CloseAfterThisTurn) faultsThisTurn++;
            }

            var mark = _upstream.Mark();
            var body = conversation.Next([.. newItems]);
            var clientTokens = Tokens(body);
            var attempts = await conversation.SendWithRetriesAsync(body);
            foreach (var attempt in attempts)
            {
                Rx.AssertNotPreviousResponseNotFound(attempt);
                Rx.AssertNever400(attempt);
            }
            var completed = attempts[^1];
            Assert.True(Rx.IsCompleted(completed), $"turn {turn} never completed: {string.Join("\n", attempts.Select(Rx.Describe))}");
            Assert.True(attempts.Count == (injected == Injected.CloseMidStream ? 2 : 1),
                $"turn {turn}: {attempts.Count} client attempts: {string.Join("\n", attempts.Select(Rx.Describe))}");
            totalClient += (long)clientTokens * attempts.Count;

            var sent = _upstream.Since(mark);
            var upstream = _upstream.Of(completed.ResponseId!);
            var newSent = sent.Sum(r => r.NewInputTokens);
            var full = sent.Count(r => !r.IsDelta);
            totalUpstream += newSent;
            fullSends += full;
            deltaSends += sent.Count(r => r.IsDelta);
            if (turn == 1) firstContext = upstream.ContextTokens;
            lastContext = upstream.ContextTokens;
            var sends = string.Join(" ", sent.Select(r => (r.IsDelta ? "delta" : "full") + (r.Outcome == RequestOutcome.Completed ? "" : "✗")));
            rows.Add($"{turn,4} | {clientTokens,12:N0} | {upstream.ContextTokens,12:N0} | {newSent,9:N0} | {sends,-20} | {label}");

            // After EVERY turn: the provider holds exactly the client's conversation (within 1%) ...
            Assert.True(Math.Abs(upstream.ContextTokens - clientTokens) <= clientTokens / 100,
                $"turn {turn}: upstream context {upstream.ContextTokens} tokens vs the client's conversation {clientTokens}\n{LedgerText.Lines(sent)}");
            // ... at most one full send per fault (turn 1 is the conversation's one initial full send) ...
            var allowed = (turn == 1 ? 1 : 0) + faultsThisTurn;
            Assert.True(full <= allowed, $"turn {turn}: {full} full sends, at most {allowed} allowed\n{LedgerText.Lines(sent)}");
            // ... and a healthy turn sends exactly its new items.
            if (allowed == 0)
            {
                var delta = Assert.Single(sent);
                Assert.True(delta.IsDelta, $"turn {turn}: a healthy turn went upstream as a full send\n{LedgerText.Lines(sent)}");
                Assert.Equal(newItems.Sum(Tokens), delta.NewInputTokens);
            }

            if (injected == Injected.CloseAfterThisTurn)
            {
                closePending = true;
                await _upstream.WaitClosedAsync(upstream.ConnectionId!.Value);
            }
        }

        foreach (var row in rows) output.WriteLine(row);
        output.WriteLine("");
        output.WriteLine($"turns {Turns}, faults {faultCount}, user prompts {UserPromptTurns.Length}, tool calls {Turns - FinalTurns.Length}");
        output.WriteLine($"context: first turn {firstContext:N0} tokens, last turn {lastContext:N0} tokens, growth {(lastContext - firstContext) / (double)(Turns - 1):N0} tokens/turn");
        output.WriteLine($"client sent {totalClient:N0} tokens in all (full history every request, retries included)");
        output.WriteLine($"bridge sent upstream {totalUpstream:N0} tokens in all ({fullSends} full sends, {deltaSends} deltas): {100.0 * totalUpstream / totalClient:N1}% of what a stateless proxy would forward");
        Assert.True(fullSends <= 1 + faultCount, $"{fullSends} full sends for {faultCount} faults");
    }

    /// <summary>Deterministic prose whose item is exactly <paramref name="tokens"/> tokens (ASCII, nothing JSON escapes).</summary>
    private static string TextOfTokens(int tokens, Func<JsonNode, int> count, Func<string, JsonNode> wrap)
    {
        var overhead = Encoding.UTF8.GetByteCount(wrap("").ToJsonString());
        var length = tokens * 4 - overhead;
        var words = new[] { "the", "agent", "must", "read", "files", "before", "editing", "them", "and", "run", "tests", "after", "each", "change", "sandbox", "policy", "tool", "output", "repository", "commit" };
        var random = new Random(50_000);
        var text = new StringBuilder(length + 16);
        while (text.Length < length) text.Append(words[random.Next(words.Length)]).Append(random.Next(12) == 0 ? ". " : " ");
        text.Length = length;
        var result = text.ToString();
        Assert.Equal(tokens, count(wrap(result)));
        return result;
    }

    /// <summary>A shell-like tool output of about <see cref="ToolOutputTokens"/> tokens, different every turn.</summary>
    private static string ToolOutput(int turn)
    {
        var text = new StringBuilder();
        var line = 0;
        while (Tokens(Items.FunctionOutput("call_0000000000000000", text.ToString())) < ToolOutputTokens)
            text.Append($"src/Module{turn:00}/Component{line:000}.cs:{line * 7 + turn}: public sealed class Component{line++} {{ /* turn {turn} */ }}\n");
        return text.ToString();
    }
}
