// The floor's c=1, 20 ms turn between two .NET processes and nothing else: what the runtime's socket hand-offs add to a
// round trip on this machine, set beside bench/scripts/loopback_wake.py (the same turn with blocking Python sockets).
// One request at a time over loopback TCP; the server holds each for 20 ms (a delay, then its last 6 ms spun, as the
// floor's simulator does) and answers with its own span; each round trip less that span is the time outside the server.
//
// Usage: dotnet run bench/scripts/loopback_wake.cs [-- TURNS [sync]]   (default 1500 turns, async sockets; "sync": blocking calls)
#:property ServerGarbageCollection=true
#:property PublishAot=false
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

var sync = args.Contains("sync");
if (args.Length > 0 && args[0] == "serve")
{
    using var listener = new Socket(SocketType.Stream, ProtocolType.Tcp);
    listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
    listener.Listen();
    Console.WriteLine(((IPEndPoint)listener.LocalEndPoint!).Port);
    using var conn = sync ? listener.Accept() : await listener.AcceptAsync();
    conn.NoDelay = true;
    var reply = new byte[8];
    while ((sync ? conn.Receive(reply.AsSpan(0, 1)) : await conn.ReceiveAsync(reply.AsMemory(0, 1))) > 0)
    {
        var start = Stopwatch.GetTimestamp();
        if (sync) Thread.Sleep(14); else await Task.Delay(14);
        while (Stopwatch.GetElapsedTime(start).TotalMilliseconds < 20) Thread.SpinWait(20);
        BitConverter.TryWriteBytes(reply, Stopwatch.GetElapsedTime(start).Ticks);
        if (sync) conn.Send(reply); else await conn.SendAsync(reply);
    }
    return;
}

var turns = args.Length > 0 && int.TryParse(args[0], out var t) ? t : 1500;
var self = Environment.ProcessPath!;
var server = Process.Start(new ProcessStartInfo(self, self.EndsWith("dotnet") ? [typeof(Program).Assembly.Location, "serve", .. args] : ["serve", .. args])
    { RedirectStandardOutput = true })!;
var port = int.Parse(server.StandardOutput.ReadLine()!);
using var client = new Socket(SocketType.Stream, ProtocolType.Tcp);
await client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
client.NoDelay = true;
var outside = new double[turns];
var (request, answer) = (new byte[] { 1 }, new byte[8]);
for (var i = 0; i < turns; i++)
{
    var sent = Stopwatch.GetTimestamp();
    var got = 0;
    if (sync) { client.Send(request); while (got < 8) got += client.Receive(answer.AsSpan(got)); }
    else { await client.SendAsync(request); while (got < 8) got += await client.ReceiveAsync(answer.AsMemory(got)); }
    outside[i] = (Stopwatch.GetElapsedTime(sent).Ticks - BitConverter.ToInt64(answer)) / 10.0;
}
client.Shutdown(SocketShutdown.Both);
server.WaitForExit();
Array.Sort(outside);
double At(double p) => outside[Math.Min(turns - 1, (int)(p * turns))];
Console.WriteLine($"{turns} turns, {(sync ? "blocking" : "async")} sockets, time outside the server, µs: p50 {At(.5):F0}, p90 {At(.9):F0}, p99 {At(.99):F0}, max {outside[^1]:F0}");
