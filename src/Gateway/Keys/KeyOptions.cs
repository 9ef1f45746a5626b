using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Keys;

/// <summary>
/// Named client keys (<c>CodexLb:Keys:N</c>), each with its own limits. Bound from the <c>CodexLb</c> section, of which
/// it reads only <c>Keys</c>.
/// </summary>
public sealed class KeysOptions
{
    public const string Section = "CodexLb";

    public List<ClientKeyOptions> Keys { get; set; } = [];
}

/// <summary>One <c>CodexLb:Keys:N</c> entry. Exactly one of <see cref="Key"/>, <see cref="KeyHash"/> and <see cref="KeyFile"/>.</summary>
public sealed class ClientKeyOptions
{
    /// <summary>What operators and metrics call the key; it also names its tenant, so a rotated key keeps its conversations and usage.</summary>
    public string Name { get; set; } = "";

    /// <summary>The key in plain text (hashed when loaded; the text is not kept).</summary>
    public string? Key { get; set; }

    /// <summary>The key's SHA-256 as hex (64 characters, optionally prefixed <c>sha256:</c>): a key hashed at rest.</summary>
    public string? KeyHash { get; set; }

    /// <summary>A file holding the key, or <c>sha256:&lt;hex&gt;</c> (a mounted Kubernetes Secret); re-read while running, so a rotation needs no restart.</summary>
    public string? KeyFile { get; set; }

    /// <summary>Models this key may use; empty = any.</summary>
    public string[] Models { get; set; } = [];

    /// <summary>Turns per sliding minute, cluster-wide; 0 = no limit.</summary>
    public long RequestsPerMinute { get; set; }

    /// <summary>Input plus output tokens per sliding minute, cluster-wide; 0 = no limit.</summary>
    public long TokensPerMinute { get; set; }

    /// <summary>Input plus output tokens per UTC day, cluster-wide; 0 = no limit. Past it: 429 <c>insufficient_quota</c> until midnight UTC.</summary>
    public long TokensPerDay { get; set; }
}

/// <summary>Validates the entries without ever quoting a key: failures name the entry and what is wrong with it.</summary>
public sealed partial class KeysOptionsValidator : IValidateOptions<KeysOptions>
{
    public ValidateOptionsResult Validate(string? name, KeysOptions options)
    {
        var failures = new List<string>();
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < options.Keys.Count; i++)
        {
            var key = options.Keys[i];
            var at = $"CodexLb:Keys:{i}";
            if (!NamePattern().IsMatch(key.Name ?? ""))
                failures.Add($"{at}:Name is required: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.");
            else if (!names.Add(key.Name!))
                failures.Add($"{at}:Name '{key.Name}' is used by another key.");
            var sources = new[] { key.Key, key.KeyHash, key.KeyFile }.Count(s => !string.IsNullOrEmpty(s));
            if (sources != 1)
                failures.Add($"{at} needs exactly one of Key, KeyHash and KeyFile.");
            if (key.Key is { Length: > 0 } plain && plain.Trim().Length < 8)
                failures.Add($"{at}:Key must be at least 8 characters.");
            if (key.KeyHash is { Length: > 0 } hash && KeyMaterial.ParseHash(hash) is null)
                failures.Add($"{at}:KeyHash must be a SHA-256 as 64 hex characters (optionally prefixed 'sha256:').");
            if (key.KeyFile is { Length: > 0 } file && KeyMaterial.ReadFile(file) is { Error: { } error })
                failures.Add($"{at}:KeyFile: {error}");
            if (key.RequestsPerMinute < 0 || key.TokensPerMinute < 0 || key.TokensPerDay < 0)
                failures.Add($"{at}: RequestsPerMinute, TokensPerMinute and TokensPerDay must not be negative (0 = no limit).");
            if (key.Models.Any(string.IsNullOrWhiteSpace))
                failures.Add($"{at}:Models entries must not be empty.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex NamePattern();
}
