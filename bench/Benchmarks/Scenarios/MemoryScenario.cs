using System.Buffers;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Runtime;
using CodexLb.Benchmarks.Infrastructure;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Benchmarks.Scenarios;

/// <summary>
/// Memory per idle conversation including its upstream socket. The product runs in this process; the simulator runs in
/// a child process so its half of each websocket is not counted. K conversations each complete one turn (so each grain
/// holds an open upstream websocket), then full GCs, then GC.GetTotalMemory / working set deltas over K.
/// </summary>
public static class MemoryScenario
{
    private readonly record struct Sample(long Managed, long HeapSize, long WorkingSet, long Private);

    public static async Task RunAsync(BenchOptions options)
    {
        var k = options.Quick ? 300 : options.Conversations;
        Log.Progress("memory: starting simulator child process + product");
        await using var product = await Product.StartWithExternalSimulatorAsync();
        var table = new Table($"memory per idle conversation (K = {k:N0}, each with one completed turn and an open upstream websocket)",
            "measure", "before", "after", "delta", "per conversation");

        var tag = Guid.NewGuid().ToString("N")[..8];
        Log.Progress("memory: warm-up (50 conversations, 2 turns each)");
        await TurnsAsync(product, $"mem-warm-{tag}", 50);
        await TurnsAsync(product, $"mem-warm-{tag}", 50);
        var before = Measure();
        Log.Progress($"memory: creating {k:N0} conversations");
        await TurnsAsync(product, $"mem-{tag}", k);
        var after = Measure();
        var openUpstream = await OpenUpstreamConnectionsAsync(product);
        Log.Progress($"memory: a second turn on each of the {k:N0} conversations");
        await TurnsAsync(product, $"mem-{tag}", k);
        var afterSecond = Measure();

        void Row(string name, long b, long a) => table.Add(name, Kb(b), Kb(a), Kb(a - b), $"{(a - b) / 1024.0 / k:N1} KB");
        Row("GC.GetTotalMemory(true)", before.Managed, after.Managed);
        Row("GC heap size (GCMemoryInfo)", before.HeapSize, after.HeapSize);
        Row("process working set", before.WorkingSet, after.WorkingSet);
        Row("process private bytes", before.Private, after.Private);
        table.Print();

        var second = new Table($"memory retained per additional completed turn (a second turn on each of the K conversations)",
            "measure", "delta", "per turn");
        second.Add("GC.GetTotalMemory(true)", Kb(afterSecond.Managed - after.Managed), $"{(afterSecond.Managed - after.Managed) / 1024.0 / k:N1} KB");
        second.Add("process working set", Kb(afterSecond.WorkingSet - after.WorkingSet), $"{(afterSecond.WorkingSet - after.WorkingSet) / 1024.0 / k:N1} KB");
        second.Print();
        Log.Note("");
        Log.Note($"Upstream websockets open at the simulator after the first turns: {openUpstream:N0} (expected {k + 50:N0}: K + warm-up).");
        var perConversation = (after.Managed - before.Managed) / 1024.0 / k;
        var perConversationWs = (after.WorkingSet - before.WorkingSet) / 1024.0 / k;
        Log.Note($"Goal <= 64 KB per idle conversation: managed heap {perConversation:N1} KB -> {(perConversation <= 64 ? "MET" : "MISSED")}; " +
                 $"working set {perConversationWs:N1} KB -> {(perConversationWs <= 64 ? "MET" : "MISSED")}.");

        await BareSocketReferenceAsync(product, k);
    }

    /// <summary>One turn on each of the sessions prefix-0 … prefix-(count-1), 32 at a time; the client is gone afterwards.</summary>
    private static async Task TurnsAsync(Product product, string prefix, int count)
    {
        using var client = new TurnClient(32);
        var result = await RunTurnsAsync(client, product, prefix, count);
        if (result.Errors > 0) Log.Note($"WARNING: {result.Errors} of {count} turns failed");
        await Task.Delay(TimeSpan.FromMilliseconds(500));
    }

    private static async Task<PhaseResult> RunTurnsAsync(TurnClient client, Product product, string prefix, int count)
    {
        var result = new PhaseResult();
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(async () =>
        {
            for (var i = Interlocked.Increment(ref next); i < count; i = Interlocked.Increment(ref next))
            {
                try
                {
                    result.Add(await new ClientSession($"{prefix}-{i}", BodyStyle.Single).TurnAsync(client, product.GatewayResponses));
                }
                catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException)
                {
                    lock (result) result.Errors++;
                }
            }
        })));
        return result;
    }

    private static Sample Measure()
    {
        for (var i = 0; i < 3; i++)
        {
            GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }
        var managed = GC.GetTotalMemory(true);
        var info = GC.GetGCMemoryInfo(GCKind.FullBlocking);
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return new Sample(managed, info.HeapSizeBytes, process.WorkingSet64, process.PrivateMemorySize64);
    }

    private static async Task<int> OpenUpstreamConnectionsAsync(Product product)
    {
        using var http = new HttpClient();
        var root = new Uri(product.SimulatorBaseUrl, "/");
        var snapshot = await http.GetFromJsonAsync(new Uri(root, "_sim/ledger"), SimulatorJsonContext.Default.LedgerSnapshot);
        return snapshot!.Connections.Count(c => c.EndedBy == ConnectionEnd.Open);
    }

    /// <summary>
    /// Reference: what K bare upstream websockets cost in this process, each held the way UpstreamSocket holds one
    /// (a ClientWebSocket, a 16 KB ArrayBufferWriter and a pending ReceiveAsync of 8 KB).
    /// </summary>
    private static async Task BareSocketReferenceAsync(Product product, int k)
    {
        Log.Progress($"memory: reference, {k:N0} bare websockets");
        var before = Measure();
        var sockets = new List<(ClientWebSocket Socket, ArrayBufferWriter<byte> Buffer, Task Receive)>(k);
        using var closing = new CancellationTokenSource();
        var gate = new SemaphoreSlim(32);
        var tasks = Enumerable.Range(0, k).Select(async _ =>
        {
            await gate.WaitAsync();
            try
            {
                var socket = new ClientWebSocket();
                socket.Options.SetRequestHeader("OpenAI-Beta", "responses_websockets=2026-02-06");
                await socket.ConnectAsync(product.DirectWebSocket, CancellationToken.None);
                var buffer = new ArrayBufferWriter<byte>(16 * 1024);
                var receive = socket.ReceiveAsync(buffer.GetMemory(8 * 1024), closing.Token).AsTask();
                lock (sockets) sockets.Add((socket, buffer, receive));
            }
            finally
            {
                gate.Release();
            }
        });
        await Task.WhenAll(tasks);
        await Task.Delay(TimeSpan.FromSeconds(1));
        var after = Measure();
        var table = new Table($"reference: {k:N0} bare ClientWebSockets held like UpstreamSocket holds one", "measure", "delta", "per socket");
        table.Add("GC.GetTotalMemory(true)", Kb(after.Managed - before.Managed), $"{(after.Managed - before.Managed) / 1024.0 / k:N1} KB");
        table.Add("process working set", Kb(after.WorkingSet - before.WorkingSet), $"{(after.WorkingSet - before.WorkingSet) / 1024.0 / k:N1} KB");
        table.Print();
        closing.Cancel();
        foreach (var (socket, _, receive) in sockets)
        {
            try { await receive; } catch (OperationCanceledException) { } catch (WebSocketException) { }
            socket.Dispose();
        }
    }

    private static string Kb(long bytes) => $"{bytes / 1024.0:N0} KB";
}
