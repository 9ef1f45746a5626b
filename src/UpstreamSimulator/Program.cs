using CodexLb.UpstreamSimulator;

// Standalone simulator: dotnet run --project src/UpstreamSimulator -- --urls http://127.0.0.1:5099
// Options come from the configuration section "Simulator" (e.g. --Simulator:EventDelay=00:00:00.050).
var builder = WebApplication.CreateSlimBuilder(args);
builder.Services.AddUpstreamSimulator(builder.Configuration.GetSection("Simulator"));
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning); // no per-request log lines

var app = builder.Build();
app.MapUpstreamSimulator();
app.Run();
