using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.Simulator;

/// <summary>A plain HTTP client against the simulator: JSON calls and SSE streams.</summary>
internal sealed class SimHttp(UpstreamSimulatorHost sim, string prefix = "v1/responses") : IDisposable
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(15) };

    public Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string path, JsonNode body) =>
        SendAsync(HttpMethod.Post, path, body);

    public Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(string path) => SendAsync(HttpMethod.Get, path, null);

    public Task<(HttpStatusCode Status, JsonElement Body)> DeleteAsync(string path) => SendAsync(HttpMethod.Delete, path, null);

    /// <summary>POST {prefix} with stream:true; the SSE frames' payloads (event names checked against their types).</summary>
    public async Task<List<JsonElement>> StreamAsync(JsonNode body)
    {
        body["stream"] = true;
        using var response = await _http.PostAsync(Url(""), new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        return ParseSse(await response.Content.ReadAsStringAsync()).Select(f => f.Data).ToList();
    }

    public static List<(string Event, JsonElement Data)> ParseSse(string text)
    {
        var frames = new List<(string, JsonElement)>();
        foreach (var block in text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var lines = block.Split('\n');
            Assert.Equal(2, lines.Length);
            Assert.StartsWith("event: ", lines[0]);
            Assert.StartsWith("data: ", lines[1]);
            var data = JsonDocument.Parse(lines[1]["data: ".Length..]).RootElement.Clone();
            Assert.Equal(lines[0]["event: ".Length..], data.GetProperty("type").GetString());
            frames.Add((lines[0]["event: ".Length..], data));
        }

        return frames;
    }

    private Uri Url(string path) => new(sim.Root, path.Length == 0 ? prefix : $"{prefix}/{path}");

    private async Task<(HttpStatusCode, JsonElement)> SendAsync(HttpMethod method, string path, JsonNode? body)
    {
        using var request = new HttpRequestMessage(method, Url(path));
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    public void Dispose() => _http.Dispose();
}
