using System.Net.WebSockets;
using CodexLb.Protocol.Streaming;
using CodexLb.UpstreamSimulator.Http;
using CodexLb.UpstreamSimulator.Model;
using Microsoft.AspNetCore.Http;

namespace CodexLb.UpstreamSimulator.WebSockets;

/// <summary>The websocket upgrade: records the handshake, applies handshake faults, then runs a session.</summary>
internal static class WebSocketEndpoint
{
    public static async Task HandleAsync(HttpContext http, SimulatorCore core)
    {
        if (!http.WebSockets.IsWebSocketRequest)
        {
            await HttpErrors.WriteAsync(http, new SimError(400, "invalid_request_error", "websocket_upgrade_required",
                "GET on this path must be a websocket upgrade; use POST for HTTP."));
            return;
        }

        var headers = http.Request.Headers;
        var authorization = headers.Authorization.Count > 0 ? headers.Authorization.ToString() : null;
        var beta = headers.TryGetValue("OpenAI-Beta", out var b) ? b.ToString() : null;
        var connection = core.Ledger.OpenConnection(core.Ids.NextConnectionId(), http.Request.Path, authorization, beta);

        var (keyError, keyRetryAfter, usageHeaders) = core.Keys.Handshake(authorization);
        foreach (var (name, value) in usageHeaders) http.Response.Headers[name] = value;
        if (keyError is not null)
        {
            core.EndConnection(connection, ConnectionEnd.HandshakeRefused, "key:" + keyError.Code);
            await HttpErrors.WriteAsync(http, keyError, keyRetryAfter);
            return;
        }

        var handshakeFault = core.Faults.TakeForHandshake();
        if (handshakeFault?.Fault.Kind == FaultKind.RefuseHandshake)
        {
            var fault = handshakeFault.Fault;
            core.EndConnection(connection, ConnectionEnd.HandshakeRefused, handshakeFault.Label);
            var status = fault.Status ?? 503;
            var error = new SimError(status, fault.ErrorType ?? SimError.TypeForStatus(status), fault.Code ?? "upstream_unavailable",
                fault.Message ?? "Simulated handshake refusal.");
            await HttpErrors.WriteAsync(http, error, fault.RetryAfter);
            return;
        }

        if (handshakeFault?.Fault.Kind == FaultKind.SlowHandshake)
        {
            try
            {
                await Task.Delay(handshakeFault.Fault.FirstEventDelay ?? TimeSpan.FromSeconds(2), http.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                core.EndConnection(connection, ConnectionEnd.ClientAborted, handshakeFault.Label);
                return; // the client gave up on the handshake
            }
        }

        var socket = await http.WebSockets.AcceptWebSocketAsync(
            new WebSocketAcceptContext { DangerousEnableCompression = core.Options.EnableCompression });

        if (handshakeFault?.Fault.Kind == FaultKind.FailHandshake)
        {
            core.EndConnection(connection, ConnectionEnd.ClosedByFault, handshakeFault.Label);
            await WebSocketSession.FailHandshakeAsync(socket, handshakeFault.Fault.Graceful);
            return;
        }

        await new WebSocketSession(socket, connection, core, BatchingUpgrade.StreamOf(http)).RunAsync();
    }
}
