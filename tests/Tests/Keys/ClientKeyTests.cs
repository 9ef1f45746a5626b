using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.Tests.Infrastructure;

namespace CodexLb.Tests.Keys;

/// <summary>The embedded product with named client keys (one per behaviour), an operator token and a key file that is rotated.</summary>
public sealed class KeysProductFixture : ProductFixture, IAsyncLifetime
{
    public const string Limited = "sk-keys-limited-0001";      // 3 requests per minute
    public const string Quota = "sk-keys-quota-00000001";      // a daily budget of 1 token (configured as its hash)
    public const string PerMinute = "sk-keys-tpm-000000001";   // 1 token per minute
    public const string Models = "sk-keys-models-000001";      // gpt-5.4-mini only
    public const string Metered = "sk-keys-metered-00001";     // no limits
    public const string Ledger = "sk-keys-ledger-000001";      // no limits, used by one test only: its usage is exactly that test's
    public const string FirstRotating = "sk-keys-rotating-first";
    public const string AdminToken = "admin-token-0123456789abcdef";

    public string KeyFile { get; } = Path.Combine(Path.GetTempPath(), $"codexlb-key-{Guid.NewGuid():N}");

    public KeysProductFixture() => File.WriteAllText(KeyFile, FirstRotating + "\n");

    protected override IEnumerable<string> ExtraArgs =>
    [
        "--CodexLb:Keys:0:Name", "limited", "--CodexLb:Keys:0:Key", Limited, "--CodexLb:Keys:0:RequestsPerMinute", "3",
        "--CodexLb:Keys:1:Name", "quota", "--CodexLb:Keys:1:KeyHash", "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Quota))),
        "--CodexLb:Keys:1:TokensPerDay", "1",
        "--CodexLb:Keys:2:Name", "per-minute", "--CodexLb:Keys:2:Key", PerMinute, "--CodexLb:Keys:2:TokensPerMinute", "1",
        "--CodexLb:Keys:3:Name", "models", "--CodexLb:Keys:3:Key", Models, "--CodexLb:Keys:3:Models:0", "gpt-5.4-mini",
        "--CodexLb:Keys:4:Name", "metered", "--CodexLb:Keys:4:Key", Metered,
        "--CodexLb:Keys:5:Name", "rotating", "--CodexLb:Keys:5:KeyFile", KeyFile,
        "--CodexLb:Keys:6:Name", "ledger", "--CodexLb:Keys:6:Key", Ledger,
        "--CodexLb:Gateway:KeyFilePollInterval", "00:00:00.200",
        "--CodexLb:Admin:Token", AdminToken,
    ];

    public HttpClient Client(string key)
    {
        var client = new HttpClient { BaseAddress = BaseUrl, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        File.Delete(KeyFile);
    }
}

/// <summary>
/// Named keys end to end: limits answered as OpenAI answers them (429 + Retry-After, rate_limit_exceeded or
/// insufficient_quota), a model allow-list, usage that matches what the provider (the simulator) says it used, a key
/// file rotated while running, and the operator's listing behind its own token.
/// </summary>
public sealed class ClientKeyTests(KeysProductFixture product) : IClassFixture<KeysProductFixture>
{
    private static JsonObject Body(string text, string model = "gpt-5.5", bool stream = false, string? previousResponseId = null)
    {
        var body = Items.Body([Items.Message("user", $"{text} {Guid.NewGuid():N}")], stream, previousResponseId);
        body["model"] = model;
        return body;
    }

    private static Task<TurnResult> Turn(HttpClient client, JsonObject body) => SseClient.PostAsync(client, "/v1/responses", body);

    private static JsonElement Error(TurnResult result) => result.Json.GetProperty("error");

    private static int RetryAfter(TurnResult result)
    {
        Assert.True(result.Headers.RetryAfter?.Delta is not null, $"no Retry-After: {result.RawBody}");
        return (int)result.Headers.RetryAfter!.Delta!.Value.TotalSeconds;
    }

    /// <summary>The key's usage once it shows what <paramref name="done"/> says (usage arrives in batches, once a second).</summary>
    private static async Task<JsonElement> UsageWhenAsync(HttpClient client, Func<JsonElement, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            using var response = await client.GetAsync("/v1/usage");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var usage = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
            if (done(usage)) return usage;
            if (DateTime.UtcNow > deadline) Assert.Fail($"usage never got there: {usage}");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task Past_its_requests_per_minute_a_key_gets_429_rate_limit_exceeded_with_retry_after_on_every_transport()
    {
        using var client = product.Client(KeysProductFixture.Limited);
        for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.OK, (await Turn(client, Body($"limited {i}"))).Status);

        var refused = await Turn(client, Body("one too many"));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.Status);
        Assert.Equal("rate_limit_exceeded", Error(refused).GetProperty("code").GetString());
        Assert.Equal("rate_limit_error", Error(refused).GetProperty("type").GetString());
        Assert.Contains("requests per min", Error(refused).GetProperty("message").GetString());
        Assert.InRange(RetryAfter(refused), 1, 60);

        var streaming = await Turn(client, Body("streaming, too many", stream: true));
        Assert.Equal(HttpStatusCode.TooManyRequests, streaming.Status); // refused before any byte: a status, not a stream
        Assert.Equal("rate_limit_exceeded", Error(streaming).GetProperty("code").GetString());

        var chat = await SseClient.PostAsync(client, "/v1/chat/completions", new JsonObject
        {
            ["model"] = "gpt-5.5", ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "chat, too many" }),
        });
        Assert.Equal(HttpStatusCode.TooManyRequests, chat.Status);
        Assert.Equal("rate_limit_exceeded", Error(chat).GetProperty("code").GetString());

        await using var socket = await WsClient.ConnectAsync(product.BaseUrl, KeysProductFixture.Limited);
        var frame = Assert.Single(await socket.TurnAsync(Body("websocket, too many")));
        Assert.Equal("error", frame.Type());
        Assert.Equal(429, frame.GetProperty("status").GetInt32());
        Assert.Equal("rate_limit_exceeded", frame.GetProperty("error").GetProperty("code").GetString());

        // Another key is not affected, and the limited key's usage says so.
        using var other = product.Client(KeysProductFixture.Metered);
        Assert.Equal(HttpStatusCode.OK, (await Turn(other, Body("another key"))).Status);
        var usage = await UsageWhenAsync(client, u => u.GetProperty("minute").GetProperty("requests").GetInt64() == 3);
        Assert.Equal(3, usage.GetProperty("limits").GetProperty("requests_per_minute").GetInt64());
        Assert.Equal(0, usage.GetProperty("remaining").GetProperty("requests_per_minute").GetInt64());
    }

    [Fact]
    public async Task A_key_past_its_daily_budget_gets_429_insufficient_quota_until_midnight_utc()
    {
        using var client = product.Client(KeysProductFixture.Quota);
        Assert.Equal(HttpStatusCode.OK, (await Turn(client, Body("spend the budget"))).Status);
        await UsageWhenAsync(client, u => u.GetProperty("day").GetProperty("total_tokens").GetInt64() > 0);

        var refused = await Turn(client, Body("over budget"));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.Status);
        Assert.Equal("insufficient_quota", Error(refused).GetProperty("code").GetString());
        Assert.Equal("insufficient_quota", Error(refused).GetProperty("type").GetString());
        var midnight = DateTimeOffset.UtcNow.UtcDateTime.Date.AddDays(1);
        Assert.InRange(RetryAfter(refused), 1, (int)Math.Ceiling((midnight - DateTime.UtcNow).TotalSeconds) + 1);
    }

    [Fact]
    public async Task A_key_past_its_tokens_per_minute_gets_429_rate_limit_exceeded()
    {
        using var client = product.Client(KeysProductFixture.PerMinute);
        Assert.Equal(HttpStatusCode.OK, (await Turn(client, Body("spend the minute"))).Status);
        await UsageWhenAsync(client, u => u.GetProperty("minute").GetProperty("total_tokens").GetInt64() > 0);

        var refused = await Turn(client, Body("too many tokens"));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.Status);
        Assert.Equal("rate_limit_exceeded", Error(refused).GetProperty("code").GetString());
        Assert.Contains("tokens per min", Error(refused).GetProperty("message").GetString());
        Assert.InRange(RetryAfter(refused), 1, 60);
    }

    [Fact]
    public async Task A_model_off_the_keys_list_is_404_model_not_found_and_a_listed_one_runs()
    {
        using var client = product.Client(KeysProductFixture.Models);
        var refused = await Turn(client, Body("wrong model", model: "gpt-5.5"));
        Assert.Equal(HttpStatusCode.NotFound, refused.Status);
        Assert.Equal("model_not_found", Error(refused).GetProperty("code").GetString());
        Assert.Equal("model", Error(refused).GetProperty("param").GetString());
        Assert.Contains("may not use it", Error(refused).GetProperty("message").GetString());

        var allowed = await Turn(client, Body("right model", model: "gpt-5.4-mini"));
        Assert.Equal(HttpStatusCode.OK, allowed.Status);
        Assert.Equal("completed", allowed.Json.GetProperty("status").GetString());

        // The model list says the same: only what this key may use; another key sees them all.
        var listed = System.Text.Json.JsonDocument.Parse(await client.GetStringAsync("/v1/models")).RootElement.GetProperty("data");
        Assert.Equal(["gpt-5.4-mini"], listed.EnumerateArray().Select(m => m.GetProperty("id").GetString()));
        using var other = product.Client(KeysProductFixture.Metered);
        Assert.True(System.Text.Json.JsonDocument.Parse(await other.GetStringAsync("/v1/models")).RootElement.GetProperty("data").GetArrayLength() > 1);
    }

    [Fact]
    public async Task Usage_per_model_equals_what_the_provider_reported_for_the_keys_turns()
    {
        using var client = product.Client(KeysProductFixture.Ledger);
        var ids = new List<string>();
        var first = await Turn(client, Body("metered one", model: "gpt-5.5"));
        ids.Add(first.Json.GetProperty("id").GetString()!);
        var second = await Turn(client, Body("metered two", model: "gpt-5.5", previousResponseId: ids[0]));
        ids.Add(second.Json.GetProperty("id").GetString()!);
        var third = await Turn(client, Body("metered three", model: "gpt-5.4-mini", stream: true));
        Assert.Equal("response.completed", third.Terminal!.Type);
        ids.Add(third.ResponseId!);

        var ledger = ids.Select(id => product.Simulator.Ledger.Requests.Single(r => r.ResponseId == id)).ToList();
        var usage = await UsageWhenAsync(client, u => u.GetProperty("day").GetProperty("requests").GetInt64() >= 3
            && u.GetProperty("day").GetProperty("output_tokens").GetInt64() >= ledger.Sum(r => r.OutputTokens));

        Assert.Equal("ledger", usage.GetProperty("name").GetString());
        var day = usage.GetProperty("day");
        Assert.Equal(3, day.GetProperty("requests").GetInt64());
        Assert.Equal(ledger.Sum(r => (long)r.ContextTokens), day.GetProperty("input_tokens").GetInt64());
        Assert.Equal(ledger.Sum(r => (long)r.OutputTokens), day.GetProperty("output_tokens").GetInt64());
        foreach (var model in new[] { "gpt-5.5", "gpt-5.4-mini" })
        {
            var perModel = usage.GetProperty("models").EnumerateArray().Single(m => m.GetProperty("model").GetString() == model).GetProperty("day");
            var upstream = ledger.Where(r => r.Model == model).ToList();
            Assert.Equal(upstream.Count, perModel.GetProperty("requests").GetInt64());
            Assert.Equal(upstream.Sum(r => (long)r.ContextTokens), perModel.GetProperty("input_tokens").GetInt64());
            Assert.Equal(upstream.Sum(r => (long)r.OutputTokens), perModel.GetProperty("output_tokens").GetInt64());
        }
        Assert.Equal(JsonValueKind.Null, usage.GetProperty("limits").GetProperty("requests_per_minute").ValueKind);
        Assert.Equal(JsonValueKind.Null, usage.GetProperty("remaining").GetProperty("tokens_per_day").ValueKind);

        // The same per key and model on /metrics (this process's counters).
        var metrics = await product.Http.GetStringAsync("/metrics");
        var tokens = metrics.Split('\n').Where(l => l.StartsWith("codexlb_key_tokens_total{", StringComparison.Ordinal) && l.Contains("key=\"ledger\"")).ToList();
        Assert.True(tokens.Count > 0, "no codexlb_key_tokens_total for the key on /metrics");
        long Metric(string model, string type) => tokens.Where(l => l.Contains($"model=\"{model}\"") && l.Contains($"type=\"{type}\""))
            .Sum(l => long.Parse(l[(l.LastIndexOf('}') + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(ledger.Where(r => r.Model == "gpt-5.5").Sum(r => (long)r.ContextTokens), Metric("gpt-5.5", "input"));
        Assert.Equal(ledger.Where(r => r.Model == "gpt-5.4-mini").Sum(r => (long)r.OutputTokens), Metric("gpt-5.4-mini", "output"));
        Assert.Contains(metrics.Split('\n'), l => l.StartsWith("codexlb_key_requests_total{", StringComparison.Ordinal) && l.Contains("key=\"ledger\""));

        using var wrong = product.Client("sk-not-a-configured-key");
        using var unauthenticated = await wrong.GetAsync("/v1/usage");
        Assert.Equal(HttpStatusCode.Unauthorized, unauthenticated.StatusCode);
    }

    [Fact]
    public async Task A_key_file_rotated_while_running_takes_the_new_key_refuses_the_old_and_keeps_the_conversation()
    {
        using var old = product.Client(KeysProductFixture.FirstRotating);
        var before = await Turn(old, Body("before rotation"));
        Assert.Equal(HttpStatusCode.OK, before.Status);
        await using var openSocket = await WsClient.ConnectAsync(product.BaseUrl, KeysProductFixture.FirstRotating);
        Assert.Equal("response.completed", (await openSocket.TurnAsync(Body("a websocket before rotation")))[^1].Type());

        var rotated = "sk-keys-rotating-second-" + Guid.NewGuid().ToString("N")[..8];
        await File.WriteAllTextAsync(product.KeyFile + ".new", rotated + "\n");
        File.Move(product.KeyFile + ".new", product.KeyFile, overwrite: true); // an atomic swap, as a Secret update is
        using var fresh = product.Client(rotated);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        TurnResult after;
        while ((after = await Turn(fresh, Body("after rotation", previousResponseId: before.Json.GetProperty("id").GetString()))).Status == HttpStatusCode.Unauthorized)
        {
            Assert.True(DateTime.UtcNow < deadline, "the rotated key was never accepted");
            await Task.Delay(100);
        }
        // Same name, same tenant: the new key continues what the old one started.
        Assert.Equal(HttpStatusCode.OK, after.Status);
        Assert.Equal("completed", after.Json.GetProperty("status").GetString());

        var refused = await Turn(old, Body("old key"));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.Status);
        Assert.Equal("invalid_api_key", Error(refused).GetProperty("code").GetString());
        // A websocket opened with the old key is refused at its next turn.
        var frame = Assert.Single(await openSocket.TurnAsync(Body("a websocket after rotation")));
        Assert.Equal((401, "invalid_api_key"), (frame.GetProperty("status").GetInt32(), frame.GetProperty("error").GetProperty("code").GetString()));
    }

    [Fact]
    public async Task The_operator_listing_takes_only_the_operator_token_and_lists_every_key_without_key_material()
    {
        using var anonymous = new HttpClient { BaseAddress = product.BaseUrl };
        using (var none = await anonymous.GetAsync("/admin/usage")) Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        using var clientKey = product.Client(KeysProductFixture.Metered);
        using (var wrong = await clientKey.GetAsync("/admin/usage")) Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        using var close = product.Client(KeysProductFixture.AdminToken + "x");
        using (var almost = await close.GetAsync("/admin/usage")) Assert.Equal(HttpStatusCode.Unauthorized, almost.StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await Turn(clientKey, Body("for the listing"))).Status);
        using var operatorClient = product.Client(KeysProductFixture.AdminToken);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            using var response = await operatorClient.GetAsync("/admin/usage");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var raw = await response.Content.ReadAsStringAsync();
            var keys = JsonDocument.Parse(raw).RootElement.GetProperty("keys").EnumerateArray().ToList();
            Assert.Equal(["api-key-0", "api-key-1", "ledger", "limited", "metered", "models", "per-minute", "quota", "rotating"],
                keys.Select(k => k.GetProperty("name").GetString()).Order(StringComparer.Ordinal));
            foreach (var secret in new[] { KeysProductFixture.Limited, KeysProductFixture.Quota, KeysProductFixture.Metered, KeysProductFixture.Ledger, KeysProductFixture.FirstRotating, ProductFixture.ApiKey })
                Assert.DoesNotContain(secret, raw);
            Assert.DoesNotContain(ProductFixture.UpstreamKey, raw);
            // The upstream pool's health sits next to the keys: the product's one account, serving, with its turns.
            var account = Assert.Single(JsonDocument.Parse(raw).RootElement.GetProperty("accounts").EnumerateArray());
            Assert.Equal(("default", "ready"), (account.GetProperty("name").GetString(), account.GetProperty("state").GetString()));
            var metered = keys.Single(k => k.GetProperty("name").GetString() == "metered");
            if (metered.GetProperty("day").GetProperty("requests").GetInt64() >= 1 && account.GetProperty("turns").GetInt64() >= 1) break;
            Assert.True(DateTime.UtcNow < deadline, "the metered key's turn never showed in the listing");
            await Task.Delay(100);
        }
    }
}

/// <summary>Without <c>CodexLb:Admin:Token</c> (the shared product's setting), the operator endpoint does not exist.</summary>
[Collection(ProductCollection.Name)]
public sealed class AdminEndpointOffTests(ProductFixture product)
{
    [Fact]
    public async Task Without_an_operator_token_admin_usage_is_404_even_with_a_client_key()
    {
        using var response = await product.Http.GetAsync("/admin/usage");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("not_found", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());
    }
}
