using CodexLb.Gateway.Hosting;

// A gateway pod: stateless, an external Orleans client of the silos.
var builder = WebApplication.CreateBuilder(args);
builder.AddGatewayClusterClient();
builder.Services.AddCodexGateway(builder.Configuration);

var app = builder.Build();
app.MapCodexGateway();
app.Run();
