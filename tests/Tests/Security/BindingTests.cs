using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text.Json;
using CodexLb.Tests.Cluster;
using CodexLb.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace CodexLb.Tests.Security;

/// <summary>The TCP sockets listening on this machine, read from /proc/net/tcp and /proc/net/tcp6 (this network namespace).</summary>
public static class BindingListeners
{
    public static IReadOnlyList<IPEndPoint> All()
    {
        var result = new List<IPEndPoint>();
        foreach (var (file, v6) in new[] { ("/proc/net/tcp", false), ("/proc/net/tcp6", true) })
        {
            if (!File.Exists(file)) continue;
            foreach (var line in File.ReadLines(file).Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 4 || fields[3] != "0A") continue; // TCP_LISTEN
                var (address, port) = (fields[1][..fields[1].IndexOf(':')], fields[1][(fields[1].IndexOf(':') + 1)..]);
                result.Add(new IPEndPoint(Parse(address, v6), int.Parse(port, NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
            }
        }
        if (!File.Exists("/proc/net/tcp")) throw new InvalidOperationException("/proc/net/tcp is missing: these tests need Linux.");
        return result;
    }

    /// <summary>Where <paramref name="port"/> is listening (empty when nothing listens on it).</summary>
    public static IReadOnlyList<IPAddress> On(int port) => [.. All().Where(e => e.Port == port).Select(e => e.Address)];

    /// <summary>The machine's non-loopback IPv4 addresses on interfaces that are up (none in a network-less sandbox).</summary>
    public static IReadOnlyList<IPAddress> NonLoopbackAddresses() =>
    [
        .. NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .Where(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a)),
    ];

    /// <summary>True when a TCP connection to <paramref name="address"/>:<paramref name="port"/> is accepted within 2 s.</summary>
    public static async Task<bool> AcceptsAsync(IPAddress address, int port)
    {
        using var client = new TcpClient(address.AddressFamily);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await client.ConnectAsync(address, port, timeout.Token);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return false;
        }
    }

    private static IPAddress Parse(string hex, bool v6)
    {
        // The kernel prints each 32-bit word in host (little-endian) order.
        var bytes = Convert.FromHexString(hex);
        for (var word = 0; word < bytes.Length; word += 4) Array.Reverse(bytes, word, 4);
        var address = new IPAddress(bytes);
        return v6 && address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
    }
}

/// <summary>The embedded default listens on loopback only: HTTP (as <c>--urls</c> says), the Orleans silo and gateway ports.</summary>
[Collection(ProductCollection.Name)]
public sealed class BindingEmbeddedTests(ProductFixture product)
{
    [Fact]
    public async Task The_embedded_default_listens_on_loopback_only()
    {
        var endpoints = product.App.Services.GetRequiredService<IOptions<Orleans.Configuration.EndpointOptions>>().Value;
        var ports = new Dictionary<string, int>
        {
            ["http"] = product.BaseUrl.Port,
            ["orleans silo"] = endpoints.SiloPort,
            ["orleans gateway"] = endpoints.GatewayPort,
        };
        foreach (var (what, port) in ports)
        {
            var bound = BindingListeners.On(port);
            Assert.True(bound.Count > 0, $"nothing listens on the {what} port {port}");
            Assert.True(bound.All(IPAddress.IsLoopback), $"the {what} port {port} listens on {string.Join(", ", bound)}, not only on loopback");
        }
        foreach (var address in BindingListeners.NonLoopbackAddresses())
            foreach (var (what, port) in ports)
                Assert.False(await BindingListeners.AcceptsAsync(address, port), $"the {what} port {port} accepts connections on {address}");
        foreach (var (what, port) in ports)
            Assert.True(await BindingListeners.AcceptsAsync(IPAddress.Loopback, port), $"the {what} port {port} refuses connections on 127.0.0.1");
    }
}

/// <summary>
/// Production silos (Redis mode, real processes): the Orleans ports listen on the advertised address (<c>POD_IP</c>) alone
/// unless <c>CodexLb:Cluster:ListenAddress</c> says otherwise, and the client API is served only where the operator asks.
/// </summary>
public sealed class BindingProductionTests
{
    [Fact]
    public async Task Orleans_ports_listen_on_the_advertised_address_unless_the_operator_says_any()
    {
        // The machine's own address when it has one (as a pod IP would be), another loopback address otherwise.
        var podIp = BindingListeners.NonLoopbackAddresses().FirstOrDefault() ?? IPAddress.Parse("127.0.0.2");
        await using var cluster = await ClusterHarness.StartAsync(silos: 1, gateways: 1, new ClusterHarnessOptions
        {
            Label = "binding",
            SiloArgs = ["--POD_IP", podIp.ToString(), "--Logging:LogLevel:Default", "Warning"],
        });
        var silo = cluster.Silos[0];
        foreach (var port in new[] { silo.SiloPort!.Value, silo.GatewayPort!.Value })
        {
            var bound = BindingListeners.On(port);
            Assert.True(bound.Count > 0 && bound.All(a => a.Equals(podIp)), $"port {port} listens on [{string.Join(", ", bound)}], expected {podIp} only");
            Assert.False(await BindingListeners.AcceptsAsync(IPAddress.Loopback, port), $"port {port} accepts connections on 127.0.0.1");
        }
        // The cluster works through that address: the gateway reaches the silo's gateway port at the advertised address.
        var turn = await SseClient.PostAsync(cluster.CreateClient(cluster.Gateways[0]), "/v1/responses", Items.Body([Items.Message("user", "bound")]));
        Assert.Equal("response.completed", turn.Terminal?.Type);

        var any = await cluster.AddSiloAsync(["--CodexLb:Cluster:ListenAddress", "any"]);
        foreach (var port in new[] { any.SiloPort!.Value, any.GatewayPort!.Value })
        {
            var bound = BindingListeners.On(port);
            Assert.True(bound.Count > 0 && bound.All(a => a.Equals(IPAddress.Any) || a.Equals(IPAddress.IPv6Any)),
                $"port {port} listens on [{string.Join(", ", bound)}], expected every address");
        }
    }

    [Fact]
    public async Task A_production_silo_serves_the_client_api_only_when_asked()
    {
        await using var cluster = await ClusterHarness.StartAsync(silos: 1, gateways: 0, new ClusterHarnessOptions
        {
            Label = "serve-clients",
            SiloArgs = ["--CodexLb:Silo:ServeClients", "false", "--Logging:LogLevel:Default", "Warning"],
        });
        var http = cluster.CreateClient(cluster.Silos[0]);
        foreach (var path in new[] { "/healthz", "/readyz", "/metrics" })
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(path)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/dashboard/")).StatusCode); // production: locked without a password

        var turn = await SseClient.PostAsync(http, "/v1/responses", Items.Body([Items.Message("user", "not here")]));
        Assert.Equal(HttpStatusCode.NotFound, turn.Status);
        Assert.Equal("not_found", JsonDocument.Parse(turn.RawBody).RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/v1/models")).StatusCode);

        var serving = await cluster.AddSiloAsync(["--CodexLb:Silo:ServeClients", "true"]);
        var served = await SseClient.PostAsync(cluster.CreateClient(serving), "/v1/responses", Items.Body([Items.Message("user", "here")]));
        Assert.Equal("response.completed", served.Terminal?.Type);
    }
}
