using System.Net;
using CodexLb.Silo.Hosting;
using CodexLb.Tests.Infrastructure;
using CodexLb.Tests.Security;
using CodexLb.UpstreamSimulator;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace CodexLb.Tests.EndToEnd;

/// <summary>What a new user meets: README's first command, twice on one machine, and what it says where it listens.</summary>
public sealed class EmbeddedDefaultTests
{
    [Fact]
    public async Task Two_embedded_instances_with_no_ports_configured_both_start_serve_a_turn_and_say_where_they_listen()
    {
        await using var simulator = await UpstreamSimulatorHost.StartAsync(new SimulatorOptions());
        var captures = new[] { new LogSecrecyCapture(), new LogSecrecyCapture() };
        var apps = new List<WebApplication>();
        try
        {
            foreach (var capture in captures)
            {
                var app = await SiloApp.BuildAsync(["--urls", "http://127.0.0.1:0", "--CodexLb:Upstream:BaseUrl", simulator.BaseUrl.ToString()],
                    builder => builder.Logging.AddProvider(capture));
                apps.Add(app);
                await app.StartAsync();
            }

            var ports = new HashSet<string>();
            foreach (var capture in captures)
            {
                var banner = Assert.Single(capture.Lines, l => l.Category == "CodexLb.Silo" && l.Text.StartsWith("CodexLb started."));
                Assert.Equal(LogLevel.Information, banner.Level);
                Assert.Contains(simulator.BaseUrl.ToString(), banner.Text);
                Assert.Contains("/dashboard", banner.Text);
                var clientApi = banner.Text.Split("Client API: ")[1].Split(' ')[0];
                ports.Add(banner.Text.Split("Orleans silo port ")[1].Split(',')[0]);

                using var http = new HttpClient { BaseAddress = new Uri(clientApi.TrimEnd('/') + "/") };
                var turn = await SseClient.PostAsync(http, "responses", Items.Body([Items.Message("user", "hello from a second instance")]));
                Assert.Equal(HttpStatusCode.OK, turn.Status);
                Assert.Equal("response.completed", turn.Terminal!.Type);
            }
            Assert.Equal(2, ports.Count); // each took its own free Orleans ports
        }
        finally
        {
            foreach (var app in apps)
            {
                await app.StopAsync();
                await app.DisposeAsync();
            }
        }
    }
}
