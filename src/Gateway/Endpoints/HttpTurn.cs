using CodexLb.Gateway.Routing;
using CodexLb.Gateway.Telemetry;
using Microsoft.AspNetCore.Http;

namespace CodexLb.Gateway.Endpoints;

/// <summary>An HTTP turn whose first event arrived (<see cref="TurnStream.Current"/>): what an endpoint needs to answer from it.</summary>
public sealed record HttpTurn(HttpContext Context, TurnStream Stream, string Key, TurnTelemetry Telemetry);
