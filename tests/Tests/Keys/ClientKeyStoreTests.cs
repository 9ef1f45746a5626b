using System.Security.Cryptography;
using System.Text;
using CodexLb.Gateway.Hosting;
using CodexLb.Gateway.Keys;
using CodexLb.Gateway.Security;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace CodexLb.Tests.Keys;

/// <summary>Who a bearer token is, as the gateway's DI builds it: open mode, legacy keys, named keys, and key files that change.</summary>
public sealed class ClientKeyStoreTests : IDisposable
{
    private readonly RecordingTime _time = new();
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"codexlb-store-key-{Guid.NewGuid():N}");
    private ServiceProvider? _services;

    private ClientAuthenticator Authenticator(params (string Key, string Value)[] settings) =>
        Authenticator(new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value))).Build());

    private ClientAuthenticator Authenticator(IConfigurationRoot configuration)
    {
        var services = new ServiceCollection().AddLogging().AddSingleton<TimeProvider>(_time);
        services.AddOptions<GatewayOptions>().Bind(configuration.GetSection(GatewayOptions.Section));
        services.AddSingleton<ClientAuthenticator>();
        services.AddClientKeys(configuration);
        _services = services.BuildServiceProvider();
        return _services.GetRequiredService<ClientAuthenticator>();
    }

    [Fact]
    public void Open_mode_lets_anyone_in_each_token_its_own_tenant_and_all_of_them_one_usage()
    {
        var auth = Authenticator();
        Assert.Equal(ClientKey.Anonymous, auth.Identify((string?)null));
        var a = auth.Identify("Bearer anything-at-all")!;
        var b = auth.Identify("Bearer something-else")!;
        Assert.NotEqual(a.Tenant, b.Tenant);
        Assert.Equal("anon", a.UsageKey);
        Assert.Equal("anon", b.UsageKey);
    }

    [Fact]
    public void Legacy_keys_keep_their_tenant_and_named_keys_get_their_limits_and_a_wrong_key_is_nobody()
    {
        var auth = Authenticator(("CodexLb:Gateway:ApiKeys:0", "sk-legacy-key-1"),
            ("CodexLb:Keys:0:Name", "alice"), ("CodexLb:Keys:0:Key", "sk-alice-key-1"), ("CodexLb:Keys:0:RequestsPerMinute", "7"));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("sk-legacy-key-1")).AsSpan(0, 8)), auth.Authenticate("Bearer sk-legacy-key-1"));
        var alice = auth.Identify("bearer  sk-alice-key-1 ")!;
        Assert.Equal(("alice", KeyMaterial.TenantOfName("alice"), 7L), (alice.Name, alice.Tenant, alice.Limits.RequestsPerMinute));
        Assert.Null(auth.Identify("Bearer sk-alice-key-2"));
        Assert.Null(auth.Identify((string?)null));
        Assert.Null(auth.Identify("Basic sk-alice-key-1"));
    }

    [Fact]
    public void A_key_file_is_read_again_a_rotation_swaps_the_keys_and_an_unreadable_file_refuses_the_key_without_opening_the_gateway()
    {
        File.WriteAllText(_file, "sk-first-file-key\n");
        var auth = Authenticator(("CodexLb:Keys:0:Name", "filed"), ("CodexLb:Keys:0:KeyFile", _file), ("CodexLb:Gateway:KeyFilePollInterval", "00:00:01"));
        Assert.Equal("filed", auth.Identify("Bearer sk-first-file-key")?.Name);

        File.WriteAllText(_file, "sk-second-file-key");
        Assert.NotNull(auth.Identify("Bearer sk-first-file-key"));  // not before the next poll
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(auth.Identify("Bearer sk-first-file-key"));
        var second = auth.Identify("Bearer sk-second-file-key");
        Assert.Equal(("filed", KeyMaterial.TenantOfName("filed")), (second?.Name, second?.Tenant));

        File.Delete(_file);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(auth.Identify("Bearer sk-second-file-key"));
        Assert.Null(auth.Identify((string?)null));                            // still keyed: a missing file never means "open"
        Assert.Null(auth.Identify("Bearer whatever-else"));
    }

    [Fact]
    public void A_connection_remembers_its_caller_only_while_it_sends_the_same_key_and_the_keys_stay_the_same()
    {
        File.WriteAllText(_file, "sk-first-file-key\n");
        var auth = Authenticator(("CodexLb:Keys:0:Name", "filed"), ("CodexLb:Keys:0:KeyFile", _file), ("CodexLb:Gateway:KeyFilePollInterval", "00:00:01"));
        var connection = new ConnectionItems();
        HttpContext Request(string? authorization, string protocol = "HTTP/1.1")
        {
            var context = new DefaultHttpContext();
            context.Features.Set<IConnectionItemsFeature>(connection);
            context.Request.Protocol = protocol;
            if (authorization is not null) context.Request.Headers.Authorization = authorization;
            return context;
        }

        Assert.Equal("filed", auth.Identify(Request("Bearer sk-first-file-key"))?.Name);
        Assert.Single(connection.Items);                                       // remembered for the connection's next request
        Assert.Equal("filed", auth.Identify(Request("Bearer sk-first-file-key"))?.Name);
        Assert.Null(auth.Identify(Request("Bearer sk-first-file-kez")));       // another header on the same connection: looked up again
        Assert.Null(auth.Identify(Request(null)));
        Assert.Equal("filed", auth.Identify(Request("Bearer sk-first-file-key"))?.Name);

        File.WriteAllText(_file, "sk-second-file-key");
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(auth.Identify(Request("Bearer sk-first-file-key")));       // rotated away: what the connection remembered is stale
        Assert.Equal("filed", auth.Identify(Request("Bearer sk-second-file-key"))?.Name);

        var http2 = new ConnectionItems();
        var context = new DefaultHttpContext();
        context.Features.Set<IConnectionItemsFeature>(http2);
        context.Request.Protocol = "HTTP/2";
        context.Request.Headers.Authorization = "Bearer sk-second-file-key";
        Assert.Equal("filed", auth.Identify(context)?.Name);
        Assert.Empty(http2.Items);                                             // streams share an HTTP/2 connection concurrently
    }

    [Fact]
    public void Without_a_key_file_no_poll_is_scheduled_and_a_key_file_added_by_a_reload_is_polled()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["CodexLb:Keys:0:Name"] = "inline", ["CodexLb:Keys:0:Key"] = "sk-inline-key-1", ["CodexLb:Gateway:KeyFilePollInterval"] = "00:00:01",
        }).Build();
        var auth = Authenticator(configuration);
        Assert.Equal("inline", auth.Identify("Bearer sk-inline-key-1")?.Name);
        Assert.Equal(Timeout.InfiniteTimeSpan, _time.LastPeriod);              // nothing to poll: no timer firing every interval

        File.WriteAllText(_file, "sk-filed-key-1");
        configuration["CodexLb:Keys:1:Name"] = "filed";
        configuration["CodexLb:Keys:1:KeyFile"] = _file;
        configuration.Reload();
        Assert.Equal(TimeSpan.FromSeconds(1), _time.LastPeriod);
        Assert.Equal("filed", auth.Identify("Bearer sk-filed-key-1")?.Name);

        File.WriteAllText(_file, "sk-filed-key-2");                             // rotated: found by the poll the reload scheduled
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("filed", auth.Identify("Bearer sk-filed-key-2")?.Name);
        Assert.Null(auth.Identify("Bearer sk-filed-key-1"));
    }

    /// <summary>A fake clock that remembers the period its timers were last given.</summary>
    private sealed class RecordingTime : FakeTimeProvider
    {
        public TimeSpan? LastPeriod { get; private set; }

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            LastPeriod = period;
            return new Recorded(base.CreateTimer(callback, state, dueTime, period), this);
        }

        private sealed class Recorded(ITimer inner, RecordingTime time) : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period)
            {
                time.LastPeriod = period;
                return inner.Change(dueTime, period);
            }

            public void Dispose() => inner.Dispose();

            public ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }

    private sealed class ConnectionItems : IConnectionItemsFeature
    {
        public IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();
    }

    public void Dispose()
    {
        _services?.Dispose();
        File.Delete(_file);
    }
}
