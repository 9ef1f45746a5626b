using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using CodexLb.Gateway.Endpoints;
using CodexLb.Protocol.Errors;
using CodexLb.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace CodexLb.Tests.Security;

/// <summary>
/// Every non-2xx answer, on every path and method, is an OpenAI-shaped error with the right status (issue 10: unmatched
/// routes and wrong methods answered an empty 404/405; a slow body was a 500 with a stack trace per connection).
/// </summary>
[Collection(ProductCollection.Name)]
public sealed class ErrorShapeTests(ProductFixture product)
{
    [Theory]
    [InlineData("GET", "/")]
    [InlineData("GET", "/nope")]
    [InlineData("GET", "/v1/responses/resp_123/output_items")]
    [InlineData("POST", "/v1/responses/resp_123/resume")]
    [InlineData("PUT", "/backend-api/codex/nope/x")]
    [InlineData("POST", "/v1/completions")]
    [InlineData("GET", "/v1/models/gpt-5.5")]
    [InlineData("GET", "/v1/conversations/conv_123/items/msg_1/content")]
    public async Task Unmatched_routes_are_an_openai_shaped_404_naming_method_and_path(string method, string path)
    {
        foreach (var http in new[] { product.Http, Anonymous() })
        {
            var answer = await HostileClient.SendAsync(http, new HttpMethod(method), path + "?api_key=sk-secret-in-query", method is "POST" or "PUT" ? "{}"u8.ToArray() : null);
            Assert.Equal(HttpStatusCode.NotFound, answer.Status);
            Assert.Equal("application/json", answer.ContentType);
            var error = answer.Error;
            Assert.Equal(ErrorCodes.NotFound, error.GetProperty("code").GetString());
            Assert.Equal(ErrorTypes.InvalidRequest, error.GetProperty("type").GetString());
            Assert.Contains($"{method} {path}", error.GetProperty("message").GetString());
            Assert.DoesNotContain("sk-secret-in-query", answer.Body); // the query string is never echoed
        }
    }

    [Theory]
    [InlineData("PUT", "/v1/responses", "GET, POST")]
    [InlineData("PATCH", "/v1/responses", "GET, POST")]
    [InlineData("DELETE", "/v1/responses", "GET, POST")]
    [InlineData("OPTIONS", "/v1/responses", "GET, POST")]
    [InlineData("PUT", "/backend-api/codex/responses", "GET, POST")]
    [InlineData("OPTIONS", "/responses", "GET, POST")]
    [InlineData("PUT", "/v1/responses/resp_123", "GET, DELETE")]
    [InlineData("POST", "/v1/models", "GET")]
    [InlineData("DELETE", "/v1/models", "GET")]
    public async Task A_known_path_with_the_wrong_method_is_an_openai_shaped_405_with_allow(string method, string path, string allow)
    {
        var answer = await HostileClient.SendAsync(product.Http, new HttpMethod(method), path, method is "POST" or "PUT" or "PATCH" ? "{}"u8.ToArray() : null);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, answer.Status);
        Assert.Equal(allow.Split(", ").Order(), answer.Allow.Split(", ", StringSplitOptions.RemoveEmptyEntries).Order());
        var error = answer.Error;
        Assert.Equal(ErrorCodes.MethodNotAllowed, error.GetProperty("code").GetString());
        Assert.Contains(method, error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Other_refusals_are_openai_shaped_too()
    {
        // A plain GET on the websocket path, no key, a wrong key, a body that is not JSON.
        var plainGet = await HostileClient.SendAsync(product.Http, HttpMethod.Get, "/v1/responses");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, plainGet.Status);
        _ = plainGet.Error;
        var noKey = await HostileClient.PostAsync(Anonymous(), """{"model":"gpt-5.5","input":"hi"}""");
        Assert.Equal(HttpStatusCode.Unauthorized, noKey.Status);
        Assert.Equal(ErrorCodes.InvalidApiKey, noKey.Error.GetProperty("code").GetString());
        var notJson = await HostileClient.PostAsync(product.Http, "{\"model\":");
        Assert.Equal(HttpStatusCode.BadRequest, notJson.Status);
        Assert.Equal(ErrorCodes.InvalidJson, notJson.Error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_slow_request_body_is_a_408_or_a_close_never_a_500_and_logs_no_stack_trace()
    {
        using var logs = new LogCapture();
        var (answer, elapsed) = await SendSlowlyAsync("/v1/responses", "{\"model\":\"gpt-5.5\",\"input\":\"" + new string('x', 64) + "\"}", TimeSpan.FromSeconds(2));

        // Kestrel gives up after its 5 s grace period at 240 bytes/s (MinRequestBodyDataRate).
        Assert.True(elapsed < TimeSpan.FromSeconds(25), $"the slow body was held for {elapsed}");
        if (answer.Length > 0)
        {
            Assert.StartsWith("HTTP/1.1 408", answer);
            var json = answer[answer.IndexOf('{')..(answer.LastIndexOf('}') + 1)];
            Assert.Equal(ErrorCodes.RequestTimeout, HostileClient.AssertOpenAIError(json).GetProperty("code").GetString());
            Assert.DoesNotContain("Retry-After", answer, StringComparison.OrdinalIgnoreCase);
        }
        await Task.Delay(500); // let the host finish its logging of the request
        var loud = logs.Lines.Where(l => l.Level >= 3 && (l.Exception + l.Message).Contains("BadHttpRequest", StringComparison.Ordinal)
            || l.Level >= 3 && (l.Exception + l.Message).Contains("MinRequestBodyDataRate", StringComparison.Ordinal)).ToList();
        Assert.True(loud.Count == 0, "logged at Warning or above: " + string.Join("\n", loud.Select(l => $"{l.Logger} [{l.Level}] {l.Message} {HostileClient.Shorten(l.Exception)}")));
    }

    [Theory]
    [InlineData("/v1/responses")]
    [InlineData("/v1/chat/completions")]
    public async Task A_body_cut_short_by_the_client_logs_no_warning_and_no_stack_trace(string path)
    {
        // Kestrel logged "Reading is already in progress" with a stack trace at Warning for every client that closed a
        // Content-Length body mid-way (dotnet/aspnetcore#52324): an easy log flood.
        using var logs = new LogCapture();
        for (var i = 0; i < 4; i++)
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(product.BaseUrl.Host, product.BaseUrl.Port);
            var stream = tcp.GetStream();
            var half = "{\"model\":\"gpt-5.5\",\"input\":\"" + new string('x', 500);
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST {path} HTTP/1.1\r\nHost: {product.BaseUrl.Authority}\r\n" +
                $"Authorization: Bearer {ProductFixture.ApiKey}\r\nContent-Type: application/json\r\nContent-Length: {half.Length * 2}\r\n\r\n{half}"));
            await Task.Delay(500); // the endpoint is waiting for the rest of the body
            if (i % 2 == 1) tcp.Client.LingerState = new LingerOption(true, 0); // a reset, as a killed client sends; else a plain close
            tcp.Close();
        }
        Assert.Equal(HttpStatusCode.OK, (await product.Http.GetAsync("/v1/models")).StatusCode); // the product still answers
        await Task.Delay(1000); // let Kestrel finish the closed connections

        // The capture is process-wide (other test classes' hosts log too): the categories that see a request's connection
        // and its errors. Debug lines (off by default) may carry a stack trace.
        var loud = logs.Lines.Where(l => l.Logger.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal) || l.Logger == GatewayErrors.LogCategory)
            .Where(l => l.Level >= 3 || (l.Level >= 2 && l.Exception.Contains(" at ", StringComparison.Ordinal)) || l.Exception.Contains("Reading is already in progress", StringComparison.Ordinal))
            .ToList();
        Assert.True(loud.Count == 0, "logged at Warning or above, or with a stack trace: " +
            string.Join("\n", loud.Select(l => $"{l.Logger} [{l.Level}] {l.Message} {HostileClient.Shorten(l.Exception)}")));
        // Not vacuous: the capture sees the host's lines about these connections (Kestrel's at Debug).
        Assert.Contains(logs.Lines, l => l.Logger.StartsWith("Microsoft.AspNetCore.Server.Kestrel", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("GET", "/v1/models?after=", 10_000, 0, 0, 414, "uri_too_long")]
    [InlineData("GET", "/nope/", 10_000, 0, 0, 414, "uri_too_long")]
    [InlineData("POST", "/v1/responses?x=", 12_000, 0, 0, 414, "uri_too_long")]
    [InlineData("GET", "/v1/models", 0, 1, 40_000, 431, "request_headers_too_large")]
    [InlineData("POST", "/v1/responses", 0, 150, 10, 431, "request_headers_too_large")]
    [InlineData("GET", "/healthz", 0, 3, 15_000, 431, "request_headers_too_large")]
    public async Task A_request_line_or_headers_past_the_limits_is_an_openai_shaped_414_or_431(
        string method, string path, int pathPadding, int headerCount, int headerLength, int status, string code)
    {
        // Past the limits clients see (8 KiB request line, 32 KiB or 100 header fields) but within Kestrel's (twice
        // those), which would otherwise refuse with an empty body before any app code runs.
        var headers = Enumerable.Range(0, headerCount).Select(i => KeyValuePair.Create($"x-pad-{i}", new string('h', headerLength)));
        var answer = await HostileClient.SendAsync(product.Http, new HttpMethod(method), path + new string('a', pathPadding),
            method == "POST" ? "{}"u8.ToArray() : null, headers);
        Assert.Equal(status, answer.Code);
        Assert.Equal(code, answer.Error.GetProperty("code").GetString());
        Assert.Equal(ErrorTypes.InvalidRequest, answer.Error.GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_request_line_and_headers_just_within_the_limits_are_served()
    {
        var headers = Enumerable.Range(0, 90).Select(i => KeyValuePair.Create($"x-pad-{i}", new string('h', 300)));
        var answer = await HostileClient.SendAsync(product.Http, HttpMethod.Get, "/v1/models?after=" + new string('a', 7_000), headers: headers);
        Assert.Equal(HttpStatusCode.OK, answer.Status);
    }

    [Fact]
    public void Kestrels_refusals_map_to_their_own_status()
    {
        // Kestrel's own exception derives from this one and carries the status it chose.
        Assert.Equal(408, GatewayErrors.ForBadRequest(new BadHttpRequestException("slow", StatusCodes.Status408RequestTimeout)).Status);
        Assert.Equal(413, GatewayErrors.ForBadRequest(new BadHttpRequestException("big", StatusCodes.Status413PayloadTooLarge), 100).Status);
        Assert.Equal(400, GatewayErrors.ForBadRequest(new BadHttpRequestException("chunk", StatusCodes.Status400BadRequest)).Status);
        Assert.Equal(431, GatewayErrors.ForBadRequest(new BadHttpRequestException("headers", StatusCodes.Status431RequestHeaderFieldsTooLarge)).Status);
        // The same codes as the bridge's own head limits (RequestHeadLimits).
        Assert.Equal(ErrorCodes.RequestHeadersTooLarge, GatewayErrors.ForStatus(431).Code);
        Assert.Equal(ErrorCodes.UriTooLong, GatewayErrors.ForStatus(414).Code);
        foreach (var status in new[] { 400, 401, 403, 404, 405, 408, 409, 413, 414, 415, 429, 431, 500, 502, 503 })
        {
            var error = GatewayErrors.ForStatus(status);
            Assert.Equal(status, error.Status);
            HostileClient.AssertOpenAIError(System.Text.Encoding.UTF8.GetString(error.ToJsonBytes()));
            Assert.Equal(status >= 500, error.Type == ErrorTypes.Server);
        }
    }

    private HttpClient Anonymous() => new() { BaseAddress = product.BaseUrl, Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>POSTs a chunked body one byte per <paramref name="every"/>; returns what came back (empty when the server just closed).</summary>
    private async Task<(string Answer, TimeSpan Elapsed)> SendSlowlyAsync(string path, string body, TimeSpan every)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(product.BaseUrl.Host, product.BaseUrl.Port);
        var stream = tcp.GetStream();
        var head = $"POST {path} HTTP/1.1\r\nHost: {product.BaseUrl.Authority}\r\nAuthorization: Bearer {ProductFixture.ApiKey}\r\n" +
                   "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        var clock = Stopwatch.StartNew();
        var reading = ReadToEndAsync(stream, TimeSpan.FromSeconds(30));
        foreach (var c in body)
        {
            if (reading.IsCompleted || clock.Elapsed > TimeSpan.FromSeconds(25)) break;
            try
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"1\r\n{c}\r\n"));
            }
            catch (IOException)
            {
                break; // the server closed the connection: an accepted outcome
            }
            await Task.WhenAny(reading, Task.Delay(every));
        }
        var answer = await reading;
        return (answer, clock.Elapsed);
    }

    private static async Task<string> ReadToEndAsync(NetworkStream stream, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var received = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var n = await stream.ReadAsync(buffer, cts.Token);
                if (n == 0) break;
                received.Write(buffer, 0, n);
                // One answer is all this connection gets: stop once a complete chunked or sized body arrived.
                var text = Encoding.UTF8.GetString(received.ToArray());
                if (text.Contains("\r\n0\r\n\r\n") || (text.Contains("Content-Length: ") && text.EndsWith('}'))) break;
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException) { }
        return Encoding.UTF8.GetString(received.ToArray());
    }
}
