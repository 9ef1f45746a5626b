using System.Text.RegularExpressions;

namespace CodexLb.Benchmarks.Infrastructure;

/// <summary>
/// The runtime settings the product's images put in their environment (the runtime reads some from nowhere else: the
/// minimum gen0 budget above all), read from <c>src/Silo/Dockerfile</c>'s <c>ENV</c> instructions, embedded at build time.
/// The bridge and YARP are started with them, so both proxies run as the product's images do, on the same runtime;
/// <c>--no-image-env</c> leaves them out (an A/B against the runtime's defaults).
/// </summary>
public static partial class ImageEnvironment
{
    /// <summary>Off with <c>--no-image-env</c>.</summary>
    public static bool Applied { get; set; } = true;

    /// <summary>The image's <c>DOTNET_*</c> variables.</summary>
    public static IReadOnlyDictionary<string, string> Variables { get; } = Parse(ReadDockerfile());

    /// <summary>The image's variables (when applied), then <paramref name="environment"/>, which wins on a clash.</summary>
    public static Dictionary<string, string> With(IReadOnlyDictionary<string, string>? environment)
    {
        var merged = new Dictionary<string, string>(Applied ? Variables : new Dictionary<string, string>());
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) merged[name] = value;
        return merged;
    }

    /// <summary>
    /// The <c>DOTNET_*</c> assignments of a Dockerfile's <c>ENV</c> instructions (continued lines joined, comment lines
    /// dropped, as Docker reads them).
    /// </summary>
    private static Dictionary<string, string> Parse(string dockerfile)
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        var instruction = "";
        foreach (var raw in dockerfile.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith('#')) continue;
            var continued = line.EndsWith('\\');
            instruction += " " + (continued ? line[..^1] : line);
            if (continued) continue;
            if (instruction.TrimStart().StartsWith("ENV ", StringComparison.Ordinal))
                foreach (Match m in DotnetAssignment().Matches(instruction)) variables[m.Groups[1].Value] = m.Groups[2].Value.Trim('"');
            instruction = "";
        }
        return variables;
    }

    private static string ReadDockerfile()
    {
        using var stream = typeof(ImageEnvironment).Assembly.GetManifestResourceStream("image/Silo.Dockerfile")
            ?? throw new InvalidOperationException("src/Silo/Dockerfile is not embedded in the benchmark");
        return new StreamReader(stream).ReadToEnd();
    }

    [GeneratedRegex(@"(?<=\s)(DOTNET_\w+)=(""[^""]*""|\S+)")]
    private static partial Regex DotnetAssignment();
}
