using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace CodexLb.Tests.Infrastructure;

/// <summary>
/// The real Codex CLI (npm <c>@openai/codex@0.171.0</c>, installed by scripts/test.sh into .cache/codex), run as a
/// child process with its own CODEX_HOME pointed at a gateway.
/// </summary>
public sealed class CodexCli : IDisposable
{
    public const string Version = "0.171.0";
    private readonly string _home = Directory.CreateTempSubdirectory("codex-home-").FullName;
    private readonly string _workDir = Directory.CreateTempSubdirectory("codex-work-").FullName;
    private readonly string _apiKey;

    public CodexCli(Uri gatewayBaseUrl, string apiKey, bool websockets)
    {
        _apiKey = apiKey;
        File.WriteAllText(Path.Combine(_home, "config.toml"), $"""
            model = "gpt-5.5"
            model_provider = "gw"
            approval_policy = "never"
            sandbox_mode = "read-only"
            check_for_update_on_startup = false
            [model_providers.gw]
            name = "gw"
            base_url = "{new Uri(gatewayBaseUrl, "/v1").ToString().TrimEnd('/')}"
            env_key = "GW_API_KEY"
            wire_api = "responses"
            supports_websockets = {(websockets ? "true" : "false")}
            request_max_retries = 4
            stream_max_retries = 5
            stream_idle_timeout_ms = 20000
            """);
    }

    public static string Binary
    {
        get
        {
            var path = Environment.GetEnvironmentVariable("CODEX_BIN") ?? Path.Combine(Fixtures.RepoRoot, ".cache", "codex", "node_modules", ".bin", "codex");
            if (!File.Exists(path)) throw new InvalidOperationException($"Codex CLI not found at {path}: run scripts/test.sh (it installs @openai/codex@{Version}).");
            return path;
        }
    }

    public Task<CodexRun> ExecAsync(string prompt, CancellationToken cancellationToken = default) =>
        RunAsync(["exec", "--skip-git-repo-check", "--json", "--disable", "plugins", "--disable", "unbounded_connection_retries", prompt], cancellationToken);

    public Task<CodexRun> ResumeLastAsync(string prompt, CancellationToken cancellationToken = default) =>
        RunAsync(["exec", "--skip-git-repo-check", "--json", "--disable", "plugins", "--disable", "unbounded_connection_retries", "resume", "--last", prompt], cancellationToken);

    /// <summary>
    /// Runs a turn and interrupts it like Ctrl-C (SIGINT to the CLI and its native child) once <paramref name="interruptWhen"/>
    /// completes; <paramref name="resume"/> continues the last session instead of starting one.
    /// </summary>
    public Task<CodexRun> RunInterruptedAsync(string prompt, bool resume, Func<Task> interruptWhen, CancellationToken cancellationToken = default) =>
        RunAsync(resume
            ? ["exec", "--skip-git-repo-check", "--json", "--disable", "plugins", "--disable", "unbounded_connection_retries", "resume", "--last", prompt]
            : ["exec", "--skip-git-repo-check", "--json", "--disable", "plugins", "--disable", "unbounded_connection_retries", prompt],
            cancellationToken, async process =>
            {
                await interruptWhen();
                foreach (var pid in Descendants(process.Id).Prepend(process.Id)) Signal(pid, "INT");
            });

    private static IEnumerable<int> Descendants(int pid)
    {
        var children = Process.Start(new ProcessStartInfo("pgrep", ["-P", pid.ToString()]) { RedirectStandardOutput = true })!;
        var list = children.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
        children.WaitForExit();
        return list.SelectMany(child => Descendants(child).Prepend(child)).ToList();
    }

    private static void Signal(int pid, string signal) => Process.Start("kill", ["-" + signal, pid.ToString()])!.WaitForExit();

    private async Task<CodexRun> RunAsync(string[] args, CancellationToken cancellationToken, Func<Process, Task>? during = null)
    {
        var info = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, WorkingDirectory = _workDir };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        info.Environment["CODEX_HOME"] = _home;
        info.Environment["GW_API_KEY"] = _apiKey;
        info.Environment["NO_COLOR"] = "1";
        info.Environment.Remove("OPENAI_API_KEY");
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(3));
        if (during is not null) await during(process);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("codex did not finish within 3 minutes. stderr: " + await stderr);
        }
        var events = new List<JsonElement>();
        foreach (var line in (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            if (line.TrimStart().StartsWith('{')) events.Add(JsonDocument.Parse(line).RootElement.Clone());
        return new CodexRun(process.ExitCode, events, await stderr);
    }

    /// <summary>
    /// What the CLI itself recorded in its session (the rollout files under CODEX_HOME/sessions), turn by turn: the input
    /// items it added to the history (user and developer messages, tool outputs: the new prompt and any context update
    /// it appends, such as a changed skill list) and a one-line summary of every item. A test compares what went
    /// upstream with what the client really added, not with what it usually adds.
    /// </summary>
    public IReadOnlyList<CodexTurnItems> RecordedTurns()
    {
        var turns = new List<CodexTurnItems>();
        var sessions = Path.Combine(_home, "sessions");
        if (!Directory.Exists(sessions)) return turns;
        var lines = Directory.EnumerateFiles(sessions, "*.jsonl", SearchOption.AllDirectories)
            .SelectMany(File.ReadLines).Select(line => JsonDocument.Parse(line).RootElement.Clone())
            .OrderBy(e => e.TryGetProperty("timestamp", out var t) ? t.GetString() : "", StringComparer.Ordinal);
        CodexTurnItems? turn = null;
        foreach (var entry in lines)
        {
            var type = entry.GetProperty("type").GetString();
            var payload = entry.TryGetProperty("payload", out var p) ? p : default;
            var payloadType = payload.ValueKind == JsonValueKind.Object && payload.TryGetProperty("type", out var pt) ? pt.GetString() : null;
            if (type == "event_msg" && payloadType == "task_started") turns.Add(turn = new CodexTurnItems());
            if (type != "response_item" || turn is null) continue;
            var role = payload.TryGetProperty("role", out var r) ? r.GetString() : null;
            var text = payload.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.Array && c.GetArrayLength() > 0
                && c[0].TryGetProperty("text", out var t) ? t.GetString() ?? "" : "";
            if (role is "user" or "developer" or "system" || payloadType is "function_call_output" or "custom_tool_call_output") turn.InputItems++;
            turn.Summary.Add($"{payloadType}{(role is null ? "" : ":" + role)} {text[..Math.Min(60, text.Length)].ReplaceLineEndings(" ")}");
        }
        return turns;
    }

    public void Dispose()
    {
        try { Directory.Delete(_home, true); Directory.Delete(_workDir, true); } catch (IOException) { }
    }
}

public sealed record CodexRun(int ExitCode, IReadOnlyList<JsonElement> Events, string Stderr)
{
    public bool TurnCompleted => Events.Any(e => e.TryGetProperty("type", out var t) && t.GetString() == "turn.completed");

    public string Describe()
    {
        var text = new StringBuilder($"exit {ExitCode}; events: ");
        text.AppendJoin(", ", Events.Select(e => e.TryGetProperty("type", out var t) ? t.GetString() : "?"));
        text.Append("; stderr tail: ").Append(Stderr.Length > 2000 ? Stderr[^2000..] : Stderr);
        return text.ToString();
    }
}

/// <summary>One turn of a Codex session as the CLI recorded it.</summary>
public sealed class CodexTurnItems
{
    public int InputItems { get; set; }
    public List<string> Summary { get; } = [];

    public override string ToString() => $"{InputItems} input item(s): " + string.Join(" | ", Summary);
}
