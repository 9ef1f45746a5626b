using System.Security.Cryptography;
using CodexLb.Gateway.Hosting;
using CodexLb.Grains.Abstractions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Keys;

/// <summary>
/// The client keys this gateway accepts, as SHA-256 hashes only: <c>CodexLb:Gateway:ApiKeys</c> (tenant = a hash of the
/// key, no limits) and <c>CodexLb:Keys</c> (tenant = a hash of the name, with limits). Rebuilt when the configuration
/// reloads and whenever a key file's content changes (checked every <see cref="GatewayOptions.KeyFilePollInterval"/> while one is configured;
/// mtime is no signal for a Kubernetes Secret, whose files are swapped through a symlink), so a key is rotated without a
/// restart. Readers see one immutable snapshot at a time.
/// </summary>
public sealed partial class ClientKeyStore : IDisposable
{
    private sealed record Entry(byte[] Hash, ClientKey Key);

    /// <summary>One generation of keys. <see cref="Open"/>: none configured, so anyone is let in (as their own tenant).</summary>
    private sealed record Snapshot(Entry[] Entries, bool Open, Dictionary<string, ClientKey> ByFingerprint);

    private readonly IOptionsMonitor<KeysOptions> _keys;
    private readonly IOptionsMonitor<GatewayOptions> _gateway;
    private readonly ILogger<ClientKeyStore> _logger;
    private readonly Lock _reload = new();
    private readonly Dictionary<string, byte[]?> _fileKeys = new(StringComparer.Ordinal); // what each key file held last time, to log changes once
    private readonly ITimer _poll;
    private readonly IDisposable? _keysChanged;
    private readonly IDisposable? _gatewayChanged;
    private volatile Snapshot _snapshot;

    public ClientKeyStore(IOptionsMonitor<KeysOptions> keys, IOptionsMonitor<GatewayOptions> gateway, TimeProvider time, ILogger<ClientKeyStore> logger)
    {
        (_keys, _gateway, _logger) = (keys, gateway, logger);
        _snapshot = Build();
        _poll = time.CreateTimer(_ => PollFiles(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        SchedulePolls();
        _keysChanged = keys.OnChange(_ => Reload(reschedule: true));
        _gatewayChanged = gateway.OnChange(_ => Reload(reschedule: true));
    }

    /// <summary>Changes whenever the keys are rebuilt: what an identification remembered under an older one is stale.</summary>
    public object Generation => _snapshot;

    /// <summary>Every key configured now (for the operator's usage listing); in open mode, the one shared "anonymous".</summary>
    public IReadOnlyCollection<ClientKey> Keys => _snapshot is { Open: true } ? [ClientKey.Anonymous] : [.. _snapshot.Entries.Select(e => e.Key).DistinctBy(k => k.Tenant)];

    /// <summary>
    /// The key whose hash is <paramref name="hash"/>, compared in constant time against every key (whatever matched
    /// earlier); null when none does or no token was sent. In open mode, the token's own tenant.
    /// </summary>
    public ClientKey? Find(ReadOnlySpan<byte> hash, bool hasToken)
    {
        var snapshot = _snapshot;
        // Open mode: each token its own tenant (conversations never meet), all of them one usage (no grain per made-up token).
        if (snapshot.Open) return hasToken ? ClientKey.Anonymous with { Tenant = KeyMaterial.TenantOfHash(hash), SharedUsageKey = ClientKey.Anonymous.Tenant } : ClientKey.Anonymous;
        ClientKey? found = null;
        foreach (var entry in snapshot.Entries)
        {
            var match = CryptographicOperations.FixedTimeEquals(hash, entry.Hash);
            found ??= match ? entry.Key : null;
        }
        return hasToken ? found : null;
    }

    /// <summary>
    /// The key as configured now: a long-lived connection authenticated earlier gets today's limits, and nothing once its
    /// key was removed or rotated away (the same name with another key is another key).
    /// </summary>
    public ClientKey? Current(ClientKey key)
    {
        var snapshot = _snapshot;
        if (snapshot.Open) return key;
        return key.Fingerprint is { } fingerprint && snapshot.ByFingerprint.TryGetValue(fingerprint, out var current) ? current : null;
    }

    private void PollFiles()
    {
        try
        {
            Reload();
        }
        catch (Exception ex)
        {
            PollFailed(_logger, ex.GetType().Name);
        }
    }

    private void Reload(bool reschedule = false)
    {
        lock (_reload)
        {
            _snapshot = Build();
            if (reschedule) SchedulePolls();
        }
    }

    /// <summary>Polls only while a key is read from a file: with none, the gateway keeps no timer for them.</summary>
    private void SchedulePolls()
    {
        var interval = _keys.CurrentValue.Keys.Any(k => !string.IsNullOrEmpty(k.KeyFile)) ? _gateway.CurrentValue.KeyFilePollInterval : Timeout.InfiniteTimeSpan;
        try
        {
            _poll.Change(interval, interval);
        }
        catch (ObjectDisposedException)
        {
            // a configuration reload while the gateway stops
        }
    }

    private Snapshot Build()
    {
        var entries = new List<Entry>();
        var legacy = _gateway.CurrentValue.ApiKeys;
        for (var i = 0; i < legacy.Length; i++)
        {
            var hash = KeyMaterial.Hash(legacy[i]);
            entries.Add(new Entry(hash, new ClientKey($"api-key-{i}", KeyMaterial.TenantOfHash(hash), KeyLimits.None, []) { Fingerprint = Convert.ToHexString(hash) }));
        }
        var named = _keys.CurrentValue.Keys;
        foreach (var options in named)
        {
            var hash = options switch
            {
                { Key: { Length: > 0 } key } => KeyMaterial.Hash(key),
                { KeyHash: { Length: > 0 } text } => KeyMaterial.ParseHash(text),
                { KeyFile: { Length: > 0 } file } => FromFile(options.Name, file),
                _ => null,
            };
            if (hash is null) continue; // refused until it can be read: never "no key, so open"
            var limits = new KeyLimits(options.RequestsPerMinute, options.TokensPerMinute, options.TokensPerDay);
            entries.Add(new Entry(hash, new ClientKey(options.Name, KeyMaterial.TenantOfName(options.Name), limits, [.. options.Models.Select(m => m.Trim())])
                { Fingerprint = Convert.ToHexString(hash) }));
        }
        var byFingerprint = new Dictionary<string, ClientKey>(StringComparer.Ordinal);
        foreach (var entry in entries) byFingerprint.TryAdd(entry.Key.Fingerprint!, entry.Key);
        return new Snapshot([.. entries], legacy.Length == 0 && named.Count == 0, byFingerprint);
    }

    private byte[]? FromFile(string name, string path)
    {
        var (hash, error) = KeyMaterial.ReadFile(path);
        lock (_fileKeys)
        {
            var seen = _fileKeys.TryGetValue(name, out var previous);
            if (seen && (previous is null) == (hash is null) && (hash is null || hash.AsSpan().SequenceEqual(previous))) return hash;
            if (error is not null) FileUnusable(_logger, name, error);
            else if (seen) FileChanged(_logger, name);
            _fileKeys[name] = hash;
        }
        return hash;
    }

    public void Dispose()
    {
        _poll.Dispose();
        _keysChanged?.Dispose();
        _gatewayChanged?.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Client key '{Name}': its key file is unusable, so the key is refused until it is fixed: {Reason}")]
    private static partial void FileUnusable(ILogger logger, string name, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Client key '{Name}': its key file changed; the new key is in use, the previous one is refused")]
    private static partial void FileChanged(ILogger logger, string name);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading the client key files failed ({Error}); the keys stay as they were")]
    private static partial void PollFailed(ILogger logger, string error);
}
