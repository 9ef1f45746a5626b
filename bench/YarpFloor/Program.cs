using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using CodexLb.Benchmarks.Infrastructure;
using Yarp.ReverseProxy.Forwarder;

// dotnet CodexLb.YarpFloor.dll http://127.0.0.1:SIMULATOR_PORT/
// Every request is forwarded as is to the destination (YARP's direct forwarder: no routing table, no transforms
// beyond YARP's defaults, no auth, no logging). Prints "PORT n" once listening on 127.0.0.1 and exits when stdin
// closes: the same protocol as the benchmark's other child processes.
if (args.Length != 1 || !Uri.TryCreate(args[0], UriKind.Absolute, out var destination))
{
    Console.Error.WriteLine("usage: CodexLb.YarpFloor http://destination/");
    return 2;
}

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
builder.Services.AddHttpForwarder();

var app = builder.Build();
// YARP's default forwarding client settings (no proxy, no cookies, no decompression), as MapForwarder documents.
app.MapForwarder("/{**path}", destination.ToString(), ForwarderRequestConfig.Empty);
await app.StartAsync();

var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
Console.WriteLine($"PORT {new Uri(address).Port}");
Console.Out.Flush();
// The benchmark's CPU question is answered from this process's own nanosecond clock (CpuTime, linked from bench/Benchmarks).
while (await Console.In.ReadLineAsync() is { } line) CpuTime.TryAnswer(line);
await app.StopAsync();
return 0;
