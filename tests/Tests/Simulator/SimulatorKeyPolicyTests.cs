using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.UpstreamSimulator;
using static CodexLb.Tests.Simulator.SimRequests;

namespace CodexLb.Tests.Simulator;

/// <summary>Per-key behaviour: quotas and what a spent one answers, revoked keys, usage reports, the token endpoint, bound reasoning.</summary>
public sealed class SimulatorKeyPolicyTests
{
    private static readonly JsonNode[] Turn = [Developer("sys"), User("hello")];

    [Fact]
    public async Task A_rate_limit_quota_answers_429_frames_then_refuses_handshakes_with_retry_after_and_reports_usage_headers()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        sim.Keys.Set("sk-quota", new KeyPolicy { Quota = 2, RetryAfter = TimeSpan.FromSeconds(7) });

        await using (var client = await SimWsClient.ConnectAsync(sim, authorization: "Bearer sk-quota"))
        {
            var headers = client.Socket.HttpResponseHeaders!;
            Assert.Equal("2", headers["x-ratelimit-remaining-requests"].Single());
            Assert.Equal("0", headers["x-codex-primary-used-percent"].Single());
            Assert.True((await client.CreateAsync(Turn)).IsCompleted);
            Assert.True((await client.CreateAsync(Turn)).IsCompleted);
            var refused = await client.CreateAsync(Turn);
            Assert.Equal("error", refused.Last.GetProperty("type").GetString());
            Assert.Equal(429, refused.Last.GetProperty("status").GetInt32());
            Assert.Equal("rate_limit_exceeded", refused.Last.GetProperty("error").GetProperty("code").GetString());
        }

        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.SetRequestHeader("Authorization", "Bearer sk-quota");
        await Assert.ThrowsAnyAsync<WebSocketException>(() => socket.ConnectAsync(sim.WebSocketUrl, CancellationToken.None));
        Assert.Equal(HttpStatusCode.TooManyRequests, socket.HttpStatusCode);
        Assert.Equal("7", socket.HttpResponseHeaders!["Retry-After"].Single());
        Assert.Equal("0", socket.HttpResponseHeaders!["x-ratelimit-remaining-requests"].Single());
        Assert.Equal("100", socket.HttpResponseHeaders!["x-codex-primary-used-percent"].Single());

        var state = sim.Keys.Snapshot().Single();
        Assert.Equal((2, 2), (state.Used, state.Refused));
        // Other keys are untouched.
        await using var other = await SimWsClient.ConnectAsync(sim);
        Assert.True((await other.CreateAsync(Turn)).IsCompleted);
    }

    [Fact]
    public async Task A_usage_limit_names_its_reset_and_each_response_is_preceded_by_a_codex_rate_limits_event()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        sim.Keys.Set("chatgpt-token", new KeyPolicy { Quota = 2, Limit = SpentQuota.UsageLimit, ResetsIn = TimeSpan.FromSeconds(120) });
        await using var client = await SimWsClient.ConnectAsync(sim, authorization: "Bearer chatgpt-token");

        var first = await client.CreateAsync(Turn);
        Assert.Equal("codex.rate_limits", first.Events[0].GetProperty("type").GetString());
        Assert.Equal("response.created", first.Events[1].GetProperty("type").GetString());
        var primary = first.Events[0].GetProperty("rate_limits").GetProperty("primary");
        Assert.Equal(50, primary.GetProperty("used_percent").GetDouble()); // this request included
        Assert.Equal(120, primary.GetProperty("reset_after_seconds").GetInt32());
        Assert.True(first.IsCompleted);
        Assert.True((await client.CreateAsync(Turn)).IsCompleted);

        var limited = await client.CreateAsync(Turn);
        var error = limited.Last.GetProperty("error");
        Assert.Equal(429, limited.Last.GetProperty("status").GetInt32());
        Assert.Equal("usage_limit_reached", error.GetProperty("type").GetString());
        Assert.Equal(120, error.GetProperty("resets_in_seconds").GetInt32());

        // Keys without a policy see no usage event.
        await using var plain = await SimWsClient.ConnectAsync(sim);
        Assert.Equal("response.created", (await plain.CreateAsync(Turn)).Events[0].GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_revoked_key_is_refused_401_at_the_handshake_and_the_control_api_sets_policies_at_run_time()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        using var http = new HttpClient { BaseAddress = sim.Root };
        var put = await http.PutAsync("_sim/keys/sk-gone", new StringContent("""{"revoked":true}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NoContent, put.StatusCode);

        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.SetRequestHeader("Authorization", "Bearer sk-gone");
        await Assert.ThrowsAnyAsync<WebSocketException>(() => socket.ConnectAsync(sim.WebSocketUrl, CancellationToken.None));
        Assert.Equal(HttpStatusCode.Unauthorized, socket.HttpStatusCode);

        var keys = await http.GetFromJsonAsync("_sim/keys", SimulatorJsonContext.Default.IReadOnlyListKeyState);
        Assert.True(Assert.Single(keys!).Policy.Revoked);
        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync("_sim/keys/sk-gone")).StatusCode);
        await using var client = await SimWsClient.ConnectAsync(sim, authorization: "Bearer sk-gone");
        Assert.True((await client.CreateAsync(Turn)).IsCompleted);
    }

    [Fact]
    public async Task The_token_endpoint_rotates_refresh_tokens_and_issues_expiring_access_tokens_under_the_family_policy()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync(new SimulatorOptions { AccessTokenLifetime = TimeSpan.FromSeconds(90) });
        sim.Keys.Set("rt-initial", new KeyPolicy { Quota = 1 });
        using var http = new HttpClient { BaseAddress = sim.Root };

        var answer = await Refresh(http, "rt-initial");
        var access = answer.GetProperty("access_token").GetString()!;
        var next = answer.GetProperty("refresh_token").GetString()!;
        Assert.Equal(90, answer.GetProperty("expires_in").GetInt32());
        var exp = JsonDocument.Parse(Convert.FromBase64String(Pad(access.Split('.')[1]))).RootElement.GetProperty("exp").GetInt64();
        Assert.InRange(exp - DateTimeOffset.UtcNow.ToUnixTimeSeconds(), 80, 95);

        var reused = await http.PostAsync("oauth/token", Json("""{"grant_type":"refresh_token","refresh_token":"rt-initial"}"""));
        Assert.Equal(HttpStatusCode.Unauthorized, reused.StatusCode);
        var again = await Refresh(http, next);
        Assert.NotEqual(access, again.GetProperty("access_token").GetString());

        // An issued token follows its family's policy: one generation, then the quota's 429.
        await using (var client = await SimWsClient.ConnectAsync(sim, authorization: "Bearer " + access))
        {
            Assert.True((await client.CreateAsync(Turn)).IsCompleted);
            Assert.Equal(429, (await client.CreateAsync(Turn)).Last.GetProperty("status").GetInt32());
        }
        Assert.Equal(2, sim.Keys.Snapshot().Single().Refreshes);

        Assert.Equal(HttpStatusCode.NoContent, (await http.PostAsync("_sim/tokens/expire", null)).StatusCode);
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        socket.Options.SetRequestHeader("Authorization", "Bearer " + access);
        await Assert.ThrowsAnyAsync<WebSocketException>(() => socket.ConnectAsync(sim.WebSocketUrl, CancellationToken.None));
        Assert.Equal(HttpStatusCode.Unauthorized, socket.HttpStatusCode);
    }

    [Fact]
    public async Task Reasoning_is_bound_to_the_organisation_that_produced_it()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        sim.Keys.Set("sk-org-a", new KeyPolicy { Organization = "org-a" });
        sim.Keys.Set("sk-org-b", new KeyPolicy { Organization = "org-b" });
        JsonNode[] history;
        await using (var a = await SimWsClient.ConnectAsync(sim, authorization: "Bearer sk-org-a"))
        {
            var first = await a.CreateAsync([User("RUN_TOOL please")]);
            Assert.Contains(first.Output, item => item.GetProperty("type").GetString() == "reasoning");
            history = [User("RUN_TOOL please"), .. first.OutputNodes, ToolOutput(first.Output.Last().GetProperty("call_id").GetString()!, "ok")];
            Assert.True((await a.CreateAsync(history)).IsCompleted); // its own organisation reads it
        }
        await using var b = await SimWsClient.ConnectAsync(sim, authorization: "Bearer sk-org-b");
        var refused = await b.CreateAsync(history);
        Assert.Equal(400, refused.Last.GetProperty("status").GetInt32());
        Assert.Equal("invalid_encrypted_content", refused.Last.GetProperty("error").GetProperty("code").GetString());
        var withoutReasoning = history.Where(i => i["type"]?.GetValue<string>() != "reasoning").Select(i => i.DeepClone()).ToArray();
        Assert.True((await b.CreateAsync(withoutReasoning)).IsCompleted);
    }

    private static async Task<JsonElement> Refresh(HttpClient http, string refreshToken)
    {
        var response = await http.PostAsync("oauth/token", Json($$"""{"client_id":"app_test","grant_type":"refresh_token","refresh_token":"{{refreshToken}}"}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static string Pad(string b64)
    {
        var s = b64.Replace('-', '+').Replace('_', '/');
        return s.PadRight(s.Length + (4 - s.Length % 4) % 4, '=');
    }
}
