using System.Net;
using System.Net.Http.Headers;
using System.Text;
using CodexLb.Tests.Infrastructure;

namespace CodexLb.Tests.Dashboard;

/// <summary>The Orleans dashboard served by the embedded silo, rendered by headless Chromium.</summary>
[Collection(ProductCollection.Name)]
public sealed class DashboardRenderTests(ProductFixture product)
{
    [Fact]
    public async Task The_dashboard_renders_the_silo_and_the_conversation_grain_type()
    {
        var turn = await SseClient.PostAsync(product.Http, "/v1/responses", Items.Body([Items.Message("user", "make a grain")]));
        Assert.Equal("response.completed", turn.Terminal!.Type);

        var grains = await HeadlessChromium.DumpDomAsync(new Uri(product.BaseUrl, "/dashboard/#/grains"));
        Assert.Contains("ConversationGrain", grains);
        var silos = await HeadlessChromium.DumpDomAsync(new Uri(product.BaseUrl, "/dashboard/#/silos"));
        Assert.Contains("127.0.0.1:", silos);
        Assert.Contains("Silos", silos);

        var artifacts = Path.Combine(Fixtures.RepoRoot, "artifacts");
        Directory.CreateDirectory(artifacts);
        var screenshot = Path.Combine(artifacts, "dashboard-grains.png");
        File.Delete(screenshot);
        await HeadlessChromium.ScreenshotAsync(new Uri(product.BaseUrl, "/dashboard/#/grains"), screenshot);
        Assert.True(new FileInfo(screenshot).Length > 10_000, "the screenshot is empty");
    }
}

public sealed class AuthenticatedDashboardFixture : ProductFixture
{
    public const string Password = "dashboard-test-password";
    protected override IEnumerable<string> ExtraArgs => ["--CodexLb:Dashboard:RequireAuthentication", "true", "--CodexLb:Dashboard:Password", Password];
}

public sealed class LockedDashboardFixture : ProductFixture
{
    protected override IEnumerable<string> ExtraArgs => ["--CodexLb:Dashboard:RequireAuthentication", "true"];
}

public sealed class DashboardAuthenticationTests(AuthenticatedDashboardFixture product) : IClassFixture<AuthenticatedDashboardFixture>
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

    private static AuthenticationHeaderValue Basic(string user, string password) =>
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
