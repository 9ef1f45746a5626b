using System.Diagnostics;
using System.Net;
using System.Text;
using CodexLb.Tests.Infrastructure;

namespace CodexLb.Tests.Deploy;

/// <summary>
/// The production images carry no test server. Docker cannot run here, so each Dockerfile's build stage is replayed
/// without it: its <c>COPY</c> lines into an empty directory (honouring .dockerignore's bin/ and obj/), then its
/// <c>RUN</c> lines (restore, publish) with <c>/app</c> mapped into that directory. The published output must hold no
/// simulator assembly, and a published silo must refuse <c>CodexLb:Upstream:UseSimulator=true</c> with a message while
/// still starting without it.
/// </summary>
public sealed class ImageTests
{
    public static TheoryData<string, string> Images => new() { { "src/Silo/Dockerfile", "CodexLb.Silo.dll" }, { "src/Gateway/Dockerfile", "CodexLb.Gateway.dll" } };

    [Theory, MemberData(nameof(Images))]
    public async Task The_image_is_built_without_the_upstream_simulator(string dockerfile, string entryAssembly)
    {
        var work = Directory.CreateTempSubdirectory("codexlb-image-");
        try
        {
            var app = await ReplayBuildStageAsync(Path.Combine(Fixtures.RepoRoot, dockerfile), work.FullName);
            Assert.True(File.Exists(Path.Combine(app, entryAssembly)), $"{dockerfile} published no {entryAssembly}");
            var files = Directory.GetFiles(app, "*", SearchOption.AllDirectories).Select(Path.GetFileName).ToList();
            Assert.DoesNotContain(files, f => f!.Contains("UpstreamSimulator", StringComparison.OrdinalIgnoreCase));
            foreach (var deps in Directory.GetFiles(app, "*.deps.json"))
                Assert.DoesNotContain("UpstreamSimulator", await File.ReadAllTextAsync(deps), StringComparison.OrdinalIgnoreCase);

            if (entryAssembly != "CodexLb.Silo.dll") return;
            var refused = await RunAsync("dotnet", [Path.Combine(app, entryAssembly), "--CodexLb:Upstream:UseSimulator=true"], work.FullName, TimeSpan.FromSeconds(60));
            Assert.True(refused.Code == 2, $"exit code {refused.Code}, expected 2 (a configuration error):\n{refused.Output}");
            Assert.Contains("CodexLb:Upstream:UseSimulator", refused.Output);
            Assert.Contains("carries no upstream simulator", refused.Output);
            Assert.DoesNotContain("   at ", refused.Output); // one line, no stack trace

            await AssertStartsWithoutTheSimulatorAsync(Path.Combine(app, entryAssembly), work.FullName);
        }
        finally
        {
            try { work.Delete(recursive: true); } catch (IOException) { }
        }
    }

    [Theory, MemberData(nameof(Images))]
    public void The_dockerfile_copies_no_simulator_source(string dockerfile, string entryAssembly)
    {
        _ = entryAssembly;
        var text = File.ReadAllText(Path.Combine(Fixtures.RepoRoot, dockerfile));
        var build = BuildStage(text);
        Assert.DoesNotContain(build, l => l.StartsWith("COPY", StringComparison.Ordinal) && l.Contains("UpstreamSimulator", StringComparison.Ordinal));
        Assert.DoesNotContain(build, l => l.StartsWith("COPY", StringComparison.Ordinal) && l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..^1].Contains("src/"));
        if (dockerfile.Contains("Silo", StringComparison.Ordinal))
            Assert.All(build.Where(l => l.StartsWith("RUN dotnet", StringComparison.Ordinal)), l => Assert.Contains("-p:IncludeSimulator=false", l));
    }

    /// <summary>
    /// Both images run one runtime: the settings it reads from the environment only (the minimum gen0 budget, which halves
    /// gen0 collections under load) are in each image, the same. The benchmark starts its bridge and YARP with the silo
    /// image's (bench/Benchmarks ImageEnvironment).
    /// </summary>
    [Fact]
    public void Both_images_set_the_same_runtime_environment_with_the_larger_gen0_budget()
    {
        var silo = RuntimeEnvironment(File.ReadAllText(Path.Combine(Fixtures.RepoRoot, "src/Silo/Dockerfile")));
        var gateway = RuntimeEnvironment(File.ReadAllText(Path.Combine(Fixtures.RepoRoot, "src/Gateway/Dockerfile")));
        Assert.True(silo.TryGetValue("DOTNET_GCgen0size", out var gen0), "the silo image sets no DOTNET_GCgen0size");
        // Hexadecimal, as the runtime reads it (a decimal 128 here would be 296 bytes, below any budget: no effect at all).
        Assert.StartsWith("0x", gen0);
        Assert.InRange(Convert.ToInt64(gen0[2..], 16), 64L << 20, 512L << 20);
        Assert.Equal(silo.OrderBy(kv => kv.Key), gateway.OrderBy(kv => kv.Key));
    }

    /// <summary>The published silo, embedded default, no simulator: it starts, answers /healthz, and has no simulator endpoints.</summary>
    private static async Task AssertStartsWithoutTheSimulatorAsync(string dll, string workDirectory)
    {
        var http = FreePort.Next();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workDirectory };
        foreach (var arg in new[] { dll, "--urls", $"http://127.0.0.1:{http}", "--CodexLb:Upstream:BaseUrl", "http://127.0.0.1:9/v1",
                     "--CodexLb:Cluster:SiloPort", FreePort.Next().ToString(), "--CodexLb:Cluster:GatewayPort", FreePort.Next().ToString(),
                     "--Logging:LogLevel:Default", "Warning" })
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}"), Timeout = TimeSpan.FromSeconds(5) };
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                Assert.False(process.HasExited, $"the published silo exited ({(process.HasExited ? process.ExitCode : 0)}):\n{output}");
                try
                {
                    if ((await client.GetAsync("/healthz")).StatusCode == HttpStatusCode.OK) break;
                }
                catch (HttpRequestException) { }
                catch (TaskCanceledException) { }
                Assert.True(DateTime.UtcNow < deadline, $"the published silo did not answer /healthz within 60 s:\n{output}");
                await Task.Delay(250);
            }
            foreach (var path in new[] { "/_sim/ledger", "/_sim/faults" })
                Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync(path)).StatusCode);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    /// <summary>The lines of the first stage (up to the next FROM).</summary>
    private static List<string> BuildStage(string dockerfile)
    {
        var lines = Instructions(dockerfile);
        var from = lines.FindIndex(l => l.StartsWith("FROM ", StringComparison.Ordinal));
        var next = lines.FindIndex(from + 1, l => l.StartsWith("FROM ", StringComparison.Ordinal));
        return lines[(from + 1)..(next < 0 ? lines.Count : next)];
    }

    /// <summary>The instructions, continuation lines joined, comments dropped.</summary>
    private static List<string> Instructions(string dockerfile)
    {
        var lines = new List<string>();
        var current = new StringBuilder();
        foreach (var raw in dockerfile.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith('#') || line.Length == 0) continue;
            if (line.EndsWith('\\')) { current.Append(line[..^1]).Append(' '); continue; }
            lines.Add(current.Append(line).ToString().Trim());
            current.Clear();
        }
        return lines;
    }

    /// <summary>The runtime's own settings an image sets in its environment (<c>DOTNET_*</c> in its last stage's <c>ENV</c>).</summary>
    private static Dictionary<string, string> RuntimeEnvironment(string dockerfile)
    {
        var lines = Instructions(dockerfile);
        var last = lines.FindLastIndex(l => l.StartsWith("FROM ", StringComparison.Ordinal));
        return lines[(last + 1)..].Where(l => l.StartsWith("ENV ", StringComparison.Ordinal))
            .SelectMany(l => l[4..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(a => a.StartsWith("DOTNET_", StringComparison.Ordinal) && a.Contains('='))
            .ToDictionary(a => a[..a.IndexOf('=')], a => a[(a.IndexOf('=') + 1)..]);
    }

    /// <summary>Replays the build stage in <paramref name="work"/>; returns where <c>/app</c> went.</summary>
    private static async Task<string> ReplayBuildStageAsync(string dockerfile, string work)
    {
        var root = Path.Combine(work, "src");
        var app = Path.Combine(work, "app");
        Directory.CreateDirectory(root);
        foreach (var line in BuildStage(await File.ReadAllTextAsync(dockerfile)))
        {
            var (instruction, rest) = (line[..line.IndexOf(' ')], line[(line.IndexOf(' ') + 1)..].Trim());
            switch (instruction)
            {
                case "WORKDIR":
                    Assert.Equal("/src", rest); // what the replay maps to its root
                    break;
                case "COPY":
                    var parts = rest.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    Assert.DoesNotContain(parts, p => p.StartsWith("--", StringComparison.Ordinal));
                    var destination = Path.Combine(root, parts[^1]);
                    foreach (var source in parts[..^1]) Copy(Path.Combine(Fixtures.RepoRoot, source), destination, parts.Length > 2 || parts[^1].EndsWith('/'));
                    break;
                case "RUN":
                    var command = rest.Replace(" /app", " " + app, StringComparison.Ordinal);
                    var result = await RunAsync("bash", ["-c", command], root, TimeSpan.FromMinutes(5));
                    Assert.True(result.Code == 0, $"RUN {rest} failed ({result.Code}):\n{result.Output}");
                    break;
                case "ENV" or "ARG" or "EXPOSE" or "LABEL":
                    break;
                default:
                    throw new InvalidOperationException($"The replay does not know the instruction in: {line}");
            }
        }
        return app;
    }

    private static void Copy(string source, string destination, bool intoDirectory)
    {
        if (File.Exists(source))
        {
            var target = intoDirectory ? Path.Combine(destination, Path.GetFileName(source)) : destination;
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(source, target, overwrite: true);
            return;
        }
        Assert.True(Directory.Exists(source), $"COPY source {source} does not exist");
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(source, file);
            var segments = relative.Split(Path.DirectorySeparatorChar);
            if (segments.Any(s => s is "bin" or "obj")) continue; // .dockerignore: **/bin/, **/obj/
            var target = Path.Combine(destination, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }

    private static async Task<(int Code, string Output)> RunAsync(string file, IEnumerable<string> args, string workingDirectory, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        // A nested build must not inherit the test host's MSBuild settings (dotnet test sets some).
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(key);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', start.ArgumentList)} did not finish within {timeout}");
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}
