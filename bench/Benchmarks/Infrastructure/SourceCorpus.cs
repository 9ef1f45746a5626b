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
        return text.Substring((int)(Mix((ulong)seed) % (ulong)(text.Length - length)), length);
    }

    // SplitMix64's finalizer: neighbouring seeds (a session's items) land at independent places. A multiplication alone
    // (Fibonacci hashing) put them a fixed stride apart modulo the corpus length, and for some lengths those strides
    // revisited the same text: a 1 KB longer corpus doubled the contexts' compression ratio (3.3x to 6.7x).
    private static ulong Mix(ulong z)
    {
        unchecked
        {
            z += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
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
