using CodexLb.UpstreamSimulator;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

// Standalone simulator: dotnet run --project src/UpstreamSimulator -- --urls http://127.0.0.1:5099
// Options come from the configuration section "Simulator" (e.g. --Simulator:EventDelay=00:00:00.050).
var builder = WebApplication.CreateSlimBuilder(args);
builder.Services.AddUpstreamSimulator(builder.Configuration.GetSection("Simulator"));
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning); // no per-request log lines

var app = builder.Build();
app.MapUpstreamSimulator();
await app.StartAsync();

// The bound address (a wildcard host is reachable on loopback), so an operator can copy the URLs.
var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? "http://127.0.0.1:5000";
var root = new UriBuilder(bound.Replace("://+", "://127.0.0.1").Replace("://*", "://127.0.0.1"));
if (root.Host is "0.0.0.0" or "[::]" or "::")
{
    root.Host = "127.0.0.1";
}

SimulatorEndpointExtensions.LogStartup(app.Logger, new Uri(root.Uri.GetLeftPart(UriPartial.Authority) + "/"));
await app.WaitForShutdownAsync();
