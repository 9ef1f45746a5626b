using CodexLb.UpstreamSimulator;
using static CodexLb.Tests.Simulator.SimRequests;

namespace CodexLb.Tests.Simulator;

/// <summary>In-band directives: the prompt alone injects a fault, and each distinct directive fires once.</summary>
public sealed class SimulatorDirectiveTests
{
    [Fact]
    public async Task Close_after_directive_fires_once_and_the_retry_with_the_same_text_succeeds()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        var prompt = "hello [sim:close-after=2#abc]";

        await using (var first = await SimWsClient.ConnectAsync(sim))
        {
            var broken = await first.CreateAsync([Developer("sys"), User(prompt)]);
            Assert.True(broken.Closed);
            Assert.Equal(3, broken.Events.Count);
        }

        await using var retry = await SimWsClient.ConnectAsync(sim);
        Assert.True((await retry.CreateAsync([Developer("sys"), User(prompt)])).IsCompleted);

        Assert.Equal("[sim:close-after=2#abc]", sim.Ledger.Requests[0].Fault);
        Assert.Null(sim.Ledger.Requests[1].Fault);
        Assert.Contains("[sim:close-after=2#abc]", sim.Faults.FiredDirectives);
    }

    [Fact]
    public async Task Error_directive_sends_the_status_and_code_once()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using var client = await SimWsClient.ConnectAsync(sim);

        var failed = await client.CreateAsync([User("go [sim:error=server_is_overloaded/503#y]")]);
        var retried = await client.CreateAsync([User("go [sim:error=server_is_overloaded/503#y]")]);

        Assert.Equal(503, failed.ErrorStatus);
        Assert.Equal("server_is_overloaded", failed.ErrorCode);
        Assert.True(retried.IsCompleted);
    }

    [Fact]
    public async Task A_different_tag_is_a_different_directive()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using var client = await SimWsClient.ConnectAsync(sim);

        Assert.Equal(500, (await client.CreateAsync([User("[sim:error=server_error/500#one]")])).ErrorStatus);
        Assert.Equal(500, (await client.CreateAsync([User("[sim:error=server_error/500#two]")])).ErrorStatus);
        Assert.True((await client.CreateAsync([User("[sim:error=server_error/500#one]")])).IsCompleted);
    }

    [Fact]
    public async Task Several_directives_in_one_text_fire_one_per_attempt_in_order()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        var prompt = "x [sim:close-before=0#a] [sim:failed=server_error#a]";

        await using (var first = await SimWsClient.ConnectAsync(sim))
        {
            var closed = await first.CreateAsync([User(prompt)]);
            Assert.True(closed.Closed);
            Assert.Empty(closed.Events);
        }

        await using var next = await SimWsClient.ConnectAsync(sim);
        Assert.Equal("response.failed", (await next.CreateAsync([User(prompt)])).Types.Last());
        Assert.True((await next.CreateAsync([User(prompt)])).IsCompleted);
    }

    [Fact]
    public async Task Close_between_turns_directive_closes_after_completion()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using var client = await SimWsClient.ConnectAsync(sim);

        Assert.True((await client.CreateAsync([User("done [sim:close-between-turns#z]")])).IsCompleted);
        Assert.Null(await client.ReceiveAsync());
    }

    [Fact]
    public async Task Hang_directive_hangs_once()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using (var first = await SimWsClient.ConnectAsync(sim))
        {
            await first.SendAsync(Create([User("wait [sim:hang#q]")]));
            Assert.Null(await first.ReceiveAsync(TimeSpan.FromMilliseconds(500)));
        }

        await using var retry = await SimWsClient.ConnectAsync(sim);
        Assert.True((await retry.CreateAsync([User("wait [sim:hang#q]")])).IsCompleted);
    }

    [Fact]
    public async Task Directives_in_older_items_of_an_anchored_request_are_not_rescanned_after_a_tool_output()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using var client = await SimWsClient.ConnectAsync(sim);

        var tool = await client.CreateAsync([User("RUN_TOOL [sim:delay=1/1#d]")]);
        Assert.Equal("[sim:delay=1/1#d]", sim.Ledger.Requests[0].Fault);
        var callId = tool.Output[1].GetProperty("call_id").GetString()!;
        var answer = await client.CreateAsync([ToolOutput(callId, "ok")], previousResponseId: tool.ResponseId);

        Assert.True(answer.IsCompleted);
        Assert.Null(sim.Ledger.Requests[1].Fault);
    }

    [Fact]
    public async Task Forget_directives_lets_them_fire_again()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using var client = await SimWsClient.ConnectAsync(sim);

        Assert.Equal(500, (await client.CreateAsync([User("[sim:error#r]")])).ErrorStatus);
        sim.Faults.ForgetDirectives();
        Assert.Equal(500, (await client.CreateAsync([User("[sim:error#r]")])).ErrorStatus);
    }
}
