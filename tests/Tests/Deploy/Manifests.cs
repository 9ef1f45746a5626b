using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace CodexLb.Tests.Deploy;

/// <summary>The validator's verdict on a stream of manifests, and the objects it parsed (as JSON).</summary>
public sealed record ValidationReport(bool Valid, IReadOnlyList<string> Errors, IReadOnlyList<JsonElement> Objects)
{
    public override string ToString() => Valid ? $"{Objects.Count} valid objects" : string.Join("\n", Errors);
}

/// <summary>
/// Renders deploy/k8s with <c>kubectl kustomize</c> and validates the result offline with
/// deploy/k8s/validate.mjs (Kubernetes JSON schemas from the npm package kubernetes-models, installed by
/// <c>deploy/k8s/validate.sh --install</c>). Nothing is downloaded here: a missing tool or package fails the
/// test with the command that provides it.
/// </summary>
public static class Manifests
{
    public static string DeployDir { get; } = Path.Combine(Fixtures.RepoRoot, "deploy", "k8s");

    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);
    private static readonly ConcurrentDictionary<string, Lazy<Task<ValidationReport>>> Rendered = new();

    /// <summary>Renders and validates a kustomization (relative to deploy/k8s) once per test run.</summary>
    public static Task<ValidationReport> RenderAndValidateAsync(string kustomization) =>
        Rendered.GetOrAdd(kustomization, k => new Lazy<Task<ValidationReport>>(async () =>
            await ValidateAsync(await RenderAsync(Path.Combine(DeployDir, k))))).Value;

    public static async Task<string> RenderAsync(string kustomizationDir)
    {
        var kubectl = FindExecutable("kubectl", "/usr/bin/kubectl", "/usr/local/bin/kubectl")
            ?? throw new InvalidOperationException(
                "kubectl was not found on PATH: the Kubernetes manifests cannot be rendered. Install kubectl >= 1.27 " +
                "(it embeds kustomize v5), e.g. from the Kubernetes apt repository, and run the tests again.");
        var (code, stdout, stderr) = await RunAsync(kubectl, ["kustomize", kustomizationDir], stdin: null);
        if (code != 0)
            throw new InvalidOperationException($"kubectl kustomize {kustomizationDir} failed with exit code {code}:\n{stderr}");
        return stdout;
    }

    public static async Task<ValidationReport> ValidateAsync(string yaml)
    {
        var node = FindExecutable("node", "/usr/bin/node", "/usr/local/bin/node")
            ?? throw new InvalidOperationException("node was not found on PATH: deploy/k8s/validate.mjs needs Node.js >= 20.");
        var (code, stdout, stderr) = await RunAsync(node, [Path.Combine(DeployDir, "validate.mjs"), "--json"], yaml);
        if (code == 3)
            throw new InvalidOperationException(
                $"The manifest validator's npm packages are not installed ({stderr.Trim()}). scripts/test.sh installs them; " +
                "by hand: deploy/k8s/validate.sh --install");
        if (code is not (0 or 1))
            throw new InvalidOperationException($"deploy/k8s/validate.mjs failed with exit code {code}:\n{stderr}");

        using var report = JsonDocument.Parse(stdout);
        var root = report.RootElement;
        var errors = root.GetProperty("errors").EnumerateArray().Select(e =>
            $"#{e.GetProperty("index")} {Text(e, "kind")} {Text(e, "name")}: {e.GetProperty("message").GetString()}").ToList();
        var objects = root.GetProperty("objects").EnumerateArray().Select(o => o.Clone()).ToList();
        var valid = root.GetProperty("valid").GetBoolean();
        Assert.True(valid == (code == 0), $"validate.mjs exit code {code} disagrees with its report (valid={valid})");
        return new ValidationReport(valid, errors, objects);

        static string Text(JsonElement e, string name) =>
            e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "?";
    }

    private static string? FindExecutable(string name, params string[] fallbacks)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return fallbacks.FirstOrDefault(File.Exists);
    }

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string file, IEnumerable<string> args, string? stdin)
    {
        var start = new ProcessStartInfo(file)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            StandardInputEncoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
            WorkingDirectory = Fixtures.RepoRoot,
        };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(stdin ?? "");
        process.StandardInput.Close();
        using var cts = new CancellationTokenSource(Timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', start.ArgumentList)} did not finish within {Timeout}");
        }
        return (process.ExitCode, await stdout, await stderr);
    }
}
