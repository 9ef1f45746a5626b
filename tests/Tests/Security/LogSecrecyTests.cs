using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using CodexLb.Silo.Hosting;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;
using CodexLb.UpstreamSimulator.Faults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CodexLb.Tests.Security;

/// <summary>One captured log line: its level, category and everything a sink could write (message, state values, exception, scopes).</summary>
public sealed record LogSecrecyLine(long Sequence, LogLevel Level, string Category, string Text)
{
    public override string ToString() => $"#{Sequence} {Level} {Category}: {Text}";
}

/// <summary>An <see cref="ILoggerProvider"/> that keeps every line it is given (after the host's level filters), scopes included.</summary>
public sealed class LogSecrecyCapture : ILoggerProvider, ISupportExternalScope
{
    private readonly ConcurrentQueue<LogSecrecyLine> _lines = new();
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();
    private long _sequence;

    public IReadOnlyList<LogSecrecyLine> Lines => [.. _lines];

    /// <summary>The sequence number the next line will get: a mark to read the lines written after it.</summary>
    public long Mark => Interlocked.Read(ref _sequence);

    public IEnumerable<LogSecrecyLine> Since(long mark) => _lines.Where(l => l.Sequence >= mark);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose() { }

    private sealed class Logger(LogSecrecyCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => owner._scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var text = new StringBuilder(formatter(state, exception));
            Append(text, state);
            if (exception is not null) text.Append(" | exception: ").Append(exception);
            owner._scopes.ForEachScope((scope, sb) => { sb.Append(" | scope: "); Append(sb, scope); }, text);
            owner._lines.Enqueue(new LogSecrecyLine(Interlocked.Increment(ref owner._sequence) - 1, logLevel, category, text.ToString()));
        }

        private static void Append(StringBuilder text, object? state)
        {
            if (state is IEnumerable<KeyValuePair<string, object?>> values)
                foreach (var (key, value) in values) text.Append(" | ").Append(key).Append('=').Append(value);
            else text.Append(" | ").Append(state);
        }
    }
}

/// <summary>
/// The embedded default (SiloApp, real Kestrel on loopback, client keys on, a dashboard password) with the shipped log
/// levels (plus <see cref="LogLevels"/>), every line captured.
/// </summary>
public class LogSecrecyFixture : IAsyncLifetime
{
    public const string ClientKey = "sk-client-key-LOGSECRET-0001";
    public const string UpstreamKey = "sk-upstream-key-LOGSECRET-0002";
    public const string DashboardPassword = "dashboard-password-LOGSECRET-0003";
    public const string AccountKey = "sk-account-key-LOGSECRET-0004";
    public const string AccountAccessToken = "chatgpt-access-LOGSECRET-0005";
    public const string AccountRefreshToken = "chatgpt-refresh-LOGSECRET-0006";

    /// <summary>Upstream accounts (command-line style), given once the simulator runs; none = the single upstream key.</summary>
    protected virtual IEnumerable<string> Accounts => [];

    public LogSecrecyCapture Capture { get; } = new();

    /// <summary>Log-level configuration on top of the shipped defaults (command-line style).</summary>
    protected virtual IEnumerable<string> LogLevels => [];
    public UpstreamSimulatorHost Simulator { get; private set; } = null!;
    public WebApplication App { get; private set; } = null!;
    public Uri BaseUrl { get; private set; } = null!;
    public HttpClient Anonymous { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Simulator = await UpstreamSimulatorHost.StartAsync(new SimulatorOptions());
        App = await SiloApp.BuildAsync(
        [
            "--urls", "http://127.0.0.1:0",
            "--CodexLb:Upstream:BaseUrl", Simulator.BaseUrl.ToString(),
            "--CodexLb:Upstream:ApiKey", UpstreamKey,
            "--CodexLb:Gateway:ApiKeys:0", ClientKey,
            "--CodexLb:Dashboard:Password", DashboardPassword,
            "--CodexLb:Cluster:SiloPort", FreePort.Next().ToString(),
            "--CodexLb:Cluster:GatewayPort", FreePort.Next().ToString(),
            "--CodexLb:Cluster:ClusterId", "logs-" + Guid.NewGuid().ToString("N")[..8],
            .. LogLevels,
            .. Accounts,
        ], builder => builder.Logging.AddProvider(Capture));
        await App.StartAsync();
        BaseUrl = new Uri(App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        Anonymous = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(60) };
        Http = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(60) };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ClientKey);
    }

    public async Task DisposeAsync()
    {
        Anonymous.Dispose();
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        await Simulator.DisposeAsync();
    }
}

/// <summary>
/// Every category the shipped defaults do not name at Trace (the product's own, Orleans…); ASP.NET Core and Polly keep their
/// shipped level (Warning), as they would in production with Default raised.
/// </summary>
public class LogSecrecySecretsFixture : LogSecrecyFixture
{
    protected override IEnumerable<string> LogLevels => ["--Logging:LogLevel:Default", "Trace", "--Logging:LogLevel:CodexLb", "Trace"];

    /// <summary>A platform key and a ChatGPT account whose token gets refreshed: the test makes the pool fail over and refresh.</summary>
    protected override IEnumerable<string> Accounts =>
    [
        "--CodexLb:Accounts:0:Name", "primary", "--CodexLb:Accounts:0:ApiKey", AccountKey,
        "--CodexLb:Accounts:1:Name", "team", "--CodexLb:Accounts:1:AccessToken", AccountAccessToken,
        "--CodexLb:Accounts:1:RefreshToken", AccountRefreshToken, "--CodexLb:Accounts:1:AccountId", "acct-team",
        "--CodexLb:Accounts:1:TokenUrl", new Uri(Simulator.Root, "oauth/token").ToString(),
    ];
}

/// <summary>
/// Everything at Trace, ASP.NET Core's own per-request lines included (hosting, routing, Kestrel, HttpClient): what an
/// operator gets by raising the levels while debugging. The URLs those lines carry lose their query strings.
/// </summary>
public sealed class LogSecrecyTraceFixture : LogSecrecySecretsFixture
{
    protected override IEnumerable<string> LogLevels =>
    [
        "--Logging:LogLevel:Default", "Trace", "--Logging:LogLevel:Microsoft.AspNetCore", "Trace",
        "--Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics", "Trace",
        "--Logging:LogLevel:Polly", "Trace", "--Logging:LogLevel:System.Net.Http.HttpClient", "Trace",
    ];
}

/// <summary>The shipped levels, unchanged.</summary>
public sealed class LogSecrecyQuietFixture : LogSecrecyFixture;

/// <summary>Nothing secret or private reaches a log line: keys in any header or the query string, credentials, conversation text.</summary>
public sealed class LogSecrecyTests(LogSecrecySecretsFixture product) : IClassFixture<LogSecrecySecretsFixture>
{
    [Fact]
    public Task No_key_credential_or_conversation_text_reaches_any_log_line() => LogSecrecyScenario.RunAsync(product);
}

/// <summary>The same with ASP.NET Core's per-request lines at Trace: still no key (the query string never reaches a line).</summary>
public sealed class LogSecrecyTraceTests(LogSecrecyTraceFixture product) : IClassFixture<LogSecrecyTraceFixture>
{
    [Fact]
    public async Task No_key_credential_or_conversation_text_reaches_any_log_line_with_every_category_at_trace()
    {
        await LogSecrecyScenario.RunAsync(product);
        // Not vacuous: the lines that quoted the keys are written at these levels, with the path and without the key.
        Assert.Contains(product.Capture.Lines, l => l.Category == "Microsoft.AspNetCore.Hosting.Diagnostics" && l.Text.Contains("/v1/models?[redacted]", StringComparison.Ordinal));
        Assert.Contains(product.Capture.Lines, l => l.Category == "Microsoft.AspNetCore.Server.Kestrel.BadRequests" && l.Text.Contains("Invalid request header: '[redacted]'", StringComparison.Ordinal));
    }
}

/// <summary>Keys in every place a client may put one, credentials, failures and conversation text; then no line carries any.</summary>
public static class LogSecrecyScenario
{
    public static async Task RunAsync(LogSecrecyFixture product)
    {
        var secrets = new List<string>
        {
            LogSecrecyFixture.ClientKey, LogSecrecyFixture.UpstreamKey, LogSecrecyFixture.DashboardPassword, LogSecrecyFixture.AccountKey,
            LogSecrecyFixture.AccountAccessToken, LogSecrecyFixture.AccountRefreshToken,
        };
        string Secret(string name)
        {
            var value = $"{name}-LOGSECRET-{Guid.NewGuid():N}";
            secrets.Add(value);
            return value;
        }

        // A key in the query string (the finding: a 401 whose URL was logged four times at Information).
        Assert.Equal(HttpStatusCode.Unauthorized, (await product.Anonymous.GetAsync("/v1/models?api_key=" + Secret("query"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await product.Anonymous.GetAsync(
            $"/v1/models?key={Secret("query")}&access_token={Secret("query")}")).StatusCode);
        // Requests Kestrel refuses before any app code runs, a key in the query of a malformed request line and in a
        // malformed header line (Kestrel quotes the offending bytes in its bad-request lines when its Information is on).
        await SendRawAsync(product.BaseUrl, $"GET /v1/models?api_key={Secret("query")} HTTP/1.1 junk\r\nHost: x\r\n\r\n");
        await SendRawAsync(product.BaseUrl, $"GET /v1/models HTTP/1.1\r\nHost: x\r\nx-api-key {Secret("header")}\r\n\r\n");
        await SendRawAsync(product.BaseUrl, $"GET /v1/models?api_key={Secret("query")}\u0001 HTTP/1.1\r\nHost: x\r\n\r\n");
        // A websocket upgrade with the key in the query string.
        await using (var ws = await WsClient.ConnectAsync(new Uri(product.BaseUrl, "?api_key=" + Secret("query")), LogSecrecyFixture.ClientKey)) { }

        // A wrong bearer token, and keys in the headers other clients use (not read by the bridge: still a 401).
        using (var wrongBearer = new HttpRequestMessage(HttpMethod.Post, "/v1/responses?api_key=" + Secret("query"))
               {
                   Content = new StringContent(Items.Body([Items.Message("user", Secret("text-401"))]).ToJsonString(), Encoding.UTF8, "application/json"),
               })
        {
            wrongBearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Secret("bearer"));
            Assert.Equal(HttpStatusCode.Unauthorized, (await product.Anonymous.SendAsync(wrongBearer)).StatusCode);
        }
        using (var headerKeys = new HttpRequestMessage(HttpMethod.Get, "/v1/models"))
        {
            headerKeys.Headers.TryAddWithoutValidation("api-key", Secret("api-key"));
            headerKeys.Headers.TryAddWithoutValidation("x-api-key", Secret("x-api-key"));
            headerKeys.Headers.TryAddWithoutValidation("Authorization", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("user:" + Secret("basic"))));
            Assert.Equal(HttpStatusCode.Unauthorized, (await product.Anonymous.SendAsync(headerKeys)).StatusCode);
        }

        // 400s whose bodies carry conversation text: malformed JSON, and a wrong field type.
        var malformed = await SseClient.PostAsync(product.Http, "/v1/responses?api_key=" + Secret("query"),
            "{\"model\":\"gpt-5.5\",\"input\":[{\"type\":\"message\",\"role\":\"user\",\"content\":\"" + Secret("text-400") + "\"");
        Assert.Equal(HttpStatusCode.BadRequest, malformed.Status);
        var wrongType = await SseClient.PostAsync(product.Http, "/v1/responses",
            new JsonObject { ["model"] = "gpt-5.5", ["input"] = new JsonObject { ["text"] = Secret("text-400") } }.ToJsonString());
        Assert.Equal(HttpStatusCode.BadRequest, wrongType.Status);

        // Successful turns with distinctive text (the key also in the query string), continued, over HTTP and websocket.
        var first = await SseClient.PostAsync(product.Http, "/v1/responses?api_key=" + LogSecrecyFixture.ClientKey,
            Items.Body([Items.Message("user", Secret("text-turn"))]), new Dictionary<string, string> { ["x-api-key"] = Secret("x-api-key") });
        Assert.Equal("response.completed", first.Terminal?.Type);
        var second = await SseClient.PostAsync(product.Http, "/v1/responses",
            Items.Body([Items.Message("user", Secret("text-turn"))], previousResponseId: first.ResponseId));
        Assert.Equal("response.completed", second.Terminal?.Type);
        await using (var ws = await WsClient.ConnectAsync(product.BaseUrl, LogSecrecyFixture.ClientKey, new Dictionary<string, string> { ["api-key"] = Secret("api-key") }))
        {
            var events = await ws.TurnAsync(Items.Body([Items.Message("user", Secret("text-ws"))]));
            Assert.Equal("response.completed", events[^1].Type());
            await ws.SendRawAsync("{\"type\":\"response.create\",\"model\":\"gpt-5.5\",\"input\":\"" + Secret("text-ws") + "\""); // malformed frame
            await ws.ReceiveAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        }

        // Failures that make the product log: the provider drops the socket mid-response, then refuses the handshake.
        var dropped = Secret("text-fault");
        product.Simulator.Faults.Add(Fault.CloseAfter(2).WhenTextContains(dropped).Times(1));
        await SseClient.PostAsync(product.Http, "/v1/responses", Items.Body([Items.Message("user", dropped)]));
        var refused = Secret("text-fault");
        product.Simulator.Faults.Add(Fault.CloseBefore(0).WhenTextContains(refused).Times(1));
        product.Simulator.Faults.Add(Fault.RefuseHandshake(401).Times(1));
        await SseClient.PostAsync(product.Http, "/v1/responses", Items.Body([Items.Message("user", refused)]));

        // The pool fails over: both accounts' credentials are refused; the ChatGPT one refreshes its token and carries the turn.
        product.Simulator.Keys.Set(LogSecrecyFixture.AccountKey, new KeyPolicy { Revoked = true });
        product.Simulator.Keys.Set(LogSecrecyFixture.AccountAccessToken, new KeyPolicy { Revoked = true });
        var failover = await SseClient.PostAsync(product.Http, "/v1/responses", Items.Body([Items.Message("user", Secret("text-failover"))]));
        Assert.True(failover.Terminal?.Type == "response.completed", failover.RawBody);
        Assert.Equal(1, product.Simulator.Keys.IssuedTokens);

        // The dashboard: a wrong password, the right one, and a malformed path.
        using (var dashboard = new HttpClient { BaseAddress = product.BaseUrl })
        {
            dashboard.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:" + Secret("dashboard-password"))));
            Assert.Equal(HttpStatusCode.Unauthorized, (await dashboard.GetAsync("/dashboard/DashboardCounters?token=" + Secret("query"))).StatusCode);
            dashboard.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:" + LogSecrecyFixture.DashboardPassword)));
            Assert.Equal(HttpStatusCode.OK, (await dashboard.GetAsync("/dashboard/DashboardCounters")).StatusCode);
            Assert.Equal(HttpStatusCode.BadRequest, (await dashboard.GetAsync("/dashboard/SiloProperties/127.0.0.1:0?key=" + Secret("query"))).StatusCode);
        }
        await Task.Delay(500); // lines written as the last responses complete

        var lines = product.Capture.Lines;
        // The capture works and sees the product's own lines (the socket the provider dropped, at least).
        Assert.Contains(lines, l => l.Category.StartsWith("CodexLb.", StringComparison.Ordinal));
        var leaks = (from line in lines
                     from secret in secrets.Concat(secrets.Select(s => Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:" + s))))
                     where line.Text.Contains(secret, StringComparison.Ordinal) || line.Text.Contains("LOGSECRET", StringComparison.Ordinal)
                     select line).Distinct().ToList();
        Assert.True(leaks.Count == 0, $"{leaks.Count} log lines carry a secret or conversation text:\n{string.Join("\n", leaks.Take(20))}");
    }

    /// <summary>Sends raw bytes on a new connection and reads the answer (Kestrel's 400 for a malformed request).</summary>
    private static async Task SendRawAsync(Uri baseUrl, string request)
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(baseUrl.Host, baseUrl.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var answer = new byte[4096];
        var read = await stream.ReadAsync(answer, timeout.Token);
        Assert.StartsWith("HTTP/1.1 4", Encoding.ASCII.GetString(answer, 0, read));
    }
}

/// <summary>At the shipped levels a successful request writes no Information line (per-request logging is off by default).</summary>
public sealed class LogSecrecyQuietTests(LogSecrecyQuietFixture product) : IClassFixture<LogSecrecyQuietFixture>
{
    [Fact]
    public async Task Successful_requests_write_no_information_line_at_the_default_levels()
    {
        // Warm up (first activations), then measure.
        Assert.Equal("response.completed", (await SseClient.PostAsync(product.Http, "/v1/responses", Items.Body([Items.Message("user", "warm up")]))).Terminal?.Type);
        await Task.Delay(300);
        var mark = product.Capture.Mark;

        Assert.Equal(HttpStatusCode.OK, (await product.Http.GetAsync("/v1/models")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await product.Anonymous.GetAsync("/healthz")).StatusCode);
        var first = await SseClient.PostAsync(product.Http, "/v1/responses", Items.Body([Items.Message("user", "hello")]));
        Assert.Equal("response.completed", first.Terminal?.Type);
        var next = await SseClient.PostAsync(product.Http, "/v1/responses", Items.Body([Items.Message("user", "again")], stream: false, previousResponseId: first.ResponseId));
        Assert.Equal(HttpStatusCode.OK, next.Status);
        await using (var ws = await WsClient.ConnectAsync(product.BaseUrl, LogSecrecyFixture.ClientKey))
            Assert.Equal("response.completed", (await ws.TurnAsync(Items.Body([Items.Message("user", "over a websocket")])))[^1].Type());
        await Task.Delay(500);

        var written = product.Capture.Since(mark).Where(l => l.Level >= LogLevel.Information).ToList();
        Assert.True(written.Count == 0, $"{written.Count} lines at Information or above for successful requests:\n{string.Join("\n", written.Take(20))}");
        // Not vacuous: Information lines are captured at these levels (the host's start-up lines).
        Assert.Contains(product.Capture.Lines, l => l.Level == LogLevel.Information && l.Category == "Microsoft.Hosting.Lifetime");
    }
}

/// <summary>The standalone gateway and a production silo (real processes) keep keys in the query string out of their logs too.</summary>
public sealed class LogSecrecyProcessTests
{
    [Fact]
    public async Task Gateway_and_production_silo_processes_do_not_log_query_strings_nor_dump_their_options_at_the_default_levels()
    {
        var logs = await RunAsync([]);
        foreach (var (name, log) in logs)
        {
            Assert.False(log.Contains("Request starting", StringComparison.Ordinal), $"{name}: ASP.NET Core's per-request lines are off by default");
            // Orleans' options dump (a "Configuration Orleans.…" block per options class) is off; its start-up lines are not.
            Assert.False(log.Contains("Configuration Orleans.", StringComparison.Ordinal), $"{name} dumped Orleans' options at the default levels:\n{log[..Math.Min(log.Length, 3000)]}");
            Assert.True(log.Contains("info: Orleans.", StringComparison.Ordinal), $"{name} wrote no Orleans Information line (not vacuous)");
        }
        Assert.Contains("CodexLb started.", logs.Single(l => l.Name == "silo1").Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gateway_and_production_silo_processes_do_not_log_query_strings_with_every_category_at_trace()
    {
        var logs = await RunAsync(["--Logging:LogLevel:Default", "Trace", "--Logging:LogLevel:Microsoft.AspNetCore", "Trace",
            "--Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics", "Trace"]);
        foreach (var (name, log) in logs) // not vacuous: the per-request lines are written, without the query
            Assert.True(log.Contains("/v1/models?[redacted]", StringComparison.Ordinal), $"{name} wrote no per-request line at Trace");
    }

    /// <summary>Sends a key in the query string to each process, and returns each product process's log (none carries a secret).</summary>
    private static async Task<List<(string Name, string Log)>> RunAsync(string[] logLevels)
    {
        const string Key = "sk-process-client-key-0001";
        await using var cluster = await Cluster.ClusterHarness.StartAsync(silos: 1, gateways: 1, new Cluster.ClusterHarnessOptions
        {
            Label = "log-secrecy",
            ApiKey = Key,
            SiloArgs = logLevels,
            GatewayArgs = logLevels,
        });
        var secrets = new List<string>();
        foreach (var process in new[] { cluster.Gateways[0], cluster.Silos[0] })
        {
            var secret = $"query-LOGSECRET-{Guid.NewGuid():N}";
            secrets.Add(secret);
            using var anonymous = new HttpClient { BaseAddress = process.HttpBase };
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/v1/models?api_key=" + secret)).StatusCode);
            var text = $"text-LOGSECRET-{Guid.NewGuid():N}";
            secrets.Add(text);
            var turn = await SseClient.PostAsync(cluster.CreateClient(process), "/v1/responses?api_key=" + Key, Items.Body([Items.Message("user", text)]));
            Assert.Equal("response.completed", turn.Terminal?.Type);
        }
        await Task.Delay(500);

        var logs = new List<(string, string)>();
        foreach (var process in cluster.Gateways.Concat(cluster.Silos)) // the product's processes (not Redis or the simulator)
        {
            // The process's own output (the harness's "==== start" lines quote the command line, keys included).
            var log = string.Join('\n', (await File.ReadAllLinesAsync(process.LogPath)).Where(l => !l.Contains(" ==== ", StringComparison.Ordinal)));
            foreach (var secret in secrets.Append(Key).Append(Cluster.ClusterHarness.UpstreamApiKey))
                Assert.False(log.Contains(secret, StringComparison.Ordinal), $"{process.Name}'s log carries {secret}:\n{log[^Math.Min(log.Length, 4000)..]}");
            logs.Add((process.Name, log));
        }
        return logs;
    }
}
