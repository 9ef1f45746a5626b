using CodexLb.Protocol.Streaming;
using CodexLb.UpstreamSimulator.Http;
using CodexLb.UpstreamSimulator.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CodexLb.UpstreamSimulator;

/// <summary>Wiring shared by <see cref="UpstreamSimulatorHost"/> and the standalone Program.</summary>
public static class SimulatorEndpointExtensions
{
    /// <summary>Paths that serve the responses endpoint (GET = websocket, POST = HTTP/SSE), and under which the calls on
    /// stored responses, input_tokens and compact live.</summary>
    public static readonly string[] ResponsesPaths = ["/v1/responses", "/backend-api/codex/responses", "/responses"];

    public static IServiceCollection AddUpstreamSimulator(this IServiceCollection services, SimulatorOptions? options = null)
    {
        options ??= new SimulatorOptions();
        services.AddSingleton(options);
        services.AddSingleton(new SimulatorLedger(options.LedgerCapacity));
        services.AddSingleton<FaultPlan>();
        services.AddSingleton(new KeyPolicies(options.Keys) { AccessTokenLifetime = options.AccessTokenLifetime });
        services.AddSingleton<SimulatorCore>();
        return services;
    }

    /// <summary>Options from a configuration section (e.g. <c>Simulator</c>).</summary>
    public static IServiceCollection AddUpstreamSimulator(this IServiceCollection services, IConfiguration section)
    {
        var options = new SimulatorOptions();
        section.Bind(options);
        return services.AddUpstreamSimulator(options);
    }

    /// <summary>Adds the websocket middleware and maps every simulator endpoint.</summary>
    public static WebApplication MapUpstreamSimulator(this WebApplication app)
    {
        var core = app.Services.GetRequiredService<SimulatorCore>();
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        core.Stopping = lifetime.ApplicationStopping;
        lifetime.ApplicationStopping.Register(core.ShutdownConnections);
        app.UseBatchingWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) }); // a turn's frames leave in one write

        foreach (var path in ResponsesPaths)
        {
            app.MapGet(path, (RequestDelegate)(http => WebSocketEndpoint.HandleAsync(http, core)));
            app.MapPost(path, (RequestDelegate)(http => HttpResponsesEndpoint.HandleAsync(http, core)));
            app.MapPost(path + "/input_tokens", CompactEndpoints.InputTokens(core));
            app.MapPost(path + "/compact", CompactEndpoints.Compact(core));
            app.MapGet(path + "/{id}", StoredResponseEndpoints.Retrieve(core));
            app.MapDelete(path + "/{id}", StoredResponseEndpoints.Delete(core));
            app.MapPost(path + "/{id}/cancel", StoredResponseEndpoints.Cancel(core));
            app.MapGet(path + "/{id}/input_items", StoredResponseEndpoints.InputItems(core));
        }

        app.MapPost("/oauth/token", TokenEndpoint.Create(core.Keys));
        var models = ModelsEndpoint.Create(core.Options);
        app.MapGet("/v1/models", models);
        app.MapGet("/models", models);
        ControlEndpoints.Map(app, core);
        return app;
    }

    /// <summary>The one startup line: where clients point their base URL, and where the ledger is.</summary>
    public static void LogStartup(ILogger logger, Uri root) =>
        logger.LogInformation("Upstream simulator listening: base URL {BaseUrl}, ledger {LedgerUrl}",
            new Uri(root, "v1"), new Uri(root, "_sim/ledger"));
}
