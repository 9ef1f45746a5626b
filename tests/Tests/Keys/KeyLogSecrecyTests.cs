using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using CodexLb.Silo.Hosting;
using CodexLb.Tests.Infrastructure;
using CodexLb.Tests.Security;
using CodexLb.UpstreamSimulator;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CodexLb.Tests.Keys;

/// <summary>
/// Named keys never reach a log line, nor their hashes, nor a key file's content, nor the operator token: through
/// turns, refusals, usage reads, a key file that turns unreadable and one rotated, with every product category at Trace.
/// </summary>
public sealed class KeyLogSecrecyTests : IAsyncLifetime
{
    private const string Plain = "sk-named-plain-LOGSECRET-01";
    private const string Hashed = "sk-named-hashed-LOGSECRET-02";
    private const string FromFile = "sk-named-file-LOGSECRET-03";
    private const string Rotated = "sk-named-rotated-LOGSECRET-04";
    private const string AdminToken = "admin-token-LOGSECRET-000005";

    private readonly LogSecrecyCapture _capture = new();
    private readonly string _keyFile = Path.Combine(Path.GetTempPath(), $"codexlb-logkey-{Guid.NewGuid():N}");
    private UpstreamSimulatorHost _simulator = null!;
    private Microsoft.AspNetCore.Builder.WebApplication _app = null!;
    private Uri _baseUrl = null!;

    private static string Hex(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(_keyFile, FromFile);
        _simulator = await UpstreamSimulatorHost.StartAsync(new SimulatorOptions());
        _app = await SiloApp.BuildAsync(
        [
            "--urls", "http://127.0.0.1:0",
            "--CodexLb:Upstream:BaseUrl", _simulator.BaseUrl.ToString(),
            "--CodexLb:Upstream:ApiKey", "sk-upstream-key-for-key-logs",
            "--CodexLb:Keys:0:Name", "plain", "--CodexLb:Keys:0:Key", Plain, "--CodexLb:Keys:0:RequestsPerMinute", "1",
            "--CodexLb:Keys:1:Name", "hashed", "--CodexLb:Keys:1:KeyHash", Hex(Hashed), "--CodexLb:Keys:1:Models:0", "gpt-5.4-mini",
            "--CodexLb:Keys:2:Name", "filed", "--CodexLb:Keys:2:KeyFile", _keyFile,
            "--CodexLb:Gateway:KeyFilePollInterval", "00:00:00.100",
            "--CodexLb:Admin:Token", AdminToken,
            "--CodexLb:Cluster:SiloPort", FreePort.Next().ToString(),
            "--CodexLb:Cluster:GatewayPort", FreePort.Next().ToString(),
            "--CodexLb:Cluster:ClusterId", "keylogs-" + Guid.NewGuid().ToString("N")[..8],
            "--Logging:LogLevel:Default", "Trace", "--Logging:LogLevel:CodexLb", "Trace",
        ], builder => builder.Logging.AddProvider(_capture));
        await _app.StartAsync();
        _baseUrl = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    private HttpClient Client(string key)
    {
        var http = new HttpClient { BaseAddress = _baseUrl, Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    private static Task<TurnResult> Turn(HttpClient http, string model = "gpt-5.5") =>
        SseClient.PostAsync(http, "/v1/responses", new System.Text.Json.Nodes.JsonObject
        {
            ["model"] = model, ["stream"] = false, ["input"] = $"hello {Guid.NewGuid():N}",
        });

    [Fact]
    public async Task No_named_key_hash_key_file_content_or_operator_token_reaches_any_log_line()
    {
        using var plain = Client(Plain);
        using var hashed = Client(Hashed);
        using var filed = Client(FromFile);
        Assert.Equal(HttpStatusCode.OK, (await Turn(plain)).Status);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await Turn(plain)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Turn(hashed)).Status);
        Assert.Equal(HttpStatusCode.OK, (await Turn(hashed, "gpt-5.4-mini")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Turn(filed)).Status);
        using (var usage = await plain.GetAsync("/v1/usage")) Assert.Equal(HttpStatusCode.OK, usage.StatusCode);
        using (var admin = Client(AdminToken))
        using (var listing = await admin.GetAsync("/admin/usage")) Assert.Equal(HttpStatusCode.OK, listing.StatusCode);
        using (var wrong = Client(AdminToken + "-wrong"))
        using (var refused = await wrong.GetAsync("/admin/usage")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);

        // The file goes bad (a warning that names the key), then holds a new key (a line saying it changed).
        await File.WriteAllTextAsync(_keyFile, "sha256:not-a-hash-LOGSECRET");
        await WaitForLineAsync("unusable");
        await File.WriteAllTextAsync(_keyFile, Rotated + "\n");
        await WaitForLineAsync("changed");
        using var rotated = Client(Rotated);
        Assert.Equal(HttpStatusCode.OK, (await Turn(rotated)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Turn(filed)).Status);

        var secrets = new[] { Plain, Hashed, FromFile, Rotated, AdminToken, "LOGSECRET", Hex(Plain), Hex(Hashed), Hex(FromFile), Hex(Rotated) };
        var leaks = _capture.Lines.Where(l => secrets.Any(s => l.Text.Contains(s, StringComparison.OrdinalIgnoreCase))).ToList();
        Assert.True(leaks.Count == 0, "secrets in log lines:\n" + string.Join('\n', leaks.Take(10)));
        Assert.Contains(_capture.Lines, l => l.Text.Contains("'filed'") && l.Text.Contains("unusable"));
    }

    private async Task WaitForLineAsync(string text)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!_capture.Lines.Any(l => l.Category.Contains("ClientKeyStore") && l.Text.Contains(text)))
        {
            Assert.True(DateTime.UtcNow < deadline, $"no key store line saying '{text}'");
            await Task.Delay(50);
        }
    }

    public async Task DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _simulator.DisposeAsync();
        File.Delete(_keyFile);
    }
}
