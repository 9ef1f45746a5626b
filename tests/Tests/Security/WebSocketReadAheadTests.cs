using System.Net.WebSockets;
using System.Text;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.Security;

/// <summary>The embedded default with the shipped frame limit (32 MiB) and turns that may wait a minute for their first event.</summary>
public sealed class LargeFrameProductFixture : ProductFixture
{
    public const int FrameLimit = 32 * 1024 * 1024;

    protected override IEnumerable<string> ExtraArgs =>
        ["--CodexLb:Gateway:MaxRequestBodyBytes", FrameLimit.ToString(), "--CodexLb:Upstream:FirstEventTimeout", "00:01:00"];
}

/// <summary>
/// What a websocket holds while its turn runs: frames a client sends ahead are read one at a time (a socket read up to
/// five ahead, 160 MiB at the shipped limit, on top of the running turn's).
/// </summary>
public sealed class WebSocketReadAheadTests(LargeFrameProductFixture product) : IClassFixture<LargeFrameProductFixture>
{
    [Fact]
    public async Task Frames_sent_ahead_of_a_running_turn_are_read_one_at_a_time()
    {
        var marker = "hold-" + Guid.NewGuid().ToString("N");
        product.Simulator.Faults.Add(Fault.Hang().WhenTextContains(marker).Times(1));
        await using var ws = await RawWebSocket.ConnectAsync(product.BaseUrl, ProductFixture.ApiKey);
        var create = Items.Body([Items.Message("user", marker)]);
        create["type"] = "response.create";
        create.Remove("stream");
        await ws.SendAsync(create.ToJsonString()); // a turn that runs (its provider never answers) while the next frames arrive
        await Task.Delay(1500);

        // Full-size frames until the gateway stops reading them (the send then waits on TCP flow control).
        var frame = Encoding.ASCII.GetBytes(new string('x', LargeFrameProductFixture.FrameLimit - 1024));
        using var stop = new CancellationTokenSource();
        var sent = 0;
        Task send = Task.CompletedTask;
        while (sent < 8)
        {
            send = ws.SendAsync(frame, WebSocketMessageType.Text, stop.Token);
            if (await Task.WhenAny(send, Task.Delay(TimeSpan.FromSeconds(5))) != send) break;
            await send;
            sent++;
        }
        await stop.CancelAsync();
        await send.ContinueWith(_ => { }, TaskScheduler.Default); // the stalled send ends with the cancellation

        // One frame is read and waits for the turn; the kernel's socket buffers (up to ~36 MiB here) may take one more.
        Assert.True(sent is >= 1 and <= 2, $"{sent} frames of {LargeFrameProductFixture.FrameLimit} bytes went in while a turn ran");
    }
}
