using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using CodexLb.Grains.Abstractions;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;
using Xunit.Abstractions;

namespace CodexLb.Tests.Accounts;

/// <summary>Every account cooling, reasoning bound to an organisation, ChatGPT token refresh, and key rotation without a restart.</summary>
public sealed class AccountFailureTests(ITestOutputHelper output)
{
    private static JsonObject NewTurn(string text) => Items.Body([Items.Message("developer", "sys"), Items.Message("user", text)]);

    [Fact]
    public async Task When_every_account_is_out_of_its_usage_window_the_client_gets_429_with_retry_after_the_earliest_reset()
    {
        await using var product = await AccountsProduct.StartAsync([("a", 1), ("b", 1)]);
        product.Simulator.Keys.Set(AccountsProduct.Key("a"), new KeyPolicy { Quota = 0, Limit = SpentQuota.UsageLimit, ResetsIn = TimeSpan.FromSeconds(300) });
        product.Simulator.Keys.Set(AccountsProduct.Key("b"), new KeyPolicy { Quota = 0, Limit = SpentQuota.UsageLimit, ResetsIn = TimeSpan.FromSeconds(120) });

        var first = await SseClient.PostAsync(product.Http, "/v1/responses", NewTurn("anyone?"));
        output.WriteLine($"{first.Status} retry-after {first.Headers.RetryAfter?.Delta} {first.RawBody}");
        AssertRateLimited(first, 100, 120);
        // Both accounts were asked once, then the pool knows: the next turn is answered without asking the provider.
        Assert.Equal(["a", "b"], product.Simulator.Ledger.Requests.Select(AccountsProduct.AccountOf).Order());
        await product.WaitForHealthAsync(h => h.All(x => x.State == AccountState.Exhausted));
        var requests = product.Simulator.Ledger.Requests.Count;
        var second = await SseClient.PostAsync(product.Http, "/v1/responses", NewTurn("still nobody?"));
        AssertRateLimited(second, 100, 120);
        Assert.Equal(requests, product.Simulator.Ledger.Requests.Count);
    }

    [Fact]
    public async Task When_every_account_refuses_handshakes_with_429_the_client_gets_429_with_retry_after_never_a_400()
    {
        await using var product = await AccountsProduct.StartAsync([("a", 1), ("b", 1), ("c", 1)]);
        foreach (var (name, seconds) in new[] { ("a", 40), ("b", 20), ("c", 30) })
            product.Simulator.Keys.Set(AccountsProduct.Key(name), new KeyPolicy { Quota = 0, RetryAfter = TimeSpan.FromSeconds(seconds) });

        var turn = await SseClient.PostAsync(product.Http, "/v1/responses", NewTurn("rate limited everywhere"));
        output.WriteLine($"{turn.Status} retry-after {turn.Headers.RetryAfter?.Delta} {turn.RawBody}");
        AssertRateLimited(turn, 20, 20);
        Assert.Equal(3, product.Simulator.Ledger.Connections.Count(c => c.EndedBy == ConnectionEnd.HandshakeRefused)); // up to 3 accounts per turn
    }

    private static void AssertRateLimited(TurnResult turn, int minSeconds, int maxSeconds)
    {
        Assert.Equal(HttpStatusCode.TooManyRequests, turn.Status);
        Assert.InRange(turn.Headers.RetryAfter!.Delta!.Value.TotalSeconds, minSeconds, maxSeconds);
        var error = turn.Json.GetProperty("error");
        Assert.Equal("rate_limit_error", error.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
    }

    [Fact]
    public async Task A_moved_conversation_leaves_the_other_organisations_encrypted_reasoning_behind_and_says_so_in_a_metric()
    {
        await using var product = await AccountsProduct.StartAsync([("a", 1), ("b", 1)]);
        product.Simulator.Keys.Set(AccountsProduct.Key("a"), new KeyPolicy { Organization = "org-a" });
        product.Simulator.Keys.Set(AccountsProduct.Key("b"), new KeyPolicy { Organization = "org-b" });

        var first = await SseClient.PostAsync(product.Http, "/v1/responses", NewTurn("RUN_TOOL now"));
        Assert.Equal("response.completed", first.Terminal?.Type);
        Assert.Equal("a", AccountsProduct.AccountOf(product.Simulator.Ledger.Requests.Single()));
        var call = first.OutputItems.Single(i => i.GetProperty("type").GetString() == "function_call");
        Assert.Contains(first.OutputItems, i => i.GetProperty("type").GetString() == "reasoning");

        product.Simulator.Keys.Set(AccountsProduct.Key("a"), new KeyPolicy { Organization = "org-a", Quota = 0, RetryAfter = TimeSpan.FromSeconds(60) });
        var mark = product.Simulator.Ledger.Requests.Count;
        var second = await SseClient.PostAsync(product.Http, "/v1/responses",
            Items.Body([Items.FunctionOutput(call.GetProperty("call_id").GetString()!, "sim-tool-ran")], previousResponseId: first.ResponseId));
        Assert.True(second.Terminal?.Type == "response.completed", second.RawBody[..Math.Min(400, second.RawBody.Length)]);
        var resend = product.RequestsSince(mark).Single(r => r.Outcome == RequestOutcome.Completed);
        Assert.Equal("b", AccountsProduct.AccountOf(resend));
        // developer + user + function_call + its output: the reasoning item stayed behind.
        Assert.Equal(4, resend.InputItemCount);

        var metrics = await product.Http.GetStringAsync("/metrics");
        Assert.Contains("codexlb_reasoning_items_stripped_total", metrics);
        Assert.Contains("codexlb_account_failovers_total{reason=\"rate_limited\"", metrics.Replace("otel_scope_name=\"CodexLb.Grains\",", ""));
    }

    [Fact]
    public async Task A_chatgpt_account_refreshes_its_access_token_before_it_expires_and_after_the_provider_refused_it()
    {
        var refreshToken = "rt-" + Guid.NewGuid().ToString("N");
        var initial = UnsignedJwt(DateTimeOffset.UtcNow.AddSeconds(60)); // expires inside RefreshBefore: refreshed at once
        await using var product = await AccountsProduct.StartAsync(p =>
        [
            "--CodexLb:Accounts:0:Name", "team", "--CodexLb:Accounts:0:AccessToken", initial, "--CodexLb:Accounts:0:RefreshToken", refreshToken,
            "--CodexLb:Accounts:0:AccountId", "acct-team", "--CodexLb:Accounts:0:TokenUrl", new Uri(p.Simulator.Root, "oauth/token").ToString(),
        ]);
        product.Simulator.Keys.AccessTokenLifetime = TimeSpan.FromMinutes(2); // under RefreshBefore (5 min): every connect refreshes

        for (var i = 0; i < 3; i++)
            Assert.Equal("response.completed", (await SseClient.PostAsync(product.Http, "/v1/responses", NewTurn($"turn {i} {Guid.NewGuid():N}"))).Terminal?.Type);
        var tokens = product.Simulator.Ledger.Connections.Select(c => c.Authorization).ToList();
        Assert.Equal(3, tokens.Distinct().Count());
        Assert.DoesNotContain("Bearer " + initial, tokens);
        Assert.Equal(3, product.Simulator.Keys.IssuedTokens); // each refresh used the rotated refresh token of the one before

        // The provider refuses a token it still has time on (expired early): the account refreshes and the turn goes through.
        product.Simulator.Keys.AccessTokenLifetime = TimeSpan.FromHours(1);
        Assert.Equal("response.completed", (await SseClient.PostAsync(product.Http, "/v1/responses", NewTurn("long-lived token"))).Terminal?.Type);
        product.Simulator.Keys.ExpireIssuedTokens();
        var turn = await SseClient.PostAsync(product.Http, "/v1/responses", NewTurn("after expiry " + Guid.NewGuid().ToString("N")));
        Assert.True(turn.Terminal?.Type == "response.completed", turn.RawBody[..Math.Min(400, turn.RawBody.Length)]);
        Assert.Contains(product.Simulator.Ledger.Connections, c => c.EndedBy == ConnectionEnd.HandshakeRefused);
        var health = Assert.Single(await product.Pool.GetHealth());
        Assert.Equal(AccountState.Ready, health.State);
        Assert.Equal(5, (await product.Grains.GetGrain<IAccountGrain>("team").GetHealth()).TokenRefreshes);
    }

    [Fact]
    public async Task A_rotated_api_key_file_is_used_at_the_next_connect_without_a_restart()
    {
        var directory = Directory.CreateTempSubdirectory("codexlb-secret-");
        var keyFile = Path.Combine(directory.FullName, "api-key");
        await File.WriteAllTextAsync(keyFile, "sk-rotate-old\n");
        try
        {
            await using var product = await AccountsProduct.StartAsync(_ => ["--CodexLb:Accounts:0:Name", "mounted", "--CodexLb:Accounts:0:ApiKeyFile", keyFile]);
            Assert.Equal("response.completed", (await SseClient.PostAsync(product.Http, "/v1/responses", NewTurn("with the old key"))).Terminal?.Type);
            Assert.Equal("Bearer sk-rotate-old", product.Simulator.Ledger.Connections.Single().Authorization);

            // The provider revokes the old key before the Secret is updated: turns fail retryably (never a 400)...
            product.Simulator.Keys.Set("sk-rotate-old", new KeyPolicy { Revoked = true });
            var refused = await SseClient.PostAsync(product.Http, "/v1/responses", NewTurn("revoked " + Guid.NewGuid().ToString("N")));
            Assert.Equal(HttpStatusCode.BadGateway, refused.Status);
            Assert.NotNull(refused.Headers.RetryAfter);

            // ...until the mounted file changes: the next connect reads it.
            await File.WriteAllTextAsync(keyFile, "sk-rotate-new-and-longer\n");
            var rotated = await SseClient.PostAsync(product.Http, "/v1/responses", NewTurn("rotated " + Guid.NewGuid().ToString("N")));
            Assert.True(rotated.Terminal?.Type == "response.completed", rotated.RawBody[..Math.Min(400, rotated.RawBody.Length)]);
            Assert.Equal("Bearer sk-rotate-new-and-longer", product.Simulator.Ledger.Connections[^1].Authorization);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static string UnsignedJwt(DateTimeOffset expires)
    {
        static string B64(string json) => Convert.ToBase64String(Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return B64("""{"alg":"none"}""") + "." + B64($$"""{"exp":{{expires.ToUnixTimeSeconds()}}}""") + ".x";
    }
}
