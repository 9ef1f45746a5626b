using System.Diagnostics;
using System.Text.Json;

namespace CodexLb.Tests.Infrastructure;

/// <summary>
/// The real SDK clients of tests/Clients (npm, exact versions from its lockfile, installed by scripts/test.sh), each a
/// Node script run as a child process with the machine's <c>node</c>: <c>node script.mjs BASE_URL SCENARIO</c>. A script
/// prints one JSON line, the scenario's result.
/// </summary>
public static class ClientScripts
{
    public static string Directory => Path.Combine(Fixtures.RepoRoot, "tests", "Clients");

    public static async Task<JsonElement> RunAsync(string script, Uri gatewayBaseUrl, string apiKey, string scenario)
    {
        if (!System.IO.Directory.Exists(Path.Combine(Directory, "node_modules")))
            throw new InvalidOperationException($"{Directory}/node_modules is missing: run scripts/test.sh (it runs npm ci there).");
        var info = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, WorkingDirectory = Directory };
        info.ArgumentList.Add(script);
        info.ArgumentList.Add(new Uri(gatewayBaseUrl, "/v1").ToString().TrimEnd('/'));
        info.ArgumentList.Add(scenario);
        info.Environment["BRIDGE_API_KEY"] = apiKey;
        // Nothing may reach the real provider: no inherited key or base URL, no SDK telemetry.
        foreach (var name in new[] { "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID" }) info.Environment.Remove(name);
        info.Environment["OPENAI_AGENTS_DISABLE_TRACING"] = "1";
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{script} {scenario} did not finish within 2 minutes. stderr: {await stderr}");
        }
        var line = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.TrimStart().StartsWith('{'));
        if (line is null) throw new InvalidOperationException($"{script} {scenario} printed no result (exit {process.ExitCode}). stderr: {await stderr}");
        return JsonDocument.Parse(line).RootElement.Clone();
    }
}
