using System.Security.Cryptography;
using System.Text;

namespace CodexLb.Gateway.Keys;

/// <summary>How a key becomes the SHA-256 it is compared as, from each of the places a key can come from.</summary>
public static class KeyMaterial
{
    private const string HashPrefix = "sha256:";

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key.Trim()));

    /// <summary>A hash written as 64 hex characters, optionally prefixed <c>sha256:</c>; null when it is not one.</summary>
    public static byte[]? ParseHash(string text)
    {
        var hex = text.Trim();
        if (hex.StartsWith(HashPrefix, StringComparison.OrdinalIgnoreCase)) hex = hex[HashPrefix.Length..];
        if (hex.Length != 64) return null;
        try
        {
            return Convert.FromHexString(hex);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>What a key file holds, as a hash; or why it cannot be used (never quoting its content).</summary>
    public readonly record struct FileKey(byte[]? Hash, string? Error);

    /// <summary>
    /// Reads a key file: the key itself, or <c>sha256:&lt;hex&gt;</c>. Surrounding whitespace (the newline a Secret
    /// created with <c>echo</c> ends with) is not part of the key.
    /// </summary>
    public static FileKey ReadFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path).Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return new FileKey(null, $"'{path}' cannot be read ({ex.GetType().Name}).");
        }
        if (text.Length == 0) return new FileKey(null, $"'{path}' is empty.");
        if (text.StartsWith(HashPrefix, StringComparison.OrdinalIgnoreCase))
            return ParseHash(text) is { } hash ? new FileKey(hash, null) : new FileKey(null, $"'{path}' starts with '{HashPrefix}' but holds no 64-hex-character hash.");
        return text.Length < 8 ? new FileKey(null, $"'{path}' holds fewer than 8 characters.") : new FileKey(Hash(text), null);
    }

    /// <summary>The tenant of a named key: derived from its name, so a rotated key keeps its conversations and its usage.</summary>
    public static string TenantOfName(string name) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("codexlb-key-name:" + name.ToLowerInvariant())).AsSpan(0, 8));

    /// <summary>The tenant of a key known only by its hash (<c>CodexLb:Gateway:ApiKeys</c>, and any key in open mode).</summary>
    public static string TenantOfHash(ReadOnlySpan<byte> hash) => Convert.ToHexStringLower(hash[..8]);
}
