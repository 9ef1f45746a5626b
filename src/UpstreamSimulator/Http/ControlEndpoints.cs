using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace CodexLb.UpstreamSimulator.Http;

/// <summary>The <c>/_sim/*</c> control surface for out-of-process tests: read/clear the ledger, add/clear faults.</summary>
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

        routes.MapDelete("/_sim/directives", () =>
        {
            core.Faults.ForgetDirectives();
            return Results.NoContent();
        });
    }
}
