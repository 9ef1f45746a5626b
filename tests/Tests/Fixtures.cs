namespace CodexLb.Tests;

/// <summary>Paths of shared fixtures: the captured Codex CLI wire samples beside the repository.</summary>
public static class Fixtures
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Wire(string name) => Path.Combine(RepoRoot, "..", "shared", "codex-cli-wire", name);

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "CodexLb.Orleans.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Repository root not found.");
    }
}
