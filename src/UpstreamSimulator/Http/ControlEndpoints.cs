using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace CodexLb.UpstreamSimulator.Http;

/// <summary>The <c>/_sim/*</c> control surface for out-of-process tests: read/clear the ledger, add/clear faults, set per-key behaviour.</summary>
internal static class ControlEndpoints
{
    public static void Map(IEndpointRouteBuilder routes, SimulatorCore core)
    {
        routes.MapGet("/_sim/ledger", (HttpContext http) =>
            Results.Json(core.Ledger.Snapshot(), SimulatorJsonContext.Default.LedgerSnapshot));

        routes.MapDelete("/_sim/ledger", () =>
        {
            core.Ledger.Clear();
            return Results.NoContent();
        });

        routes.MapGet("/_sim/faults", () =>
            Results.Json(new FaultPlanSnapshot(core.Faults.Pending, core.Faults.FiredDirectives),
                SimulatorJsonContext.Default.FaultPlanSnapshot));

        routes.MapPost("/_sim/faults", (RequestDelegate)(async http =>
        {
            Fault fault;
            try
            {
                var wire = await JsonSerializer.DeserializeAsync(http.Request.Body, FaultWireJsonContext.Default.FaultWire, http.RequestAborted)
                    ?? throw new JsonException("Expected a fault object.");
                fault = wire.ToFault();
                core.Faults.Add(fault);
            }
            catch (Exception ex) when (ex is JsonException or ArgumentException)
            {
                http.Response.StatusCode = StatusCodes.Status400BadRequest;
                await http.Response.WriteAsync(ex.Message, http.RequestAborted);
                return;
            }

            http.Response.StatusCode = StatusCodes.Status201Created;
            await JsonSerializer.SerializeAsync(http.Response.Body, fault, SimulatorJsonContext.Default.Fault, http.RequestAborted);
        }));

        routes.MapDelete("/_sim/faults", () =>
        {
            core.Faults.Clear();
            return Results.NoContent();
        });

        routes.MapGet("/_sim/keys", () => Results.Json(core.Keys.Snapshot(), SimulatorJsonContext.Default.IReadOnlyListKeyState));

        routes.MapPut("/_sim/keys/{key}", (RequestDelegate)(async http =>
        {
            var key = (string)http.Request.RouteValues["key"]!;
            try
            {
                var policy = await JsonSerializer.DeserializeAsync(http.Request.Body, SimulatorJsonContext.Default.KeyPolicy, http.RequestAborted)
                    ?? throw new JsonException("Expected a key policy object.");
                core.Keys.Set(key, policy);
            }
            catch (JsonException ex)
            {
                http.Response.StatusCode = StatusCodes.Status400BadRequest;
                await http.Response.WriteAsync(ex.Message, http.RequestAborted);
                return;
            }
            http.Response.StatusCode = StatusCodes.Status204NoContent;
        }));

        routes.MapDelete("/_sim/keys/{key}", (string key) => core.Keys.Remove(key) ? Results.NoContent() : Results.NotFound());

        routes.MapDelete("/_sim/keys", () =>
        {
            core.Keys.Clear();
            return Results.NoContent();
        });

        routes.MapPost("/_sim/tokens/expire", () =>
        {
            core.Keys.ExpireIssuedTokens();
            return Results.NoContent();
        });

        routes.MapDelete("/_sim/directives", () =>
        {
            core.Faults.ForgetDirectives();
            return Results.NoContent();
        });
    }
}
