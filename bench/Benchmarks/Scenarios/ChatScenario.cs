using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.Benchmarks.Infrastructure;
using CodexLb.Protocol.Chat;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Benchmarks.Scenarios;

/// <summary>
/// What a Chat Completions client costs upstream through the bridge versus a stateless forward. One 20-request chat (a
/// ~4K-token system prompt, short questions, and a tool call on requests 4, 9, 14 and 19 whose ~1.5K-token result the
/// next request carries), the client resending its whole history every time, no conversation key. Per request: the
/// input items and tokens the bridge sent upstream (simulator ledger, websocket requests) against what a stateless
/// proxy sends: the same chat body translated by the bridge's own translator and posted in full to the simulator over
/// HTTP, whose ledger counts its input tokens the same way.
/// </summary>
public static class ChatScenario
{
    private const int Requests = 20;
    private const int SystemPromptTokens = 4_000;
    private const int ToolOutputTokens = 1_500;
    private static readonly int[] ToolRequests = [4, 9, 14, 19];

    private sealed record Row(int Messages, int BodyBytes, int StatelessItems, int StatelessTokens, int BridgeItems, int BridgeTokens, string Sends, int BridgeContext);

    public static async Task RunAsync(BenchOptions options)
    {
        Log.Progress("chat: starting simulator + product");
        await using var product = await Product.StartAsync(new SimulatorOptions());
        var simulator = product.Simulator!;
        using var client = new TurnClient(2);
        var chatUrl = new Uri(product.GatewayUrl, "v1/chat/completions");
        using var capture = new MemoryStream();

        var tag = Guid.NewGuid().ToString("N")[..8];
        List<JsonNode> messages = [Message("system", $"[{tag}] " + TextOfTokens(SystemPromptTokens)), Message("user", Question(1))];
        var tools = new JsonArray(new JsonObject
        {
            ["type"] = "function",
            ["function"] = new JsonObject { ["name"] = "exec_command", ["description"] = "Runs a shell command", ["parameters"] = new JsonObject { ["type"] = "object" } },
        });
        var rows = new List<Row>();
        for (var request = 1; request <= Requests; request++)
        {
            var body = Encoding.UTF8.GetBytes(new JsonObject
            {
                ["model"] = "gpt-5.5",
                ["messages"] = new JsonArray([.. messages.Select(m => m.DeepClone())]),
                ["tools"] = tools.DeepClone(),
                ["stream"] = false,
            }.ToJsonString());

            // A stateless proxy: the whole translated history, every time.
            var mark = LatencyScenario.LastRequestId(simulator);
            var direct = await client.PostAsync(product.DirectResponses, StatelessBody(body), null, capture);
            if (!direct.Completed) throw new InvalidOperationException($"chat: the direct request {request} failed ({direct.Status})");
            var stateless = simulator.Ledger.Requests.Single(r => r.Id > mark && r.Transport == SimTransport.Http);

            mark = LatencyScenario.LastRequestId(simulator);
            capture.SetLength(0);
            var turn = await client.PostAsync(chatUrl, body, null, capture);
            if (!turn.Completed)
                throw new InvalidOperationException($"chat: request {request} failed ({turn.Status}): {Encoding.UTF8.GetString(capture.ToArray())}");
            var sent = simulator.Ledger.Requests.Where(r => r.Id > mark && r.Transport == SimTransport.WebSocket).ToList();
            rows.Add(new Row(messages.Count, body.Length, stateless.InputItemCount, stateless.NewInputTokens, sent.Sum(r => r.InputItemCount),
                sent.Sum(r => r.NewInputTokens), string.Join(" ", sent.Select(r => r.IsDelta ? "delta" : "full")), sent[^1].ContextTokens));

            using var answer = JsonDocument.Parse(capture.ToArray());
            var message = answer.RootElement.GetProperty("choices")[0].GetProperty("message");
            if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
            {
                messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = null, ["tool_calls"] = JsonNode.Parse(calls.GetRawText()) });
                messages.Add(new JsonObject { ["role"] = "tool", ["tool_call_id"] = calls[0].GetProperty("id").GetString(), ["content"] = ToolOutput(request) });
            }
            else
            {
                messages.Add(Message("assistant", message.GetProperty("content").GetString()!));
                messages.Add(Message("user", Question(request + 1)));
            }
        }

        var table = new Table("chat: input sent upstream per request, a Chat Completions client resending its whole history (bridge vs a stateless forward)",
            "request", "messages", "body bytes", "stateless items", "stateless tokens", "bridge items", "bridge tokens", "bridge send", "provider context (bridge)");
        for (var i = 0; i < rows.Count; i++)
        {
            var r = rows[i];
            table.Add(i + 1, r.Messages, r.BodyBytes, r.StatelessItems, r.StatelessTokens, r.BridgeItems, r.BridgeTokens, r.Sends, r.BridgeContext);
        }
        table.Print();

        var totals = new Table("chat: totals over the 20 requests", "path", "items sent upstream", "input tokens sent upstream", "% of stateless");
        var (statelessItems, statelessTokens) = (rows.Sum(r => r.StatelessItems), rows.Sum(r => r.StatelessTokens));
        totals.Add("stateless forward", statelessItems, statelessTokens, "100%");
        totals.Add("bridge", rows.Sum(r => r.BridgeItems), rows.Sum(r => r.BridgeTokens), $"{100.0 * rows.Sum(r => r.BridgeTokens) / statelessTokens:N1}%");
        totals.Print();
        Log.Note("");
        Log.Note("stateless: the chat body translated by ChatRequestTranslator and posted whole to the simulator (ledger NewInputTokens of that request);");
        Log.Note("bridge: the websocket requests the bridge sent for the request (ledger InputItemCount / NewInputTokens); provider context = usage.input_tokens upstream.");
    }

    /// <summary>The Responses body a stateless proxy would forward: the translated settings and every item.</summary>
    private static byte[] StatelessBody(byte[] chatBody)
    {
        if (!ChatRequestTranslator.TryTranslate(chatBody, out var chat, out var error))
            throw new InvalidOperationException("chat: the bench's own body was refused: " + error!.Message);
        using var buffer = new MemoryStream();
        buffer.WriteByte((byte)'{');
        buffer.Write(chat!.Responses.Settings);
        buffer.Write(",\"stream\":false,\"store\":false,\"input\":["u8);
        for (var i = 0; i < chat.Responses.InputItems.Length; i++)
        {
            if (i > 0) buffer.WriteByte((byte)',');
            buffer.Write(chat.Responses.InputItems[i]);
        }
        buffer.Write("]}"u8);
        return buffer.ToArray();
    }

    private static JsonObject Message(string role, string content) => new() { ["role"] = role, ["content"] = content };

    private static string Question(int request) => ToolRequests.Contains(request)
        ? $"Question {request}: please RUN_TOOL to list the files that changed, then summarize them."
        : $"Question {request}: explain briefly what the module we discussed does and what to change next.";

    /// <summary>The simulator's count for plain text (a quarter of its UTF-8 bytes).</summary>
    private static int Tokens(string text) => TokenCounter.FromByteLength(Encoding.UTF8.GetByteCount(text));

    /// <summary>Deterministic prose of about <paramref name="tokens"/> tokens.</summary>
    private static string TextOfTokens(int tokens)
    {
        var words = new[] { "the", "assistant", "answers", "questions", "about", "the", "repository", "and", "keeps", "its", "answers", "short", "citing", "files", "by", "path" };
        var random = new Random(4_000);
        var text = new StringBuilder();
        while (Tokens(text.ToString()) < tokens)
            for (var i = 0; i < 64; i++) text.Append(words[random.Next(words.Length)]).Append(random.Next(12) == 0 ? ". " : " ");
        return text.ToString();
    }

    /// <summary>A shell-like tool output of about <see cref="ToolOutputTokens"/> tokens, different every time.</summary>
    private static string ToolOutput(int request)
    {
        var text = new StringBuilder();
        var line = 0;
        while (Tokens(text.ToString()) < ToolOutputTokens)
            text.Append($"M src/Feature{request:00}/File{line:000}.cs | {line * 3 + request} +++--\n").Append(line++ % 10 == 9 ? "\n" : "");
        return text.ToString();
    }
}
