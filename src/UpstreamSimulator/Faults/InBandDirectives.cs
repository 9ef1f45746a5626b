using System.Globalization;
using System.Text.RegularExpressions;

namespace CodexLb.UpstreamSimulator.Faults;

/// <summary>
/// Faults written into the prompt, for tests that only control the user text (the real Codex CLI):
/// <c>[sim:NAME]</c> or <c>[sim:NAME=ARG]</c>, optionally with <c>#TAG</c> before the closing bracket to make
/// the string distinct. See README.md for the names.
/// </summary>
internal static partial class InBandDirectives
{
    [GeneratedRegex(@"\[sim:(?<name>[a-z-]+)(?:=(?<arg>[^\]#]*))?(?:#[^\]]*)?\]", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    /// <summary>Directives in the order they appear; malformed or unknown ones are skipped.</summary>
    public static IEnumerable<(string Raw, Fault Fault)> Parse(string? text)
    {
        if (string.IsNullOrEmpty(text) || !text.Contains("[sim:", StringComparison.Ordinal))
        {
            yield break;
        }

        foreach (Match match in Pattern().Matches(text))
        {
            var arg = match.Groups["arg"].Success ? match.Groups["arg"].Value : null;
            if (ToFault(match.Groups["name"].Value, arg) is { } fault)
            {
                yield return (match.Value, fault);
            }
        }
    }

    private static Fault? ToFault(string name, string? arg)
    {
        var parts = arg?.Split('/', 3) ?? [];
        return name switch
        {
            "close-before" when Int(parts, 0) is { } n => Fault.CloseBefore(n),
            "close-after" when Int(parts, 0) is { } n => Fault.CloseAfter(n),
            "close-between-turns" => Fault.CloseBetweenTurns(),
            "error" => Fault.Error(Int(parts, 1) ?? 500, Str(parts, 0) ?? "server_error", Str(parts, 2)),
            "failed" => Fault.Failed(Str(parts, 0) ?? "server_error"),
            "hang" => Fault.Hang(),
            "delay" when Int(parts, 0) is { } first =>
                Fault.Delay(TimeSpan.FromMilliseconds(first), TimeSpan.FromMilliseconds(Int(parts, 1) ?? 0)),
            _ => null,
        };
    }

    private static string? Str(string[] parts, int i) => i < parts.Length && parts[i].Length > 0 ? parts[i] : null;

    private static int? Int(string[] parts, int i) =>
        int.TryParse(Str(parts, i), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 0 ? v : null;
}
