using CodexLb.Gateway.Hosting;
using CodexLb.Gateway.Telemetry;

// A gateway pod: stateless, an external Orleans client of the silos.
var builder = WebApplication.CreateBuilder(args);
builder.AddCodexLogDefaults();
builder.AddGatewayClusterClient();
builder.AddCodexTelemetry("codexlb-gateway");
builder.Services.AddCodexGateway(builder.Configuration);

var app = builder.Build();
app.MapCodexGateway();
app.MapCodexTelemetry();
app.Run();
