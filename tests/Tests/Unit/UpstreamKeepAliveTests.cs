using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Upstream;
using CodexLb.Tests.Infrastructure;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace CodexLb.Tests.Unit;

/// <summary>
/// The silo's one keep-alive sweep: every socket the budget holds that stayed silent sends a pong before
/// <see cref="UpstreamKeepAlive.Interval"/> passes, and none sooner than <see cref="UpstreamKeepAlive.Silence"/>.
/// </summary>
public sealed class UpstreamKeepAliveTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task The_sweep_sends_a_pong_on_each_socket_the_budget_holds_once_it_was_silent_long_enough()
    {
        var time = new FakeTimeProvider();
        var budget = new UpstreamSocketBudget(Options.Create(new UpstreamOptions()));
        await using var server = new RawWebSocketServer();
        var peers = new List<RawPeer>();
        var sockets = new List<UpstreamSocket>();
        for (var i = 0; i < 2; i++)
        {
            var accepted = server.AcceptAsync();
            Assert.True(budget.TryReserve());
            var socket = await UpstreamSocket.ConnectAsync(new UpstreamOptions { BaseUrl = new Uri(server.Uri, "/v1") },
                new AccountLease { Account = "default", Available = true }, time, CancellationToken.None);
            budget.Admit(socket);
            sockets.Add(socket);
            peers.Add(await accepted);
        }
        using var keepAlive = new UpstreamKeepAlive(budget, time);
        await keepAlive.StartAsync(CancellationToken.None);
        try
        {
            var reads = peers.Select(peer => peer.ReadAsync()).ToArray();
            // Sweeps at 5 and 10 s find the sockets silent for less than the threshold: nothing is sent.
            for (var at = UpstreamKeepAlive.SweepInterval; at < UpstreamKeepAlive.Silence; at += UpstreamKeepAlive.SweepInterval)
            {
                time.Advance(UpstreamKeepAlive.SweepInterval);
                await Task.Delay(100);
            }
            Assert.DoesNotContain(reads, read => read.IsCompleted);
            // The sweep at 15 s (within the 20 s interval): a pong on each.
            time.Advance(UpstreamKeepAlive.SweepInterval);
            foreach (var read in reads)
            {
                var pong = await read.WaitAsync(Generous);
                Assert.Equal((0xA, 0), (pong.Opcode, pong.Payload.Length));
            }
            Assert.True(UpstreamKeepAlive.Silence + UpstreamKeepAlive.SweepInterval <= UpstreamKeepAlive.Interval);
        }
        finally
        {
            await keepAlive.StopAsync(CancellationToken.None);
            foreach (var peer in peers) peer.Dispose();
            foreach (var socket in sockets) await socket.DisposeAsync();
        }
    }
}
