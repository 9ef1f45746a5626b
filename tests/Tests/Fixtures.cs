namespace CodexLb.Tests;

/// <summary>Paths of test fixtures: the repository root, and the captured Codex CLI wire samples (copied into the repository).</summary>
public static class Fixtures
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>A captured Codex CLI wire sample (tests/Tests/Security/Samples, copied next to the test assembly).</summary>
    public static string Wire(string name) => Path.Combine(Security.WireMutator.SampleDirectory, name);

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "CodexLb.Orleans.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Repository root not found.");
    }
}
