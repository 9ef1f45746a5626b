using CodexLb.Grains.Accounts;
using CodexLb.Grains.Upstream;
using CodexLb.Silo.Hosting;
using CodexLb.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace CodexLb.Tests.Accounts;

/// <summary>How accounts are configured: the environment, a Codex CLI auth.json, the single upstream key, and validation.</summary>
public sealed class AccountConfigurationTests
{
    [Fact]
    public void Accounts_come_from_the_environment_with_the_upstream_base_url_as_their_default()
    {
        var prefix = $"CODEXLB_TEST_{Guid.NewGuid():N}_";
        var variables = new Dictionary<string, string>
        {
            ["CodexLb__Accounts__0__Name"] = "a", ["CodexLb__Accounts__0__ApiKey"] = "sk-env-a",
            ["CodexLb__Accounts__1__Name"] = "b", ["CodexLb__Accounts__1__ApiKey"] = "sk-env-b", ["CodexLb__Accounts__1__Weight"] = "2.5",
            ["CodexLb__Accounts__1__BaseUrl"] = "https://chatgpt.com/backend-api/codex", ["CodexLb__Upstream__BaseUrl"] = "http://127.0.0.1:9/v1",
        };
        foreach (var (key, value) in variables) Environment.SetEnvironmentVariable(prefix + key, value);
        try
        {
            var configuration = new ConfigurationBuilder().AddEnvironmentVariables(prefix).Build();
            var upstream = new UpstreamOptions();
            configuration.GetSection(UpstreamOptions.Section).Bind(upstream);
            var catalog = new AccountCatalog(configuration, Options.Create(upstream));

            Assert.True(catalog.Configured);
            Assert.Empty(catalog.Validate());
            Assert.Equal(["a", "b"], catalog.Accounts.Select(a => a.Name));
            Assert.Equal("sk-env-a", catalog.Find("a")!.ApiKey);
            Assert.Equal(new Uri("http://127.0.0.1:9/v1"), catalog.Find("a")!.BaseUrl);
            Assert.Equal(2.5, catalog.Find("b")!.Weight);
            Assert.Equal("/backend-api/codex", catalog.Find("b")!.BaseUrl!.AbsolutePath);
        }
        finally
        {
            foreach (var key in variables.Keys) Environment.SetEnvironmentVariable(prefix + key, null);
        }
    }

    [Fact]
    public void The_single_upstream_key_is_a_pool_of_one()
    {
        var configuration = new ConfigurationBuilder().Build();
        var catalog = new AccountCatalog(configuration, Options.Create(new UpstreamOptions { ApiKey = "sk-single", AccountId = "acct" }));
        var only = Assert.Single(catalog.Accounts);
        Assert.Equal((AccountCatalog.DefaultName, "sk-single", "acct"), (only.Name, only.ApiKey, only.AccountId));
        Assert.False(catalog.Configured);
    }

    [Fact]
    public async Task Invalid_accounts_stop_the_start_with_messages_naming_the_keys_and_never_a_secret()
    {
        await using var app = await SiloApp.BuildAsync(
        [
            "--urls", "http://127.0.0.1:0",
            "--CodexLb:Accounts:0:Name", "dup", "--CodexLb:Accounts:0:ApiKey", "sk-secret-one", "--CodexLb:Accounts:0:AccessToken", "secret-token",
            "--CodexLb:Accounts:1:Name", "dup", "--CodexLb:Accounts:1:ApiKeyFile", "/nonexistent/secret/file",
            "--CodexLb:Accounts:2:Name", "bad name!", "--CodexLb:Accounts:2:ApiKey", "sk-secret-two", "--CodexLb:Accounts:2:Weight", "0",
            "--CodexLb:Pool:MaxAttempts", "0",
            "--CodexLb:Cluster:ClusterId", "cfg-" + Guid.NewGuid().ToString("N")[..8],
        ]);
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());
        var message = string.Join("\n", error.Failures);
        Assert.Contains("CodexLb:Accounts:0 must have exactly one credential", message);
        Assert.Contains("CodexLb:Accounts:1:Name 'dup' is used by another account", message);
        Assert.Contains("CodexLb:Accounts:1:ApiKeyFile names a file that does not exist", message);
        Assert.Contains("CodexLb:Accounts:2:Name must be", message);
        Assert.Contains("CodexLb:Accounts:2:Weight must be a positive number", message);
        Assert.Contains("CodexLb:Pool:MaxAttempts", message);
        Assert.DoesNotContain("secret", message);
    }

    [Fact]
    public async Task A_codex_cli_auth_json_supplies_the_token_and_account_id()
    {
        var directory = Directory.CreateTempSubdirectory("codexlb-auth-");
        var authFile = Path.Combine(directory.FullName, "auth.json");
        await File.WriteAllTextAsync(authFile, """
            {
              "OPENAI_API_KEY": null,
              "tokens": {
                "id_token": "eyJhbGciOiJub25lIn0.eyJlbWFpbCI6InRlc3RAZXhhbXBsZS5jb20ifQ.x",
                "access_token": "chatgpt-access-from-auth-json",
                "refresh_token": "chatgpt-refresh-from-auth-json",
                "account_id": "acct-from-auth-json"
              },
              "last_refresh": "2026-01-01T00:00:00Z"
            }
            """);
        try
        {
            await using var product = await AccountsProduct.StartAsync(_ => ["--CodexLb:Accounts:0:Name", "cli", "--CodexLb:Accounts:0:AuthFile", authFile]);
            var turn = await SseClient.PostAsync(product.Http, "/v1/responses",
                Items.Body([Items.Message("user", "from auth.json")]));
            Assert.Equal("response.completed", turn.Terminal?.Type);
            Assert.Equal("Bearer chatgpt-access-from-auth-json", product.Simulator.Ledger.Connections.Single().Authorization);
            var health = Assert.Single(await product.Pool.GetHealth());
            Assert.Equal("chatgpt", health.Kind);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
