using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using CodexLb.UpstreamSimulator;
using static CodexLb.Tests.Simulator.SimRequests;

namespace CodexLb.Tests.Simulator;

public sealed class SimulatorFaultTests
{
    private static readonly JsonNode[] Turn = [Developer("sys"), User("hello")];

    [Fact]
    public async Task Close_before_event_zero_closes_without_any_frame()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        sim.Faults.Add(Fault.CloseBefore(0));
        await using var client = await SimWsClient.ConnectAsync(sim);

        var response = await client.CreateAsync(Turn);

        Assert.True(response.Closed);
        Assert.Empty(response.Events);
        var snapshot = await sim.Ledger.WaitUntilAsync(s => s.Connections.Single().EndedBy != ConnectionEnd.Open, SimWsClient.Timeout);
        Assert.Equal(ConnectionEnd.ClosedByFault, snapshot.Connections.Single().EndedBy);
        Assert.Equal(RequestOutcome.ClosedByFault, snapshot.Requests.Single().Outcome);
        Assert.Equal("CloseBeforeEvent(0)", snapshot.Requests.Single().Fault);
    }

    [Fact]
    public async Task Close_after_event_n_sends_exactly_n_plus_one_frames()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        sim.Faults.Add(Fault.CloseAfter(3));
        await using var client = await SimWsClient.ConnectAsync(sim);

        var response = await client.CreateAsync(Turn);

        Assert.True(response.Closed);
        Assert.Equal(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"], response.Types);
        Assert.Equal(RequestOutcome.ClosedByFault, sim.Ledger.Requests.Single().Outcome);
    }

    [Fact]
    public async Task Dropped_connections_always_deliver_exactly_the_frames_before_the_fault()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        sim.Faults.Add(Fault.CloseAfter(5).Forever());

        var counts = await Task.WhenAll(Enumerable.Range(0, 30).Select(async _ =>
        {
            await using var client = await SimWsClient.ConnectAsync(sim);
            var response = await client.CreateAsync(Turn);
            Assert.True(response.Closed);
            return response.Events.Count;
        }));

        Assert.All(counts, c => Assert.Equal(6, c));
    }

    [Fact]
    public async Task A_graceful_fault_close_sends_close_frame_1011()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        sim.Faults.Add(Fault.CloseAfter(0) with { Graceful = true });
        await using var client = await SimWsClient.ConnectAsync(sim);

        var response = await client.CreateAsync(Turn);

        Assert.True(response.Closed);
        Assert.Equal(["response.created"], response.Types);
        Assert.Equal(WebSocketCloseStatus.InternalServerError, client.Socket.CloseStatus);
    }

    [Fact]
    public async Task Close_between_turns_completes_the_response_then_closes()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        sim.Faults.Add(Fault.CloseBetweenTurns());
        await using var client = await SimWsClient.ConnectAsync(sim);

        var response = await client.CreateAsync(Turn);
        Assert.True(response.IsCompleted);
        Assert.Null(await client.ReceiveAsync());
        Assert.True(client.Closed);

        var snapshot = await sim.Ledger.WaitUntilAsync(s => s.Connections.Single().EndedBy != ConnectionEnd.Open, SimWsClient.Timeout);
        Assert.Equal(ConnectionEnd.ClosedByFault, snapshot.Connections.Single().EndedBy);
        Assert.Equal(RequestOutcome.Completed, snapshot.Requests.Single().Outcome);
    }

    [Fact]
    public async Task Refused_handshake_answers_the_status_and_retry_after()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        sim.Faults.Add(Fault.RefuseHandshake(429, TimeSpan.FromSeconds(3)));

        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(sim.WebSocketUrl, CancellationToken.None));
        Assert.Equal(HttpStatusCode.TooManyRequests, socket.HttpStatusCode);
        Assert.Equal("3", Assert.Single(socket.HttpResponseHeaders!["Retry-After"]));

        // One-shot: the next connection is accepted.
        await using var client = await SimWsClient.ConnectAsync(sim);
        Assert.True((await client.CreateAsync(Turn)).IsCompleted);

        var connections = sim.Ledger.Connections;
        Assert.Equal(ConnectionEnd.HandshakeRefused, connections[0].EndedBy);
        Assert.Equal(ConnectionEnd.Open, connections[1].EndedBy);
    }

    [Fact]
    public async Task Refused_handshake_defaults_to_503()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        sim.Faults.Add(new Fault(FaultKind.RefuseHandshake));

        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(sim.WebSocketUrl, CancellationToken.None));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, socket.HttpStatusCode);
    }

    [Fact]
    public async Task Accept_then_fail_handshake_closes_the_fresh_socket()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        sim.Faults.Add(Fault.FailHandshake());
        await using var client = await SimWsClient.ConnectAsync(sim);

        Assert.Null(await client.ReceiveAsync());
        var snapshot = await sim.Ledger.WaitUntilAsync(s => s.Connections.Single().EndedBy != ConnectionEnd.Open, SimWsClient.Timeout);
        Assert.Equal(ConnectionEnd.ClosedByFault, snapshot.Connections.Single().EndedBy);
        Assert.Equal("FailHandshake", snapshot.Connections.Single().Fault);
    }

    [Fact]
    public async Task Error_fault_sends_one_error_frame_with_the_chosen_status_code_and_message()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        sim.Faults.Add(Fault.Error(503, "server_is_overloaded", "try later"));
        await using var client = await SimWsClient.ConnectAsync(sim);

        var response = await client.CreateAsync(Turn);

        Assert.Equal("error", Assert.Single(response.Types));
        Assert.Equal(503, response.ErrorStatus);
        Assert.Equal("server_is_overloaded", response.ErrorCode);
        Assert.Equal("try later", response.Error.GetProperty("message").GetString());
        Assert.Equal("server_error", response.Error.GetProperty("type").GetString());
        Assert.True((await client.CreateAsync(Turn)).IsCompleted); // one-shot, socket still open
    }

    [Fact]
    public async Task Response_failed_fault_ends_with_response_failed()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        sim.Faults.Add(Fault.Failed("server_error", "boom"));
        await using var client = await SimWsClient.ConnectAsync(sim);

        var response = await client.CreateAsync(Turn);

        Assert.Equal(["response.created", "response.in_progress", "response.failed"], response.Types);
        Assert.Equal("failed", response.Response.GetProperty("status").GetString());
        Assert.Equal("server_error", response.Response.GetProperty("error").GetProperty("code").GetString());
        var record = sim.Ledger.Requests.Single();
        Assert.Equal(RequestOutcome.Failed, record.Outcome);
        Assert.Equal("server_error", record.ErrorCode);
    }

    [Fact]
    public async Task Error_mid_stream_ends_the_response_with_an_error_frame_then_sends_its_trailing_frame_while_the_socket_takes_the_next_request()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        sim.Faults.Add(Fault.ErrorMidStream(3, TimeSpan.FromMilliseconds(300)));
        await using var client = await SimWsClient.ConnectAsync(sim);

        var failed = await client.CreateAsync(Turn);
        Assert.Equal(["response.created", "response.in_progress", "response.output_item.added", "error"], failed.Types);
        Assert.Equal((500, "server_error"), (failed.ErrorStatus, failed.ErrorCode));
        var record = sim.Ledger.Requests.Single();
        Assert.Equal((RequestOutcome.Error, "ErrorMidStream(3/500/server_error)"), (record.Outcome, record.Fault));

        // The next request is answered at once; the failed response's event 3 follows its error 300 ms later, on the same socket.
        await client.SendAsync(Create(Turn));
        var failedItem = failed.Events[2].GetProperty("item").GetProperty("id").GetString();
        bool Trailing(System.Text.Json.JsonElement f) => f.TryGetProperty("item_id", out var item) && item.GetString() == failedItem;
        var frames = new List<System.Text.Json.JsonElement>();
        while (!frames.Any(Trailing) || !frames.Any(f => f.GetProperty("type").GetString() == "response.completed"))
            frames.Add((await client.ReceiveAsync())!.Value);
        var trailing = Assert.Single(frames, Trailing);
        Assert.Equal(("response.content_part.added", 3), (trailing.GetProperty("type").GetString(), trailing.GetProperty("sequence_number").GetInt32()));
        Assert.Equal(2, sim.Ledger.Requests.Count);
    }

    [Fact]
    public async Task A_stray_frame_is_a_completed_response_of_another_id_before_the_response()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        sim.Faults.Add(Fault.StrayFrame());
        await using var client = await SimWsClient.ConnectAsync(sim);

        await client.SendAsync(Create(Turn));
        var stray = (await client.ReceiveAsync())!.Value;
        var response = await client.ReadResponseAsync();
        Assert.Equal("response.completed", stray.GetProperty("type").GetString());
        Assert.True(response.IsCompleted);
        Assert.Equal("response.created", response.Types.First());
        Assert.NotEqual(response.ResponseId, stray.GetProperty("response").GetProperty("id").GetString());
        Assert.Equal(response.ResponseId, sim.Ledger.Requests.Single().ResponseId);
    }

    [Fact]
    public async Task A_requests_sim_tag_metadata_is_recorded_in_the_ledger()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using var client = await SimWsClient.ConnectAsync(sim);
        var body = JsonNode.Parse(Create(Turn))!;
        body["metadata"] = new JsonObject { ["sim_tag"] = "turn-7" };

        await client.SendAsync(body.ToJsonString());
        Assert.True((await client.ReadResponseAsync()).IsCompleted);
        await client.CreateAsync(Turn);
        Assert.Equal(["turn-7", null], sim.Ledger.Requests.Select(r => r.Tag));
    }

    [Fact]
    public async Task Hang_never_answers_and_keeps_the_connection_busy()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        sim.Faults.Add(Fault.Hang());
        await using var client = await SimWsClient.ConnectAsync(sim);

        await client.SendAsync(Create(Turn));
        await client.SendAsync(Create(Turn));
        var refused = await client.ReadResponseAsync();
        Assert.Equal("response_in_progress", refused.ErrorCode);

        Assert.Equal(RequestOutcome.InFlight, sim.Ledger.Requests[0].Outcome);
        Assert.Null(await client.ReceiveAsync(TimeSpan.FromMilliseconds(700))); // nothing arrives (the wait aborts our socket)

        var snapshot = await sim.Ledger.WaitUntilAsync(s => s.Requests[0].Outcome != RequestOutcome.InFlight, SimWsClient.Timeout);
        Assert.Equal(RequestOutcome.Aborted, snapshot.Requests[0].Outcome);
        Assert.Equal("Hang", snapshot.Requests[0].Fault);
    }

    [Fact]
    public async Task Delay_fault_overrides_latency_for_one_request()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        sim.Faults.Add(Fault.Delay(TimeSpan.FromMilliseconds(400), TimeSpan.FromMilliseconds(20)) with { TextDeltas = 5 });
        await using var client = await SimWsClient.ConnectAsync(sim);

        var watch = Stopwatch.StartNew();
        var slow = await client.CreateAsync(Turn);
        var slowTime = watch.Elapsed;
        watch.Restart();
        var fast = await client.CreateAsync(Turn);

        Assert.True(slowTime >= TimeSpan.FromMilliseconds(400 + (20 * (slow.Events.Count - 1)) - 50), $"took {slowTime}");
        Assert.Equal(5, slow.Types.Count(t => t == "response.output_text.delta"));
        Assert.Equal(3, fast.Types.Count(t => t == "response.output_text.delta"));
        Assert.True(watch.Elapsed < slowTime);
    }

    [Fact]
    public async Task Options_latency_applies_to_every_request()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync(new SimulatorOptions { FirstEventDelay = TimeSpan.FromMilliseconds(300) });
        await using var client = await SimWsClient.ConnectAsync(sim);

        var watch = Stopwatch.StartNew();
        await client.SendAsync(Create(Turn));
        var first = await client.ReceiveAsync();

        Assert.NotNull(first);
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(250), $"first event after {watch.Elapsed}");
    }

    [Fact]
    public async Task A_fault_can_target_the_nth_request_of_a_given_connection()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using var other = await SimWsClient.ConnectAsync(sim);
        await using var target = await SimWsClient.ConnectAsync(sim);
        var targetId = sim.Ledger.Connections[1].Id;
        sim.Faults.Add(Fault.Error(502, "bad_gateway").OnConnection(targetId, requestIndex: 2));

        Assert.True((await other.CreateAsync(Turn)).IsCompleted);
        Assert.True((await other.CreateAsync(Turn)).IsCompleted);
        Assert.True((await target.CreateAsync(Turn)).IsCompleted);
        Assert.Equal(502, (await target.CreateAsync(Turn)).ErrorStatus);
        Assert.True((await target.CreateAsync(Turn)).IsCompleted);
        Assert.Empty(sim.Faults.Pending);
    }

    [Fact]
    public async Task A_fault_can_target_requests_by_user_text_and_fire_a_given_number_of_times()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        sim.Faults.Add(Fault.Error(500, "server_error").WhenTextContains("poison").Times(2));
        await using var client = await SimWsClient.ConnectAsync(sim);

        Assert.True((await client.CreateAsync([User("healthy")])).IsCompleted);
        Assert.Equal(2, Assert.Single(sim.Faults.Pending).Count);
        Assert.Equal(500, (await client.CreateAsync([User("a poison pill")])).ErrorStatus);
        Assert.Equal(1, Assert.Single(sim.Faults.Pending).Count);
        Assert.Equal(500, (await client.CreateAsync([User("more poison")])).ErrorStatus);
        Assert.True((await client.CreateAsync([User("poison again")])).IsCompleted);
    }

    [Fact]
    public async Task Faults_are_consumed_in_order_and_clear_drops_them()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        sim.Faults.Add(Fault.Error(500, "first"));
        sim.Faults.Add(Fault.Error(500, "second"));
        await using var client = await SimWsClient.ConnectAsync(sim);

        Assert.Equal("first", (await client.CreateAsync(Turn)).ErrorCode);
        sim.Faults.Clear();
        Assert.True((await client.CreateAsync(Turn)).IsCompleted);
    }

    [Fact]
    public async Task Handshake_faults_do_not_hit_requests_and_request_faults_do_not_hit_handshakes()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        sim.Faults.Add(Fault.Error(500, "server_error"));
        await using var client = await SimWsClient.ConnectAsync(sim); // the request fault does not refuse this
        sim.Faults.Add(Fault.RefuseHandshake(503));

        Assert.Equal(500, (await client.CreateAsync(Turn)).ErrorStatus);
        Assert.True((await client.CreateAsync(Turn)).IsCompleted);
        Assert.Equal(FaultKind.RefuseHandshake, Assert.Single(sim.Faults.Pending).Kind);
    }
}
