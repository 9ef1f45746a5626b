using System.Reflection;

namespace CodexLb.Benchmarks.Infrastructure;

/// <summary>
/// Text to fill contexts with: this repository's C# source and docs, embedded in the benchmark. A Codex session's context
/// is mostly such text (files it read, command output), and it compresses the way real contexts do, where a filler of
/// one repeated character would compress to nothing.
/// </summary>
public static class SourceCorpus
{
    private static readonly Lazy<string> Text = new(Load);

    /// <summary><paramref name="length"/> characters from a position that <paramref name="seed"/> picks, the same in every run.</summary>
    public static string Slice(long seed, int length)
    {
        var text = Text.Value;
        var start = (int)(unchecked((ulong)seed * 0x9E3779B97F4A7C15UL) % (ulong)(text.Length - length)); // Fibonacci hashing: neighbours land far apart
        return text.Substring(start, length);
    }

    private static string Load()
    {
        var assembly = Assembly.GetExecutingAssembly();
        var names = assembly.GetManifestResourceNames().Where(n => n.StartsWith("corpus/", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();
        if (names.Length == 0) throw new InvalidOperationException("the benchmark was built without its embedded corpus");
        // The simulator's own sources and docs spell its in-band fault directives ("[sim:close-after=3]"): quoted in a
        // user message, one would make the simulator drop that turn's connection.
        return string.Concat(names.Select(name =>
        {
            using var reader = new StreamReader(assembly.GetManifestResourceStream(name)!);
            return $"$ cat {name["corpus/".Length..]}\n{reader.ReadToEnd()}\n";
        })).Replace("[sim:", "[sim-", StringComparison.Ordinal);
    }
}
