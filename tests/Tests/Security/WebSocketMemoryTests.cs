using System.Text;
using CodexLb.Tests.Infrastructure;
using Xunit.Abstractions;

namespace CodexLb.Tests.Security;

/// <summary>Tests that measure this process's managed heap: they run alone, after every other collection.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HeapMeasuringCollection : ICollectionFixture<ProductFixture>
{
    public const string Name = "heap-measuring (alone)";
}

/// <summary>
/// Issue 10, finding 3: a websocket kept a buffer as large as its largest frame for as long as it was open (eight idle
/// sockets that had each sent one 30 MiB frame held 210 MiB). A frame is read into pooled memory that goes back to the
/// pool once the frame is whole, so an idle socket holds next to nothing, whatever it sent before. Later the frame's
/// copy stayed in the endpoint's async state machines until the next frame (64 idle sockets held 125 MiB): the test
/// had been failing whenever it ran alone.
/// </summary>
[Collection(HeapMeasuringCollection.Name)]
public sealed class WebSocketMemoryTests(ProductFixture product, ITestOutputHelper output)
{
    private const int Sockets = 64;

    /// <summary>Just under the frame limit: the whole frame is read (a larger one is dropped as it arrives).</summary>
    private const int FrameBytes = (int)(ProductFixture.BodyLimit * 15 / 16);

    [Fact]
    public async Task Idle_websockets_that_each_sent_one_large_frame_hold_far_less_than_those_frames()
    {
        // No model: the whole frame is read and parsed, then answered with an error frame, and nothing runs upstream.
        var frame = Encoding.UTF8.GetBytes("{\"type\":\"response.create\",\"input\":\"" + new string('x', FrameBytes - 64) + "\"}");

        // The same load once first: the shared array pool and Kestrel's block pool keep buffers for reuse, and that
        // working set belongs in the baseline. A socket keeping one for itself does not.
        await CloseAllAsync(await OpenAndSendAsync(frame));
        var before = Heap();
        var sockets = await OpenAndSendAsync(frame);
        await Task.Delay(500); // every handler is back to waiting for its next frame
        var after = Heap();
        var grown = after - before;
        output.WriteLine($"{Sockets} idle sockets after one {FrameBytes / 1024} KiB frame each: heap {before / 1024 / 1024} -> {after / 1024 / 1024} MiB ({grown / 1024} KiB, {grown / Sockets / 1024} KiB per socket)");
        try
        {
            Assert.All(sockets, s => Assert.Equal(System.Net.WebSockets.WebSocketState.Open, s.State));
            Assert.True(grown < (long)Sockets * FrameBytes / 2,
                $"{Sockets} idle sockets grew the heap by {grown / 1024 / 1024} MiB: they keep their frames ({(long)Sockets * FrameBytes / 1024 / 1024} MiB in all)");
        }
        finally
        {
            await CloseAllAsync(sockets);
        }
    }

    private async Task<List<WsClient>> OpenAndSendAsync(byte[] frame)
    {
        var sockets = new List<WsClient>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        for (var i = 0; i < Sockets; i++)
        {
            var socket = await WsClient.ConnectAsync(product.BaseUrl, ProductFixture.ApiKey, Items.Session("heap-" + Guid.NewGuid()));
            sockets.Add(socket);
            await socket.SendAsync(frame, cancellationToken: timeout.Token);
            var answer = await socket.ReceiveAsync(timeout.Token);
            Assert.Equal("error", answer!.Value.Type()); // read whole, answered, and no turn
        }
        return sockets;
    }

    private static async Task CloseAllAsync(List<WsClient> sockets)
    {
        foreach (var socket in sockets) await socket.DisposeAsync();
        await Task.Delay(500); // their handlers end
    }

    private static long Heap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
