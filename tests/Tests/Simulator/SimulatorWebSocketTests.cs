using System.Diagnostics;
using System.Text.Json.Nodes;
using CodexLb.UpstreamSimulator;
using static CodexLb.Tests.Simulator.SimRequests;

namespace CodexLb.Tests.Simulator;

public sealed class SimulatorWebSocketTests
{
    private static readonly JsonNode SystemPrompt = Developer("You are a simulated coding agent.");

    [Fact]
    public async Task Message_response_has_the_realistic_event_order_and_increasing_sequence_numbers()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync(new SimulatorOptions { TextDeltas = 3 });
        await using var client = await SimWsClient.ConnectAsync(sim);

        var response = await client.CreateAsync([SystemPrompt, User("say hi")]);

        Assert.True(response.IsCompleted);
        Assert.Equal(
            [
                "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
                "response.output_text.delta", "response.output_text.delta", "response.output_text.delta",
                "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed",
            ],
            response.Types);
        Assert.Equal(Enumerable.Range(0, response.Events.Count), response.Events.Select(e => e.GetProperty("sequence_number").GetInt32()));

        var deltas = string.Concat(response.Events.Where(e => e.GetProperty("type").GetString() == "response.output_text.delta")
            .Select(e => e.GetProperty("delta").GetString()));
        Assert.Equal("Simulated answer #1.", deltas);
        Assert.Equal("Simulated answer #1.", response.Text);

        var done = response.Events.Single(e => e.GetProperty("type").GetString() == "response.output_item.done").GetProperty("item");
        Assert.StartsWith("msg_", done.GetProperty("id").GetString());
        Assert.Equal(done.GetRawText(), Assert.Single(response.Output).GetRawText());
        Assert.Equal(response.ResponseId, response.Events[0].GetProperty("response").GetProperty("id").GetString());
        Assert.StartsWith("resp_", response.ResponseId);

        Assert.Equal(Tokens([SystemPrompt, User("say hi")]), response.InputTokens);
        Assert.Equal(0, response.CachedTokens);
        Assert.Equal(TokenCounter.Count(done.GetRawText()), response.OutputTokens);
        Assert.Equal(0, response.Usage.GetProperty("output_tokens_details").GetProperty("reasoning_tokens").GetInt32());
        Assert.Equal(response.InputTokens + response.OutputTokens, response.Usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task A_number_out_of_a_doubles_range_in_a_setting_is_ignored_not_fatal()
    {
        // Malformed values are ignored (the simulator does not validate like the provider); this one hung the turn.
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using var client = await SimWsClient.ConnectAsync(sim);
        var frame = SimRequests.Create([SystemPrompt, User("hi")]).TrimEnd('}') + ",\"temperature\":1e999999,\"top_p\":-1e999}";

        await client.SendAsync(frame);
        var response = await client.ReadResponseAsync();

        Assert.True(response.IsCompleted);
        Assert.Equal(1, response.Response.GetProperty("temperature").GetDouble());
    }

    [Fact]
    public async Task Chaining_on_the_same_connection_reports_anchored_context_as_cached_tokens()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using var client = await SimWsClient.ConnectAsync(sim);

        var first = await client.CreateAsync([SystemPrompt, User("first question")]);
        var second = await client.CreateAsync([User("second question")], previousResponseId: first.ResponseId);

        Assert.True(second.IsCompleted);
        var anchoredContext = first.InputTokens + first.OutputTokens;
        Assert.Equal(anchoredContext, second.CachedTokens);
        Assert.Equal(anchoredContext + Tokens(User("second question")), second.InputTokens);
        Assert.Equal("Simulated answer #2.", second.Text);

        var requests = sim.Ledger.Requests;
        Assert.Equal(2, requests.Count);
        Assert.Null(requests[0].AnchorValid);
        Assert.False(requests[0].IsDelta);
        Assert.True(requests[1].AnchorValid);
        Assert.True(requests[1].IsDelta);
        Assert.Equal(first.ResponseId, requests[1].PreviousResponseId);
        Assert.Equal(second.InputTokens, requests[1].ContextTokens);
        Assert.Equal(Tokens(User("second question")), requests[1].NewInputTokens);
        Assert.Equal(2, requests[1].IndexOnConnection);
        Assert.Equal(requests[0].ConnectionId, requests[1].ConnectionId);
    }

    [Fact]
    public async Task Full_resend_without_anchor_costs_the_same_context_but_nothing_is_cached()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using var client = await SimWsClient.ConnectAsync(sim);

        var first = await client.CreateAsync([SystemPrompt, User("q1")]);
        var anchored = await client.CreateAsync([User("q2")], previousResponseId: first.ResponseId);

        await using var other = await SimWsClient.ConnectAsync(sim);
        var full = await other.CreateAsync([SystemPrompt, User("q1"), .. first.OutputNodes, User("q2")]);

        Assert.Equal(anchored.InputTokens, full.InputTokens);
        Assert.Equal(0, full.CachedTokens);
        Assert.Equal(anchored.Text, full.Text);
    }

    [Fact]
    public async Task Resending_history_while_anchored_shows_up_as_extra_tokens()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using var client = await SimWsClient.ConnectAsync(sim);

        var first = await client.CreateAsync([SystemPrompt, User("q1")]);
        var bloated = await client.CreateAsync([SystemPrompt, User("q1"), User("q2")], previousResponseId: first.ResponseId);

        Assert.Equal(first.InputTokens + first.OutputTokens + Tokens([SystemPrompt, User("q1"), User("q2")]), bloated.InputTokens);
        Assert.Equal(3, sim.Ledger.Requests[1].InputItemCount);
    }

    [Fact]
    public async Task Anchor_from_another_connection_is_previous_response_not_found_with_status_400()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using var a = await SimWsClient.ConnectAsync(sim);
        await using var b = await SimWsClient.ConnectAsync(sim);

        var first = await a.CreateAsync([SystemPrompt, User("q1")]);
        var foreign = await b.CreateAsync([User("q2")], previousResponseId: first.ResponseId);

        Assert.Equal("error", Assert.Single(foreign.Types));
        Assert.Equal(400, foreign.ErrorStatus);
        Assert.Equal("previous_response_not_found", foreign.ErrorCode);
        Assert.Equal("invalid_request_error", foreign.Error.GetProperty("type").GetString());
        Assert.Equal("previous_response_id", foreign.Error.GetProperty("param").GetString());
        Assert.Equal($"Previous response with id '{first.ResponseId}' not found.", foreign.Error.GetProperty("message").GetString());

        var record = sim.Ledger.Requests.Single(r => r.PreviousResponseId == first.ResponseId);
        Assert.False(record.AnchorValid);
        Assert.False(record.IsDelta);
        Assert.Equal(RequestOutcome.Error, record.Outcome);
        Assert.Equal("previous_response_not_found", record.ErrorCode);
        Assert.Equal(400, record.ErrorStatus);

        // The socket stays usable: a full request succeeds.
        Assert.True((await b.CreateAsync([SystemPrompt, User("q1")])).IsCompleted);
    }

    [Fact]
    public async Task Only_the_latest_completed_response_of_the_connection_can_be_continued()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using var client = await SimWsClient.ConnectAsync(sim);

        var first = await client.CreateAsync([SystemPrompt, User("q1")]);
        var second = await client.CreateAsync([User("q2")], previousResponseId: first.ResponseId);
        var stale = await client.CreateAsync([User("q3")], previousResponseId: first.ResponseId);

        Assert.True(second.IsCompleted);
        Assert.Equal("previous_response_not_found", stale.ErrorCode);
    }

    [Fact]
    public async Task A_failed_continuation_evicts_the_cached_anchor()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using var client = await SimWsClient.ConnectAsync(sim);

        var first = await client.CreateAsync([SystemPrompt, User("q1")]);
        sim.Faults.Add(Fault.Error(500, "server_error"));
        var failed = await client.CreateAsync([User("q2")], previousResponseId: first.ResponseId);
        var retry = await client.CreateAsync([User("q2")], previousResponseId: first.ResponseId);

        Assert.Equal(500, failed.ErrorStatus);
        Assert.Equal("server_error", failed.ErrorCode);
        Assert.Equal("previous_response_not_found", retry.ErrorCode);
    }

    [Fact]
    public async Task A_bad_anchor_also_evicts_the_good_one()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using var client = await SimWsClient.ConnectAsync(sim);

        var first = await client.CreateAsync([SystemPrompt, User("q1")]);
        var bogus = await client.CreateAsync([User("q2")], previousResponseId: "resp_does_not_exist");
        var retry = await client.CreateAsync([User("q2")], previousResponseId: first.ResponseId);

        Assert.Equal("previous_response_not_found", bogus.ErrorCode);
        Assert.Equal("previous_response_not_found", retry.ErrorCode);
    }

    [Fact]
    public async Task Generate_false_answers_created_and_completed_with_a_chainable_id()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using var client = await SimWsClient.ConnectAsync(sim);

        var prewarm = await client.CreateAsync([SystemPrompt], generate: false);
        Assert.Equal(["response.created", "response.completed"], prewarm.Types);
        Assert.Empty(prewarm.Output);
        Assert.Equal(Tokens(SystemPrompt), prewarm.InputTokens);
        Assert.Equal(0, prewarm.OutputTokens);

        var turn = await client.CreateAsync([User("hello")], previousResponseId: prewarm.ResponseId);
        Assert.True(turn.IsCompleted);
        Assert.Equal(Tokens(SystemPrompt), turn.CachedTokens);
        Assert.Equal(Tokens(SystemPrompt) + Tokens(User("hello")), turn.InputTokens);

        var requests = sim.Ledger.Requests;
        Assert.False(requests[0].Generate);
        Assert.True(requests[1].Generate);
        Assert.True(requests[1].IsDelta);
    }

    [Fact]
    public async Task Run_tool_yields_reasoning_and_function_call_and_the_tool_output_gets_a_message()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using var client = await SimWsClient.ConnectAsync(sim);

        var toolTurn = await client.CreateAsync([SystemPrompt, User("please RUN_TOOL now")]);
        Assert.True(toolTurn.IsCompleted);
        var output = toolTurn.Output;
        Assert.Equal(2, output.Length);

        var reasoning = output[0];
        Assert.Equal("reasoning", reasoning.GetProperty("type").GetString());
        Assert.StartsWith("rs_", reasoning.GetProperty("id").GetString());
        Assert.False(string.IsNullOrEmpty(reasoning.GetProperty("encrypted_content").GetString()));
        Assert.NotEmpty(reasoning.GetProperty("summary").EnumerateArray());

        var call = output[1];
        Assert.Equal("function_call", call.GetProperty("type").GetString());
        Assert.Equal("exec_command", call.GetProperty("name").GetString());
        Assert.Equal("""{"cmd":"echo sim-tool-ran"}""", call.GetProperty("arguments").GetString());
        Assert.StartsWith("fc_", call.GetProperty("id").GetString());
        var callId = call.GetProperty("call_id").GetString()!;
        Assert.StartsWith("call_", callId);

        Assert.Contains("response.function_call_arguments.delta", toolTurn.Types);
        Assert.Contains("response.function_call_arguments.done", toolTurn.Types);
        Assert.Equal(TokenCounter.Count(reasoning.GetRawText()),
            toolTurn.Usage.GetProperty("output_tokens_details").GetProperty("reasoning_tokens").GetInt32());

        var answer = await client.CreateAsync([ToolOutput(callId, "sim-tool-ran\n")], previousResponseId: toolTurn.ResponseId);
        Assert.True(answer.IsCompleted);
        Assert.Equal("message", Assert.Single(answer.Output).GetProperty("type").GetString());
    }

    [Fact]
    public async Task Compaction_trigger_yields_one_compaction_item()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using var client = await SimWsClient.ConnectAsync(sim);

        var response = await client.CreateAsync([SystemPrompt, User("summarize please compaction_trigger")]);

        var item = Assert.Single(response.Output);
        Assert.Equal("compaction", item.GetProperty("type").GetString());
        Assert.StartsWith("cmp_", item.GetProperty("id").GetString());
        Assert.False(string.IsNullOrEmpty(item.GetProperty("encrypted_content").GetString()));
    }

    [Fact]
    public async Task A_second_create_while_one_is_in_flight_is_refused_and_the_first_still_completes()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        sim.Faults.Add(Fault.Delay(TimeSpan.FromMilliseconds(500), TimeSpan.Zero));
        await using var client = await SimWsClient.ConnectAsync(sim);

        await client.SendAsync(Create([SystemPrompt, User("slow one")]));
        await client.SendAsync(Create([SystemPrompt, User("impatient")]));

        var refused = await client.ReadResponseAsync();
        Assert.Equal("error", Assert.Single(refused.Types));
        Assert.Equal(400, refused.ErrorStatus);
        Assert.Equal("response_in_progress", refused.ErrorCode);

        var first = await client.ReadResponseAsync();
        Assert.True(first.IsCompleted);
        Assert.Equal(RequestOutcome.Completed, sim.Ledger.Requests[0].Outcome);
        Assert.Equal("response_in_progress", sim.Ledger.Requests[1].ErrorCode);
    }

    [Theory]
    [InlineData("/v1/responses")]
    [InlineData("/backend-api/codex/responses")]
    [InlineData("/responses")]
    public async Task Every_responses_path_serves_websockets_and_the_handshake_is_recorded(string path)
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using (var client = await SimWsClient.ConnectAsync(sim, path, "Bearer sk-abc", "responses_websockets=2026-02-06"))
        {
            Assert.True((await client.CreateAsync([User("hi")])).IsCompleted);
        }

        var snapshot = await sim.Ledger.WaitUntilAsync(s => s.Connections.Single().EndedBy != ConnectionEnd.Open, SimWsClient.Timeout);
        var connection = snapshot.Connections.Single();
        Assert.Equal(path, connection.Path);
        Assert.True(connection.HasAuthorization);
        Assert.Equal("Bearer sk-abc", connection.Authorization);
        Assert.Equal("responses_websockets=2026-02-06", connection.OpenAIBeta);
        Assert.Equal(1, connection.RequestCount);
        Assert.Equal(ConnectionEnd.ClientClosed, connection.EndedBy);
        Assert.NotNull(connection.ClosedAt);

        var request = snapshot.Requests.Single();
        Assert.Equal(SimTransport.WebSocket, request.Transport);
        Assert.Equal(connection.Id, request.ConnectionId);
        Assert.Equal("Bearer sk-abc", request.Authorization);
        Assert.True(request.RequestBytes > 0);
    }

    [Fact]
    public async Task A_handshake_without_authorization_is_recorded_as_such()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using var client = await SimWsClient.ConnectAsync(sim, authorization: null, beta: null);
        Assert.True((await client.CreateAsync([User("hi")])).IsCompleted);

        var connection = sim.Ledger.Connections.Single();
        Assert.False(connection.HasAuthorization);
        Assert.Null(connection.OpenAIBeta);
    }

    [Fact]
    public async Task Connection_lifetime_limit_answers_an_error_and_closes()
    {
        // A lifetime generous enough for the first request on a busy 2-core machine (300 ms once was not, with a build
        // running beside the suite), and a wait measured from before the connection opened.
        var lifetime = TimeSpan.FromSeconds(2);
        await using var sim = await UpstreamSimulatorHost.StartAsync(new SimulatorOptions { MaxConnectionLifetime = lifetime });
        var sinceConnect = Stopwatch.StartNew();
        await using var client = await SimWsClient.ConnectAsync(sim);
        Assert.True((await client.CreateAsync([User("early")])).IsCompleted);

        var rest = lifetime + TimeSpan.FromMilliseconds(200) - sinceConnect.Elapsed;
        if (rest > TimeSpan.Zero) await Task.Delay(rest);
        var late = await client.CreateAsync([User("late")]);

        Assert.Equal("websocket_connection_limit_reached", late.ErrorCode);
        Assert.Equal(400, late.ErrorStatus);
        Assert.Null(await client.ReceiveAsync());
        var snapshot = await sim.Ledger.WaitUntilAsync(s => s.Connections.Single().EndedBy != ConnectionEnd.Open, SimWsClient.Timeout);
        Assert.Equal(ConnectionEnd.ServerClosed, snapshot.Connections.Single().EndedBy);
    }

    [Fact]
    public async Task Invalid_json_gets_an_error_frame_with_status()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using var client = await SimWsClient.ConnectAsync(sim);

        await client.SendAsync("{not json");
        var response = await client.ReadResponseAsync();

        Assert.Equal(400, response.ErrorStatus);
        Assert.Equal("invalid_json", response.ErrorCode);
    }
}
