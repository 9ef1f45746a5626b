using System.Reflection;
using CodexLb.Gateway.Hosting;
using CodexLb.Gateway.Keys;
using CodexLb.Grains.Abstractions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace CodexLb.Tests.Keys;

/// <summary>
/// What an admission costs and answers when the cluster misbehaves: no grain call for a key without limits or for a
/// model off the list, and a retryable 503 (never a 4xx, never a 500) when the key's grain cannot be reached.
/// </summary>
public sealed class KeyAdmissionsTests : IDisposable
{
    private readonly FailingGrains _grains = DispatchProxy.Create<IGrainFactory, FailingGrains>() as FailingGrains ?? throw new InvalidOperationException();
    private ServiceProvider? _services;

    private KeyAdmissions Admissions(params (string Key, string Value)[] settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value))).Build();
        var services = new ServiceCollection().AddLogging().AddSingleton<IGrainFactory>((IGrainFactory)(object)_grains);
        services.AddOptions<GatewayOptions>().Bind(configuration.GetSection(GatewayOptions.Section));
        services.AddClientKeys(configuration);
        _services = services.BuildServiceProvider();
        return _services.GetRequiredService<KeyAdmissions>();
    }

    private ClientKey Key(string name) => _services!.GetRequiredService<ClientKeyStore>().Keys.Single(k => k.Name == name);

    [Fact]
    public async Task A_key_without_limits_and_a_model_off_the_list_cost_no_grain_call()
    {
        var admissions = Admissions(("CodexLb:Keys:0:Name", "free"), ("CodexLb:Keys:0:Key", "sk-free-key-1"),
            ("CodexLb:Keys:1:Name", "listed"), ("CodexLb:Keys:1:Key", "sk-listed-key-1"), ("CodexLb:Keys:1:RequestsPerMinute", "5"),
            ("CodexLb:Keys:1:Models:0", "gpt-5.4-mini"));
        var free = await admissions.AdmitAsync(Key("free"), "gpt-5.5", CancellationToken.None);
        Assert.Null(free.Error);
        Assert.NotNull(free.Turn);
        var offList = await admissions.AdmitAsync(Key("listed"), "gpt-5.5", CancellationToken.None);
        Assert.Equal((404, "model_not_found"), (offList.Error?.Status, offList.Error?.Code));
        Assert.Equal(0, _grains.Calls);
    }

    [Fact]
    public async Task An_unreachable_key_grain_is_a_retryable_503_after_the_owner_retries()
    {
        var admissions = Admissions(("CodexLb:Keys:0:Name", "limited"), ("CodexLb:Keys:0:Key", "sk-limited-key-1"), ("CodexLb:Keys:0:RequestsPerMinute", "5"));
        var refused = await admissions.AdmitAsync(Key("limited"), "gpt-5.5", CancellationToken.None);
        Assert.Null(refused.Turn);
        Assert.Equal(503, refused.Error!.Status);
        Assert.Equal("server_error", refused.Error.Type);
        Assert.NotNull(refused.Error.RetryAfterSeconds);
        Assert.True(_grains.Calls > 1, "the call was not retried"); // OwnerFailures' policy: a lost silo is outlived before answering
    }

    public void Dispose() => _services?.Dispose();

    /// <summary>A grain factory whose every client-key grain is unreachable, as when its silo is gone.</summary>
    public class FailingGrains : DispatchProxy
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        protected override object? Invoke(MethodInfo? method, object?[]? args)
        {
            if (method!.Name == nameof(IGrainFactory.GetGrain) && method.ReturnType == typeof(IClientKeyGrain))
            {
                var grain = Create<IClientKeyGrain, UnreachableGrain>();
                ((UnreachableGrain)(object)grain).Owner = this;
                return grain;
            }
            throw new NotSupportedException(method.ToString());
        }

        public void Called() => Interlocked.Increment(ref _calls);
    }

    public class UnreachableGrain : DispatchProxy
    {
        public FailingGrains? Owner { get; set; }

        protected override object? Invoke(MethodInfo? method, object?[]? args)
        {
            Owner!.Called();
            var error = new Orleans.Runtime.SiloUnavailableException("The key grain's silo is gone (test).");
            return method!.ReturnType == typeof(Task<KeyAdmission>) ? Task.FromException<KeyAdmission>(error)
                : method.ReturnType == typeof(Task<KeyUsage>) ? Task.FromException<KeyUsage>(error)
                : Task.FromException(error);
        }
    }
}
