using CodexLb.Gateway.Keys;
using CodexLb.Gateway.Routing;
using CodexLb.Gateway.Telemetry;
using Microsoft.AspNetCore.Http;

namespace CodexLb.Gateway.Endpoints;

/// <summary>An HTTP turn whose first event arrived (<see cref="TurnStream.Current"/>): what an endpoint needs to answer from it.</summary>
public sealed record HttpTurn(HttpContext Context, TurnStream Stream, string Key, TurnTelemetry Telemetry)
{
    /// <summary>The client key's turn its usage is charged to.</summary>
    public KeyTurn? Usage { get; init; }

    /// <summary>The client's tenant: whose responses this turn may read by id.</summary>
    public required string Tenant { get; init; }

    /// <summary>The conversation object the response runs in (<c>conversation</c>), or null.</summary>
    public ConversationTurn? Conversation { get; init; }
}
