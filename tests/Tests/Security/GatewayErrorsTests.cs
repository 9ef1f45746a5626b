using System.Net;
using CodexLb.Gateway.Endpoints;
using CodexLb.Protocol.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace CodexLb.Tests.Security;

/// <summary>
/// The gateway's error middleware on a host of its own, with endpoints the product does not have: one that throws before
/// answering, one that throws after its first byte, one that answers a bare status. In the product's collection, so it
/// never runs beside <see cref="ErrorShapeTests"/>: both read the process-wide log capture, and this one logs errors on
/// purpose in the categories that test must find quiet.
/// </summary>
[Collection(Infrastructure.ProductCollection.Name)]
public sealed class GatewayErrorsTests
{
    [Fact]
    public async Task An_exception_before_the_answer_is_a_shaped_500_logged_once_at_error_and_a_bare_status_gets_a_body()
    {
        using var logs = new LogCapture();
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();
        app.UseOpenAIErrors();
        app.MapGet("/throws", string () => throw new InvalidOperationException("marker-7f3a"));
        app.MapGet("/late", async (HttpContext context) =>
        {
            await context.Response.WriteAsync("partial");
            await context.Response.Body.FlushAsync();
            throw new InvalidOperationException("after the first byte");
        });
        app.MapGet("/teapot", () => Results.StatusCode(418));
        app.MapGet("/ok", () => "fine");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        using var http = new HttpClient { BaseAddress = new Uri(address) };

        var thrown = await HostileClient.SendAsync(http, HttpMethod.Get, "/throws");
        Assert.Equal(500, thrown.Code);
        Assert.Equal(ErrorCodes.ServerError, thrown.Error.GetProperty("code").GetString());
        Assert.DoesNotContain("marker-7f3a", thrown.Body, StringComparison.Ordinal); // nothing of the exception reaches the client

        var teapot = await HostileClient.SendAsync(http, HttpMethod.Get, "/teapot");
        Assert.Equal(418, teapot.Code);
        Assert.Equal(ErrorTypes.InvalidRequest, teapot.Error.GetProperty("type").GetString());

        var missing = await HostileClient.SendAsync(http, HttpMethod.Get, "/nowhere");
        Assert.Equal(404, missing.Code);
        Assert.Contains("/nowhere", missing.Error.GetProperty("message").GetString(), StringComparison.Ordinal);

        // Started: the status stays 200 and the connection is cut (nothing can be unsaid); the host answers the next request.
        using (var late = await http.GetAsync("/late", HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, late.StatusCode);
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => late.Content.ReadAsStringAsync()); // the body ends cut short
        }
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/ok")).StatusCode);

        await app.StopAsync();
        var errors = logs.Lines.Where(l => l.Logger == GatewayErrors.LogCategory && l.Level == 4).ToList();
        Assert.Single(errors, l => l.Exception.Contains("marker-7f3a", StringComparison.Ordinal));
    }
}
