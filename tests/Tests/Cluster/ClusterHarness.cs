using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

namespace CodexLb.Tests.Cluster;

/// <summary>How a <see cref="ClusterHarness"/> starts its processes.</summary>
public sealed record ClusterHarnessOptions
{
    /// <summary>A client key (<c>CodexLb:Gateway:ApiKeys:0</c>) for the gateways and the silos (which co-host the same endpoints); null = open.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Extra command-line configuration for every silo, e.g. <c>["--CodexLb:Upstream:IdleTimeout", "00:00:05"]</c>.</summary>
    public IReadOnlyList<string> SiloArgs { get; init; } = [];

    /// <summary>Extra command-line configuration for every gateway.</summary>
    public IReadOnlyList<string> GatewayArgs { get; init; } = [];

    /// <summary>Extra command-line configuration for the simulator, e.g. <c>["--Simulator:EventDelay", "00:00:00.020"]</c>.</summary>
    public IReadOnlyList<string> SimulatorArgs { get; init; } = [];

    /// <summary>Environment for every dotnet process (null value = remove the variable).</summary>
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();

    /// <summary>How long a process may take to answer its readiness probe.</summary>
    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Short label in the log directory's name.</summary>
    public string Label { get; init; } = "cluster";

    /// <summary>Kill the processes if the test host dies without disposing the harness (a watchdog shell per process).</summary>
    public bool KillOnHostExit { get; init; } = true;

    /// <summary>
    /// Redis keeps an append-only file in the work directory, so a stop and restart loses nothing (as a production Redis
    /// with persistence would); off, a restarted Redis comes back empty.
    /// </summary>
    public bool RedisPersistence { get; init; }
}

/// <summary>
/// The product as real OS processes on loopback, in Redis production mode: one <c>redis-server</c>, the upstream
/// simulator, N silos (each also serving the gateway endpoints: <c>CodexLb:Silo:ServeClients</c>) and M stateless gateways, all on free 127.0.0.1 ports,
/// run from the build output of the configuration the tests were built with. Each is a <see cref="ManagedProcess"/>
/// that can be killed (SIGKILL), stopped (SIGTERM), paused and restarted on the same ports; its output goes to a log
/// under <see cref="WorkDirectory"/>. Disposing kills everything.
/// </summary>
public sealed class ClusterHarness : IAsyncDisposable
{
    public const string UpstreamApiKey = "sk-upstream-harness";

    private const int KeptWorkDirectories = 12;

    private readonly ClusterHarnessOptions _options;
    private readonly List<ManagedProcess> _silos = [];
    private readonly List<ManagedProcess> _gateways = [];
    private readonly List<HttpClient> _clients = [];
    private readonly IReadOnlyDictionary<string, string?> _environment;
    private readonly string _dotnet;
    private readonly BuildOutput _build;

    private ClusterHarness(ClusterHarnessOptions options, BuildOutput build, string workDirectory, string clusterId)
    {
        _options = options;
        _build = build;
        _dotnet = DotnetHost();
        WorkDirectory = workDirectory;
        ClusterId = clusterId;
        _environment = ChildEnvironment(options);

        var redisPort = ClusterPorts.Next();
        RedisConnectionString = $"127.0.0.1:{redisPort}";
        Redis = new ManagedProcess("redis", ProcessRole.Redis, RedisServer(),
            ["--port", Text(redisPort), "--bind", "127.0.0.1", "--save", "", "--dir", workDirectory,
                "--appendonly", options.RedisPersistence ? "yes" : "no", "--appendfsync", "always"],
            LogFile("redis"), redisPort, new Dictionary<string, string?>(), options.ReadyTimeout, options.KillOnHostExit);

        var simPort = ClusterPorts.Next();
        SimulatorRoot = new Uri($"http://127.0.0.1:{simPort}/");
        Simulator = new ManagedProcess("simulator", ProcessRole.Simulator, _dotnet,
            [build.Simulator, "--urls", $"http://127.0.0.1:{simPort}", .. options.SimulatorArgs],
            LogFile("simulator"), simPort, _environment, options.ReadyTimeout, options.KillOnHostExit);
        Sim = new SimulatorControlClient(SimulatorRoot);
    }

    /// <summary>Debug or Release: the configuration of the running test assembly, whose product build output is used.</summary>
    public string Configuration => _build.Configuration;

    /// <summary>The Orleans cluster id (unique per harness).</summary>
    public string ClusterId { get; }

    /// <summary>Where the processes' logs are (<c>&lt;name&gt;.log</c>); the newest directories are kept after the run.</summary>
    public string WorkDirectory { get; }

    public ManagedProcess Redis { get; }

    /// <summary><c>127.0.0.1:PORT</c>, as the silos and gateways get it.</summary>
    public string RedisConnectionString { get; }

    public ManagedProcess Simulator { get; }

    /// <summary><c>http://127.0.0.1:PORT/</c>.</summary>
    public Uri SimulatorRoot { get; }

    /// <summary>The provider base URL the silos use: <c>http://127.0.0.1:PORT/v1</c>.</summary>
    public Uri SimulatorBaseUrl => new(SimulatorRoot, "v1");

    /// <summary>The simulator's ledger and fault endpoints.</summary>
    public SimulatorControlClient Sim { get; }

    public IReadOnlyList<ManagedProcess> Silos => _silos;

    public IReadOnlyList<ManagedProcess> Gateways => _gateways;

    /// <summary>Redis, the simulator, the silos, the gateways.</summary>
    public IEnumerable<ManagedProcess> All => [Redis, Simulator, .. _silos, .. _gateways];

    /// <summary>A process by name: <c>redis</c>, <c>simulator</c>, <c>silo1</c>, <c>gateway2</c>….</summary>
    public ManagedProcess this[string name] => All.SingleOrDefault(p => p.Name == name)
        ?? throw new KeyNotFoundException($"No process '{name}' (have: {string.Join(", ", All.Select(p => p.Name))}).");

    /// <summary>
    /// Starts Redis and the simulator, then <paramref name="silos"/> silos (together) and, once they are ready,
    /// <paramref name="gateways"/> gateways (an Orleans client needs a live silo in the membership table to start).
    /// Returns when every process answers its readiness probe; on failure everything started is killed and the
    /// <see cref="ClusterProcessException"/> carries the failing process's log tail.
    /// </summary>
    public static async Task<ClusterHarness> StartAsync(int silos, int gateways, ClusterHarnessOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(silos, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(gateways);
        options ??= new ClusterHarnessOptions();
        var build = BuildOutput.Detect();
        var clusterId = $"{options.Label}-{Guid.NewGuid().ToString("N")[..8]}";
        var workDirectory = CreateWorkDirectory(clusterId);

        var harness = new ClusterHarness(options, build, workDirectory, clusterId);
        try
        {
            await harness.Redis.StartAsync(cancellationToken: cancellationToken);
            // Everything else starts at once: silos reach the simulator only when a turn runs, and a gateway's cluster
            // client waits until a silo is listed in Redis (its readiness probe answers only once connected). That saves
            // a cluster start most of the gateways' own start-up (1.5–4 s of 9–11 s for 2 silos and 2 gateways here).
            var starting = Enumerable.Range(0, silos).Select(_ => harness.NewSilo())
                .Concat(Enumerable.Range(0, gateways).Select(_ => harness.NewGateway())).Append(harness.Simulator)
                .Select(p => p.StartAsync(cancellationToken: cancellationToken)).ToList();
            // The first failure ends the start at once: a gateway would wait out its ready timeout for a silo that died.
            while (starting.Count > 0)
            {
                var started = await Task.WhenAny(starting);
                starting.Remove(started);
                await started;
            }
            return harness;
        }
        catch
        {
            await harness.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts one more silo on fresh ports and waits until it is ready.</summary>
    public Task<ManagedProcess> AddSiloAsync(CancellationToken cancellationToken = default) => AddSiloAsync([], cancellationToken);

    /// <summary>Starts one more silo on fresh ports, with extra command-line configuration after the harness's, and waits until it is ready.</summary>
    public async Task<ManagedProcess> AddSiloAsync(IReadOnlyList<string> extraArgs, CancellationToken cancellationToken = default)
    {
        var silo = NewSilo(extraArgs);
        await silo.StartAsync(cancellationToken: cancellationToken);
        return silo;
    }

    /// <summary>Starts one more gateway on a fresh port and, unless told not to, waits until it is ready.</summary>
    public async Task<ManagedProcess> AddGatewayAsync(bool waitReady = true, CancellationToken cancellationToken = default)
    {
        var gateway = NewGateway();
        await gateway.StartAsync(waitReady, cancellationToken);
        return gateway;
    }

    /// <summary>
    /// An HTTP client for a silo or gateway (base address = its root, the API key as bearer token when set). Owned by
    /// the harness: disposed with it.
    /// </summary>
    public HttpClient CreateClient(ManagedProcess process, TimeSpan? timeout = null)
    {
        var http = new HttpClient(new SocketsHttpHandler { UseProxy = false })
        {
            BaseAddress = process.HttpBase ?? throw new ArgumentException($"{process.Name} has no HTTP endpoint.", nameof(process)),
            Timeout = timeout ?? TimeSpan.FromSeconds(60),
        };
        if (_options.ApiKey is { } key) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        lock (_clients) _clients.Add(http);
        return http;
    }

    /// <summary>
    /// Every gateway running and not frozen (SIGCONT to each running one, a start for each stopped one): the end of a test
    /// that kills or freezes gateways of a shared cluster, pass or fail.
    /// </summary>
    public async Task RestoreGatewaysAsync()
    {
        foreach (var gateway in _gateways)
        {
            if (gateway.IsRunning) await gateway.ResumeAsync();
            else await gateway.StartAsync();
        }
    }

    /// <summary>A Redis outage that loses every key (SIGTERM; nothing is persisted). See <see cref="ManagedProcess.PauseAsync"/> for one that keeps them.</summary>
    public Task StopRedisAsync() => Redis.StopAsync();

    /// <summary>Redis again on the same port, empty.</summary>
    public Task StartRedisAsync(CancellationToken cancellationToken = default) => Redis.StartAsync(cancellationToken: cancellationToken);

    /// <summary>Waits until every running process answers its readiness probe.</summary>
    public Task WaitAllReadyAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        Task.WhenAll(All.Where(p => p.IsRunning || p.ExitedUnexpectedly).Select(p => p.WaitReadyAsync(timeout, cancellationToken)));

    /// <summary>Throws with the log tails of every process that exited without the harness stopping it (a crash).</summary>
    public void ThrowIfAnyExitedUnexpectedly()
    {
        var dead = All.Where(p => p.ExitedUnexpectedly).ToList();
        if (dead.Count > 0)
        {
            throw new ClusterProcessException(
                $"{string.Join(", ", dead.Select(p => $"{p.Name} (pid {p.Pid}, exit code {p.ExitCode})"))} exited unexpectedly.\n" +
                string.Join('\n', dead.Select(p => p.TailReport())));
        }
    }

    /// <summary>One line per process: name, pid, state, address and log.</summary>
    public string Describe()
    {
        var text = new StringBuilder($"cluster {ClusterId} ({Configuration}), logs in {WorkDirectory}\n");
        foreach (var p in All)
        {
            var state = p.IsRunning ? "running" : p.Starts == 0 ? "never started" : $"exited ({p.ExitCode}){(p.ExitedUnexpectedly ? " UNEXPECTEDLY" : "")}";
            var where = p.HttpBase?.ToString() ?? $"127.0.0.1:{p.Port}";
            var orleans = p.SiloPort is { } s ? $" silo port {s}, gateway port {p.GatewayPort}" : "";
            text.Append(CultureInfo.InvariantCulture, $"  {p.Name,-10} pid {p.Pid,-7} {state,-14} {where}{orleans}\n");
        }

        return text.ToString();
    }

    /// <summary>Kills every process (gateways first, Redis last) and disposes the clients. Logs stay on disk.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_clients)
        {
            foreach (var client in _clients) client.Dispose();
            _clients.Clear();
        }

        Sim.Dispose();
        await Task.WhenAll(_gateways.Select(g => g.DisposeAsync().AsTask()));
        await Task.WhenAll(_silos.Select(s => s.DisposeAsync().AsTask()));
        await Simulator.DisposeAsync();
        await Redis.DisposeAsync();
    }

    private ManagedProcess NewSilo(IReadOnlyList<string>? extraArgs = null)
    {
        var (http, siloPort, gatewayPort) = (ClusterPorts.Next(), ClusterPorts.Next(), ClusterPorts.Next());
        var name = $"silo{_silos.Count + 1}";
        var silo = new ManagedProcess(name, ProcessRole.Silo, _dotnet,
        [
            _build.Silo,
            "--urls", $"http://127.0.0.1:{http}",
            // Named after the silo, so a test can tell its connections in CLIENT LIST.
            "--CodexLb:Redis:ConnectionString", $"{RedisConnectionString},name={name}",
            "--CodexLb:Cluster:SiloPort", Text(siloPort),
            "--CodexLb:Cluster:GatewayPort", Text(gatewayPort),
            "--CodexLb:Cluster:ClusterId", ClusterId,
            "--CodexLb:Upstream:BaseUrl", SimulatorBaseUrl.ToString(),
            "--CodexLb:Upstream:ApiKey", UpstreamApiKey,
            // Production silos serve only health, metrics and the dashboard by default; the tests also send clients to
            // silos (a silo is a "door" like a gateway), so the harness asks for the client API (SiloArgs can turn it off).
            "--CodexLb:Silo:ServeClients", "true",
            .. KeyArgs(),
            .. _options.SiloArgs,
            .. extraArgs ?? [],
        ], LogFile(name), http, _environment, _options.ReadyTimeout, _options.KillOnHostExit)
        {
            SiloPort = siloPort,
            GatewayPort = gatewayPort,
        };
        _silos.Add(silo);
        return silo;
    }

    private ManagedProcess NewGateway()
    {
        var http = ClusterPorts.Next();
        var name = $"gateway{_gateways.Count + 1}";
        var gateway = new ManagedProcess(name, ProcessRole.Gateway, _dotnet,
        [
            _build.Gateway,
            "--urls", $"http://127.0.0.1:{http}",
            "--CodexLb:Redis:ConnectionString", RedisConnectionString,
            "--CodexLb:Cluster:ClusterId", ClusterId,
            .. KeyArgs(),
            .. _options.GatewayArgs,
        ], LogFile(name), http, _environment, _options.ReadyTimeout, _options.KillOnHostExit);
        _gateways.Add(gateway);
        return gateway;
    }

    private IEnumerable<string> KeyArgs() => _options.ApiKey is { } key ? ["--CodexLb:Gateway:ApiKeys:0", key] : [];

    private string LogFile(string name) => Path.Combine(WorkDirectory, name + ".log");

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The children's environment: the harness defines the topology, so the variables that would override it
    /// (<c>ORLEANS_*</c>, <c>POD_*</c>, <c>CodexLb__*</c>) are removed; logs are single-line for readable tails.
    /// </summary>
    private static Dictionary<string, string?> ChildEnvironment(ClusterHarnessOptions options)
    {
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["Logging__Console__FormatterName"] = "simple",
            ["Logging__Console__FormatterOptions__SingleLine"] = "true",
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        };
        foreach (var key in System.Environment.GetEnvironmentVariables().Keys.Cast<string>())
        {
            if (key.StartsWith("ORLEANS_", StringComparison.Ordinal) || key.StartsWith("POD_", StringComparison.Ordinal)
                || key.StartsWith("CodexLb__", StringComparison.OrdinalIgnoreCase) || key.StartsWith("ASPNETCORE_URLS", StringComparison.Ordinal)
                || key.StartsWith("DOTNET_URLS", StringComparison.Ordinal))
            {
                environment[key] = null;
            }
        }

        foreach (var (key, value) in options.Environment) environment[key] = value;
        return environment;
    }

    private static string DotnetHost()
    {
        var self = System.Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        if (System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        return "dotnet";
    }

    internal static string RedisServer()
    {
        foreach (var dir in (System.Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Append("/usr/bin").Append("/usr/local/bin"))
        {
            var candidate = Path.Combine(dir, "redis-server");
            if (File.Exists(candidate)) return candidate;
        }

        throw new ClusterProcessException("redis-server not found on PATH (scripts/test.sh installs it: apt-get install -y redis-server).");
    }

    /// <summary>A fresh directory under the temp dir; the oldest of the previous ones beyond the newest few are removed.</summary>
    private static string CreateWorkDirectory(string clusterId)
    {
        var parent = Path.Combine(Path.GetTempPath(), "codexlb-cluster");
        Directory.CreateDirectory(parent);
        try
        {
            foreach (var old in new DirectoryInfo(parent).GetDirectories().OrderByDescending(d => d.Name, StringComparer.Ordinal).Skip(KeptWorkDirectories)
                         .Where(d => d.LastWriteTimeUtc < DateTime.UtcNow.AddHours(-1)))
            {
                old.Delete(recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // another run is using it: leave it
        }

        var path = Path.Combine(parent, $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{clusterId}");
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>The product assemblies built in the test assembly's configuration.</summary>
    private sealed record BuildOutput(string Configuration, string Silo, string Gateway, string Simulator)
    {
        public static BuildOutput Detect()
        {
            var baseDirectory = AppContext.BaseDirectory.Replace('\\', '/');
            var configuration = baseDirectory.Contains("/bin/Release/", StringComparison.Ordinal) ? "Release"
                : baseDirectory.Contains("/bin/Debug/", StringComparison.Ordinal) ? "Debug"
                : throw new ClusterProcessException($"Cannot tell the build configuration from the test assembly's path {AppContext.BaseDirectory}.");
            var framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/', '\\')).Name; // net10.0
            string Dll(string project, string assembly)
            {
                var path = Path.Combine(Fixtures.RepoRoot, "src", project, "bin", configuration, framework, assembly);
                return File.Exists(path)
                    ? path
                    : throw new ClusterProcessException($"{path} is missing: build the solution (dotnet build -c {configuration}) before the cluster tests.");
            }

            return new BuildOutput(configuration, Dll("Silo", "CodexLb.Silo.dll"), Dll("Gateway", "CodexLb.Gateway.dll"),
                Dll("UpstreamSimulator", "CodexLb.UpstreamSimulator.dll"));
        }
    }
}
