using System.Net;
using System.Net.Http.Headers;
using System.Text;
using CodexLb.Silo.Dashboard;
using CodexLb.Silo.Hosting;
using CodexLb.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace CodexLb.Tests.Dashboard;

public sealed class AuthenticatedDashboardFixture : ProductFixture
{
    public const string Password = "dashboard-test-password";
    protected override IEnumerable<string> ExtraArgs => ["--CodexLb:Dashboard:Password", Password];
}

[CollectionDefinition(Name)]
public sealed class AuthenticatedDashboardCollection : ICollectionFixture<AuthenticatedDashboardFixture>
{
    public const string Name = "authenticated-dashboard";
}

public sealed class LockedDashboardFixture : ProductFixture
{
    protected override IEnumerable<string> ExtraArgs => ["--CodexLb:Dashboard:RequireAuthentication", "true"];
}

/// <summary>
/// The embedded default exactly as README's first command starts it: no client keys (open mode), the bundled simulator,
/// no dashboard settings.
/// </summary>
public sealed class OpenEmbeddedDefaultFixture : IAsyncLifetime
{
    public WebApplication App { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        App = await SiloApp.BuildAsync(
        [
            "--urls", "http://127.0.0.1:0",
            "--CodexLb:Upstream:UseSimulator=true",
            "--CodexLb:Cluster:SiloPort", FreePort.Next().ToString(),
            "--CodexLb:Cluster:GatewayPort", FreePort.Next().ToString(),
            "--CodexLb:Cluster:ClusterId", "open-" + Guid.NewGuid().ToString("N")[..8],
            "--Logging:LogLevel:Default", "Warning",
        ]);
        await App.StartAsync();
        Http = new HttpClient { BaseAddress = new Uri(App.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()) };
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}

/// <summary>Paths of the dashboard that name a silo, malformed: each must be a 4xx, never a 500.</summary>
public static class MalformedDashboardPaths
{
    public static readonly string[] All =
    [
        "/dashboard/SiloProperties/127.0.0.1:0",
        "/dashboard/SiloProperties/garbage",
        "/dashboard/SiloProperties/127.0.0.1:1@notanumber",
        "/dashboard/SiloProperties/1.2.3.4:5@99999999999999999999",
        "/dashboard/SiloMetadata/127.0.0.1:0",
        "/dashboard/SiloStats/127.0.0.1:0",
        "/dashboard/SiloCounters/127.0.0.1:0",
        "/dashboard/HistoricalStats/127.0.0.1:0",
        "/dashboard/HistoricalStats/127.0.0.1:99999@1",
        "/dashboard/SiloStats/%20",
    ];

    public static async Task AssertAll4xxAsync(HttpClient http, HttpStatusCode? expected = null)
    {
        foreach (var path in All)
        {
            using var response = await http.GetAsync(path);
            var status = (int)response.StatusCode;
            Assert.True(status is >= 400 and < 500, $"{path} answered {status}: {await response.Content.ReadAsStringAsync()}");
            if (expected is { } e) Assert.True(response.StatusCode == e, $"{path} answered {status}, expected {(int)e}");
            var body = await response.Content.ReadAsStringAsync();
            Assert.DoesNotContain(" at ", body); // no stack trace
            Assert.DoesNotContain("Exception", body);
        }
    }
}

/// <summary>The Orleans dashboard served by the embedded silo, rendered by headless Chromium (with its credentials: client keys are on).</summary>
[Collection(AuthenticatedDashboardCollection.Name)]
public sealed class DashboardRenderTests(AuthenticatedDashboardFixture product)
{
    [Fact]
    public async Task The_dashboard_renders_the_silo_and_the_conversation_grain_type()
    {
        var turn = await SseClient.PostAsync(product.Http, "/v1/responses", Items.Body([Items.Message("user", "make a grain")]));
        Assert.Equal("response.completed", turn.Terminal!.Type);

        Uri Page(string fragment) => new UriBuilder(product.BaseUrl)
        {
            UserName = "admin", Password = AuthenticatedDashboardFixture.Password, Path = "/dashboard/", Fragment = fragment,
        }.Uri;
        // The dashboard learns grain types at its next counter sample (CodexLb:Dashboard:CounterSeconds, 5 s by default).
        var grains = await HeadlessChromium.DumpDomAsync(Page("/grains"));
        for (var attempt = 0; attempt < 6 && !grains.Contains("ConversationGrain"); attempt++)
        {
            await Task.Delay(TimeSpan.FromSeconds(2));
            grains = await HeadlessChromium.DumpDomAsync(Page("/grains"));
        }
        Assert.Contains("ConversationGrain", grains);
        var silos = await HeadlessChromium.DumpDomAsync(Page("/silos"));
        Assert.Contains("127.0.0.1:", silos);
        Assert.Contains("Silos", silos);

        var artifacts = Path.Combine(Fixtures.RepoRoot, "artifacts");
        Directory.CreateDirectory(artifacts);
        var screenshot = Path.Combine(artifacts, "dashboard-grains.png");
        File.Delete(screenshot);
        await HeadlessChromium.ScreenshotAsync(Page("/grains"), screenshot);
        Assert.True(new FileInfo(screenshot).Length > 10_000, "the screenshot is empty");
    }
}

[Collection(AuthenticatedDashboardCollection.Name)]
public sealed class DashboardAuthenticationTests(AuthenticatedDashboardFixture product)
{
    [Fact]
    public async Task Basic_authentication_guards_the_dashboard_and_not_the_api()
    {
        using var anonymous = new HttpClient { BaseAddress = product.BaseUrl };
        var refused = await anonymous.GetAsync("/dashboard/");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("Basic", refused.Headers.WwwAuthenticate.ToString());

        anonymous.DefaultRequestHeaders.Authorization = Basic("admin", "wrong-password");
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/dashboard/")).StatusCode);

        anonymous.DefaultRequestHeaders.Authorization = Basic("admin", AuthenticatedDashboardFixture.Password);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/dashboard/")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await new HttpClient { BaseAddress = product.BaseUrl }.GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task A_malformed_silo_path_is_a_400_and_an_unknown_silo_a_404_never_a_500()
    {
        using var http = new HttpClient { BaseAddress = product.BaseUrl };
        http.DefaultRequestHeaders.Authorization = Basic("admin", AuthenticatedDashboardFixture.Password);
        await MalformedDashboardPaths.AssertAll4xxAsync(http, HttpStatusCode.BadRequest);

        var silo = product.App.Services.GetRequiredService<Orleans.Runtime.ILocalSiloDetails>().SiloAddress.ToParsableString();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/dashboard/SiloProperties/" + silo)).StatusCode);
        var unknown = silo[..silo.IndexOf('@')] + "@1";
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/dashboard/SiloProperties/" + unknown)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/dashboard/SiloCounters/10.255.255.1:11111@1")).StatusCode);
    }

    [Fact]
    public async Task Its_assets_are_served_and_a_path_it_does_not_have_is_an_openai_shaped_404()
    {
        // The dashboard's endpoints are made on its first request, in a pipeline of their own: the same answers as the host's.
        using var http = new HttpClient { BaseAddress = product.BaseUrl };
        http.DefaultRequestHeaders.Authorization = Basic("admin", AuthenticatedDashboardFixture.Password);
        var script = await http.GetAsync("/dashboard/index.min.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.True((await script.Content.ReadAsByteArrayAsync()).Length > 1_000);

        var missing = await http.GetAsync("/dashboard/no-such-page");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var body = System.Text.Json.JsonDocument.Parse(await missing.Content.ReadAsStringAsync());
        Assert.True(body.RootElement.GetProperty("error").TryGetProperty("message", out _));
    }

    internal static AuthenticationHeaderValue Basic(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password)));
}

public sealed class LockedDashboardTests(LockedDashboardFixture product) : IClassFixture<LockedDashboardFixture>
{
    [Fact]
    public async Task Authentication_on_without_a_password_keeps_the_dashboard_locked()
    {
        using var client = new HttpClient { BaseAddress = product.BaseUrl };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:")));
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/dashboard/")).StatusCode);
    }
}

/// <summary>
/// The embedded default with client API keys and no dashboard settings at all (ProductFixture): the dashboard is locked, as
/// in production mode, because its data (host name, silo address, ports, grain counts) is not for clients.
/// </summary>
[Collection(ProductCollection.Name)]
public sealed class DashboardWithClientKeysTests(ProductFixture product)
{
    [Fact]
    public async Task Client_api_keys_lock_the_dashboard_in_the_embedded_default()
    {
        using var anonymous = new HttpClient { BaseAddress = product.BaseUrl };
        foreach (var path in new[] { "/dashboard", "/dashboard/", "/dashboard/DashboardCounters", "/dashboard/ClusterStats", "/dashboard/GrainTypes",
                     "/dashboard/SiloProperties/127.0.0.1:0" })
        {
            using var response = await anonymous.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{path} answered {(int)response.StatusCode}");
            var body = await response.Content.ReadAsStringAsync();
            Assert.DoesNotContain("127.0.0.1", body);
            Assert.DoesNotContain(Environment.MachineName, body);
        }

        // A client's own API key is not a dashboard credential.
        Assert.Equal(HttpStatusCode.Unauthorized, (await product.Http.GetAsync("/dashboard/DashboardCounters")).StatusCode);
        using var keyAsBasic = new HttpClient { BaseAddress = product.BaseUrl };
        keyAsBasic.DefaultRequestHeaders.Authorization = DashboardAuthenticationTests.Basic("admin", ProductFixture.ApiKey);
        Assert.Equal(HttpStatusCode.Unauthorized, (await keyAsBasic.GetAsync("/dashboard/DashboardCounters")).StatusCode);
        await MalformedDashboardPaths.AssertAll4xxAsync(anonymous, HttpStatusCode.Unauthorized);
    }
}

/// <summary>The embedded default in open mode (no client keys): the only case where the dashboard is served without credentials.</summary>
public sealed class OpenDashboardTests(OpenEmbeddedDefaultFixture product) : IClassFixture<OpenEmbeddedDefaultFixture>
{
    [Fact]
    public async Task Open_mode_serves_the_dashboard_and_a_malformed_silo_path_is_a_400()
    {
        Assert.Equal(HttpStatusCode.OK, (await product.Http.GetAsync("/dashboard/DashboardCounters")).StatusCode);
        await MalformedDashboardPaths.AssertAll4xxAsync(product.Http, HttpStatusCode.BadRequest);
    }
}

/// <summary>When the dashboard requires credentials, read from configuration alone.</summary>
public sealed class DashboardSettingsTests
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public void Credentials_are_required_in_production_and_whenever_client_keys_are_set()
    {
        Assert.False(DashboardHosting.Read(Config(), production: false).RequireAuthentication);
        Assert.True(DashboardHosting.Read(Config(), production: true).RequireAuthentication);
        Assert.True(DashboardHosting.Read(Config(("CodexLb:Gateway:ApiKeys:0", "sk-client-key")), production: false).RequireAuthentication);
        Assert.True(DashboardHosting.Read(Config(("CodexLb:Dashboard:RequireAuthentication", "true")), production: false).RequireAuthentication);
        Assert.False(DashboardHosting.Read(Config(("CodexLb:Dashboard:RequireAuthentication", "false")), production: true).RequireAuthentication);
    }

    [Fact]
    public void Turning_authentication_off_while_client_keys_are_set_stops_the_start_up_with_a_message_naming_the_keys()
    {
        var error = Assert.Throws<OptionsValidationException>(() => DashboardHosting.Read(
            Config(("CodexLb:Gateway:ApiKeys:0", "sk-client-key"), ("CodexLb:Dashboard:RequireAuthentication", "false")), production: false));
        Assert.Contains("CodexLb:Dashboard:RequireAuthentication", error.Message);
        Assert.Contains("CodexLb:Gateway:ApiKeys", error.Message);
        // With the dashboard off there is nothing to protect.
        Assert.False(DashboardHosting.Read(Config(("CodexLb:Gateway:ApiKeys:0", "sk-client-key"), ("CodexLb:Dashboard:RequireAuthentication", "false"),
            ("CodexLb:Dashboard:Enabled", "false")), production: false).Enabled);
    }

    [Fact]
    public void The_dashboard_samples_its_counters_every_five_seconds_unless_told_otherwise_and_refuses_an_interval_out_of_range()
    {
        Assert.Equal(5_000, CounterInterval(DashboardHosting.Read(Config(), production: false)));
        Assert.Equal(1_000, CounterInterval(DashboardHosting.Read(Config(("CodexLb:Dashboard:CounterSeconds", "1")), production: false)));
        var error = Assert.Throws<OptionsValidationException>(() => DashboardHosting.Read(Config(("CodexLb:Dashboard:CounterSeconds", "0")), production: false));
        Assert.Contains("CodexLb:Dashboard:CounterSeconds", error.Message);
    }

    /// <summary>The interval Orleans' dashboard is configured with once the silo is built (not started).</summary>
    private static int CounterInterval(DashboardSettings settings)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.UseOrleans(silo => DashboardHosting.AddTo(silo.UseLocalhostClustering(), settings));
        using var host = builder.Build();
        return host.Services.GetRequiredService<IOptions<Orleans.Dashboard.DashboardOptions>>().Value.CounterUpdateIntervalMs;
    }
}
