using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace CodexLb.Tests.Cluster;

public enum ProcessRole
{
    Redis,
    Simulator,
    Silo,
    Gateway,
}

/// <summary>A cluster process died, never got ready, or would not stop; the message carries the tail of its log.</summary>
public sealed class ClusterProcessException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// One OS process of a <see cref="ClusterHarness"/>: started with fixed arguments on fixed loopback ports, so it can be
/// killed, stopped and started again exactly where it was. Its stdout and stderr go, line by line with a timestamp,
/// to <see cref="LogPath"/> (appended across restarts); <see cref="Tail"/> returns the last lines.
/// </summary>
public sealed class ManagedProcess : IAsyncDisposable
{
    private const int SigKill = 9, SigTerm = 15, SigCont = 18, SigStop = 19;
    private const int TailCapacity = 400;

    private static readonly HttpClient Probe = new(new SocketsHttpHandler { UseProxy = false, PooledConnectionLifetime = TimeSpan.Zero })
    {
        Timeout = TimeSpan.FromSeconds(2),
    };

    private readonly Lock _gate = new();
    private readonly Queue<string> _tail = new();
    private readonly string _fileName;
    private readonly IReadOnlyDictionary<string, string?> _environment;
    private readonly TimeSpan _readyTimeout;
    private readonly bool _watchdog;
    private StreamWriter? _log;
    private Process? _process;
    private Process? _guard;
    private bool _expectingExit;
    private int _generation;
    private DateTimeOffset _startedAt;

    internal ManagedProcess(
        string name, ProcessRole role, string fileName, IReadOnlyList<string> arguments, string logPath, int port,
        IReadOnlyDictionary<string, string?> environment, TimeSpan readyTimeout, bool watchdog)
    {
        Name = name;
        Role = role;
        _fileName = fileName;
        Arguments = arguments;
        LogPath = logPath;
        Port = port;
        HttpBase = role == ProcessRole.Redis ? null : new Uri($"http://127.0.0.1:{port}/");
        _environment = environment;
        _readyTimeout = readyTimeout;
        _watchdog = watchdog;
    }

    /// <summary><c>redis</c>, <c>simulator</c>, <c>silo1</c>…, <c>gateway1</c>….</summary>
    public string Name { get; }

    public ProcessRole Role { get; }

    /// <summary>The command line after the executable (the same on every start).</summary>
    public IReadOnlyList<string> Arguments { get; }

    /// <summary>Its HTTP listen port, or Redis's port.</summary>
    public int Port { get; }

    /// <summary><c>http://127.0.0.1:PORT/</c>; null for Redis.</summary>
    public Uri? HttpBase { get; }

    /// <summary>Silos: the Orleans silo-to-silo port.</summary>
    public int? SiloPort { get; init; }

    /// <summary>Silos: the Orleans client gateway port.</summary>
    public int? GatewayPort { get; init; }

    public string LogPath { get; }

    /// <summary>The current (or last) OS process id; 0 before the first start.</summary>
    public int Pid { get; private set; }

    /// <summary>How many times the process was started.</summary>
    public int Starts { get; private set; }

    public bool IsRunning
    {
        get
        {
            var process = _process;
            try
            {
                return process is not null && !process.HasExited;
            }
            catch (InvalidOperationException)
            {
                // A restart disposed the old Process object under this read (the chaos client picks doors concurrently).
                return false;
            }
        }
    }

    /// <summary>Exit code of the last run, once it ended.</summary>
    public int? ExitCode { get; private set; }

    /// <summary>True when the last run ended without <see cref="KillAsync"/> / <see cref="StopAsync"/> (a crash).</summary>
    public bool ExitedUnexpectedly { get; private set; }

    public override string ToString() => $"{Name} (pid {Pid}{(HttpBase is null ? $", port {Port}" : $", {HttpBase}")})";

    /// <summary>Starts the process (it must not be running) and, by default, waits until it is ready.</summary>
    public async Task StartAsync(bool waitReady = true, CancellationToken cancellationToken = default)
    {
        if (IsRunning) throw new InvalidOperationException($"{this} is already running.");
        _guard?.Dispose();
        _process?.Dispose();

        var info = new ProcessStartInfo(_fileName)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = Path.GetDirectoryName(LogPath)!,
        };
        foreach (var argument in Arguments) info.ArgumentList.Add(argument);
        foreach (var (key, value) in _environment)
        {
            if (value is null) info.Environment.Remove(key);
            else info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) Append(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Append("[stderr] " + e.Data); };
        var generation = Interlocked.Increment(ref _generation);
        process.Exited += (_, _) => OnExited(process, generation);

        lock (_gate)
        {
            _log ??= new StreamWriter(new FileStream(LogPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete), new UTF8Encoding(false)) { AutoFlush = true };
            _expectingExit = false;
            ExitedUnexpectedly = false;
            ExitCode = null;
        }

        Append($"==== start #{Starts + 1}: {_fileName} {string.Join(' ', Arguments.Select(Quote))}");
        try
        {
            process.Start();
        }
        catch (Exception ex)
        {
            process.Dispose();
            throw new ClusterProcessException($"{Name}: could not start '{_fileName}': {ex.Message}", ex);
        }

        _startedAt = DateTimeOffset.UtcNow;
        _process = process;
        Pid = process.Id;
        Starts++;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (_watchdog) _guard = StartGuard(process.Id);

        if (waitReady) await WaitReadyAsync(cancellationToken: cancellationToken);
    }

    /// <summary>
    /// Polls the readiness probe (<c>/readyz</c> = 200 for silos and gateways, <c>/v1/models</c> for the simulator,
    /// PING for Redis) until it passes. Throws <see cref="ClusterProcessException"/> with the log's tail when the
    /// process exits meanwhile or the timeout (default: the harness's ready timeout) passes.
    /// </summary>
    public async Task WaitReadyAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var limit = timeout ?? _readyTimeout;
        var clock = Stopwatch.StartNew();
        string last = "no answer yet";
        while (true)
        {
            var process = _process ?? throw new InvalidOperationException($"{Name} was never started.");
            if (process.HasExited)
            {
                await DrainOutputAsync(process);
                throw new ClusterProcessException(
                    $"{this} exited with code {process.ExitCode} after {clock.Elapsed.TotalSeconds:0.0} s, before it was ready.\n{TailReport()}");
            }

            (var ready, last) = await ProbeAsync(cancellationToken);
            if (ready)
            {
                Append($"==== ready: {last}, {clock.Elapsed.TotalSeconds:0.00} s after the wait began");
                return;
            }
            if (clock.Elapsed > limit)
            {
                throw new ClusterProcessException(
                    $"{this} was not ready after {limit.TotalSeconds:0} s (last probe: {last}).\n{TailReport()}");
            }

            await Task.Delay(200, cancellationToken);
        }
    }

    /// <summary>One readiness probe.</summary>
    public async Task<bool> IsReadyAsync(CancellationToken cancellationToken = default) => (await ProbeAsync(cancellationToken)).Ready;

    /// <summary>SIGKILL (the whole process tree) and wait until it is gone. No-op when it is not running.</summary>
    public async Task KillAsync()
    {
        var process = _process;
        if (process is null || process.HasExited) return;
        MarkExpected();
        Append("==== SIGKILL from the harness");
        try
        {
            process.Kill(entireProcessTree: true); // SIGKILL on Linux
        }
        catch (InvalidOperationException)
        {
            // exited meanwhile
        }

        await WaitExitedAsync(process, TimeSpan.FromSeconds(30));
    }

    /// <summary>
    /// SIGTERM (a graceful shutdown: a silo leaves the cluster, a gateway drains) and wait for the exit. After
    /// <paramref name="timeout"/> (default 30 s) it is SIGKILLed and a <see cref="ClusterProcessException"/> reports that
    /// the graceful stop hung. No-op when it is not running.
    /// </summary>
    public async Task StopAsync(TimeSpan? timeout = null)
    {
        var process = _process;
        if (process is null || process.HasExited) return;
        MarkExpected();
        Append("==== SIGTERM from the harness");
        Signal(process.Id, SigTerm);
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        if (await WaitExitedAsync(process, limit)) return;

        Append($"==== still running {limit.TotalSeconds:0} s after SIGTERM: SIGKILL");
        try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        await WaitExitedAsync(process, TimeSpan.FromSeconds(30));
        throw new ClusterProcessException($"{this} did not exit within {limit.TotalSeconds:0} s of SIGTERM (killed).\n{TailReport()}");
    }

    /// <summary>
    /// Stops it (SIGTERM, or SIGKILL when <paramref name="kill"/>) if it runs, then starts it again with the same
    /// arguments on the same ports and waits until it is ready.
    /// </summary>
    public async Task RestartAsync(bool kill = false, CancellationToken cancellationToken = default)
    {
        if (kill) await KillAsync();
        else await StopAsync();
        await StartAsync(waitReady: true, cancellationToken);
    }

    /// <summary>SIGSTOP: the process freezes with its sockets open (a hung process, or a Redis outage that keeps its data).</summary>
    public Task PauseAsync()
    {
        Append("==== SIGSTOP from the harness");
        Signal(RunningPid(), SigStop);
        return Task.CompletedTask;
    }

    /// <summary>SIGCONT after <see cref="PauseAsync"/>.</summary>
    public Task ResumeAsync()
    {
        Signal(RunningPid(), SigCont);
        Append("==== SIGCONT from the harness");
        return Task.CompletedTask;
    }

    /// <summary>
    /// Starves the process of CPU until <paramref name="until"/> is cancelled, as <c>cpulimit</c> does: stopped (SIGSTOP) for
    /// <paramref name="stopped"/>, then running (SIGCONT) for <paramref name="running"/>, over and over. It stays alive and
    /// reachable, only slow; it is left running.
    /// </summary>
    public async Task ThrottleAsync(TimeSpan running, TimeSpan stopped, CancellationToken until)
    {
        Append($"==== throttled from the harness: {running.TotalMilliseconds:0} ms running in every {(running + stopped).TotalMilliseconds:0} ms");
        var pid = RunningPid();
        try
        {
            while (!until.IsCancellationRequested)
            {
                Signal(pid, SigStop);
                await Task.Delay(stopped, CancellationToken.None);
                Signal(pid, SigCont);
                await Task.Delay(running, until).ContinueWith(static _ => { }, TaskScheduler.Default);
            }
        }
        finally
        {
            Signal(pid, SigCont);
            Append("==== throttle lifted");
        }
    }

    /// <summary>Waits until the process exits by itself (e.g. after a shutdown request); false on timeout.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        var process = _process;
        return process is null || await WaitExitedAsync(process, timeout);
    }

    /// <summary>The last <paramref name="lines"/> lines of its output (all runs).</summary>
    public string Tail(int lines = 60)
    {
        lock (_gate)
        {
            return string.Join('\n', _tail.Skip(Math.Max(0, _tail.Count - lines)));
        }
    }

    /// <summary>Its name, state and log path, then the tail of its output: for exception messages.</summary>
    public string TailReport(int lines = 60) =>
        $"---- {Name}: {(IsRunning ? "running" : $"exited (code {LastExitCode()?.ToString(CultureInfo.InvariantCulture) ?? "?"})")}, " +
        $"log {LogPath}, last {lines} lines ----\n{Tail(lines)}\n---- end of {Name} ----";

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _guard?.Dispose();
        _process?.Dispose();
        lock (_gate)
        {
            _log?.Dispose();
            _log = null;
        }
    }

    private async Task<(bool Ready, string Detail)> ProbeAsync(CancellationToken cancellationToken)
    {
        try
        {
            switch (Role)
            {
                case ProcessRole.Redis:
                    return await RedisPingAsync(Port, cancellationToken) ? (true, "PONG") : (false, "no PONG");
                default:
                    var path = Role == ProcessRole.Simulator ? "v1/models" : "readyz";
                    using (var response = await Probe.GetAsync(new Uri(HttpBase!, path), cancellationToken))
                    {
                        return ((int)response.StatusCode == 200, $"GET /{path} -> {(int)response.StatusCode}");
                    }
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException or System.Net.Sockets.SocketException
                                   && !cancellationToken.IsCancellationRequested)
        {
            return (false, $"{ex.GetType().Name}: {ex.Message}");
        }
    }

    internal static async Task<bool> RedisPingAsync(int port, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(System.Net.IPAddress.Loopback, port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync("PING\r\n"u8.ToArray(), timeout.Token);
        var buffer = new byte[64];
        var read = await stream.ReadAsync(buffer, timeout.Token);
        return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
    }

    private void Append(string line)
    {
        var stamped = DateTimeOffset.UtcNow.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture) + " " + line;
        lock (_gate)
        {
            _tail.Enqueue(stamped);
            while (_tail.Count > TailCapacity) _tail.Dequeue();
            try
            {
                _log?.WriteLine(stamped);
            }
            catch (IOException)
            {
                // the log is best effort; the tail is still in memory
            }
        }
    }

    private static string Quote(string argument) =>
        argument.Length == 0 || argument.Any(char.IsWhiteSpace) || argument.Contains('"') ? "\"" + argument.Replace("\"", "\\\"") + "\"" : argument;

    private void MarkExpected()
    {
        lock (_gate)
        {
            _expectingExit = true;
        }
    }

    private void OnExited(Process process, int generation)
    {
        int code;
        try { code = process.ExitCode; } catch (InvalidOperationException) { return; }
        bool unexpected;
        lock (_gate)
        {
            if (generation != Volatile.Read(ref _generation)) return; // a previous run
            unexpected = !_expectingExit;
            ExitCode = code;
            ExitedUnexpectedly = unexpected;
        }

        var lived = DateTimeOffset.UtcNow - _startedAt;
        Append($"==== exited with code {code} after {lived.TotalSeconds:0.0} s{(unexpected ? " (UNEXPECTED: not stopped by the harness)" : "")}");
        try { _guard?.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
    }

    private int? LastExitCode()
    {
        if (ExitCode is { } code) return code;
        try
        {
            return _process is { HasExited: true } process ? process.ExitCode : null;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private int RunningPid()
    {
        var process = _process;
        if (process is null || process.HasExited) throw new InvalidOperationException($"{this} is not running.");
        return process.Id;
    }

    private static async Task<bool> WaitExitedAsync(Process process, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token); // also waits for the redirected output to end
            return true;
        }
        catch (OperationCanceledException)
        {
            return process.HasExited;
        }
    }

    private static async Task DrainOutputAsync(Process process)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try { await process.WaitForExitAsync(cts.Token); } catch (OperationCanceledException) { }
    }

    private static void Signal(int pid, int signal)
    {
        if (kill(pid, signal) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno != 3) throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {errno}."); // 3 = ESRCH: already gone
        }
    }

    /// <summary>
    /// A tiny shell loop that SIGKILLs the child if the test host dies without disposing the harness (a crashed or
    /// timed-out test run), so no silo outlives the run. It ends by itself when the child ends.
    /// </summary>
    private static Process? StartGuard(int childPid)
    {
        var script = $"while kill -0 {Environment.ProcessId} 2>/dev/null && kill -0 {childPid} 2>/dev/null; do sleep 1; done; " +
                     $"kill -0 {Environment.ProcessId} 2>/dev/null || kill -9 {childPid} 2>/dev/null; exit 0";
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        try
        {
            return Process.Start(info);
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return null; // no /bin/sh: run without the guard
        }
    }

    [DllImport("libc", SetLastError = true)]
#pragma warning disable SA1300, IDE1006 // libc's name
    private static extern int kill(int pid, int sig);
#pragma warning restore SA1300, IDE1006
}
